import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chaosMarks, outageWindows, type RunReportModel } from '../../lib/report/model.ts';
import { renderReportHtml, runCharts } from '../../lib/report/html.ts';
import { runMermaid, xyChart } from '../../lib/report/mermaid.ts';
import { syntheticPerSecond } from '../support/dashboard-recording.ts';
import type { RecoveryReport, TimelineEvent, TimelineKinds, TimelineSource } from '../../lib/shared/types.ts';

const ZERO = Date.parse('2026-12-01T10:00:00.000Z');
const ev = <S extends TimelineSource>(
  offset: number | null,
  source: S,
  kind: TimelineKinds[S],
  target: string | null = null,
  detail: Record<string, unknown> = {},
): TimelineEvent =>
  ({
    ts: new Date(ZERO + (offset ?? 0)).toISOString(),
    offset_ms: offset,
    source,
    kind,
    target,
    detail,
  }) as TimelineEvent;

const timeline: TimelineEvent[] = [
  ev(null, 'sidecar', 'ready'),
  ev(4000, 'plan', 'scheduled', 'nats-0', { action: 'kill' }),
  ev(4010, 'plan', 'executed', 'nats-0', { action: 'kill' }),
  ev(4012, 'member', 'member-exited', 'nats-0', { signal: 'SIGKILL' }),
  ev(5000, 'stream', 'sample', null, { lag: 0 }),
  ev(7010, 'member', 'member-started', 'nats-0'),
  ev(7400, 'stream', 'leader-elected', 'nats-0'),
  ev(12000, 'sidecar', 'stopped'),
];
const recovery: RecoveryReport[] = [
  {
    actionId: 'kill-leader',
    kind: 'kill',
    target: 'nats-0',
    scheduledOffsetMs: 4000,
    executedOffsetMs: 4010,
    leaderBefore: 'nats-0',
    leaderAfter: 'nats-0',
    timeToFirstErrorSeconds: 0.01,
    unavailableSeconds: 3.4,
    leaderFailoverSeconds: 3.39,
    recoverySeconds: 4,
    unavailableFromOffsetMs: 4005,
    unavailableToOffsetMs: 7405,
  },
];

function model(): RunReportModel {
  const perSecond = syntheticPerSecond(ZERO, 12, 100, (t) => (t >= 4005 && t <= 7405 ? 503 : 204));
  return {
    runId: '20261201-100000-r1',
    experiment: {
      name: 'r1-kill <test>',
      description: 'a test',
      scenario: 'jetstream-publish',
      thresholds: 'ha-observe',
      target: 'local (stack jetstream)',
    },
    k6ExitCode: 0,
    verdict: 'passed',
    accounting: [['Total events sent by **k6**', '1,200']],
    recovery,
    gates: [
      { metric: 'dropped_iterations', threshold: 'count==0', reason: 'k6 kept up', ok: true },
      { metric: 'chaos_acked_lost', threshold: 'count==0', reason: 'no loss', ok: false },
    ],
    notes: ['a note'],
    timeline,
    perSecond,
  };
}

describe('report rendering', () => {
  it('marks: plan actions, member exits/starts, leader elections; not samples or sidecar bookkeeping', () => {
    const marks = chaosMarks(timeline);
    assert.deepEqual(
      marks.map((m) => `${m.group}:${m.entry.kind}`),
      ['plan:scheduled', 'plan:executed', 'member:member-exited', 'member:member-started', 'leader:leader-elected'],
    );
    assert.deepEqual(outageWindows(recovery), [
      { fromMs: 4005, toMs: 7405, label: 'kill-leader (kill nats-0): unavailable 3.4 s' },
    ]);
  });

  it('report.html is self-contained: uPlot and the data inline, no URL to fetch, escaped text', () => {
    const html = renderReportHtml(model());
    assert.match(html, /^<!doctype html>/);
    assert.ok(html.includes('uPlot'), 'uPlot inlined');
    assert.ok(!/\s(src|href)=["']?(https?:)?\/\//i.test(html), 'no external src/href');
    assert.ok(!/<link\b/i.test(html), 'no linked stylesheet');
    assert.ok(html.includes("default-src 'none'"), 'a CSP that forbids any request');
    assert.ok(html.includes('r1-kill &lt;test&gt;'));
    assert.ok(html.includes('prefers-color-scheme: dark') && html.includes('@media print'));
    const data = JSON.parse(
      /<script type="application\/json" id="k6ha-data">(.*?)<\/script>/s.exec(html)?.[1] ?? 'null',
    ) as { charts: Array<{ title: string; series: Array<{ label: string }>; marks: unknown[]; windows: unknown[] }> };
    assert.deepEqual(
      data.charts.map((c) => c.series.map((s) => s.label).join(',')),
      ['sent,acked,failed,unknown', 'p50,p95,p99,max'],
    );
    assert.equal(data.charts[0]?.marks.length, 5);
    assert.equal(data.charts[0]?.windows.length, 1);
    for (const section of ['Events', 'Recovery', 'Gates', 'Timeline'])
      assert.ok(html.includes(`<h2>${section}`), section);
    assert.ok(html.includes('1 failed'));
    assert.ok(Buffer.byteLength(html) < 2_000_000);
  });

  it('charts: the outage shows in the counts of its seconds', () => {
    const [counts] = runCharts(model().perSecond, [], []);
    const failed = counts?.series.find((s) => s.label === 'unknown')?.values ?? [];
    assert.deepEqual(failed.slice(3, 9), [0, 99, 100, 100, 41, 0]);
  });

  it('report.md gets a Mermaid xychart-beta of acked and not acked per second', () => {
    const md = runMermaid(model().perSecond);
    assert.match(md, /^```mermaid\nxychart-beta\n/);
    assert.match(md, /title "publish per second — acked, failed \+ unknown"/);
    assert.match(md, /x-axis "seconds since load start" \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11\]/);
    assert.match(md, /line \[100, 100, 100, 100, 1, 0, 0, 59, 100, 100, 100, 100\]/);
    assert.equal(runMermaid(null), '');
  });

  it('folds a long run into at most 60 points, still per second', () => {
    const t = Array.from({ length: 3600 }, (_, i) => i);
    const md = xyChart('x', t, [{ label: 'a', values: t.map(() => 2000) }]);
    const xs = /x-axis "[^"]*\(mean per second over 60 s\)" \[([^\]]*)\]/.exec(md)?.[1]?.split(', ') ?? [];
    assert.equal(xs.length, 60);
    assert.match(md, /line \[2000, 2000/);
  });
});
