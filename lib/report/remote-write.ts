// Per-second data from k6's built-in `experimental-prometheus-rw` output with native histograms
// (go.k6.io/k6/v2 v2.2.0 internal/output/prometheusrw): every push interval (1 s) k6 POSTs a
// snappy-compressed protobuf WriteRequest holding, for every time series (metric + full tag set as
// labels) that got samples since the last push, its CUMULATIVE value since the start of the run:
// counters as `k6_<name>_total`, trends as one native histogram (`k6_<name>_seconds`, bucket
// factor 1.1 → schema 3), rates as their cumulative ratio. The last push happens when k6 stops its
// outputs (its PeriodicFlusher flushes once more), so the pushes together hold every sample.
//
// What a second held is the difference between two pushes of a series: counts exact; a second's
// latency histogram exact per bucket, so its p50/p95/p99 come from that second's own histogram
// (never averaged percentiles), to within a bucket's width (≤ 9.05 %, schema 3), and its max is the
// upper bound of its highest non-empty bucket. A push k6 could not deliver loses nothing: the next
// one carries the cumulative values, so its counts land one second later.
//
// The receiver (lib/sidecar/remote-write-receiver.ts) turns the pushes into one period a second
// (several runners' pushes merged, see RemoteWriteRecorder) of the same shape as a dashboard snapshot (`http_reqs{name:X}` → [count], `http_req_failed{name:X}` →
// [rate], `http_req_duration{name:X}` → [avg, max, med, min, p90, p95, p99] in ms, a split
// counter's `metric{tag:value}` → [count]) and appends it as one line to the run's
// k6-remote-write.ndjson.gz; readRemoteWriteRecording makes a DashboardRecording of it for
// foldPerSecond. Why this source: BENCHMARKS.md, "Per-second data (session 9)".
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import protobuf from 'protobufjs';
import { uncompress } from 'snappyjs';
import type { DashboardRecording } from './per-second.ts';

/** Prometheus remote write 1.0 (prometheus/prompb/types.proto, remote.proto): the fields k6 sends. */
const PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; repeated Histogram histograms = 4; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
message BucketSpan { sint32 offset = 1; uint32 length = 2; }
message Histogram {
  oneof count { uint64 count_int = 1; double count_float = 2; }
  double sum = 3;
  sint32 schema = 4;
  double zero_threshold = 5;
  oneof zero_count { uint64 zero_count_int = 6; double zero_count_float = 7; }
  repeated BucketSpan negative_spans = 8;
  repeated sint64 negative_deltas = 9;
  repeated double negative_counts = 10;
  repeated BucketSpan positive_spans = 11;
  repeated sint64 positive_deltas = 12;
  repeated double positive_counts = 13;
  int64 timestamp = 15;
}
`;
/** The WriteRequest message type (exported for tests that build pushes). */
export const WriteRequest = protobuf.parse(PROTO).root.lookupType('prometheus.WriteRequest');

/** A native histogram, decoded: absolute counts by bucket index (bucket i holds (base^(i-1), base^i]). */
export interface NativeHistogram {
  count: number;
  sum: number;
  schema: number;
  zeroCount: number;
  zeroThreshold: number;
  buckets: Map<number, number>;
}

export interface DecodedSeries {
  labels: Record<string, string>;
  /** the last sample's value (counters, gauges, rates), or null */
  value: number | null;
  histogram: NativeHistogram | null;
  /** ms of the series' newest sample in this push */
  timestamp: number;
}

interface RawHistogram {
  countInt?: number;
  countFloat?: number;
  sum?: number;
  schema?: number;
  zeroThreshold?: number;
  zeroCountInt?: number;
  zeroCountFloat?: number;
  positiveSpans?: Array<{ offset?: number; length?: number }>;
  positiveDeltas?: number[];
  positiveCounts?: number[];
  timestamp?: number;
}
interface RawSeries {
  labels?: Array<{ name?: string; value?: string }>;
  samples?: Array<{ value?: number; timestamp?: number }>;
  histograms?: RawHistogram[];
}

/** Decodes one remote-write body (snappy block format + protobuf). Throws on a malformed body. */
export function decodeRemoteWrite(body: Uint8Array): DecodedSeries[] {
  const raw = WriteRequest.toObject(WriteRequest.decode(uncompress(body)), { longs: Number, oneofs: false }) as {
    timeseries?: RawSeries[];
  };
  const out: DecodedSeries[] = [];
  for (const ts of raw.timeseries ?? []) {
    const labels: Record<string, string> = {};
    for (const l of ts.labels ?? []) labels[l.name ?? ''] = l.value ?? '';
    const sample = ts.samples?.[ts.samples.length - 1];
    const h = ts.histograms?.[ts.histograms.length - 1];
    let histogram: NativeHistogram | null = null;
    if (h !== undefined) {
      const buckets = new Map<number, number>();
      // Spans: the first offset is the first bucket's index, later ones the gap after the previous
      // span; deltas: each bucket's count minus the previous bucket's (integer histograms).
      let idx = 0;
      let k = 0;
      let c = 0;
      const counts = h.positiveCounts ?? [];
      const deltas = h.positiveDeltas ?? [];
      for (const span of h.positiveSpans ?? []) {
        idx += span.offset ?? 0;
        for (let j = 0; j < (span.length ?? 0); j++) {
          c = counts.length > 0 ? (counts[k] ?? 0) : c + (deltas[k] ?? 0);
          if (c !== 0) buckets.set(idx, c);
          idx++;
          k++;
        }
      }
      histogram = {
        count: h.countInt ?? h.countFloat ?? 0,
        sum: h.sum ?? 0,
        schema: h.schema ?? 0,
        zeroCount: h.zeroCountInt ?? h.zeroCountFloat ?? 0,
        zeroThreshold: h.zeroThreshold ?? 0,
        buckets,
      };
    }
    out.push({
      labels,
      value: sample === undefined ? null : (sample.value ?? 0),
      histogram,
      timestamp: Number(h?.timestamp ?? sample?.timestamp ?? 0),
    });
  }
  return out;
}

/** The upper bound of bucket `i` of a schema (base = 2^(2^-schema)). */
export const bucketUpper = (schema: number, i: number): number => Math.pow(2, i * Math.pow(2, -schema));

/**
 * The q-quantile (0..1) of a histogram, as Prometheus' histogram_quantile does for native
 * histograms: the bucket holding rank q·count, interpolated exponentially within it. Null when empty.
 */
export function histogramQuantile(h: NativeHistogram, q: number): number | null {
  if (h.count <= 0) return null;
  const rank = q * h.count;
  let seen = h.zeroCount;
  if (rank <= seen && h.zeroCount > 0) return 0;
  const idx = [...h.buckets.keys()].sort((a, b) => a - b);
  for (const i of idx) {
    const c = h.buckets.get(i) ?? 0;
    if (c <= 0) continue;
    if (seen + c >= rank) {
      const lo = bucketUpper(h.schema, i - 1);
      const hi = bucketUpper(h.schema, i);
      const f = (rank - seen) / c;
      return lo * Math.pow(hi / lo, f);
    }
    seen += c;
  }
  const last = idx[idx.length - 1];
  return last === undefined ? 0 : bucketUpper(h.schema, last);
}

/** The upper bound of the highest non-empty bucket (the max, to within a bucket), null when empty. */
export function histogramMax(h: NativeHistogram): number | null {
  let top: number | null = null;
  for (const [i, c] of h.buckets) if (c > 0 && (top === null || i > top)) top = i;
  if (top === null) return h.zeroCount > 0 ? 0 : null;
  return bucketUpper(h.schema, top);
}

const subtract = (a: NativeHistogram, b: NativeHistogram | undefined): NativeHistogram => {
  if (b === undefined || b.schema !== a.schema || b.count > a.count) return a;
  const buckets = new Map<number, number>();
  for (const [i, c] of a.buckets) {
    const d = c - (b.buckets.get(i) ?? 0);
    if (d !== 0) buckets.set(i, d);
  }
  return { ...a, count: a.count - b.count, sum: a.sum - b.sum, zeroCount: a.zeroCount - b.zeroCount, buckets };
};
const addInto = (into: NativeHistogram, h: NativeHistogram): void => {
  into.count += h.count;
  into.sum += h.sum;
  into.zeroCount += h.zeroCount;
  for (const [i, c] of h.buckets) into.buckets.set(i, (into.buckets.get(i) ?? 0) + c);
};

/** One period (one second): dashboard-snapshot-shaped values. */
export interface RemoteWritePeriod {
  /** the period's end (epoch ms): the first push's arrival + k seconds */
  t: number;
  /** pushes folded into it (one per runner, normally) */
  pushes: number;
  v: Record<string, number[]>;
}

export interface RecorderOptions {
  /** counter split by tag values (http-get: `http_get_ok` by its attribution tags) */
  split?: { metric: string; tags: readonly string[] } | null;
  /** the push interval k6 was given (ms) */
  periodMs?: number;
}

/** What one second holds before it is written: counts, failed counts and merged histograms by name. */
interface Bin {
  pushes: number;
  counts: Map<string, number>;
  failed: Map<string, number>;
  hist: Map<string, NativeHistogram>;
}
const newBin = (): Bin => ({ pushes: 0, counts: new Map(), failed: new Map(), hist: new Map() });

/** A bin stays open this many periods behind the newest push (a runner's push may come late). */
const OPEN_BINS = 3;

/**
 * Keeps the last cumulative value of every series and turns each push into what changed since
 * the previous one, added to the second it belongs to. Only what the per-second report reads is
 * kept: http_reqs and http_req_duration per `name`, and the split counter.
 *
 * Seconds: k6 pushes on a steady ticker (every periodMs from its start), so a runner's k-th push
 * arrives at its first push + k periods plus a few ms; that k is its second. Several runners push
 * to one recorder: series are keyed by all their labels, `instance_id` included, so each runner's
 * cumulative values are differenced on their own, and each runner's seconds are counted from its
 * own first push, shifted to the fleet's first push (each runner at most half a period off).
 * Within a second the runners' histograms are merged bucket by bucket before any percentile is
 * taken, so a fleet's per-second percentiles are those of all its requests in that second.
 */
export class RemoteWriteRecorder {
  private readonly last = new Map<string, { value: number | null; histogram: NativeHistogram | null }>();
  private readonly split: { metric: string; tags: readonly string[] } | null;
  private readonly periodMs: number;
  private readonly bins = new Map<number, Bin>();
  /** per runner: the arrival of its first push and its offset in whole periods from the fleet's first */
  private readonly runners = new Map<string, { firstMs: number; offset: number }>();
  private zeroMs: number | null = null;
  private newest = -Infinity;
  private written = -1;
  pushes = 0;

  constructor(opts: RecorderOptions = {}) {
    this.split = opts.split ?? null;
    this.periodMs = opts.periodMs ?? 1000;
  }

  /** Adds one push; returns the seconds that can no longer change (to be written), oldest first. */
  push(series: DecodedSeries[], receivedMs: number): RemoteWritePeriod[] {
    this.pushes++;
    const instance = series.find((s) => s.labels['instance_id'] !== undefined)?.labels['instance_id'] ?? '';
    this.zeroMs ??= receivedMs;
    let runner = this.runners.get(instance);
    if (runner === undefined)
      this.runners.set(
        instance,
        (runner = { firstMs: receivedMs, offset: Math.round((receivedMs - this.zeroMs) / this.periodMs) }),
      );
    // a push that comes after its second was written goes to the oldest open one: counts stay exact
    const k = Math.max(this.written + 1, runner.offset + Math.round((receivedMs - runner.firstMs) / this.periodMs));
    let bin = this.bins.get(k);
    if (bin === undefined) this.bins.set(k, (bin = newBin()));
    bin.pushes++;
    this.addPush(series, bin);
    this.newest = Math.max(this.newest, k);
    return this.take(this.newest - OPEN_BINS);
  }

  /** Every second still open (after the last push: k6 has exited). */
  finish(): RemoteWritePeriod[] {
    return this.take(Infinity);
  }

  /** Every second up to `upTo` (and the newest), empty ones too: a second in which nothing completed is a row of zeros. */
  private take(upTo: number): RemoteWritePeriod[] {
    const out: RemoteWritePeriod[] = [];
    const last = Math.min(upTo, this.newest);
    for (let k = this.written + 1; k <= last; k++) {
      const bin = this.bins.get(k) ?? newBin();
      this.bins.delete(k);
      this.written = k;
      out.push(this.period(k, bin));
    }
    return out;
  }

  private addPush(series: DecodedSeries[], bin: Bin): void {
    const splitName = this.split === null ? null : `k6_${this.split.metric}_total`;
    for (const s of series) {
      const metric = s.labels['__name__'] ?? '';
      const reqs = metric === 'k6_http_reqs_total';
      const dur = metric === 'k6_http_req_duration_seconds';
      const isSplit = metric === splitName;
      if (!reqs && !dur && !isSplit) continue;
      const key = JSON.stringify(s.labels);
      const prev = this.last.get(key);
      this.last.set(key, { value: s.value, histogram: s.histogram });
      const name = s.labels['name'] ?? '';
      if (reqs && s.value !== null) {
        const d = s.value - (prev?.value ?? 0);
        const k = `http_reqs{name:${name}}`;
        bin.counts.set(k, (bin.counts.get(k) ?? 0) + d);
        // k6's http_req_failed is !expected_response; the request's own tag says which it was.
        bin.failed.set(name, (bin.failed.get(name) ?? 0) + (s.labels['expected_response'] === 'false' ? d : 0));
      } else if (dur && s.histogram !== null) {
        const d = subtract(s.histogram, prev?.histogram ?? undefined);
        let into = bin.hist.get(name);
        if (into === undefined)
          bin.hist.set(name, (into = { ...d, count: 0, sum: 0, zeroCount: 0, buckets: new Map() }));
        addInto(into, d);
      } else if (isSplit && s.value !== null && this.split !== null) {
        const d = s.value - (prev?.value ?? 0);
        for (const tag of this.split.tags) {
          const val = s.labels[tag];
          if (val === undefined) continue;
          const k = `${this.split.metric}{${tag}:${val}}`;
          bin.counts.set(k, (bin.counts.get(k) ?? 0) + d);
        }
      }
    }
  }

  private period(k: number, bin: Bin): RemoteWritePeriod {
    const v: Record<string, number[]> = {};
    for (const [key, n] of bin.counts) v[key] = [n];
    for (const [name, f] of bin.failed) {
      const n = bin.counts.get(`http_reqs{name:${name}}`) ?? 0;
      v[`http_req_failed{name:${name}}`] = [n === 0 ? 0 : f / n];
    }
    for (const [name, h] of bin.hist) {
      if (h.count <= 0) continue;
      const ms = (x: number | null): number => (x === null ? 0 : x * 1000);
      // the dashboard's trend aggregates: avg, max, med, min, p(90), p(95), p(99)
      v[`http_req_duration{name:${name}}`] = [
        (h.sum / h.count) * 1000,
        ms(histogramMax(h)),
        ms(histogramQuantile(h, 0.5)),
        ms(histogramQuantile(h, 0)),
        ms(histogramQuantile(h, 0.9)),
        ms(histogramQuantile(h, 0.95)),
        ms(histogramQuantile(h, 0.99)),
      ];
    }
    return { t: (this.zeroMs ?? 0) + k * this.periodMs, pushes: bin.pushes, v };
  }
}

/** The recorder's file, read back as a DashboardRecording (one snapshot per second) for foldPerSecond. */
export async function readRemoteWriteRecording(file: string, pushIntervalMs = 1000): Promise<DashboardRecording> {
  const stream = file.endsWith('.gz') ? createReadStream(file).pipe(createGunzip()) : createReadStream(file);
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  const snapshots: DashboardRecording['snapshots'] = [];
  for await (const line of rl) {
    if (line === '') continue;
    const p = JSON.parse(line) as RemoteWritePeriod;
    snapshots.push({ endMs: p.t, values: new Map(Object.entries(p.v)) });
  }
  snapshots.sort((a, b) => a.endMs - b.endMs);
  const first = snapshots[0];
  return {
    periodMs: pushIntervalMs,
    startMs: first === undefined ? null : first.endMs - pushIntervalMs,
    stopMs: snapshots[snapshots.length - 1]?.endMs ?? null,
    snapshots,
    cumulative: null,
  };
}
