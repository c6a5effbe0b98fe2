// The handleSummary() every k6-ha scenario exports: merges the sidecar's timeline, accounting and
// recovery into k6's own summary data, prints it, and hands the JSON to the sidecar to store.
import type { ReportResponse } from '../shared/control-api.ts';
import type { Accounting } from '../shared/types.ts';
import { sidecarReport, sidecarUploadSummary } from './sidecar-client.ts';
import { runnerOfThisK6 } from './sidecar-lifecycle.ts';
import { CHAOS_CHECK_PREFIX, chaosEventsOfChecks, type InK6ChaosEvent } from '../shared/in-k6-plan.ts';
import type { TimelineEvent } from '../shared/types.ts';

/** An in-k6 chaos step as a timeline entry (source `plan`, as the sidecar's executor records them). */
function chaosTimelineEntry(e: InK6ChaosEvent): TimelineEvent {
  const kind =
    e.kind === 'ready'
      ? 'restarted'
      : e.kind === 'not-ready' || e.kind === 'refused'
        ? 'failed'
        : e.kind === 'dry-run'
          ? 'scheduled'
          : e.kind;
  return {
    ts: e.ts,
    offset_ms: e.offset_ms,
    source: 'plan',
    kind,
    target: e.target,
    detail: { ...e.detail, action_id: e.action_id, in_k6: e.kind },
  } as TimelineEvent;
}
import {
  type ArrivalRate,
  metricCount,
  normalizeSummary,
  type NormalizedSummary,
  notStartedOf,
  renderAccounting,
  rebalanceLine,
  renderMetrics,
  renderRecovery,
  renderTimeline,
} from '../shared/summary.ts';

export interface SummaryOptions {
  scenario: string;
  /** Metrics printed in this order; the rest stay in the JSON. */
  metrics: readonly string[];
  sidecarUrl: string | undefined;
  summaryJsonPath: string | undefined;
  /** Counters whose sum is the number of non-acked outcomes k6 saw, to cross-check what the sidecar heard. */
  notAckedCounters: readonly string[];
  /** Figures derived from k6's own metrics (not sampled separately, which would cost k6 CPU per
   * iteration): printed as one block and stored under `k6ha.derived` in the summary JSON. */
  derived?: (summary: NormalizedSummary, notStarted: number | null) => Record<string, number | null>;
  /** The scenario's arrival rate, per second, for its duration; closed-loop scenarios leave it out. */
  arrival?: ArrivalRate;
  /** A scenario's own tables (e.g. http-get's per-phase split): printed after the derived figures and stored under `k6ha.tables`. */
  tables?: (summary: NormalizedSummary) => { title: string; text: string; data: unknown } | null;
}

export function handleK6HaSummary(data: unknown, opts: SummaryOptions): Record<string, string> {
  const norm = normalizeSummary(data);
  const report: ReportResponse | null = opts.sidecarUrl === undefined ? null : sidecarReport(opts.sidecarUrl);
  const notes = [...(report?.notes ?? [])];
  if (opts.sidecarUrl !== undefined && report === null)
    notes.push(
      'the sidecar could not be reached at the end: timeline and accounting are in results/<run-id>/timeline.jsonl only',
    );
  let accounting: Accounting | null = report?.accounting ?? null;
  const dropped = metricCount(norm, 'dropped_iterations');
  // With several runners each owes its share of the rate (k6 splits it by segment); the sidecar's
  // merged summary judges the whole schedule.
  const slot = runnerOfThisK6();
  const arrival =
    opts.arrival === undefined || slot.count === 1
      ? opts.arrival
      : { rate: opts.arrival.rate / slot.count, durationMs: opts.arrival.durationMs };
  const schedule = notStartedOf(arrival, norm.durationMs, metricCount(norm, 'iterations'), dropped);
  const notStarted = schedule?.notStarted ?? null;
  if (schedule !== null && schedule.notStarted > 0) {
    notes.push(
      `${schedule.notStarted} of the ${schedule.due} events the arrival rate owed were neither sent nor counted as dropped: k6 fell behind its schedule (short of CPU) or the run was stopped early, so the load was lighter than asked`,
    );
  }
  if (accounting !== null) {
    accounting = { ...accounting, dropped, scheduled: accounting.attempted + dropped, notStarted };
    const k6NotAcked = opts.notAckedCounters.reduce((sum, name) => sum + metricCount(norm, name), 0);
    if (k6NotAcked !== accounting.failed + accounting.unknown) {
      notes.push(
        `k6 counted ${k6NotAcked} non-acked publishes but the sidecar heard of ${accounting.failed + accounting.unknown}: some outcome reports were lost, so acked/lost may be overstated`,
      );
    }
  }
  const sections = [
    `\n█ k6-ha ${opts.scenario}${report ? ` — run ${report.runId}, plan ${report.planName}` : ''} (${norm.shape} summary)\n`,
    renderMetrics(norm, opts.metrics),
  ];
  const derived = opts.derived?.(norm, notStarted) ?? null;
  if (derived !== null) {
    sections.push(
      `\n  ${Object.entries(derived)
        .map(([k, v]) => `${k}=${v === null ? '-' : Number.isInteger(v) ? v : v.toFixed(2)}`)
        .join('  ')}`,
    );
  }
  const table = opts.tables?.(norm) ?? null;
  if (table !== null) sections.push(`\n  ${table.title}:`, table.text);
  // The in-k6 chaos scenario's timeline travels as check names (lib/k6/kube-chaos.ts).
  const chaosEvents = chaosEventsOfChecks(norm.checks.map((c) => c.name));
  const checks = norm.checks.filter((c) => !c.name.startsWith(CHAOS_CHECK_PREFIX));
  if (checks.length > 0) {
    sections.push('\n  checks:');
    for (const c of checks)
      sections.push(`    ${c.fails === 0 ? '✓' : '✗'} ${c.name}  ${c.passes} passed, ${c.fails} failed`);
  }
  if (accounting !== null)
    sections.push(
      accounting.corrupt === undefined ? '\n  accounting (by event id):' : '\n  accounting (by object key, read back):',
      renderAccounting(accounting),
    );
  if (report !== null && report.recovery.length > 0) sections.push('\n  recovery:', renderRecovery(report.recovery));
  const rebalance = report?.rebalance ?? [];
  if (rebalance.length > 0)
    sections.push(
      `\n  rebalance (per-second attribution, k6's counters every ${report?.attribution?.pollMs ?? '?'} ms):`,
      ...rebalance.map((r) => `  ${rebalanceLine(r)}`),
    );
  if (report !== null && report.timeline.length > 0) sections.push('\n  timeline:', renderTimeline(report.timeline));
  if (chaosEvents.length > 0)
    sections.push(
      '\n  chaos from inside k6 (CHAOS_PLAN):',
      ...chaosEvents.map(
        (e) =>
          `    t+${(e.offset_ms / 1000).toFixed(1).padStart(6)}s  ${e.kind.padEnd(9)} ${e.action_id}${e.target === null ? '' : `  ${e.target}`}${e.detail['error'] ? `  (${String(e.detail['error'])})` : e.detail['reason'] ? `  (${String(e.detail['reason'])})` : e.detail['after_ms'] != null ? `  (after ${((e.detail['after_ms'] as number) / 1000).toFixed(1)} s)` : ''}`,
      ),
    );
  if (opts.sidecarUrl === undefined)
    sections.push(
      chaosEvents.length > 0
        ? '\n  (no sidecar: the chaos above ran inside k6; no accounting by event id)'
        : '\n  (no sidecar: plain load, no chaos and no accounting; see `k6-ha run --help`)',
    );
  for (const n of notes) sections.push(`  note: ${n}`);
  const text = `${sections.join('\n')}\n\n`;

  const merged = {
    ...(data as Record<string, unknown>),
    timeline: [...(report?.timeline ?? []), ...chaosEvents.map(chaosTimelineEntry)],
    accounting,
    recovery: report?.recovery ?? [],
    ...(report?.rebalance === undefined
      ? {}
      : { rebalance: report.rebalance, attribution: report.attribution ?? null }),
    k6ha: {
      scenario: opts.scenario,
      runId: report?.runId ?? null,
      derived,
      notes,
      ...(table === null ? {} : { tables: { [table.title]: table.data } }),
    },
  };
  const out: Record<string, string> = { stdout: text };
  // With several runners the sidecar merges their summaries; each says which one it is.
  const runner = slot.count > 1 ? slot.index : undefined;
  if (opts.sidecarUrl !== undefined) sidecarUploadSummary(opts.sidecarUrl, merged, text, runner);
  if (opts.summaryJsonPath !== undefined) out[opts.summaryJsonPath] = JSON.stringify(merged, null, 2);
  return out;
}
