import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metricCount, normalizeSummary, notStartedOf, renderMetrics } from '../../lib/shared/summary.ts';

const classic = {
  metrics: {
    publish_attempted: { type: 'counter', contains: 'default', values: { count: 10, rate: 1 } },
    publish_success: {
      type: 'rate',
      contains: 'default',
      values: { rate: 0.9, passes: 9, fails: 1 },
      thresholds: { 'rate==1': { ok: false } },
    },
  },
  root_group: { name: '', checks: [{ name: 'is status 204', passes: 9, fails: 1 }], groups: [] },
  state: { testRunDurationMs: 10_000 },
};
const machineReadable = {
  version: '1.0.0',
  config: { duration: 10, execution: 'local' },
  metadata: { generatedAt: '2026-01-01T00:00:00Z', k6Version: '2.2.0' },
  results: {
    checks: { results: [{ name: 'is status 204', passes: 9, fails: 1 }] },
    metrics: [
      { name: 'publish_attempted', type: 'counter', contains: 'default', values: { count: 10, rate: 1 } },
      { name: 'publish_success', type: 'rate', contains: 'default', values: { rate: 0.9, matches: 9, total: 10 } },
      {
        name: 'publish_latency',
        type: 'trend',
        contains: 'time',
        values: { avg: 1.5, max: 17, med: 0.8, min: null, p90: 3.4, p95: 5.5 },
      },
    ],
  },
};

describe('k6 summary data in both shapes', () => {
  it('reads the classic handleSummary shape, with threshold verdicts', () => {
    const s = normalizeSummary(classic);
    assert.equal(s.shape, 'classic');
    assert.equal(metricCount(s, 'publish_attempted'), 10);
    assert.equal(s.metrics['publish_success']?.thresholds['rate==1'], false);
    assert.deepEqual(s.checks, [{ name: 'is status 204', passes: 9, fails: 1 }]);
    assert.equal(s.durationMs, 10_000);
    assert.match(renderMetrics(s, ['publish_success']), /✗ publish_success.*\n.*threshold rate==1 crossed/);
  });

  it("reads k6 v2's machine-readable summary", () => {
    const s = normalizeSummary(machineReadable);
    assert.equal(s.shape, 'machine-readable');
    assert.equal(metricCount(s, 'publish_attempted'), 10);
    assert.equal(metricCount(s, 'publish_success'), 9);
    assert.deepEqual(s.metrics['publish_latency']?.values, { avg: 1.5, max: 17, med: 0.8, 'p(90)': 3.4, 'p(95)': 5.5 });
    assert.deepEqual(s.checks, [{ name: 'is status 204', passes: 9, fails: 1 }]);
    assert.equal(s.durationMs, 10_000);
  });

  it('refuses data of neither shape', () => {
    assert.throws(() => normalizeSummary({ hello: 1 }), /neither `metrics` nor `results.metrics`/);
  });
});

describe('events an arrival rate owed but k6 never started', () => {
  it('is what rate × duration owed less sent and dropped, never negative', () => {
    const arrival = { rate: 100, durationMs: 6000 };
    assert.deepEqual(notStartedOf(arrival, 6012, 577, 0), { due: 600, notStarted: 23 });
    assert.deepEqual(notStartedOf(arrival, 6012, 590, 10), { due: 600, notStarted: 0 });
    // k6 usually also starts the iteration at t = DURATION: one more than owed is not a debt.
    assert.deepEqual(notStartedOf(arrival, 6012, 601, 0), { due: 600, notStarted: 0 });
  });

  it('owes only for the time the test ran when it was stopped early', () => {
    assert.deepEqual(notStartedOf({ rate: 150, durationMs: 60_000 }, 20_000, 3001, 0), { due: 3000, notStarted: 0 });
  });

  it('is not known for a closed-loop scenario', () => {
    assert.equal(notStartedOf(undefined, 6000, 10, 0), null);
  });
});
