// The http-get scenario's per-phase split, from k6's own counters: every 2xx response is counted
// in http_get_ok tagged {phase, <attribute>: <value>} (in batches, see attribution-counter.ts), every other outcome one sample to
// http_get_errors tagged {phase, status}. k6 keeps a tag combination in its summary only when a
// threshold names it, so the scenario names (with empty thresholds, gating nothing) exactly the
// combinations this table reads: the phases × the expected values of each attribute, plus
// "other" and "(none)" (unattributed), and the error classes.
import { HTTP_ERROR_CLASSES, type HttpGetConfig } from './scenario-config.ts';
import { metricCount, type NormalizedSummary } from './summary.ts';

import { OTHER, UNATTRIBUTED } from './attribution-counter.ts';

export { OTHER, UNATTRIBUTED };
/** 2xx responses counted by attribution (lib/shared/attribution-counter.ts: in VU memory, in batches) */
export const OK_METRIC = 'http_get_ok';
/** 2xx responses as k6 itself counts them, per request: what the batches must add up to */
export const OK_TOTAL_METRIC = 'http_reqs{name:get,expected_response:true}';
export const ERROR_METRIC = 'http_get_errors';

type PhaseKey = string | null;

function sub(metric: string, tags: Array<[string, string]>): string {
  return tags.length === 0 ? metric : `${metric}{${tags.map(([k, v]) => `${k}:${v}`).join(',')}}`;
}

function phaseKeys(config: HttpGetConfig): PhaseKey[] {
  return config.phases.length === 0 ? [null] : config.phases.map((p) => p.name);
}

function valuesOf(config: HttpGetConfig, attribute: string): string[] {
  return [...(config.expect[attribute] ?? []), OTHER, UNATTRIBUTED];
}

/** Every submetric the table reads, for the scenario's thresholds. */
export function phaseSubmetrics(config: HttpGetConfig): string[] {
  const out: string[] = [OK_TOTAL_METRIC];
  for (const phase of phaseKeys(config)) {
    const p: Array<[string, string]> = phase === null ? [] : [['phase', phase]];
    if (phase !== null) out.push(sub(OK_METRIC, p), sub(ERROR_METRIC, p));
    for (const a of config.attributes)
      for (const v of valuesOf(config, a.name)) out.push(sub(OK_METRIC, [...p, [a.name, v]]));
    for (const c of HTTP_ERROR_CLASSES) out.push(sub(ERROR_METRIC, [...p, ['status', c]]));
  }
  return out;
}

export interface PhaseRow {
  phase: string;
  /** ok + errors */
  requests: number;
  ok: number;
  errors: number;
  errorsByClass: Record<string, number>;
  /** attribute → value → count; the values sum to ok */
  split: Record<string, Record<string, number>>;
}

export function phaseRows(summary: NormalizedSummary, config: HttpGetConfig): PhaseRow[] {
  return phaseKeys(config).map((phase) => {
    const p: Array<[string, string]> = phase === null ? [] : [['phase', phase]];
    const ok = metricCount(summary, sub(OK_METRIC, p));
    const errors = metricCount(summary, sub(ERROR_METRIC, p));
    const errorsByClass: Record<string, number> = {};
    for (const c of HTTP_ERROR_CLASSES)
      errorsByClass[c] = metricCount(summary, sub(ERROR_METRIC, [...p, ['status', c]]));
    const split: Record<string, Record<string, number>> = {};
    for (const a of config.attributes) {
      split[a.name] = {};
      for (const v of valuesOf(config, a.name))
        (split[a.name] as Record<string, number>)[v] = metricCount(summary, sub(OK_METRIC, [...p, [a.name, v]]));
    }
    return { phase: phase ?? 'all', requests: ok + errors, ok, errors, errorsByClass, split };
  });
}

const pct = (n: number, of: number): string => (of === 0 ? '-' : `${Math.round((100 * n) / of)}%`);

/** The table as text: one line per phase. */
export function renderPhaseTable(rows: PhaseRow[], config: HttpGetConfig): string {
  const header = [
    'phase',
    'requests',
    'ok',
    'errors',
    ...HTTP_ERROR_CLASSES.map((c) => `e:${c}`),
    ...config.attributes.flatMap((a) => valuesOf(config, a.name).map((v) => `${a.name}=${v}`)),
  ];
  const lines = rows.map((r) => [
    r.phase,
    String(r.requests),
    String(r.ok),
    String(r.errors),
    ...HTTP_ERROR_CLASSES.map((c) => String(r.errorsByClass[c] ?? 0)),
    ...config.attributes.flatMap((a) =>
      valuesOf(config, a.name).map((v) => {
        const n = r.split[a.name]?.[v] ?? 0;
        return n === 0 ? '0' : `${n} (${pct(n, r.ok)})`;
      }),
    ),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]): string => `    ${cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ')}`;
  return [fmt(header), ...lines.map(fmt)].join('\n');
}
