// Reads k6's end-of-test data in either shape it comes in — the classic handleSummary object
// (`metrics[name].values`) or k6 v2's machine-readable summary (`--new-machine-readable-summary`:
// `results.metrics[]`) — and renders the text k6-ha prints. Pure: unit-tested in Node.
import type { Accounting, RebalanceReport, RecoveryReport, TimelineEvent } from './types.ts';

export interface MetricSummary {
  type: string;
  values: Record<string, number>;
  /** threshold expression → passed; empty in the machine-readable shape, which has no verdicts */
  thresholds: Record<string, boolean>;
}

export interface NormalizedSummary {
  shape: 'classic' | 'machine-readable';
  metrics: Record<string, MetricSummary>;
  checks: Array<{ name: string; passes: number; fails: number }>;
  durationMs: number | null;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Numeric values only; k6 hands some over as boxed Go numbers, and the machine-readable shape
 * names percentiles `p90` where the classic one says `p(90)`: both become the classic names. */
function numbers(values: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (!isObject(values)) return out;
  for (const [k, v] of Object.entries(values)) {
    if (v === null || v === undefined || typeof v === 'boolean') continue;
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(n)) continue;
    const p = /^p(\d+(?:\.\d+)?)$/.exec(k);
    out[p ? `p(${p[1]})` : k] = n;
  }
  return out;
}

function collectClassicChecks(group: unknown, into: NormalizedSummary['checks']): void {
  if (!isObject(group)) return;
  const checks = group['checks'];
  const list = Array.isArray(checks) ? checks : isObject(checks) ? Object.values(checks) : [];
  for (const c of list) {
    if (isObject(c) && typeof c['name'] === 'string') {
      into.push({ name: c['name'], passes: Number(c['passes'] ?? 0), fails: Number(c['fails'] ?? 0) });
    }
  }
  const groups = group['groups'];
  const children = Array.isArray(groups) ? groups : isObject(groups) ? Object.values(groups) : [];
  for (const g of children) collectClassicChecks(g, into);
}

export function normalizeSummary(data: unknown): NormalizedSummary {
  if (!isObject(data)) throw new Error('k6 summary data is not an object');
  const results = data['results'];
  if (isObject(results) && Array.isArray(results['metrics'])) {
    const metrics: Record<string, MetricSummary> = {};
    for (const m of results['metrics']) {
      if (!isObject(m) || typeof m['name'] !== 'string') continue;
      const values = numbers(m['values']);
      // The machine-readable rate has matches/total; expose `rate` under the classic name too.
      metrics[m['name']] = { type: String(m['type'] ?? ''), values, thresholds: {} };
    }
    const checks: NormalizedSummary['checks'] = [];
    const checkBlock = results['checks'];
    if (isObject(checkBlock) && Array.isArray(checkBlock['results'])) {
      for (const c of checkBlock['results']) {
        if (isObject(c) && typeof c['name'] === 'string') {
          checks.push({ name: c['name'], passes: Number(c['passes'] ?? 0), fails: Number(c['fails'] ?? 0) });
        }
      }
    }
    const config = data['config'];
    const seconds = isObject(config) && typeof config['duration'] === 'number' ? config['duration'] : null;
    return { shape: 'machine-readable', metrics, checks, durationMs: seconds === null ? null : seconds * 1000 };
  }
  const rawMetrics = data['metrics'];
  if (!isObject(rawMetrics)) throw new Error('k6 summary data has neither `metrics` nor `results.metrics`');
  const metrics: Record<string, MetricSummary> = {};
  for (const [name, m] of Object.entries(rawMetrics)) {
    if (!isObject(m)) continue;
    const thresholds: Record<string, boolean> = {};
    if (isObject(m['thresholds'])) {
      for (const [expr, t] of Object.entries(m['thresholds']))
        thresholds[expr] = isObject(t) ? t['ok'] === true : t === false;
    }
    metrics[name] = { type: String(m['type'] ?? ''), values: numbers(m['values']), thresholds };
  }
  const checks: NormalizedSummary['checks'] = [];
  collectClassicChecks(data['root_group'], checks);
  const state = data['state'];
  const durationMs =
    isObject(state) && typeof state['testRunDurationMs'] === 'number' ? state['testRunDurationMs'] : null;
  return { shape: 'classic', metrics, checks, durationMs };
}

/** A counter's count, a rate's matches, or 0 when the metric never got a sample. */
export function metricCount(summary: NormalizedSummary, name: string): number {
  const m = summary.metrics[name];
  if (m === undefined) return 0;
  return m.values['count'] ?? m.values['passes'] ?? m.values['matches'] ?? 0;
}

function fmtValue(name: string, type: string, key: string, v: number): string {
  if (key === 'rate') return type === 'rate' ? `${(v * 100).toFixed(2)}%` : `${v.toFixed(2)}/s`;
  if (/duration|latency|_req_/.test(name) && key !== 'count')
    return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(2)}ms`;
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(3);
}

const SHOWN_KEYS = ['count', 'rate', 'avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'value'];

export function renderMetrics(summary: NormalizedSummary, names: readonly string[]): string {
  const lines: string[] = [];
  for (const name of names) {
    const m = summary.metrics[name];
    if (m === undefined) continue;
    const parts = SHOWN_KEYS.filter((k) => m.values[k] !== undefined).map(
      (k) => `${k}=${fmtValue(name, m.type, k, m.values[k] ?? 0)}`,
    );
    // A rate's counts too (http_req_failed{name:publish}: how many of the scenario's requests failed):
    // k6 counts non-zero values as passes (classic) or matches (machine-readable).
    const nonZero = m.values['passes'] ?? m.values['matches'];
    const total =
      m.values['total'] ??
      (m.values['passes'] === undefined ? undefined : m.values['passes'] + (m.values['fails'] ?? 0));
    if (m.type === 'rate' && nonZero !== undefined && total !== undefined) parts.push(`(${nonZero} of ${total})`);
    const verdicts = Object.entries(m.thresholds);
    const mark = verdicts.length === 0 ? ' ' : verdicts.every(([, ok]) => ok) ? '✓' : '✗';
    lines.push(`  ${mark} ${name.padEnd(32, '.')} ${parts.join(' ')}`);
    for (const [expr, ok] of verdicts) if (!ok) lines.push(`      ✗ threshold ${expr} crossed`);
  }
  return lines.join('\n');
}

/** An arrival-rate scenario's schedule: `rate` events a second for `durationMs`. */
export interface ArrivalRate {
  rate: number;
  durationMs: number;
}

/**
 * Events the arrival rate owed that k6 neither started nor counted as dropped (never negative).
 * Owed: rate × duration, or × the test's own run time when that is shorter (a run stopped early).
 * k6 does not count these: a k6 short of CPU falls behind its schedule, and the iterations still
 * unstarted when the duration ends are neither sent nor dropped.
 */
export function notStartedOf(
  arrival: ArrivalRate | undefined,
  runMs: number | null,
  attempted: number,
  dropped: number,
): { due: number; notStarted: number } | null {
  if (arrival === undefined) return null;
  const due = Math.floor((arrival.rate * Math.min(arrival.durationMs, runMs ?? arrival.durationMs)) / 1000);
  return { due, notStarted: Math.max(0, due - attempted - dropped) };
}

function unknownNote(a: Accounting): string {
  const parts: string[] = [];
  if ((a.inFlightAtStop ?? 0) > 0) parts.push(`${a.inFlightAtStop} in flight when the load was cut short`);
  if ((a.unknownReportLost ?? 0) > 0)
    parts.push(
      `${a.unknownReportLost} with no report and not in the stream (report lost), e.g. ${(a.examples.noReport ?? []).slice(0, 3).join(', ')}`,
    );
  return parts.length > 0 ? `incl. ${parts.join('; ')}` : '';
}

export function renderAccounting(a: Accounting): string {
  if (a.corrupt !== undefined) return formatRows(objectRows(a));
  const rows: Array<[string, number | null, string]> = [
    [
      'scheduled (attempted + dropped)',
      a.scheduled,
      'no coordinated omission: every scheduled event is sent or counted',
    ],
    [
      'not started (owed, never sent)',
      a.notStarted ?? null,
      (a.notStarted ?? 0) > 0
        ? 'owed at RATE × DURATION, neither sent nor dropped: k6 fell behind or stopped early'
        : '',
    ],
    ['sent by k6 (attempted)', a.attempted, ''],
    ['acked (2xx)', a.acked, ''],
    ['failed (definite 4xx)', a.failed, ''],
    ['unknown (timeout/5xx)', a.unknown, unknownNote(a)],
    ['stream last_seq delta', a.streamDelta, ''],
    ['in stream (distinct, read back)', a.inStream, ''],
    ['consumed (ack-floor delta)', a.consumed, ''],
    ['received by sink (distinct)', a.sinkReceived, ''],
    [
      'outcome reports undelivered',
      a.reportsUndelivered ?? null,
      (a.reportsUndelivered ?? 0) > 0 ? 'never reached the sidecar: the run is unmeasured (chaos_unmeasured)' : '',
    ],
    ['LOST (acked, not in stream)', a.lost, a.lost > 0 ? `e.g. ${a.examples.lost.slice(0, 3).join(', ')}` : ''],
    ['recovered (unknown, but stored)', a.recovered, ''],
    ['duplicates in stream', a.duplicates, ''],
    ['duplicates at sink', a.sinkDuplicates, ''],
    [
      'missing at sink',
      a.missingAtSink,
      (a.missingAtSink ?? 0) > 0 ? `e.g. ${a.examples.missingAtSink.slice(0, 3).join(', ')}` : '',
    ],
    ['unexpected (never sent)', a.unexpected, ''],
  ];
  return rows
    .map(
      ([label, value, note]) =>
        `  ${label.padEnd(34, '.')} ${value === null ? '-' : String(value).padStart(8)}${note ? `  ${note}` : ''}`,
    )
    .join('\n');
}

/** An object store's read-back (s3-objects): PUTs by key, lost and corrupt objects. */
function objectRows(a: Accounting): Array<[string, number | null, string]> {
  const corrupt = a.examples.corrupt ?? [];
  return [
    ['operations dropped (any op)', a.dropped, 'no coordinated omission: every scheduled operation is sent or counted'],
    ['not started (owed, never sent)', a.notStarted ?? null, ''],
    ['PUTs sent by k6', a.attempted, ''],
    ['acked (2xx)', a.acked, ''],
    ['failed (definite 4xx)', a.failed, ''],
    ['unknown (timeout/5xx)', a.unknown, unknownNote(a)],
    ['objects listed in the bucket', a.streamDelta, ''],
    ['readable in the read-back', a.inStream, ''],
    ['outcome reports undelivered', a.reportsUndelivered ?? null, ''],
    ['LOST (acked, not readable)', a.lost, a.lost > 0 ? `e.g. ${a.examples.lost.slice(0, 3).join(', ')}` : ''],
    ['CORRUPT (wrong sha256)', a.corrupt ?? 0, corrupt.length > 0 ? `e.g. ${corrupt[0]?.key}` : ''],
    ['recovered (unknown, stored intact)', a.recovered, ''],
    ['unexpected (no counted PUT)', a.unexpected, ''],
    ['seconds with an op not acked', (a.notAckedPerSecond ?? []).length, ''],
  ];
}

function formatRows(rows: Array<[string, number | null, string]>): string {
  return rows
    .map(
      ([label, value, note]) =>
        `  ${label.padEnd(34, '.')} ${value === null ? '-' : String(value).padStart(8)}${note ? `  ${note}` : ''}`,
    )
    .join('\n');
}

export function renderTimeline(events: TimelineEvent[], limit = 60): string {
  const interesting = events.filter((e) => e.source !== 'stream' || e.kind !== 'sample');
  const shown = interesting.length > limit ? interesting.slice(0, limit) : interesting;
  const lines = shown.map((e) => {
    const at = e.offset_ms === null ? '      -' : `${(e.offset_ms / 1000).toFixed(1).padStart(6)}s`;
    const detail = Object.entries(e.detail)
      .filter(([, v]) => v !== undefined && v !== null && typeof v !== 'object')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    return `  ${at}  ${e.source.padEnd(9)} ${e.kind.padEnd(18)} ${(e.target ?? '').padEnd(16)} ${detail}`;
  });
  if (interesting.length > limit) lines.push(`  … ${interesting.length - limit} more in timeline.jsonl`);
  return lines.join('\n');
}

/** One line per returning member: its first response and the time until the split is within 60/40. */
export function rebalanceLine(r: RebalanceReport): string {
  const s = (v: number | null): string => (v === null ? '-' : `${v.toFixed(1)}s`);
  return `${r.actionId ?? '?'}: ${r.attribute}=${r.member} started at ${(r.startedOffsetMs / 1000).toFixed(1)}s: first response ${s(r.firstResponseSeconds)}, within 60/40 ${s(r.balancedSeconds)}${r.note === null ? '' : ` (${r.note})`}`;
}

export function renderRecovery(reports: RecoveryReport[]): string {
  const s = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)}s`);
  return reports
    .map(
      (r) =>
        `  ${r.actionId} ${r.kind} ${r.target ?? ''}: ${r.leaderBefore === null && r.leaderAfter === null ? '' : `leader ${r.leaderBefore ?? '?'} → ${r.leaderAfter ?? '?'}; `}` +
        `first error ${s(r.timeToFirstErrorSeconds)}, unavailable ${s(r.unavailableSeconds)}, ` +
        `failover ${s(r.leaderFailoverSeconds)}, ` +
        (r.firstAckSeconds === undefined ? '' : `first ack after ${s(r.firstAckSeconds)}, `) +
        `full recovery ${s(r.recoverySeconds)}`,
    )
    .join('\n');
}
