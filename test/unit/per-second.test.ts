// lib/report/per-second.ts: k6's dashboard recording (per-period aggregates, in k6's own format)
// and the sidecar's outcome reports folded into per-second series.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import type { OutcomeRecord } from '../../lib/shared/control-api.ts';
import {
  classifyStatus,
  foldPerSecond,
  isControlRequest,
  mainSeriesName,
  readDashboardRecording,
} from '../../lib/report/per-second.ts';
import { recordingLines } from '../support/dashboard-recording.ts';

const ZERO = Date.parse('2026-12-01T10:00:00.000Z');
const range = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));
const fromLines = (lines: string[]): Readable => Readable.from([`${lines.join('\n')}\n`]);
const outcome = (seq: number, sentAt: number, status: number, t = sentAt + 1000): OutcomeRecord => ({
  seq,
  outcome: classifyStatus(status) === 'failed' ? 'failed' : 'unknown',
  status,
  sentAt,
  t,
});

describe('per-second data from k6 dashboard recording and the outcome reports', () => {
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
    assert.ok(
      isControlRequest('sidecar /v1/outcomes') && isControlRequest('preflight') && !isControlRequest('publish'),
    );
  });

  it('decodes snapshots by the sorted names announced so far, keeping only what the fold needs', async () => {
    const lines = recordingLines(ZERO - 300, [
      { endMs: ZERO + 700, requests: { publish: { latencies: [1, 2, 3] } } },
      { endMs: ZERO + 1700, requests: { publish: { latencies: [4] }, append: { latencies: [9, 9] } } },
    ]);
    const rec = await readDashboardRecording(fromLines(lines));
    assert.equal(rec.startMs, ZERO - 300);
    assert.equal(rec.snapshots.length, 2);
    assert.equal(rec.snapshots[1]?.endMs, ZERO + 1700);
    // a name announced only in the second period shifts the indices of the ones after it
    assert.deepEqual(rec.snapshots[1]?.values.get('http_reqs{name:publish}'), [1, 1]);
    assert.deepEqual(rec.snapshots[1]?.values.get('http_reqs{name:append}'), [2, 2]);
    assert.deepEqual(rec.snapshots[0]?.values.get('http_reqs{name:append}'), undefined);
    assert.equal(rec.snapshots[0]?.values.has('http_reqs'), false, 'whole-run metrics are not kept');
    assert.deepEqual(rec.cumulative?.get('http_reqs{name:publish}'), [4, 4]);
  });

  it('per period: acked from k6, failed/unknown by status from the reports by send time, percentiles of that period alone', async () => {
    // period 0 [−0.3, 0.7): 100 acked of 1..100 ms; period 1 [0.7, 1.7): 10 requests of 1000 ms, 5 not acked
    // (k6 counts them failed where they end, the reports place them where they were sent: 3 in period 0, 2 in 1).
    const lines = recordingLines(ZERO - 300, [
      { endMs: ZERO + 700, requests: { publish: { latencies: range(100, (i) => i + 1) } } },
      { endMs: ZERO + 1700, requests: { publish: { failed: 5, latencies: range(10, () => 1000) } } },
      { endMs: ZERO + 2700, requests: { 'sidecar /v1/outcomes': { latencies: [1, 1, 1, 1, 1] } } },
    ]);
    const outcomes = [
      outcome(7, ZERO + 100, 0),
      outcome(8, ZERO + 200, 0),
      outcome(9, ZERO + 650, 503),
      outcome(10, ZERO + 800, 503),
      outcome(11, ZERO + 900, 400),
    ];
    const data = foldPerSecond(await readDashboardRecording(fromLines(lines)), {
      zeroMs: ZERO,
      outcomes,
      reportedRequest: 'publish',
    });
    const s = data.series['publish'];
    assert.ok(s !== undefined);
    assert.deepEqual(s.t, [-0.3, 0.7]);
    assert.deepEqual(s.acked, [100, 5]);
    assert.deepEqual(s.unknown, [3, 1]);
    assert.deepEqual(s.failed, [0, 1]);
    assert.deepEqual(s.sent, [103, 7]);
    assert.equal(
      s.sent.reduce((a, b) => a + b, 0),
      110,
      'every request once: sent = k6 count',
    );
    assert.deepEqual(s.byStatus, { '0': [2, 0], '400': [0, 1], '503': [1, 1] });
    // k6's interpolation over period 0's own values: 0.95 × 99 = 94.05 → 95.05; not an average with period 1
    assert.equal(s.p95[0], 95.05);
    assert.equal(s.p50[0], 50.5);
    assert.equal(s.max[1], 1000);
    assert.deepEqual(Object.keys(data.series), ['publish'], 'calls to the sidecar are not a series');
    assert.equal(data.counts.control, 5);
    assert.equal(data.counts.requests, 110);
    assert.equal(data.counts.outcomeRecords, 5);
  });

  it('the final fraction of a period (no snapshot) comes from the last cumulative, counts only', async () => {
    const lines = recordingLines(ZERO, [{ endMs: ZERO + 1000, requests: { publish: { latencies: [1, 1] } } }], {
      endMs: ZERO + 1400,
      requests: { publish: { failed: 1, latencies: [2, 2, 2] } },
    });
    const data = foldPerSecond(await readDashboardRecording(fromLines(lines)), {
      zeroMs: ZERO,
      outcomes: [],
      reportedRequest: null,
    });
    const s = data.series['publish'];
    assert.deepEqual(s?.t, [0, 1]);
    assert.deepEqual(s?.sent, [2, 3]);
    assert.deepEqual(s?.acked, [2, 2]);
    assert.deepEqual(s?.failed, [0, 1], "not a reported series: k6's http_req_failed");
    assert.deepEqual(s?.p95, [1, null]);
  });

  it('a series without reports (EventStore reads) takes its failures from http_req_failed; http-get splits by attribute', async () => {
    const lines = recordingLines(ZERO, [
      {
        endMs: ZERO + 1000,
        requests: { get: { latencies: [5, 5, 5, 5] }, 'read event': { failed: 1, latencies: [3, 3] } },
        counters: { 'http_get_ok{pod:a}': 3, 'http_get_ok{pod:b}': 1, 'http_get_ok{phase:p1}': 4 },
      },
      { endMs: ZERO + 2000, requests: { get: { latencies: [5] } }, counters: { 'http_get_ok{pod:b}': 1 } },
    ]);
    const data = foldPerSecond(await readDashboardRecording(fromLines(lines), 'http_get_ok'), {
      zeroMs: ZERO,
      outcomes: [],
      reportedRequest: 'get',
      split: { metric: 'http_get_ok', tags: ['pod'] },
    });
    assert.deepEqual(data.series['read event']?.failed, [1]);
    assert.deepEqual(data.series['read event']?.acked, [1]);
    assert.deepEqual(data.series['get']?.split, { pod: { a: [3, 0], b: [1, 1] } });
    assert.equal(mainSeriesName(data), 'get');
  });

  it('reads a gzipped recording from disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k6ha-rec-'));
    const file = join(dir, 'k6-dashboard-record.ndjson.gz');
    const lines = recordingLines(ZERO, [{ endMs: ZERO + 1000, requests: { publish: { latencies: [1] } } }]);
    writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
    const rec = await readDashboardRecording(file);
    assert.equal(rec.snapshots.length, 1);
    assert.equal(
      foldPerSecond(rec, { zeroMs: null, outcomes: [], reportedRequest: 'publish' }).series['publish']?.sent[0],
      1,
    );
  });
});
