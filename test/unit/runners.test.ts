// Several k6 runners: k6-operator's segments, the per-runner event numbering, the accounting over
// all runners' ids, the merged summary (exact counts, percentiles from raw samples, thresholds
// judged again) and the fleet's exit code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeAccounting, inferRunnerAttempted } from '../../lib/measure/accounting.ts';
import type { OutcomeRecord } from '../../lib/shared/control-api.ts';
import { eventSeq, runnerOfSeq, runnerSlot, segmentFlags, slotOf } from '../../lib/shared/runners.ts';
import { evaluateThreshold, k6Percentile, mergeRunnerSummaries, trendValues } from '../../lib/shared/summary-merge.ts';
import { fleetExitCode, parseMetricKey } from '../../lib/run/runners.ts';
import { bareSidecar } from '../support/bare-sidecar.ts';

const rec = (seq: number, outcome: 'failed' | 'unknown'): OutcomeRecord => ({
  seq,
  outcome,
  status: outcome === 'failed' ? 400 : 504,
  sentAt: seq,
  t: seq + 1,
});

describe("k6-operator's execution segments", () => {
  it('gives runner i of N the segment (i-1)/N:i/N of 0,1/N,…,1, as the operator writes them', () => {
    assert.deepEqual(segmentFlags(runnerSlot(1, 3)), [
      '--execution-segment=0:1/3',
      '--execution-segment-sequence=0,1/3,2/3,1',
    ]);
    assert.deepEqual(segmentFlags(runnerSlot(3, 3)), [
      '--execution-segment=2/3:1',
      '--execution-segment-sequence=0,1/3,2/3,1',
    ]);
    assert.deepEqual(segmentFlags(runnerSlot(2, 4)).slice(0, 1), ['--execution-segment=1/4:2/4']);
    assert.deepEqual(segmentFlags(runnerSlot(1, 1)), [], 'one runner: no segment flags (the operator adds none)');
  });

  it('reads a runner back from what k6 reports in exec.test.options, and refuses what is not one part', () => {
    assert.deepEqual(slotOf('1/3:2/3', '0,1/3,2/3,1'), {
      index: 2,
      count: 3,
      segment: '1/3:2/3',
      sequence: '0,1/3,2/3,1',
    });
    assert.equal((slotOf(null, null) as { count: number }).count, 1);
    assert.match(slotOf('0:1/2', null) as string, /without --execution-segment-sequence/);
    assert.match(slotOf('0:1/2', '0,1/3,1') as string, /not of equal parts/);
    assert.match(slotOf('0:2/3', '0,1/3,2/3,1') as string, /not one part/);
    assert.match(slotOf('2/3:1/3', '0,1/3,2/3,1') as string, /from < to/);
    assert.throws(() => runnerSlot(4, 3), /runner index: 4 is not allowed — expected 1 to 3/);
  });

  it('numbers events per runner: contiguous per runner, unique across runners, iterationInTest for one runner', () => {
    const seen = new Set<number>();
    for (let index = 1; index <= 3; index++)
      for (let k = 0; k < 100; k++) {
        const seq = eventSeq(k, { index, count: 3 });
        assert.ok(!seen.has(seq));
        seen.add(seq);
        assert.deepEqual(runnerOfSeq(seq, 3), { index, local: k });
      }
    assert.equal(eventSeq(41, { index: 1, count: 1 }), 41);
  });
});

describe('accounting over several runners', () => {
  const ids = (seqs: number[]): Map<string, number> => new Map(seqs.map((s) => [`r-${s}`, 1]));

  it('reconciles each runner’s own ids: runner 2 sent 3 (1, 4, 7), runner 1 sent 4 (0, 3, 6, 9)', () => {
    const stream = ids([0, 3, 6, 9, 1, 7, 2, 5]);
    const a = computeAccounting({
      runTag: 'r',
      attempted: 9,
      notAcked: new Map([[4, rec(4, 'failed')]]),
      streamIds: stream,
      streamDelta: 8,
      consumed: null,
      sinkIds: null,
      runners: [
        { attempted: 4, finished: true },
        { attempted: 3, finished: true },
        { attempted: 2, finished: true },
      ],
    });
    assert.equal(a.attempted, 9);
    assert.equal(a.failed, 1);
    assert.equal(a.acked, 8);
    assert.equal(a.lost, 0);
    assert.equal(a.unexpected, 0);
    assert.deepEqual(
      a.runners?.map((r) => r.attempted),
      [4, 3, 2],
    );
  });

  it('an id beyond a runner’s count is unexpected; an acked id of a finished runner missing is lost', () => {
    const a = computeAccounting({
      runTag: 'r',
      attempted: 4,
      notAcked: new Map(),
      streamIds: ids([0, 1, 3, 5]),
      streamDelta: 4,
      consumed: null,
      sinkIds: null,
      runners: [
        { attempted: 2, finished: true }, // 0, 2
        { attempted: 2, finished: true }, // 1, 3
      ],
    });
    assert.equal(a.lost, 1, 'seq 2 (runner 1) acked and missing');
    assert.equal(a.unexpected, 1, 'seq 5 is runner 2’s third event, which it never sent');
  });

  it('a runner that died: its unreported events not in the stream are unknown (runner lost), never lost', () => {
    const stream = ids([0, 2, 4, 1]);
    const notAcked = new Map([[5, rec(5, 'unknown')]]);
    const dead = inferRunnerAttempted('r', stream, notAcked, 2, 2);
    assert.equal(dead, 3, 'runner 2 sent at least 1, 3, 5 (the highest seen is 5)');
    const a = computeAccounting({
      runTag: 'r',
      attempted: 3 + dead,
      notAcked,
      streamIds: stream,
      streamDelta: 4,
      consumed: null,
      sinkIds: null,
      runners: [
        { attempted: 3, finished: true },
        { attempted: dead, finished: false },
      ],
    });
    assert.equal(a.lost, 0);
    assert.equal(a.unknown, 2, 'seq 5 reported unknown, seq 3 with no report from a dead runner');
    assert.equal(a.runners?.[1]?.unknownRunnerLost, 1);
    assert.equal(a.acked + a.failed + a.unknown, a.attempted);
  });
});

describe('merged summary', () => {
  it("computes percentiles from raw samples as k6 does (linear interpolation), never from the runners' percentiles", () => {
    assert.equal(k6Percentile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(k6Percentile([10], 0.99), 10);
    const runner1 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const runner2 = [100, 200];
    const merged = trendValues([...runner1, ...runner2], ['avg', 'med', 'p(95)', 'max']);
    assert.equal(merged['med'], 6.5);
    assert.equal(merged['max'], 200);
    // The average of the two runners' medians would be (5.5 + 150) / 2 = 77.75.
    assert.notEqual(merged['med'], 77.75);
  });

  it('judges simple thresholds on merged values and says when it cannot', () => {
    assert.equal(evaluateThreshold('count==0', { count: 0 }), true);
    assert.equal(evaluateThreshold('p(99)<500', { 'p(99)': 501 }), false);
    assert.equal(evaluateThreshold('max<15', { max: 3 }), true);
    assert.equal(evaluateThreshold('rate<0.01', {}), null);
    assert.equal(evaluateThreshold('count==0 && rate<1', { count: 0 }), null);
  });

  it('sums counters, rates and checks exactly, takes chaos_* once, and re-judges thresholds', () => {
    const summaryOf = (iterations: number, fails: number, p95: number) => ({
      metrics: {
        iterations: { type: 'counter', values: { count: iterations, rate: 1 } },
        checks: { type: 'rate', values: { rate: 0.5, passes: iterations - fails, fails } },
        dropped_iterations: { type: 'counter', values: { count: 0 }, thresholds: { 'count==0': { ok: true } } },
        chaos_unmeasured: { type: 'counter', values: { count: 1 }, thresholds: { 'count==0': { ok: false } } },
        'http_req_duration{name:publish}': {
          type: 'trend',
          values: { 'p(95)': p95, max: p95 * 2, min: 1 },
          thresholds: { 'p(95)<100': { ok: p95 < 100 } },
        },
      },
      root_group: { checks: [{ name: 'is status 204', passes: iterations - fails, fails }] },
      state: { testRunDurationMs: 10_000 },
      k6ha: { derived: { publish_attempted: iterations, publish_latency_p95_ms: p95 } },
    });
    const merged = mergeRunnerSummaries({
      uploads: [
        { index: 1, upload: { summary: summaryOf(100, 2, 20), text: '' } },
        { index: 2, upload: { summary: summaryOf(50, 0, 30), text: '' } },
      ],
      runners: 2,
      lost: [],
      accounting: null,
      trendSamples: null,
      arrival: null,
      reportMetrics: ['iterations'],
    });
    const s = merged.summary as {
      metrics: Record<string, { values: Record<string, number>; thresholds: Record<string, { ok: boolean }> }>;
      root_group: { checks: Array<{ passes: number; fails: number }> };
      k6ha: { derived: Record<string, number | null>; notes: string[] };
    };
    assert.equal(s.metrics['iterations']?.values['count'], 150);
    assert.equal(s.metrics['checks']?.values['passes'], 148);
    assert.equal(s.metrics['checks']?.values['fails'], 2);
    assert.equal(s.root_group.checks[0]?.passes, 148);
    assert.equal(s.metrics['chaos_unmeasured']?.values['count'], 1, 'the same merged chaos value, taken once');
    assert.equal(s.metrics['chaos_unmeasured']?.thresholds['count==0']?.ok, false);
    // No raw samples: only min and max merge, the percentile is left out (and its threshold falls back to every runner's verdict).
    const lat = s.metrics['http_req_duration{name:publish}'];
    assert.equal(lat?.values['max'], 60);
    assert.equal(lat?.values['p(95)'], undefined);
    assert.equal(lat?.thresholds['p(95)<100']?.ok, true);
    assert.equal(s.k6ha.derived['publish_attempted'], 150);
    assert.equal(s.k6ha.derived['publish_latency_p95_ms'], null);
    assert.ok(s.k6ha.notes.some((n) => n.includes('no raw samples')));

    const withRaw = mergeRunnerSummaries({
      uploads: [{ index: 1, upload: { summary: summaryOf(100, 2, 20), text: '' } }],
      runners: 2,
      lost: [{ index: 2, name: 'runner 2/2 (segment 1/2:1)', why: 'exited with code 137' }],
      accounting: null,
      trendSamples: new Map([['http_req_duration{name:publish}', [1, 2, 3, 400]]]),
      arrival: null,
      reportMetrics: ['iterations'],
    }).summary as typeof s;
    assert.equal(
      withRaw.metrics['http_req_duration{name:publish}']?.values['p(95)'],
      k6Percentile([1, 2, 3, 400], 0.95),
    );
    assert.equal(withRaw.metrics['http_req_duration{name:publish}']?.thresholds['p(95)<100']?.ok, false);
    assert.ok(withRaw.k6ha.notes.some((n) => n.startsWith('runner 2/2 (segment 1/2:1) exited with code 137')));
  });

  it('parses summary metric keys with tag filters', () => {
    assert.deepEqual(parseMetricKey('http_req_duration{name:publish,status:204}'), {
      metric: 'http_req_duration',
      tags: [
        ['name', 'publish'],
        ['status', '204'],
      ],
    });
    assert.deepEqual(parseMetricKey('iterations'), { metric: 'iterations', tags: [] });
  });
});

describe("the fleet's verdict", () => {
  it('0 when all passed, 99 when a gate failed (a killed runner is in the merged verdict), else the other code', () => {
    assert.equal(fleetExitCode([0, 0, 0]), 0);
    assert.equal(fleetExitCode([99, 137, 99]), 99);
    assert.equal(fleetExitCode([0, 99, 0]), 99);
    assert.equal(fleetExitCode([0, 107, 0]), 107);
    assert.equal(fleetExitCode([0, 137, 0]), 137, 'a killed runner and no gate judged it: not a pass');
  });
});

describe('the sidecar with several runners (no k6: the control calls as the runners make them)', () => {
  it('starts the load once all registered, takes outcomes from a runner still running after another finished, merges on the last finish', async () => {
    const sidecar = bareSidecar({ name: 't-runners', runners: 2 });
    const seq = '0,1/2,1';
    const first = sidecar.start({
      runTag: 'tagA',
      scenario: 'jetstream-publish',
      runner: { segment: '0:1/2', sequence: seq, instanceId: '1' },
    });
    let answered = false;
    void first.then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(answered, false, 'runner 1 waits for runner 2');
    const second = await sidecar.start({
      runTag: 'tagB',
      scenario: 'jetstream-publish',
      runner: { segment: '1/2:1', sequence: seq, instanceId: '2' },
    });
    assert.equal(second.runTag, 'tagA', "everyone uses the first runner's tag");
    assert.equal((await first).runTag, 'tagA');
    await assert.rejects(
      sidecar.start({
        runTag: 'x',
        scenario: 'jetstream-publish',
        runner: { segment: '0:1/3', sequence: '0,1/3,2/3,1', instanceId: null },
      }),
      /this run has 2 runners/,
    );
    const finish1 = sidecar.finish({ runTag: 'tagA', attempted: null, runner: 1 });
    await new Promise((r) => setTimeout(r, 50));
    // Runner 2's VUs still report after runner 1's teardown began.
    sidecar.recordOutcomes([{ seq: 3, outcome: 'unknown', status: 504, sentAt: 1, t: 2 }]);
    const finish2 = await sidecar.finish({ runTag: 'tagA', attempted: null, runner: 2 });
    const f1 = await finish1;
    assert.deepEqual(f1.metrics, finish2.metrics, 'both runners get the same merged metrics');
    assert.equal(f1.metrics.chaos_unknown, 1, "runner 2's late report is counted");
    assert.throws(() => sidecar.recordOutcomes([]), /finished and accounted for/);
    await sidecar.shutdown('test over');
  });
});
