// `k6-ha compare <run dir> <run dir> …` (lib/compare/dirs.ts): any scenario's run directories,
// compare.md and compare.html with the per-second series overlaid at load start.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { summaryPathOf, writeRunDirComparison } from '../../lib/compare/dirs.ts';
import { syntheticPerSecond } from '../support/dashboard-recording.ts';

const ZERO = Date.parse('2026-12-01T10:00:00.000Z');

function runDir(root: string, name: string, outageFrom: number, seconds: number): string {
  const dir = join(root, name);
  mkdirSync(dir);
  const data = syntheticPerSecond(ZERO, seconds, 100, (t) => (t >= outageFrom && t < outageFrom + 2000 ? 503 : 204));
  writeFileSync(join(dir, 'per-second.json'), JSON.stringify(data));
  writeFileSync(
    join(dir, 'summary.json'),
    JSON.stringify({
      state: { testRunDurationMs: seconds * 1000 },
      metrics: {
        iterations: { type: 'counter', values: { count: seconds * 100, rate: 100 } },
        http_reqs: { type: 'counter', values: { count: seconds * 100, rate: 100 } },
      },
      root_group: {
        name: '',
        groups: [],
        checks: [{ name: 'is status 204', passes: seconds * 100 - 200, fails: 200 }],
      },
      timeline: [
        {
          ts: '',
          offset_ms: outageFrom,
          source: 'plan',
          kind: 'executed',
          target: 'nats-0',
          detail: { action: 'kill' },
        },
      ],
      accounting: {
        scheduled: seconds * 100,
        dropped: 0,
        notStarted: 0,
        attempted: seconds * 100,
        acked: seconds * 100 - 200,
        failed: 0,
        unknown: 200,
        streamDelta: 0,
        inStream: 0,
        consumed: null,
        sinkReceived: null,
        sinkDuplicates: null,
        lost: 0,
        recovered: 0,
        duplicates: 0,
        unexpected: 0,
        missingAtSink: null,
        examples: { lost: [], duplicates: [], unexpected: [], missingAtSink: [] },
      },
      recovery: [
        {
          actionId: 'kill-leader',
          kind: 'kill',
          target: 'nats-0',
          scheduledOffsetMs: outageFrom,
          executedOffsetMs: outageFrom,
          leaderBefore: 'nats-0',
          leaderAfter: 'nats-1',
          timeToFirstErrorSeconds: 0,
          unavailableSeconds: 2,
          leaderFailoverSeconds: 1.5,
          recoverySeconds: 3,
          unavailableFromOffsetMs: outageFrom,
          unavailableToOffsetMs: outageFrom + 1990,
        },
      ],
      k6ha: { scenario: 'jetstream-publish', runId: name, experiment: 'jetstream-r1-leader-kill', k6ExitCode: 0 },
    }),
  );
  return dir;
}

describe('compare run directories', () => {
  it('writes compare.md and compare.html for JetStream runs, one column per run, overlaid at load start', () => {
    const root = mkdtempSync(join(tmpdir(), 'compare-dirs-'));
    const a = runDir(root, 'r1', 4000, 12);
    const b = runDir(root, 'r3', 6000, 10);
    const c = runDir(root, 'r3-again', 5000, 8);
    assert.equal(summaryPathOf(a), join(a, 'summary.json'));
    const out = join(root, 'out');
    mkdirSync(out);
    const md = writeRunDirComparison(out, [
      { label: 'R1', dir: a },
      { label: 'R3', dir: b },
    ]);
    assert.match(md, /^\| {2}\| R1 \| R3 \|$/m);
    assert.match(md, /^\| action 1: unavailable \| 2\.00 s \| 2\.00 s \|$/m);
    assert.match(md, /```mermaid\nxychart-beta/);
    assert.match(md, /## k6's figures/);
    const html = readFileSync(join(out, 'compare.html'), 'utf8');
    const data = JSON.parse(/id="k6ha-data">(.*?)<\/script>/s.exec(html)?.[1] ?? 'null') as {
      charts: Array<{ x: number[]; series: Array<{ label: string; values: Array<number | null> }>; marks: unknown[] }>;
    };
    const counts = data.charts[0];
    assert.deepEqual(
      counts?.series.map((s) => s.label),
      ['R1 acked', 'R1 not acked', 'R3 acked', 'R3 not acked'],
    );
    // aligned: one x axis 0..11; R3 (10 s) has no value in its last two seconds
    assert.deepEqual(counts?.x, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.deepEqual(counts?.series[3]?.values, [0, 0, 0, 0, 0, 0, 100, 100, 0, 0, null, null]);
    assert.equal(counts?.marks.length, 2);
    const three = writeRunDirComparison(out, [
      { label: 'A', dir: a },
      { label: 'B', dir: b },
      { label: 'C', dir: c },
    ]);
    assert.match(three, /^\| {2}\| A \| B \| C \|$/m);
  });

  it('refuses a directory that is not a run', () => {
    const root = mkdtempSync(join(tmpdir(), 'compare-dirs-'));
    assert.throws(
      () =>
        writeRunDirComparison(root, [
          { label: 'x', dir: root },
          { label: 'y', dir: root },
        ]),
      /not a k6-ha run directory/,
    );
  });
});
