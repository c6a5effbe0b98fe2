// lib/report/remote-write.ts: k6's prometheus remote-write pushes (snappy + protobuf, cumulative
// counters and native histograms) decoded and differenced into per-push periods, then folded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compress } from 'snappyjs';
import {
  bucketUpper,
  type DecodedSeries,
  decodeRemoteWrite,
  histogramMax,
  histogramQuantile,
  type NativeHistogram,
  RemoteWriteRecorder,
  WriteRequest,
} from '../../lib/report/remote-write.ts';
import { foldPerSecond } from '../../lib/report/per-second.ts';

const ZERO = Date.parse('2026-12-01T10:00:00.000Z');

/** The bucket (schema 3) a value falls in, as Prometheus' client does: the smallest i with v ≤ 2^(i/8). */
const bucketOf = (v: number): number => Math.ceil(Math.log2(v) * 8);

/** A cumulative native histogram of these values (seconds), in the wire form k6 sends (spans + deltas). */
function wireHistogram(values: number[], timestamp: number): Record<string, unknown> {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(bucketOf(v), (counts.get(bucketOf(v)) ?? 0) + 1);
  const idx = [...counts.keys()].sort((a, b) => a - b);
  const spans: Array<{ offset: number; length: number }> = [];
  const deltas: number[] = [];
  let prevIdx: number | null = null;
  let prevCount = 0;
  for (const i of idx) {
    if (prevIdx !== null && i === prevIdx + 1) (spans[spans.length - 1] as { length: number }).length++;
    else spans.push({ offset: prevIdx === null ? i : i - prevIdx - 1, length: 1 });
    const c = counts.get(i) ?? 0;
    deltas.push(c - prevCount);
    prevCount = c;
    prevIdx = i;
  }
  return {
    countInt: values.length,
    sum: values.reduce((a, b) => a + b, 0),
    schema: 3,
    zeroThreshold: 2.938735877055719e-39,
    zeroCountInt: 0,
    positiveSpans: spans,
    positiveDeltas: deltas,
    timestamp,
  };
}

const labels = (o: Record<string, string>): Array<{ name: string; value: string }> =>
  Object.entries(o)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, value]) => ({ name, value }));

function push(series: Array<Record<string, unknown>>): Uint8Array {
  const msg = WriteRequest.fromObject({ timeseries: series });
  return compress(WriteRequest.encode(msg).finish());
}

const ok = { name: 'publish', status: '204', expected_response: 'true', method: 'POST', url: 'http://127.0.0.1/x' };
const bad = { ...ok, status: '503', expected_response: 'false' };

describe('per-second data from k6 prometheus remote write', () => {
  it('decodes counters and native histograms (spans with gaps, delta-encoded counts)', () => {
    const values = [0.001, 0.0011, 0.002, 0.5, 0.5, 0.51];
    const body = push([
      { labels: labels({ __name__: 'k6_http_reqs_total', ...ok }), samples: [{ value: 6, timestamp: 1000 }] },
      {
        labels: labels({ __name__: 'k6_http_req_duration_seconds', ...ok }),
        histograms: [wireHistogram(values, 1000)],
      },
    ]);
    const [reqs, dur] = decodeRemoteWrite(body);
    assert.equal(reqs?.value, 6);
    assert.equal(reqs?.labels['name'], 'publish');
    const h = dur?.histogram as NativeHistogram;
    assert.equal(h.count, 6);
    assert.equal(h.schema, 3);
    const expected = new Map<number, number>();
    for (const v of values) expected.set(bucketOf(v), (expected.get(bucketOf(v)) ?? 0) + 1);
    assert.deepEqual(
      [...h.buckets].sort(([a], [b]) => a - b),
      [...expected].sort(([a], [b]) => a - b),
    );
  });

  it('a quantile lies in the bucket of the true one, the max is its bucket top', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 0.001 + (i % 97) * 0.0007 + (i === 999 ? 0.3 : 0));
    const body = push([
      { labels: labels({ __name__: 'k6_http_req_duration_seconds', ...ok }), histograms: [wireHistogram(values, 1)] },
    ]);
    const h = decodeRemoteWrite(body)[0]?.histogram as NativeHistogram;
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.5, 0.95, 0.99]) {
      const truth = sorted[Math.ceil(q * sorted.length) - 1] as number;
      const got = histogramQuantile(h, q) as number;
      const b = bucketOf(truth);
      assert.ok(got > bucketUpper(3, b - 1) && got <= bucketUpper(3, b), `p${q * 100}: ${got} vs ${truth}`);
      assert.ok(Math.abs(got - truth) / truth < 0.0906, `within a bucket's width: ${got} vs ${truth}`);
    }
    const max = histogramMax(h) as number;
    assert.ok(max >= 0.3 + 0.001 + (999 % 97) * 0.0007 && max <= (0.3 + 0.001 + (999 % 97) * 0.0007) * 1.0906);
  });

  it('differences cumulative pushes into periods: exact counts per name, failed from expected_response', () => {
    const rec = new RemoteWriteRecorder();
    const first = [0.01, 0.012, 0.011];
    rec.push(
      decodeRemoteWrite(
        push([
          { labels: labels({ __name__: 'k6_http_reqs_total', ...ok }), samples: [{ value: 3, timestamp: 1 }] },
          {
            labels: labels({ __name__: 'k6_http_req_duration_seconds', ...ok }),
            histograms: [wireHistogram(first, 1)],
          },
          // a control call: its own name, kept apart by the fold
          { labels: labels({ __name__: 'k6_http_reqs_total', ...ok, name: 'sidecar start' }), samples: [{ value: 1 }] },
          // metrics the report does not read are skipped
          { labels: labels({ __name__: 'k6_iterations_total' }), samples: [{ value: 3 }] },
        ]),
      ),
      ZERO + 1000,
    );
    // the second push: cumulative values (3 + 1 ok, 1 failed), a new series for the 503
    const written = rec.push(
      decodeRemoteWrite(
        push([
          { labels: labels({ __name__: 'k6_http_reqs_total', ...ok }), samples: [{ value: 4 }] },
          { labels: labels({ __name__: 'k6_http_reqs_total', ...bad }), samples: [{ value: 1 }] },
          {
            labels: labels({ __name__: 'k6_http_req_duration_seconds', ...ok }),
            histograms: [wireHistogram([...first, 0.02], 2)],
          },
          {
            labels: labels({ __name__: 'k6_http_req_duration_seconds', ...bad }),
            histograms: [wireHistogram([0.5], 2)],
          },
        ]),
      ),
      ZERO + 2003,
    );
    assert.deepEqual(written, [], 'nothing written while its second may still get pushes');
    const [p1, p2] = rec.finish();
    assert.equal(p1?.t, ZERO + 1000);
    assert.equal(p2?.t, ZERO + 2000, 'a push a few ms late is in its second');
    assert.deepEqual(p1?.v['http_reqs{name:publish}'], [3]);
    assert.deepEqual(p1?.v['http_req_failed{name:publish}'], [0]);
    assert.equal(p1?.v['k6_iterations_total'], undefined);
    assert.deepEqual(p2?.v['http_reqs{name:publish}'], [2]);
    assert.deepEqual(p2?.v['http_req_failed{name:publish}'], [0.5]);
    // the period's histogram is this second's alone: 0.02 and 0.5, not the first second's values
    const d = p2?.v['http_req_duration{name:publish}'] as number[];
    assert.ok((d[1] as number) >= 500 && (d[1] as number) <= 500 * 1.0906, `max ${d[1]}`);
    assert.ok((d[3] as number) > 20 / 1.0906 && (d[3] as number) <= 20 * 1.0906, `min ${d[3]}`);
    assert.equal((d[0] as number).toFixed(6), (((0.02 + 0.5) / 2) * 1000).toFixed(6));
    // folded like a dashboard recording: rows per push, exact totals
    const data = foldPerSecond(
      {
        periodMs: 1000,
        startMs: ZERO,
        stopMs: ZERO + 2000,
        snapshots: [p1, p2].map((p) => ({ endMs: p?.t ?? 0, values: new Map(Object.entries(p?.v ?? {})) })),
        cumulative: null,
      },
      { zeroMs: ZERO, outcomes: [], reportedRequest: null },
    );
    const s = data.series['publish'];
    assert.deepEqual(s?.t, [0, 1]);
    assert.deepEqual(s?.sent, [3, 2]);
    assert.deepEqual(s?.acked, [3, 1]);
    assert.deepEqual(s?.failed, [0, 1]);
    assert.equal(data.counts.control, 1);
    assert.equal(data.counts.requests, 5);
  });

  it('merges runners (instance_id) per second, histograms bucket by bucket; splits a counter by tag', () => {
    const rec = new RemoteWriteRecorder({ split: { metric: 'http_get_ok', tags: ['pod'] } });
    const from = (instance: string, n: number, latencies: number[]): DecodedSeries[] =>
      decodeRemoteWrite(
        push([
          { labels: labels({ __name__: 'k6_http_reqs_total', ...ok, instance_id: instance }), samples: [{ value: n }] },
          {
            labels: labels({ __name__: 'k6_http_req_duration_seconds', ...ok, instance_id: instance }),
            histograms: [wireHistogram(latencies, 1)],
          },
          {
            labels: labels({ __name__: 'k6_http_get_ok_total', pod: 'a', instance_id: instance }),
            samples: [{ value: n }],
          },
        ]),
      );
    // runner 1 pushes at .000, runner 2 at .300; each runner's values are its own cumulative ones
    const fast = Array.from({ length: 99 }, () => 0.01);
    rec.push(from('1', 10, fast.slice(0, 10)), ZERO + 1000);
    rec.push(from('2', 7, fast.slice(0, 7)), ZERO + 1300);
    rec.push(from('1', 15, [...fast.slice(0, 14), 0.4]), ZERO + 2001);
    rec.push(from('2', 9, fast.slice(0, 9)), ZERO + 2298);
    const written = [...rec.push(from('1', 15, [...fast.slice(0, 14), 0.4]), ZERO + 6000), ...rec.finish()];
    const [p1, p2] = written;
    assert.deepEqual(
      written.map((p) => p.t - ZERO),
      [1000, 2000, 3000, 4000, 5000, 6000],
      'one period a second, empty ones too',
    );
    assert.deepEqual(written[2]?.v, {});
    assert.deepEqual(written[5]?.v['http_reqs{name:publish}'], [0], 'the push without news: zeros');
    assert.equal(p1?.pushes, 2);
    assert.deepEqual(p1?.v['http_reqs{name:publish}'], [17]);
    assert.deepEqual(p2?.v['http_reqs{name:publish}'], [5 + 2]);
    assert.deepEqual(p2?.v['http_get_ok{pod:a}'], [7]);
    // second 2: 6 fast requests and one of 400 ms, from two runners: one histogram, one max
    const d = p2?.v['http_req_duration{name:publish}'] as number[];
    assert.ok((d[1] as number) >= 400 && (d[1] as number) <= 400 * 1.0906, `max ${d[1]}`);
    assert.ok((d[2] as number) <= 10 * 1.0906, `p50 ${d[2]}`);
  });

  it('a push that comes after its second was written lands in the oldest open one: no count lost', () => {
    const rec = new RemoteWriteRecorder();
    const at = (n: number): DecodedSeries[] =>
      decodeRemoteWrite(push([{ labels: labels({ __name__: 'k6_http_reqs_total', ...ok }), samples: [{ value: n }] }]));
    const out = [
      ...rec.push(at(1), ZERO),
      ...rec.push(at(2), ZERO + 10_000),
      ...rec.push(at(4), ZERO + 3000),
      ...rec.finish(),
    ];
    assert.deepEqual(
      out.map((p) => p.v['http_reqs{name:publish}']?.[0] ?? 0),
      [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1],
      'the late push (at 3 s, after seconds 0–7 were written) is in second 8',
    );
    assert.equal(
      out.reduce((a, p) => a + (p.v['http_reqs{name:publish}']?.[0] ?? 0), 0),
      4,
    );
  });

  it('refuses a body that is not snappy + protobuf', () => {
    assert.throws(() => decodeRemoteWrite(new TextEncoder().encode('{"not":"a push"}')));
  });
});
