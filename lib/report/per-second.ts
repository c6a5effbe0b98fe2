// Per-second data of a run, from k6's own samples: `k6 run --out json=<run dir>/k6-samples.json.gz`
// (lib/run/run.ts) streams every sample k6 makes; after the run this module reads the file once,
// keeps only `http_req_duration` of the scenario's own requests (not the sidecar control calls,
// tagged k6ha=control) and folds them into one row per second of load, per request name:
// sent, acked (2xx), failed (4xx, by status), unknown (status 0 = timeout/transport error, 5xx, by
// status), and latency p50/p95/p99/max computed from the raw samples of that second (never averaged
// percentiles). Why this source and what it costs: BENCHMARKS.md, "Per-second data".
//
// A request is counted in the second it was *sent*: k6 stamps a sample with the time the request
// ended, so its start is time − duration. Seconds are counted from the load's zero (the timeline's
// zero: k6 said the load started), so the charts share the timeline's axis.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

/** One series: a request name's columns, index i = second `t[i]` from load start. */
export interface PerSecondSeries {
  t: number[];
  sent: number[];
  acked: number[];
  failed: number[];
  unknown: number[];
  /** failed + unknown by HTTP status ("0": no response: timeout, refused, reset) */
  byStatus: Record<string, number[]>;
  p50: Array<number | null>;
  p95: Array<number | null>;
  p99: Array<number | null>;
  max: Array<number | null>;
}

export interface PerSecondData {
  version: 1;
  source: 'k6 --out json';
  /** epoch ms of second 0 (the timeline's zero, or the first request's start without one) */
  zeroMs: number;
  /** per request name (`publish`; EventStore: one per operation) */
  series: Record<string, PerSecondSeries>;
  /** samples read, of them the scenario's requests */
  samples: { lines: number; requests: number; control: number };
  /** requests that arrived after their second's percentiles were computed (counted, not in the percentiles) */
  late: number;
}

export type Outcome = 'acked' | 'failed' | 'unknown';

/** The scenarios' own rule (lib/k6/cloudevents.ts classifyStatus): 2xx acked, 4xx a definite failure, anything else unknown. */
export function classifyStatus(status: number): Outcome {
  if (status >= 200 && status < 300) return 'acked';
  if (status >= 400 && status < 500) return 'failed';
  return 'unknown';
}

/**
 * k6's own percentile (its TrendSink.P): linear interpolation between the closest ranks of the
 * sorted values, so a whole-run figure from these samples equals k6's summary.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, q: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  if (n === 1) return sorted[0] as number;
  const i = q * (n - 1);
  const lo = sorted[Math.floor(i)] as number;
  const hi = sorted[Math.ceil(i)] as number;
  return lo + (hi - lo) * (i - Math.floor(i));
}

interface Bucket {
  sent: number;
  acked: number;
  failed: number;
  unknown: number;
  byStatus: Map<string, number>;
  /** raw latencies until the second is final, then null */
  values: number[] | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** A sample as the aggregator takes it: end time (epoch ms), duration (ms), tags. */
export interface RequestSample {
  endMs: number;
  durationMs: number;
  name: string;
  status: number;
}

/**
 * Folds request samples into seconds. Memory stays bounded on long runs: a second's raw values are
 * sorted into its percentiles and dropped once the samples read have moved `finalAfterMs` past it
 * (k6 writes samples within a second or two of the request's end, and a request lasts at most its
 * timeout); a sample for a second already final still counts, only not in its percentiles (`late`).
 */
export class PerSecondAggregator {
  private readonly buckets = new Map<string, Map<number, Bucket>>();
  private latestEndMs = -Infinity;
  private firstStartMs: number | null = null;
  private lastFinalised = new Map<string, number>();
  late = 0;
  requests = 0;

  constructor(
    private zeroMs: number | null,
    private readonly finalAfterMs = 120_000,
  ) {}

  add(s: RequestSample): void {
    const startMs = s.endMs - s.durationMs;
    if (this.zeroMs === null) this.zeroMs = this.firstStartMs ?? startMs;
    this.firstStartMs ??= startMs;
    this.requests++;
    let byName = this.buckets.get(s.name);
    if (byName === undefined) this.buckets.set(s.name, (byName = new Map()));
    const second = Math.floor((startMs - this.zeroMs) / 1000);
    let b = byName.get(second);
    if (b === undefined)
      byName.set(
        second,
        (b = {
          sent: 0,
          acked: 0,
          failed: 0,
          unknown: 0,
          byStatus: new Map(),
          values: [],
          p50: null,
          p95: null,
          p99: null,
          max: null,
        }),
      );
    b.sent++;
    const outcome = classifyStatus(s.status);
    b[outcome]++;
    if (outcome !== 'acked') {
      const key = String(s.status);
      b.byStatus.set(key, (b.byStatus.get(key) ?? 0) + 1);
    }
    if (b.values === null) this.late++;
    else b.values.push(s.durationMs);
    if (s.endMs > this.latestEndMs) {
      this.latestEndMs = s.endMs;
      this.finaliseBefore(Math.floor((s.endMs - this.finalAfterMs - (this.zeroMs ?? 0)) / 1000));
    }
  }

  private finaliseBefore(second: number): void {
    for (const [name, byName] of this.buckets) {
      const from = this.lastFinalised.get(name) ?? -Infinity;
      if (second <= from) continue;
      for (const [t, b] of byName) if (t < second && b.values !== null) finalise(b);
      this.lastFinalised.set(name, second);
    }
  }

  result(lines: number, control: number): PerSecondData {
    const series: Record<string, PerSecondSeries> = {};
    for (const [name, byName] of [...this.buckets].sort(([a], [b]) => a.localeCompare(b))) {
      const seconds = [...byName.keys()];
      const from = Math.min(...seconds);
      const to = Math.max(...seconds);
      const statuses = new Set<string>();
      for (const b of byName.values()) for (const k of b.byStatus.keys()) statuses.add(k);
      const s: PerSecondSeries = {
        t: [],
        sent: [],
        acked: [],
        failed: [],
        unknown: [],
        byStatus: Object.fromEntries([...statuses].sort().map((k) => [k, [] as number[]])),
        p50: [],
        p95: [],
        p99: [],
        max: [],
      };
      for (let t = from; t <= to; t++) {
        const b = byName.get(t);
        if (b !== undefined && b.values !== null) finalise(b);
        s.t.push(t);
        s.sent.push(b?.sent ?? 0);
        s.acked.push(b?.acked ?? 0);
        s.failed.push(b?.failed ?? 0);
        s.unknown.push(b?.unknown ?? 0);
        for (const k of statuses) (s.byStatus[k] as number[]).push(b?.byStatus.get(k) ?? 0);
        s.p50.push(b?.p50 ?? null);
        s.p95.push(b?.p95 ?? null);
        s.p99.push(b?.p99 ?? null);
        s.max.push(b?.max ?? null);
      }
      series[name] = s;
    }
    return {
      version: 1,
      source: 'k6 --out json',
      zeroMs: this.zeroMs ?? 0,
      series,
      samples: { lines, requests: this.requests, control },
      late: this.late,
    };
  }
}

const round3 = (v: number | null): number | null => (v === null ? null : Math.round(v * 1000) / 1000);

function finalise(b: Bucket): void {
  const v = Float64Array.from(b.values ?? []).sort();
  b.p50 = round3(percentileOfSorted(v, 0.5));
  b.p95 = round3(percentileOfSorted(v, 0.95));
  b.p99 = round3(percentileOfSorted(v, 0.99));
  b.max = v.length === 0 ? null : round3(v[v.length - 1] as number);
  b.values = null;
}

const DURATION_PREFIX = '{"metric":"http_req_duration","type":"Point"';

/**
 * Reads k6's JSON output (gzip when the name ends in .gz) and aggregates it. Only the lines of
 * `http_req_duration` points are parsed; the other dozen samples k6 writes per request are skipped
 * by a prefix test. Requests tagged k6ha=control (the scenario's calls to the sidecar) are counted
 * apart and left out of the series.
 */
export async function aggregateK6Json(input: string | Readable, zeroMs: number | null): Promise<PerSecondData> {
  const file = typeof input === 'string' ? createReadStream(input) : input;
  const stream = typeof input === 'string' && input.endsWith('.gz') ? file.pipe(createGunzip()) : file;
  const agg = new PerSecondAggregator(zeroMs);
  let lines = 0;
  let control = 0;
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of rl) {
    lines++;
    // k6 writes {"metric":…,"type":"Point","data":…}; a different key order would only cost speed.
    if (!line.startsWith(DURATION_PREFIX) && !(line.includes('"http_req_duration"') && line.includes('"Point"')))
      continue;
    const point = JSON.parse(line) as {
      metric: string;
      type: string;
      data: { time: string; value: number; tags?: Record<string, string> };
    };
    if (point.metric !== 'http_req_duration' || point.type !== 'Point') continue;
    const tags = point.data.tags ?? {};
    if (tags['k6ha'] === 'control') {
      control++;
      continue;
    }
    agg.add({
      endMs: Date.parse(point.data.time),
      durationMs: point.data.value,
      name: tags['name'] ?? tags['url'] ?? 'request',
      status: Number(tags['status'] ?? 0),
    });
  }
  return agg.result(lines, control);
}

/** The main series of a run: `publish` when there is one, else the busiest. */
export function mainSeriesName(data: PerSecondData): string | null {
  const names = Object.keys(data.series);
  if (names.length === 0) return null;
  if (names.includes('publish')) return 'publish';
  const total = (n: string): number => (data.series[n]?.sent ?? []).reduce((a, b) => a + b, 0);
  return names.reduce((best, n) => (total(n) > total(best) ? n : best));
}
