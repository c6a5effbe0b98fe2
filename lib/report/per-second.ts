// Per-second data of a run, from two exact sources and no extra work for k6's VUs:
//
//  - k6's own per-period aggregates: k6's web dashboard, recording only (`K6_WEB_DASHBOARD_RECORD=
//    <run dir>/k6-dashboard-record.ndjson.gz`, `K6_WEB_DASHBOARD_PERIOD=1s`, `K6_WEB_DASHBOARD_TAGS=name,…`;
//    lib/run/per-second-source.ts sets them). Every period k6 writes a `snapshot`: each metric and
//    each `tag:value` submetric aggregated over the samples of that period alone — counters as
//    count, trends as k6's own TrendSink percentiles of that period's values (never an average of
//    percentiles). From it: requests completed per request name (`http_reqs{name:X}`), how many of
//    them k6 counted failed (`http_req_failed{name:X}`), latency p50/p95/p99/max
//    (`http_req_duration{name:X}`), and http-get's responses per attribution value
//    (`http_get_ok{pod:X}`).
//  - the sidecar's outcome reports: every request the scenario did not see acked arrives there
//    by id with its send time, end time and status (lib/k6/outcome-reporter.ts), so failed and
//    unknown per second, by status, are exact and counted in the second each was *sent*.
//
// A row is one k6 period (1 s; k6 widens it for runs over 48 min, see `periodMs`), at its start
// as seconds from the load's zero (the timeline's zero: k6 said the load started). k6 assigns a
// sample to the period in which it reached the output (≤ 50 ms after the request ended); acked
// requests end milliseconds after they are sent, so acked per row is by send time too, and
// failed/unknown are binned by their send time into the same rows. sent = acked + failed + unknown.
// Why this source and what it costs: BENCHMARKS.md, "Per-second data".
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { OutcomeRecord } from '../shared/control-api.ts';

/** One series: a request name's columns, index i = row `t[i]` (period start, seconds from load start). */
export interface PerSecondSeries {
  t: number[];
  sent: number[];
  acked: number[];
  failed: number[];
  unknown: number[];
  /** failed + unknown by HTTP status ("0": no response: timeout, refused, reset); from the sidecar's reports */
  byStatus: Record<string, number[]>;
  p50: Array<number | null>;
  p95: Array<number | null>;
  p99: Array<number | null>;
  max: Array<number | null>;
  /** responses per attribute value (http-get: attribute → value → count per row) */
  split?: Record<string, Record<string, number[]>>;
}

export interface PerSecondData {
  version: 2;
  source: (typeof SOURCE_NAMES)[keyof typeof SOURCE_NAMES];
  /** the recording's period (1000 ms asked; k6 widens it to keep a run at ≤ 2,880 periods) */
  periodMs: number;
  /** epoch ms of second 0 (the timeline's zero, or the recording's start without one) */
  zeroMs: number;
  /** per request name (`publish`; EventStore: one per operation; http-get: `get`) */
  series: Record<string, PerSecondSeries>;
  counts: {
    /** the scenario's requests k6 counted (all names below) */
    requests: number;
    /** the scenario's calls to the sidecar (names `sidecar …`), left out of the series */
    control: number;
    /** the sidecar's outcome reports folded in */
    outcomeRecords: number;
    periods: number;
  };
  /** which series has its failures from the sidecar (exact, by status) and which from k6's http_req_failed */
  notes: string[];
}

/** Which of k6's outputs the periods came from (FoldOptions.source) and how the data names it. */
export const SOURCE_NAMES = {
  dashboard: 'k6 web dashboard recording + sidecar outcome reports',
  'remote-write': 'k6 prometheus remote write (native histograms) + sidecar outcome reports',
} as const;

export type Outcome = 'acked' | 'failed' | 'unknown';

/** The scenarios' own rule (lib/k6/cloudevents.ts classifyStatus): 2xx acked, 4xx a definite failure, anything else unknown. */
export function classifyStatus(status: number): Outcome {
  if (status >= 200 && status < 300) return 'acked';
  if (status >= 400 && status < 500) return 'failed';
  return 'unknown';
}

/** The scenario's calls to the sidecar (lib/k6/sidecar-client.ts, outcome-reporter.ts) and EventStore's preflight: not load. */
export const isControlRequest = (name: string): boolean => name.startsWith('sidecar ') || name === 'preflight';

/** The dashboard's aggregate columns per metric type (its `param.aggregates`). */
const TREND = { max: 1, med: 2, p95: 5, p99: 6 };

/** What a snapshot holds for one name: the numbers in the order of its type's aggregates, [] when empty. */
type Values = number[];

/** One decoded recording. */
export interface DashboardRecording {
  periodMs: number;
  startMs: number | null;
  stopMs: number | null;
  /** each snapshot: its end (flush) time and name → values */
  snapshots: Array<{ endMs: number; values: Map<string, Values> }>;
  /** the last cumulative event (everything, including the final fraction of a period no snapshot has) */
  cumulative: Map<string, Values> | null;
}

/** The names a fold needs: per-name HTTP figures and attribution counters; the rest of a snapshot is skipped. */
function wanted(name: string, splitMetric: string | null): boolean {
  return (
    name === 'time' ||
    name.startsWith('http_reqs{name:') ||
    name.startsWith('http_req_failed{name:') ||
    name.startsWith('http_req_duration{name:') ||
    (splitMetric !== null && name.startsWith(`${splitMetric}{`))
  );
}

/**
 * Reads k6's dashboard recording (gzip when the name ends in .gz): one JSON event per line. A
 * snapshot's data is an array in the sorted order of every metric name announced so far (`metric`
 * events), as k6 writes it (sort.Strings: byte order, which is JavaScript's for these ASCII names).
 */
export async function readDashboardRecording(
  input: string | Readable,
  splitMetric: string | null = null,
): Promise<DashboardRecording> {
  const file = typeof input === 'string' ? createReadStream(input) : input;
  const stream = typeof input === 'string' && input.endsWith('.gz') ? file.pipe(createGunzip()) : file;
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  const known = new Set<string>();
  /** indices of the wanted names among the sorted names, recomputed when a metric event adds names */
  let picks: Array<[number, string]> = [];
  let timeIndex = -1;
  const rec: DashboardRecording = { periodMs: 1000, startMs: null, stopMs: null, snapshots: [], cumulative: null };
  let lastCumulative: string | null = null;
  let cumulativeNames: Array<[number, string]> = [];
  const decode = (data: Values[], using: Array<[number, string]>): Map<string, Values> => {
    const m = new Map<string, Values>();
    for (const [i, n] of using) m.set(n, data[i] ?? []);
    return m;
  };
  const timeOf = (data: Values[]): number | null => (timeIndex < 0 ? null : (data[timeIndex]?.[0] ?? null));
  for await (const line of rl) {
    if (line === '') continue;
    // Every line is {"event":"<name>","data":…}; the event name decides whether it is parsed at all.
    const event = /^\{"event":"([a-z]+)"/.exec(line)?.[1];
    if (event === 'cumulative') {
      lastCumulative = line;
      cumulativeNames = picks;
      continue;
    }
    if (event !== 'snapshot' && event !== 'metric' && event !== 'param' && event !== 'start' && event !== 'stop')
      continue;
    const parsed = JSON.parse(line) as { event: string; data: unknown };
    if (event === 'param') {
      const period = (parsed.data as { period?: number }).period;
      if (typeof period === 'number' && period > 0) rec.periodMs = period;
    } else if (event === 'metric') {
      for (const n of Object.keys(parsed.data as Record<string, unknown>)) known.add(n);
      const names = [...known].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      timeIndex = names.indexOf('time');
      picks = names.flatMap((n, i): Array<[number, string]> => (wanted(n, splitMetric) ? [[i, n]] : []));
    } else {
      const data = parsed.data as Values[];
      const t = timeOf(data);
      if (event === 'start') rec.startMs = t;
      else if (event === 'stop') rec.stopMs = t;
      else if (t !== null) rec.snapshots.push({ endMs: t, values: decode(data, picks) });
    }
  }
  if (lastCumulative !== null)
    rec.cumulative = decode((JSON.parse(lastCumulative) as { data: Values[] }).data, cumulativeNames);
  return rec;
}

interface Row {
  fromMs: number;
  /** null for the final fraction (no snapshot: counts from the cumulative, no percentiles) */
  values: Map<string, Values> | null;
}

const count = (v: Values | undefined): number => v?.[0] ?? 0;

export interface FoldOptions {
  /** the timeline's zero (epoch ms); null: the recording's start */
  zeroMs: number | null;
  /** the sidecar's outcome reports (every non-acked request of `reportedRequest`) */
  outcomes: readonly OutcomeRecord[];
  /** the request name the outcome reports are about (`publish`, `get`, `append`); null: none */
  reportedRequest: string | null;
  /** the counter split by attribute (`http_get_ok`), with the attribute tags the recording was asked for */
  split?: { metric: string; tags: readonly string[] } | null;
  /** where the periods came from (what the notes say about the latency): the dashboard recording (default) or the remote-write receiver */
  source?: keyof typeof SOURCE_NAMES;
}

/** Folds a recording and the outcome reports into per-second series. Pure. */
export function foldPerSecond(rec: DashboardRecording, opts: FoldOptions): PerSecondData {
  const zeroMs = opts.zeroMs ?? rec.startMs ?? rec.snapshots[0]?.endMs ?? 0;
  // Rows: [previous flush, this flush) per snapshot, then the final fraction up to the stop.
  const rows: Row[] = [];
  let from = rec.startMs ?? (rec.snapshots[0] === undefined ? 0 : rec.snapshots[0].endMs - rec.periodMs);
  for (const s of rec.snapshots) {
    rows.push({ fromMs: from, values: s.values });
    from = s.endMs;
  }
  const finalFrom = from;
  // The final fraction: what the last cumulative has beyond the snapshots' sum (counters only).
  const sums = new Map<string, number>();
  for (const s of rec.snapshots)
    for (const [n, v] of s.values)
      if (!n.startsWith('http_req_duration') && n !== 'time') sums.set(n, (sums.get(n) ?? 0) + count(v));
  const rest = new Map<string, Values>();
  if (rec.cumulative !== null)
    for (const [n, v] of rec.cumulative) {
      if (n.startsWith('http_reqs') || (opts.split && n.startsWith(`${opts.split.metric}{`))) {
        const left = count(v) - (sums.get(n) ?? 0);
        if (left > 0) rest.set(n, [left]);
      } else if (n.startsWith('http_req_failed')) rest.set(n, v);
    }
  // http_req_failed in the rest: k6's cumulative rate over the whole run minus what the snapshots had.
  const failedOf = (v: Map<string, Values>, name: string, n: number, row: Row): number => {
    if (row.values !== null) return Math.round((v.get(`http_req_failed{name:${name}}`)?.[0] ?? 0) * n);
    const total = rec.cumulative === null ? 0 : count(rec.cumulative.get(`http_reqs{name:${name}}`));
    const allFailed = Math.round((rec.cumulative?.get(`http_req_failed{name:${name}}`)?.[0] ?? 0) * total);
    let before = 0;
    for (const r of rows)
      if (r.values !== null) {
        const c = count(r.values.get(`http_reqs{name:${name}}`));
        before += Math.round((r.values.get(`http_req_failed{name:${name}}`)?.[0] ?? 0) * c);
      }
    return Math.max(0, allFailed - before);
  };
  if (rest.size > 0 || rec.snapshots.length === 0) rows.push({ fromMs: finalFrom, values: null });
  const valuesOf = (r: Row): Map<string, Values> => r.values ?? rest;

  // Request names of the scenario (control calls left out).
  const allNames = new Set<string>();
  for (const r of rows)
    for (const n of valuesOf(r).keys()) {
      const m = /^http_reqs\{name:(.*)\}$/.exec(n);
      if (m?.[1] !== undefined) allNames.add(m[1]);
    }
  if (opts.reportedRequest !== null && opts.outcomes.length > 0) allNames.add(opts.reportedRequest);
  let control = 0;
  let requests = 0;
  const names = [...allNames].filter((n) => {
    const total = rows.reduce((a, r) => a + count(valuesOf(r).get(`http_reqs{name:${n}}`)), 0);
    if (isControlRequest(n)) control += total;
    else requests += total;
    return !isControlRequest(n);
  });

  // The outcome reports binned into rows: by send time (failed/unknown, by status) and by end time.
  const rowOf = (ms: number): number => {
    let lo = 0;
    let hi = rows.length - 1;
    if (hi < 0 || ms < (rows[0] as Row).fromMs) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((rows[mid] as Row).fromMs <= ms) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const reported = { failed: new Array<number>(rows.length).fill(0), unknown: new Array<number>(rows.length).fill(0) };
  const reportedByStatus = new Map<string, number[]>();
  for (const o of opts.outcomes) {
    // A scenario reporting several operations (s3-objects) tags each report with its op.
    if (o.op !== undefined && o.op !== opts.reportedRequest) continue;
    const i = rowOf(o.sentAt);
    reported[o.outcome][i] = (reported[o.outcome][i] ?? 0) + 1;
    const key = String(o.status);
    let col = reportedByStatus.get(key);
    if (col === undefined) reportedByStatus.set(key, (col = new Array<number>(rows.length).fill(0)));
    col[i] = (col[i] ?? 0) + 1;
  }

  const source = opts.source ?? 'dashboard';
  const latencyFrom =
    source === 'remote-write'
      ? "k6's remote-write pushes (counts exact; each second's p50/p95/p99 from that second's native histogram, to within a bucket, ≤ 9 %; max: its highest bucket's top)"
      : "k6's per-period aggregates";
  const notes: string[] = [];
  const series: Record<string, PerSecondSeries> = {};
  for (const name of names.sort()) {
    const fromSidecar = name === opts.reportedRequest;
    const cols = {
      sent: [] as number[],
      acked: [] as number[],
      failed: [] as number[],
      unknown: [] as number[],
      p50: [] as Array<number | null>,
      p95: [] as Array<number | null>,
      p99: [] as Array<number | null>,
      max: [] as Array<number | null>,
    };
    const splitCols = new Map<string, Map<string, number[]>>();
    rows.forEach((r, i) => {
      const v = valuesOf(r);
      const n = count(v.get(`http_reqs{name:${name}}`));
      const k6Failed = Math.min(n, failedOf(v, name, n, r));
      const acked = n - k6Failed;
      const failed = fromSidecar ? (reported.failed[i] ?? 0) : k6Failed;
      const unknown = fromSidecar ? (reported.unknown[i] ?? 0) : 0;
      cols.acked.push(acked);
      cols.failed.push(failed);
      cols.unknown.push(unknown);
      cols.sent.push(acked + failed + unknown);
      const d = r.values === null ? undefined : v.get(`http_req_duration{name:${name}}`);
      const at = (k: number): number | null => (d === undefined || d.length === 0 ? null : (d[k] ?? null));
      cols.p50.push(at(TREND.med));
      cols.p95.push(at(TREND.p95));
      cols.p99.push(at(TREND.p99));
      cols.max.push(at(TREND.max));
      if (fromSidecar && opts.split)
        for (const tag of opts.split.tags)
          for (const [key, sv] of v) {
            const prefix = `${opts.split.metric}{${tag}:`;
            if (!key.startsWith(prefix)) continue;
            const value = key.slice(prefix.length, -1);
            let byTag = splitCols.get(tag);
            if (byTag === undefined) splitCols.set(tag, (byTag = new Map()));
            let col = byTag.get(value);
            if (col === undefined) byTag.set(value, (col = new Array<number>(rows.length).fill(0)));
            col[i] = count(sv);
          }
    });
    // Only the rows of this series' load: first to last row with a request in it.
    const busy = cols.sent.map((s, i) => s > 0 || (cols.acked[i] ?? 0) > 0);
    const first = busy.indexOf(true);
    const last = busy.lastIndexOf(true);
    if (first < 0) continue;
    const cut = <T>(a: T[]): T[] => a.slice(first, last + 1);
    const s: PerSecondSeries = {
      t: cut(rows.map((r) => Math.round(r.fromMs - zeroMs) / 1000)),
      sent: cut(cols.sent),
      acked: cut(cols.acked),
      failed: cut(cols.failed),
      unknown: cut(cols.unknown),
      byStatus: fromSidecar
        ? Object.fromEntries([...reportedByStatus].sort(([a], [b]) => a.localeCompare(b)).map(([k, c]) => [k, cut(c)]))
        : {},
      p50: cut(cols.p50),
      p95: cut(cols.p95),
      p99: cut(cols.p99),
      max: cut(cols.max),
    };
    if (splitCols.size > 0)
      s.split = Object.fromEntries(
        [...splitCols].map(([tag, byValue]) => [
          tag,
          Object.fromEntries([...byValue].sort(([a], [b]) => a.localeCompare(b)).map(([val, c]) => [val, cut(c)])),
        ]),
      );
    series[name] = s;
    notes.push(
      fromSidecar
        ? `${name}: failed and unknown from the sidecar's outcome reports (exact, by status, in the second each was sent); acked and latency from ${latencyFrom}`
        : `${name}: not acked from k6's http_req_failed per period (no status breakdown: the sidecar hears of ${opts.reportedRequest ?? 'no'} requests only)`,
    );
  }
  return {
    version: 2,
    source: SOURCE_NAMES[source],
    periodMs: rec.periodMs,
    zeroMs,
    series,
    counts: { requests, control, outcomeRecords: opts.outcomes.length, periods: rec.snapshots.length },
    notes,
  };
}

/** The main series of a run: `publish` when there is one, else the busiest. */
export function mainSeriesName(data: PerSecondData): string | null {
  const names = Object.keys(data.series);
  if (names.length === 0) return null;
  if (names.includes('publish')) return 'publish';
  const total = (n: string): number => (data.series[n]?.sent ?? []).reduce((a, b) => a + b, 0);
  return names.reduce((best, n) => (total(n) > total(best) ? n : best));
}
