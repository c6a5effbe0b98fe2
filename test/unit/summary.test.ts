import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metricCount, normalizeSummary, renderMetrics } from '../../lib/k6/summary.ts';

const classic = {
  metrics: {
    publish_attempted: { type: 'counter', contains: 'default', values: { count: 10, rate: 1 } },
    publish_success: { type: 'rate', contains: 'default', values: { rate: 0.9, passes: 9, fails: 1 }, thresholds: { 'rate==1': { ok: false } } },
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
      { name: 'publish_latency', type: 'trend', contains: 'time', values: { avg: 1.5, max: 17, med: 0.8, min: null, p90: 3.4, p95: 5.5 } },
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
