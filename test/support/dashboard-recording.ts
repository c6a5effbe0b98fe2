// A k6 web-dashboard recording in k6's own format (internal/dashboard of go.k6.io/k6/v2: one JSON
// event a line — `param`, `metric` announcing names, `start`, per period a `cumulative` and a
// `snapshot` whose data is an array in the sorted order of every name announced so far, `stop`),
// built from per-period figures for the unit tests. Aggregates as k6 computes them: counters
// [count, rate], rates [rate], trends [avg, max, med, min, p(90), p(95), p(99)] with k6's
// TrendSink interpolation, the time gauge [epoch ms].
import type { OutcomeRecord } from '../../lib/shared/control-api.ts';
import { type DashboardRecording, foldPerSecond, type PerSecondData } from '../../lib/report/per-second.ts';

export interface PeriodFigures {
  /** the flush time ending this period (epoch ms) */
  endMs: number;
  /** per request name: requests completed, how many k6 counted failed, their latencies (ms) */
  requests: Record<string, { failed?: number; latencies: number[] }>;
  /** counters by `tag:value` (e.g. { 'http_get_ok{pod:a}': 3 }) */
  counters?: Record<string, number>;
}

function p(sorted: number[], q: number): number {
  if (sorted.length === 1) return sorted[0] as number;
  const i = q * (sorted.length - 1);
  const lo = sorted[Math.floor(i)] as number;
  const hi = sorted[Math.ceil(i)] as number;
  return lo + (hi - lo) * (i - Math.floor(i));
}

function trend(values: number[]): number[] {
  if (values.length === 0) return [];
  const s = [...values].sort((a, b) => a - b);
  const avg = s.reduce((a, b) => a + b, 0) / s.length;
  return [avg, s[s.length - 1] as number, p(s, 0.5), s[0] as number, p(s, 0.9), p(s, 0.95), p(s, 0.99)];
}

type Kind = 'counter' | 'rate' | 'trend' | 'gauge';

/** The recording's lines for these periods (a final fraction after the last one: `tail`, in the cumulative only). */
export function recordingLines(startMs: number, periods: PeriodFigures[], tail?: PeriodFigures): string[] {
  const kinds = new Map<string, Kind>([['time', 'gauge']]);
  const lines: string[] = [
    JSON.stringify({ event: 'param', data: { period: 1000, aggregates: {} } }),
    JSON.stringify({ event: 'metric', data: { time: { type: 'gauge', contains: 'time' } } }),
    JSON.stringify({ event: 'start', data: [[startMs]] }),
  ];
  const cumulative = {
    requests: new Map<string, { failed: number; n: number; latencies: number[] }>(),
    counters: new Map<string, number>(),
  };
  const periodValues = (f: PeriodFigures, into: typeof cumulative | null): Map<string, number[]> => {
    const v = new Map<string, number[]>();
    const all = { n: 0, failed: 0, latencies: [] as number[] };
    for (const [name, r] of Object.entries(f.requests)) {
      const c = into?.requests.get(name) ?? { failed: 0, n: 0, latencies: [] };
      const n = into === null ? r.latencies.length : c.n + r.latencies.length;
      const failed = into === null ? (r.failed ?? 0) : c.failed + (r.failed ?? 0);
      const latencies = into === null ? r.latencies : [...c.latencies, ...r.latencies];
      into?.requests.set(name, { n, failed, latencies });
      v.set(`http_reqs{name:${name}}`, [n, n]);
      v.set(`http_req_failed{name:${name}}`, [n === 0 ? 0 : failed / n]);
      v.set(`http_req_duration{name:${name}}`, trend(latencies));
      all.n += n;
      all.failed += failed;
      all.latencies.push(...latencies);
    }
    if (into !== null)
      for (const [name, c] of into.requests)
        if (!(name in f.requests)) {
          v.set(`http_reqs{name:${name}}`, [c.n, c.n]);
          v.set(`http_req_failed{name:${name}}`, [c.n === 0 ? 0 : c.failed / c.n]);
          v.set(`http_req_duration{name:${name}}`, trend(c.latencies));
          all.n += c.n;
          all.failed += c.failed;
          all.latencies.push(...c.latencies);
        }
    v.set('http_reqs', [all.n, all.n]);
    v.set('http_req_failed', [all.n === 0 ? 0 : all.failed / all.n]);
    v.set('http_req_duration', trend(all.latencies));
    for (const [k, n] of Object.entries(f.counters ?? {})) {
      const total = into === null ? n : (into.counters.get(k) ?? 0) + n;
      into?.counters.set(k, total);
      v.set(k, [total, total]);
    }
    if (into !== null) for (const [k, n] of into.counters) if (!v.has(k)) v.set(k, [n, n]);
    v.set('time', [f.endMs]);
    return v;
  };
  const emit = (event: string, v: Map<string, number[]>): void => {
    const fresh: Record<string, { type: Kind }> = {};
    for (const k of v.keys())
      if (!kinds.has(k)) {
        const kind: Kind = k.startsWith('http_req_failed')
          ? 'rate'
          : k.startsWith('http_req_duration')
            ? 'trend'
            : 'counter';
        kinds.set(k, kind);
        fresh[k] = { type: kind };
      }
    if (Object.keys(fresh).length > 0) lines.push(JSON.stringify({ event: 'metric', data: fresh }));
    const names = [...kinds.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    lines.push(JSON.stringify({ event, data: names.map((n) => v.get(n) ?? []) }));
  };
  for (const f of periods) {
    emit('cumulative', periodValues(f, cumulative));
    emit('snapshot', periodValues(f, null));
  }
  let stopMs = periods[periods.length - 1]?.endMs ?? startMs;
  if (tail !== undefined) {
    emit('cumulative', periodValues(tail, cumulative));
    stopMs = tail.endMs;
  }
  lines.push(JSON.stringify({ event: 'stop', data: [[stopMs]] }));
  return lines;
}

/**
 * A run's per-second data as k6-ha folds it, without text: `rate` publishes a second for `seconds`
 * (2 ms each), `status(sentOffsetMs)` each one's status; k6's periods start `phaseMs` after the
 * load's zero; every non-2xx request is an outcome report.
 */
export function syntheticPerSecond(
  zeroMs: number,
  seconds: number,
  rate: number,
  status: (sentOffsetMs: number) => number,
  phaseMs = 0,
): PerSecondData {
  const snapshots: DashboardRecording['snapshots'] = [];
  const outcomes: OutcomeRecord[] = [];
  const step = 1000 / rate;
  for (let k = 0; k <= seconds; k++) {
    const from = k * 1000 + phaseMs - 1000;
    let n = 0;
    let failed = 0;
    for (let t = Math.max(0, Math.ceil(from / step) * step); t < from + 1000 && t < seconds * 1000; t += step) {
      n++;
      const st = status(t);
      if (st < 200 || st >= 300) {
        failed++;
        outcomes.push({
          seq: outcomes.length,
          outcome: st >= 400 && st < 500 ? 'failed' : 'unknown',
          status: st,
          sentAt: zeroMs + t,
          t: zeroMs + t + 2,
        });
      }
    }
    const values = new Map<string, number[]>([
      ['http_reqs{name:publish}', n === 0 ? [] : [n, n]],
      ['http_req_failed{name:publish}', n === 0 ? [] : [failed / n]],
      ['http_req_duration{name:publish}', n === 0 ? [] : [2, 2, 2, 2, 2, 2, 2]],
    ]);
    snapshots.push({ endMs: zeroMs + from + 1000, values });
  }
  const rec: DashboardRecording = {
    periodMs: 1000,
    startMs: zeroMs + phaseMs - 1000,
    stopMs: zeroMs + seconds * 1000 + phaseMs,
    snapshots,
    cumulative: null,
  };
  return foldPerSecond(rec, { zeroMs, outcomes, reportedRequest: 'publish' });
}
