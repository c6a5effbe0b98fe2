// One summary of N k6 runners (k6-operator's parallelism, `k6-ha run --runners N`). Each runner's
// handleSummary() sees its own share only; the sidecar merges what they uploaded:
//  - counters, rates and checks: summed exactly (a rate from the summed passes and fails);
//  - trends: percentiles cannot be merged from percentiles, so they are computed from the runners'
//    raw samples (k6's --out json of every runner) the way k6 computes them (linear interpolation
//    between the sorted samples, lib/metrics/sink.go); without raw samples only min and max are
//    merged and the rest is left out, with a note — never an average of percentiles;
//  - chaos_* metrics: every runner received the same merged values, so they are taken once;
//  - gauges (vus, vus_max): summed, each runner's own VUs;
//  - thresholds: evaluated again on the merged values (`count==0`, `p(99)<500`, …); one that cannot
//    be evaluated passes only if it passed on every runner.
// A runner lost (died, never reported) makes the merged verdict fail closed in the sidecar
// (chaos_unmeasured); the merge names it. Pure: unit-tested in Node.
import type { SummaryUpload } from './control-api.ts';
import type { Accounting } from './types.ts';
import {
  metricCount,
  normalizeSummary,
  type NormalizedSummary,
  notStartedOf,
  renderAccounting,
  renderMetrics,
} from './summary.ts';

/** Raw trend samples of all runners by summary metric key (`http_req_duration{name:publish}`). */
export type TrendSamples = Map<string, number[]>;

export interface MergeInput {
  uploads: Array<{ index: number; upload: SummaryUpload }>;
  runners: number;
  lost: Array<{ index: number; name: string; why: string }>;
  /** the sidecar's merged accounting (by event id over all runners) */
  accounting: Accounting | null;
  trendSamples: TrendSamples | null;
  /** the whole run's arrival rate (all runners together) */
  arrival: { rate: number; durationMs: number } | null;
  reportMetrics: readonly string[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** k6's percentile of sorted values (lib/metrics/sink.go TrendSink.P). */
export function k6Percentile(sorted: readonly number[], pct: number): number {
  if (sorted.length === 0) return 0;
  if (sorted.length === 1) return sorted[0] as number;
  const i = pct * (sorted.length - 1);
  const lo = sorted[Math.floor(i)] as number;
  const hi = sorted[Math.ceil(i)] as number;
  return lo + (hi - lo) * (i - Math.floor(i));
}

/** A trend's summary values (the keys asked for) from raw samples, as k6 computes them. */
export function trendValues(samples: readonly number[], keys: readonly string[]): Record<string, number> {
  const sorted = [...samples].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const key of keys) {
    if (key === 'count') out[key] = sorted.length;
    else if (key === 'min') out[key] = sorted.length === 0 ? 0 : (sorted[0] as number);
    else if (key === 'max') out[key] = sorted.length === 0 ? 0 : (sorted[sorted.length - 1] as number);
    else if (key === 'avg') out[key] = sorted.length === 0 ? 0 : sorted.reduce((a, b) => a + b, 0) / sorted.length;
    else if (key === 'med') out[key] = k6Percentile(sorted, 0.5);
    else {
      const p = /^p\((\d+(?:\.\d+)?)\)$/.exec(key);
      if (p !== null) out[key] = k6Percentile(sorted, Number(p[1]) / 100);
    }
  }
  return out;
}

const THRESHOLD =
  /^\s*(count|rate|value|avg|min|max|med|p\(\d+(?:\.\d+)?\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;

/** A threshold expression judged on values; null when it is not of the simple `agg op number` form or the value is missing. */
export function evaluateThreshold(expr: string, values: Record<string, number>): boolean | null {
  const m = THRESHOLD.exec(expr);
  if (m === null) return null;
  const v = values[m[1] as string];
  if (v === undefined) return null;
  const n = Number(m[3]);
  switch (m[2]) {
    case '<':
      return v < n;
    case '<=':
      return v <= n;
    case '>':
      return v > n;
    case '>=':
      return v >= n;
    case '==':
    case '===':
      return v === n;
    case '!=':
      return v !== n;
    default:
      return null;
  }
}

interface Part {
  index: number;
  norm: NormalizedSummary;
  data: Json;
}

export function mergeRunnerSummaries(input: MergeInput): SummaryUpload {
  const parts: Part[] = [];
  const notes: string[] = [];
  for (const { index, upload } of input.uploads) {
    try {
      parts.push({ index, norm: normalizeSummary(upload.summary), data: upload.summary as Json });
    } catch (err) {
      notes.push(
        `runner ${index}'s summary could not be read (${(err as Error).message}); it is left out of the merge`,
      );
    }
  }
  const durationMs = Math.max(0, ...parts.map((p) => p.norm.durationMs ?? 0));
  const names = [...new Set(parts.flatMap((p) => Object.keys(p.norm.metrics)))];
  const metrics: Record<
    string,
    { type: string; contains: string; values: Record<string, number>; thresholds: Record<string, { ok: boolean }> }
  > = {};
  const unmergedTrends: string[] = [];
  for (const name of names) {
    const own = parts.map((p) => p.norm.metrics[name]).filter((m) => m !== undefined);
    const type = own[0]?.type ?? '';
    let values: Record<string, number>;
    if (name.startsWith('chaos_')) {
      // The sidecar gave every runner the same merged values: once, not N times.
      values = { ...(own[0]?.values ?? {}) };
    } else if (type === 'counter') {
      const count = own.reduce((sum, m) => sum + (m.values['count'] ?? 0), 0);
      values = { count, rate: durationMs > 0 ? count / (durationMs / 1000) : 0 };
    } else if (type === 'rate') {
      const passes = own.reduce((sum, m) => sum + (m.values['passes'] ?? m.values['matches'] ?? 0), 0);
      const fails = own.reduce(
        (sum, m) => sum + (m.values['fails'] ?? (m.values['total'] ?? 0) - (m.values['matches'] ?? 0)),
        0,
      );
      values = { rate: passes + fails === 0 ? 0 : passes / (passes + fails), passes, fails };
    } else if (type === 'gauge') {
      values = {
        value: own.reduce((sum, m) => sum + (m.values['value'] ?? 0), 0),
        min: own.reduce((sum, m) => sum + (m.values['min'] ?? 0), 0),
        max: own.reduce((sum, m) => sum + (m.values['max'] ?? 0), 0),
      };
    } else if (type === 'trend') {
      const keys = [...new Set(own.flatMap((m) => Object.keys(m.values)))];
      const raw = input.trendSamples?.get(name);
      if (raw !== undefined) values = trendValues(raw, keys);
      else {
        // Percentiles of percentiles would be wrong: only the extremes merge without raw samples.
        values = {
          min: Math.min(...own.map((m) => m.values['min'] ?? Number.POSITIVE_INFINITY)),
          max: Math.max(...own.map((m) => m.values['max'] ?? Number.NEGATIVE_INFINITY)),
        };
        unmergedTrends.push(name);
      }
    } else {
      values = { ...(own[0]?.values ?? {}) };
    }
    const thresholds: Record<string, { ok: boolean }> = {};
    const exprs = [...new Set(own.flatMap((m) => Object.keys(m.thresholds)))];
    for (const expr of exprs) {
      const judged = evaluateThreshold(expr, values);
      thresholds[expr] = { ok: judged ?? own.every((m) => m.thresholds[expr] !== false) };
    }
    metrics[name] = {
      type,
      contains: type === 'trend' && /duration/.test(name) ? 'time' : 'default',
      values,
      thresholds,
    };
  }
  if (unmergedTrends.length > 0)
    notes.push(
      `no raw samples of ${unmergedTrends.join(', ')}: only their min and max are merged (percentiles cannot be merged from the runners' percentiles)`,
    );
  const checkTotals = new Map<string, { passes: number; fails: number }>();
  for (const p of parts)
    for (const c of p.norm.checks) {
      const t = checkTotals.get(c.name) ?? { passes: 0, fails: 0 };
      t.passes += c.passes;
      t.fails += c.fails;
      checkTotals.set(c.name, t);
    }
  const checks = [...checkTotals.entries()].map(([name, t]) => ({ name, path: `::${name}`, id: name, ...t }));

  const iterations = metrics['iterations']?.values['count'] ?? 0;
  const dropped = metrics['dropped_iterations']?.values['count'] ?? 0;
  const schedule = notStartedOf(input.arrival ?? undefined, durationMs || null, iterations, dropped);
  const accounting: Accounting | null =
    input.accounting === null
      ? null
      : {
          ...input.accounting,
          dropped,
          scheduled: input.accounting.attempted + dropped,
          notStarted: schedule?.notStarted ?? null,
        };
  if (schedule !== null && schedule.notStarted > 0)
    notes.push(
      `${schedule.notStarted} of the ${schedule.due} events the arrival rate owed (all runners) were neither sent nor counted as dropped: the runners fell behind their schedule or were stopped early`,
    );
  for (const l of input.lost) notes.push(`${l.name} ${l.why}: the merged verdict fails closed (chaos_unmeasured)`);

  // Derived figures: counts summed; latency percentiles again from the merged trend; not started from the merged schedule.
  const derived: Record<string, number | null> = {};
  for (const p of parts) {
    const own = (p.data['k6ha'] as Json | undefined)?.['derived'];
    if (!isObject(own)) continue;
    for (const [k, v] of Object.entries(own)) {
      const lat = /^(.+)_latency_p(\d+(?:\.\d+)?)_ms$/.exec(k);
      if (lat !== null) {
        derived[k] = metrics[`http_req_duration{name:${lat[1]}}`]?.values[`p(${lat[2]})`] ?? null;
      } else if (k.endsWith('_not_started')) derived[k] = schedule?.notStarted ?? null;
      else if (typeof v === 'number') derived[k] = (derived[k] ?? 0) + v;
      else derived[k] ??= null;
    }
  }
  const first = parts[0]?.data ?? {};
  const firstK6ha = (first['k6ha'] as Json | undefined) ?? {};
  const runnerNotes = parts.flatMap((p) => {
    const own = (p.data['k6ha'] as Json | undefined)?.['notes'];
    return Array.isArray(own) ? own.map((n) => `runner ${p.index}: ${String(n)}`) : [];
  });
  const perRunner = parts.map((p) => ({
    index: p.index,
    iterations: metricCount(p.norm, 'iterations'),
    dropped_iterations: metricCount(p.norm, 'dropped_iterations'),
    checks: p.norm.checks,
    thresholds_failed: Object.entries(p.norm.metrics).flatMap(([name, m]) =>
      Object.entries(m.thresholds)
        .filter(([, ok]) => !ok)
        .map(([expr]) => `${name}: ${expr}`),
    ),
    derived: (p.data['k6ha'] as Json | undefined)?.['derived'] ?? null,
  }));
  const summary = {
    metrics,
    root_group: { name: '', path: '', id: '', groups: [], checks },
    state: { testRunDurationMs: durationMs, isStdOutTTY: false, isStdErrTTY: false },
    options: first['options'] ?? {},
    timeline: first['timeline'] ?? [],
    accounting,
    recovery: first['recovery'] ?? [],
    k6ha: {
      ...firstK6ha,
      derived,
      notes: [...notes, ...runnerNotes],
      merged: {
        runners: input.runners,
        summaries: parts.map((p) => p.index),
        lost: input.lost,
        trends: unmergedTrends.length === 0 ? 'raw samples of every runner' : { notMerged: unmergedTrends },
        perRunner,
      },
    },
  };
  const norm = normalizeSummary(summary);
  const text = [
    `\n█ k6-ha merged summary of ${parts.length} of ${input.runners} runner(s)${input.lost.length > 0 ? ` — lost: ${input.lost.map((l) => l.index).join(', ')}` : ''}\n`,
    renderMetrics(norm, input.reportMetrics),
    `\n  ${Object.entries(derived)
      .map(([k, v]) => `${k}=${v === null ? '-' : Number.isInteger(v) ? v : v.toFixed(2)}`)
      .join('  ')}`,
    ...(checks.length > 0
      ? [
          '\n  checks:',
          ...checks.map((c) => `    ${c.fails === 0 ? '✓' : '✗'} ${c.name}  ${c.passes} passed, ${c.fails} failed`),
        ]
      : []),
    ...(accounting === null ? [] : ['\n  accounting (by event id, all runners):', renderAccounting(accounting)]),
    ...notes.map((n) => `  note: ${n}`),
    '',
  ].join('\n');
  return { summary, text };
}
