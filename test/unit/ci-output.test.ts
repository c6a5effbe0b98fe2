import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { githubAnnotations, stepSummary, writeCiOutputs } from '../../lib/report/ci.ts';
import type { RunReportModel } from '../../lib/report/model.ts';

const model: RunReportModel = {
  runId: 'r-1',
  experiment: {
    name: 'jetstream-r3-leader-kill',
    description: '',
    scenario: 'jetstream-publish',
    thresholds: 'ha-strict',
    target: 'local',
  },
  k6ExitCode: 99,
  verdict: 'FAILED: a gate was crossed (k6 exit code 99)',
  accounting: [['**Lost** (acked, not in stream)', '3']],
  recovery: [
    {
      actionId: 'kill-leader',
      kind: 'kill',
      target: 'nats-0',
      scheduledOffsetMs: 10_000,
      executedOffsetMs: 10_010,
      leaderBefore: 'nats-0',
      leaderAfter: 'nats-1',
      timeToFirstErrorSeconds: 0.1,
      unavailableSeconds: 2.5,
      leaderFailoverSeconds: 2,
      recoverySeconds: 5,
    },
  ],
  gates: [
    {
      metric: 'chaos_acked_lost',
      threshold: 'count==0',
      reason: 'an acked event must be in the stream, 100%',
      ok: false,
    },
    { metric: 'dropped_iterations', threshold: 'count==0', reason: 'k6 kept up', ok: true },
  ],
  notes: [],
  timeline: [],
  perSecond: {
    version: 2,
    source: 'k6 web dashboard recording + sidecar outcome reports',
    periodMs: 1000,
    zeroMs: 0,
    counts: { requests: 4, control: 0, outcomeRecords: 1, periods: 2 },
    notes: [],
    series: {
      publish: {
        t: [0, 1],
        sent: [2, 2],
        acked: [2, 1],
        failed: [0, 0],
        unknown: [0, 1],
        byStatus: {},
        p50: [1, 1],
        p95: [1, 1],
        p99: [1, 1],
        max: [1, 1],
      },
    },
  },
};

describe('CI output', () => {
  it('the step summary has the verdict, the chart, accounting, recovery and gates', () => {
    const md = stepSummary(model, 'results/r-1');
    assert.match(md, /^## ❌ k6-ha jetstream-r3-leader-kill: FAILED/);
    assert.match(md, /```mermaid\nxychart-beta/);
    assert.match(md, /\| \*\*Lost\*\* \(acked, not in stream\) \| 3 \|/);
    assert.match(md, /\| kill-leader \(kill\) at 10\.0 s \| nats-0 \| 0\.10 s \| 2\.50 s \| 2\.00 s \| 5\.00 s \|/);
    assert.match(md, /\| ✗ \| `chaos_acked_lost` `count==0` \| an acked event/);
  });

  it('one ::error per failed gate, escaped as GitHub asks', () => {
    assert.deepEqual(githubAnnotations(model), [
      '::error title=k6-ha gate failed%3A chaos_acked_lost count==0::jetstream-r3-leader-kill (run r-1): chaos_acked_lost count==0 crossed — an acked event must be in the stream, 100%25',
    ]);
  });

  it('writes only what the environment asks for', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ci-')), 'summary.md');
    const printed: string[] = [];
    assert.deepEqual(
      writeCiOutputs(model, 'results/r-1', {}, (s) => printed.push(s)),
      [],
    );
    assert.equal(printed.length, 0);
    assert.deepEqual(
      writeCiOutputs(model, 'results/r-1', { GITHUB_STEP_SUMMARY: file, GITHUB_ACTIONS: 'true' }, (s) =>
        printed.push(s),
      ),
      ['step summary', '1 ::error annotation(s)'],
    );
    writeCiOutputs(model, 'results/r-1', { GITHUB_STEP_SUMMARY: file }, () => undefined);
    assert.equal(readFileSync(file, 'utf8').match(/^## ❌/gm)?.length, 2, 'appended, not overwritten');
    assert.match(printed.join(''), /^::error title=/);
  });
});
