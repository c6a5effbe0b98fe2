import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import {
  aggregateK6Json,
  classifyStatus,
  mainSeriesName,
  PerSecondAggregator,
  percentileOfSorted,
} from '../../lib/report/per-second.ts';

const ZERO = Date.parse('2026-12-01T10:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString().replace('Z', '123456Z'); // k6 writes nanoseconds
const point = (endMs: number, value: number, tags: Record<string, string>): string =>
  JSON.stringify({ metric: 'http_req_duration', type: 'Point', data: { time: iso(endMs), value, tags } });
const other = (metric: string, endMs: number): string =>
  JSON.stringify({
    metric,
    type: 'Point',
    data: { time: iso(endMs), value: 1, tags: { name: 'publish', status: '204' } },
  });

describe('per-second aggregation of k6 samples', () => {
  it("k6's percentile: linear interpolation between closest ranks", () => {
    assert.equal(percentileOfSorted([], 0.95), null);
    assert.equal(percentileOfSorted([7], 0.95), 7);
    assert.equal(percentileOfSorted([1, 2, 3, 4], 0.5), 2.5);
    // 0.95 × 19 = 18.05 → 19 + 0.05 × (20 − 19)
    assert.equal(
      percentileOfSorted(
        Array.from({ length: 20 }, (_, i) => i + 1),
        0.95,
      ),
      19.05,
    );
  });

  it('classifies like the scenarios: 2xx acked, 4xx failed, everything else unknown', () => {
    assert.deepEqual([200, 204, 400, 429, 0, 500, 503, 302].map(classifyStatus), [
      'acked',
      'acked',
      'failed',
      'failed',
      'unknown',
      'unknown',
      'unknown',
      'unknown',
    ]);
  });

  it('counts every request in the second it was sent, with exact per-second percentiles (not averaged)', () => {
    const agg = new PerSecondAggregator(ZERO);
    // second 0: 100 requests of 1..100 ms; second 1: 10 of 1000 ms, 3 of them timeouts (status 0) and 2 refused (503), 1 a 400
    for (let i = 1; i <= 100; i++) agg.add({ endMs: ZERO + 200 + i, durationMs: i, name: 'publish', status: 204 });
    for (let i = 0; i < 10; i++)
      agg.add({
        endMs: ZERO + 1100 + 1000,
        durationMs: 1000,
        name: 'publish',
        status: i < 3 ? 0 : i < 5 ? 503 : i < 6 ? 400 : 204,
      });
    const d = agg.result(0, 0);
    const s = d.series['publish'];
    assert.ok(s !== undefined);
    assert.deepEqual(s.t, [0, 1]);
    assert.deepEqual(s.sent, [100, 10]);
    assert.deepEqual(s.acked, [100, 4]);
    assert.deepEqual(s.failed, [0, 1]);
    assert.deepEqual(s.unknown, [0, 5]);
    assert.deepEqual(s.byStatus, { 0: [0, 3], 400: [0, 1], 503: [0, 2] });
    assert.deepEqual([s.p50[0], s.p95[0], s.p99[0], s.max[0]], [50.5, 95.05, 99.01, 100]);
    assert.deepEqual([s.p50[1], s.max[1]], [1000, 1000]);
    // Averaging the two seconds' p95s would give 547.5; the run's p95 over all 110 samples is 1000.
  });

  it('fills seconds without requests with zeros and null latency (an outage shows as a gap, not a line)', () => {
    const agg = new PerSecondAggregator(ZERO);
    agg.add({ endMs: ZERO + 500, durationMs: 5, name: 'publish', status: 204 });
    agg.add({ endMs: ZERO + 3500, durationMs: 5, name: 'publish', status: 204 });
    const s = agg.result(0, 0).series['publish'];
    assert.deepEqual(s?.t, [0, 1, 2, 3]);
    assert.deepEqual(s?.sent, [1, 0, 0, 1]);
    assert.deepEqual(s?.p95, [5, null, null, 5]);
  });

  it('bounds memory on long runs: old seconds are finalised, a late sample still counts', () => {
    const agg = new PerSecondAggregator(ZERO, 10_000);
    agg.add({ endMs: ZERO + 100, durationMs: 1, name: 'x', status: 200 });
    agg.add({ endMs: ZERO + 30_000, durationMs: 1, name: 'x', status: 200 });
    agg.add({ endMs: ZERO + 200, durationMs: 3, name: 'x', status: 200 }); // second 0, after it was finalised
    const d = agg.result(0, 0);
    assert.equal(d.late, 1);
    assert.equal(d.series['x']?.sent[0], 2);
    assert.equal(d.series['x']?.max[0], 1);
  });

  it("reads k6's gzipped JSON output: only http_req_duration points, control calls left out, per request name", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'per-second-'));
    const file = join(dir, 'k6-samples.json.gz');
    const lines = [
      JSON.stringify({
        type: 'Metric',
        data: { name: 'http_req_duration', type: 'trend', contains: 'time' },
        metric: 'http_req_duration',
      }),
      point(ZERO + 10, 2, { name: 'publish', status: '204', scenario: 'publish' }),
      other('http_reqs', ZERO + 10),
      other('http_req_waiting', ZERO + 10),
      point(ZERO + 20, 3, { name: 'sidecar /v1/outcomes', k6ha: 'control', status: '204' }),
      point(ZERO + 1500, 1, { name: 'publish', status: '503' }),
      point(ZERO + 1600, 4, { name: 'read', status: '200' }),
      point(ZERO + 1700, 5, { name: 'read', status: '200' }),
    ];
    writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
    const d = await aggregateK6Json(file, ZERO);
    assert.equal(d.samples.lines, 8);
    assert.equal(d.samples.requests, 4);
    assert.equal(d.samples.control, 1);
    assert.deepEqual(Object.keys(d.series), ['publish', 'read']);
    assert.deepEqual(d.series['publish']?.sent, [1, 1]);
    assert.deepEqual(d.series['publish']?.unknown, [0, 1]);
    assert.deepEqual(d.series['read']?.t, [1]);
    assert.equal(mainSeriesName(d), 'publish');
  });

  it('without a zero, second 0 is the first request', () => {
    const agg = new PerSecondAggregator(null);
    agg.add({ endMs: ZERO + 5000, durationMs: 1000, name: 'p', status: 204 });
    agg.add({ endMs: ZERO + 5500, durationMs: 10, name: 'p', status: 204 });
    const d = agg.result(0, 0);
    assert.equal(d.zeroMs, ZERO + 4000);
    assert.deepEqual(d.series['p']?.sent, [1, 1]);
  });
});
