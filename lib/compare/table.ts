// The seed's side-by-side table ("PodVersion (local pod storage) | Persistent Disk") built from two
// finished runs' summaries: checks per check, requests and requests/s, http_req_duration
// avg/med/p90/p95/max, failures, plus the read-back verification numbers k6-ha adds.
// Pure: both k6 summary shapes come in through normalizeSummary (lib/shared/summary.ts).
import { type NormalizedSummary, normalizeSummary } from '../shared/summary.ts';
import { CompareInputError } from '../shared/errors.ts';

// Re-exported for the importers that predate lib/shared/errors.ts (the unit tests).
export { CompareInputError };

export interface RunSide {
  label: string;
  /** Where the summary came from (a file path or a URL that was tested). */
  source: string;
  summary: NormalizedSummary;
  scenario: string | null;
}

export type RowUnit = 'count' | 'per-second' | 'ms' | 'percent';

export interface ComparisonRow {
  section: 'checks' | 'requests' | 'latency' | 'verification';
  label: string;
  a: number | null;
  b: number | null;
  unit: RowUnit;
  /** Which way is better, when there is one: drives the "B vs A" wording. */
  better: 'higher' | 'lower' | null;
}

export interface CheckRow {
  name: string;
  a: { passes: number; fails: number } | null;
  b: { passes: number; fails: number } | null;
}

export interface Comparison {
  a: { label: string; source: string; scenario: string | null; durationSeconds: number | null; shape: string };
  b: { label: string; source: string; scenario: string | null; durationSeconds: number | null; shape: string };
  checks: CheckRow[];
  rows: ComparisonRow[];
}

/** A summary JSON as written by handleSummary (SUMMARY_JSON=path): k6's data plus a `k6ha` section. */
export function sideFromSummaryJson(label: string, source: string, json: unknown): RunSide {
  let summary: NormalizedSummary;
  try {
    summary = normalizeSummary(json);
  } catch (err) {
    throw new CompareInputError(`${source} is not a k6 summary: ${(err as Error).message}`, { cause: err });
  }
  const k6ha = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['k6ha'] : undefined;
  const scenario =
    typeof k6ha === 'object' && k6ha !== null && typeof (k6ha as Record<string, unknown>)['scenario'] === 'string'
      ? String((k6ha as Record<string, unknown>)['scenario'])
      : null;
  return { label, source, summary, scenario };
}

function value(s: NormalizedSummary, metric: string, ...keys: string[]): number | null {
  const m = s.metrics[metric];
  if (m === undefined) return null;
  for (const k of keys) {
    const v = m.values[k];
    if (v !== undefined) return v;
  }
  return null;
}

/** A counter's total; the classic shape has `count`, so does the machine-readable one. */
function count(s: NormalizedSummary, metric: string): number | null {
  return value(s, metric, 'count');
}

/** Per second: the classic shape has `rate`; the machine-readable one only a count and the duration. */
function perSecond(s: NormalizedSummary, metric: string): number | null {
  const rate = value(s, metric, 'rate');
  if (rate !== null) return rate;
  const c = count(s, metric);
  return c === null || s.durationMs === null || s.durationMs <= 0 ? null : c / (s.durationMs / 1000);
}

/** A Rate metric's "true" count: classic `passes`, machine-readable `matches`. */
function rateTrues(s: NormalizedSummary, metric: string): number | null {
  return value(s, metric, 'passes', 'matches');
}

function checksRate(s: NormalizedSummary): number | null {
  const passes = s.checks.reduce((n, c) => n + c.passes, 0);
  const total = s.checks.reduce((n, c) => n + c.passes + c.fails, 0);
  return total === 0 ? null : passes / total;
}

const VERIFICATION_ROWS: Array<[string, string, 'higher' | 'lower' | null]> = [
  ['events appended (attempted)', 'es_appends_attempted', null],
  ['events acked (201)', 'es_appends_acked', 'higher'],
  ['appends refused (4xx)', 'es_appends_failed', 'lower'],
  ['appends without answer (timeout/5xx)', 'es_appends_unknown', 'lower'],
  ['acked events read back intact', 'es_events_verified', 'higher'],
  ['ACKED BUT MISSING', 'es_acked_missing', 'lower'],
  ['… of which lost after being read back once', 'es_lost_after_verify', 'lower'],
  ['stale reads (404/short after 201)', 'es_stale_reads', 'lower'],
  ['read mismatches', 'es_read_mismatches', 'lower'],
  ['duplicates', 'es_duplicates', 'lower'],
  ['acked, never checked (reads failed)', 'es_unverified', 'lower'],
  ['unknown outcome, but stored', 'es_unknown_stored', null],
];

export function buildComparison(a: RunSide, b: RunSide): Comparison {
  const rows: ComparisonRow[] = [];
  const both = (
    section: ComparisonRow['section'],
    label: string,
    unit: RowUnit,
    better: ComparisonRow['better'],
    f: (s: NormalizedSummary) => number | null,
  ): void => {
    rows.push({ section, label, a: f(a.summary), b: f(b.summary), unit, better });
  };
  both('checks', 'checks passed', 'percent', 'higher', checksRate);
  both('requests', 'http_reqs', 'count', 'higher', (s) => count(s, 'http_reqs'));
  both('requests', 'http_reqs per second', 'per-second', 'higher', (s) => perSecond(s, 'http_reqs'));
  both('requests', 'failed requests (http_req_failed)', 'count', 'lower', (s) => rateTrues(s, 'http_req_failed'));
  both('requests', 'failed requests rate', 'percent', 'lower', (s) => value(s, 'http_req_failed', 'rate'));
  both('requests', 'iterations (streams)', 'count', 'higher', (s) => count(s, 'iterations'));
  for (const [label, keys] of [
    ['avg', ['avg']],
    ['med', ['med']],
    ['p(90)', ['p(90)', 'p90']],
    ['p(95)', ['p(95)', 'p95']],
    ['max', ['max']],
  ] as const) {
    both('latency', `http_req_duration ${label}`, 'ms', 'lower', (s) => value(s, 'http_req_duration', ...keys));
  }
  for (const [label, metric, better] of VERIFICATION_ROWS) {
    if (a.summary.metrics[metric] === undefined && b.summary.metrics[metric] === undefined) continue;
    both('verification', label, 'count', better, (s) => count(s, metric));
  }

  const checkNames = [...new Set([...a.summary.checks, ...b.summary.checks].map((c) => c.name))];
  const find = (s: NormalizedSummary, name: string): CheckRow['a'] => {
    const c = s.checks.find((x) => x.name === name);
    return c === undefined ? null : { passes: c.passes, fails: c.fails };
  };
  const side = (r: RunSide): Comparison['a'] => ({
    label: r.label,
    source: r.source,
    scenario: r.scenario,
    durationSeconds: r.summary.durationMs === null ? null : r.summary.durationMs / 1000,
    shape: r.summary.shape,
  });
  return {
    a: side(a),
    b: side(b),
    checks: checkNames.map((name) => ({ name, a: find(a.summary, name), b: find(b.summary, name) })),
    rows,
  };
}

export function formatValue(v: number | null, unit: RowUnit): string {
  if (v === null) return '-';
  switch (unit) {
    case 'percent':
      return `${(v * 100).toFixed(2)}%`;
    case 'per-second':
      return `${v.toFixed(2)}/s`;
    case 'ms':
      return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(2)}ms`;
    case 'count':
      return Number.isInteger(v) ? String(v) : v.toFixed(2);
  }
}

/** "B vs A": relative change for sizes, the absolute difference for counts that should be zero. */
export function formatDelta(row: ComparisonRow): string {
  if (row.a === null || row.b === null) return '';
  if (row.a === row.b) return '=';
  if (row.unit === 'percent') return `${row.b > row.a ? '+' : ''}${((row.b - row.a) * 100).toFixed(2)} pts`;
  if (row.a === 0) return `${row.b > 0 ? '+' : ''}${formatValue(row.b - row.a, row.unit)}`;
  const pct = ((row.b - row.a) / Math.abs(row.a)) * 100;
  const worse = row.better === null ? '' : (row.better === 'higher') === row.b < row.a ? ' (worse)' : ' (better)';
  return `${pct > 0 ? '+' : ''}${pct.toFixed(1)}%${worse}`;
}

function checkCell(c: CheckRow['a']): string {
  if (c === null) return '-';
  const total = c.passes + c.fails;
  if (c.fails === 0) return `✓ ${c.passes} passed`;
  return `✗ ${((c.fails / total) * 100).toFixed(2)}% failed (${c.fails}/${total})`;
}

const escapeCell = (s: string): string => s.replace(/\|/g, '\\|');

export function renderComparisonMarkdown(c: Comparison, title = 'A/B comparison'): string {
  const durationOf = (s: Comparison['a']): string =>
    s.durationSeconds === null ? '' : `, ${s.durationSeconds.toFixed(0)} s`;
  const lines = [
    `# ${title}`,
    '',
    `- **A**: ${c.a.label} — ${c.a.source}${durationOf(c.a)}${c.a.scenario ? `, scenario ${c.a.scenario}` : ''}`,
    `- **B**: ${c.b.label} — ${c.b.source}${durationOf(c.b)}${c.b.scenario ? `, scenario ${c.b.scenario}` : ''}`,
    '',
    `| | A: ${escapeCell(c.a.label)} | B: ${escapeCell(c.b.label)} | B vs A |`,
    '|---|---:|---:|---:|',
  ];
  for (const check of c.checks)
    lines.push(`| check "${escapeCell(check.name)}" | ${checkCell(check.a)} | ${checkCell(check.b)} | |`);
  let section = '';
  for (const row of c.rows) {
    if (row.section !== section && row.section === 'verification') lines.push('| **read-back verification** | | | |');
    section = row.section;
    const label = row.label === 'ACKED BUT MISSING' ? `**${row.label}**` : row.label;
    lines.push(
      `| ${label} | ${formatValue(row.a, row.unit)} | ${formatValue(row.b, row.unit)} | ${formatDelta(row)} |`,
    );
  }
  const missing = c.rows.find((r) => r.label === 'ACKED BUT MISSING');
  if (missing !== undefined) {
    lines.push(
      '',
      `Acked but missing: A ${formatValue(missing.a, 'count')}, B ${formatValue(missing.b, 'count')} — an event answered 201 that no later read returned.`,
    );
  }
  return `${lines.join('\n')}\n`;
}
