// What a run's report shows, as data: built once by lib/sidecar/artifacts.ts and rendered as
// report.md (Mermaid chart), report.html, the GitHub step summary and compare.html. Pure.
import type { RecoveryReport, TimelineEvent } from '../shared/types.ts';
import type { PerSecondData } from './per-second.ts';

/** k6's own dashboard page in a run directory (`k6-ha run --dashboard`: K6_WEB_DASHBOARD_EXPORT). */
export const K6_DASHBOARD_FILE = 'k6-dashboard.html';

export interface ReportGate {
  metric: string;
  threshold: string;
  reason: string;
  /** null: no verdict in the machine-readable summary (k6's exit code still says one failed) */
  ok: boolean | null;
}

export interface RunReportModel {
  runId: string;
  experiment: { name: string; description: string; scenario: string; thresholds: string; target: string };
  k6ExitCode: number | null;
  /** one line: passed, a gate failed, … */
  verdict: string;
  /** the seed's table, label → value, as report.md shows it */
  accounting: Array<[string, string]>;
  recovery: RecoveryReport[];
  gates: ReportGate[];
  notes: string[];
  timeline: TimelineEvent[];
  perSecond: PerSecondData | null;
  /** k6's own dashboard export in the run directory (`k6-ha run --dashboard`), relative to report.html */
  k6Dashboard?: string | null;
}

/** A chaos mark on the charts: one timeline entry, at its offset from load start. */
export interface ChaosMark {
  offsetMs: number;
  /** plan | member | leader | kubernetes | stream | other: what the mark's colour says */
  group: 'plan' | 'member' | 'leader' | 'kubernetes' | 'stream' | 'other';
  label: string;
  entry: TimelineEvent;
}

/** A shaded stretch of the charts: one action's unavailability, by send time. */
export interface OutageWindow {
  fromMs: number;
  toMs: number;
  label: string;
}

/** Timeline kinds that are bookkeeping, not events worth a mark. */
const NOT_MARKED = new Set([
  'sample',
  'ready',
  'stopped',
  'accounting',
  'recovery',
  'control-api',
  'watching',
  'watch-skipped',
]);

function groupOf(e: TimelineEvent): ChaosMark['group'] {
  if (e.source === 'plan') return 'plan';
  if (e.source === 'member') return 'member';
  if (/leader/.test(e.kind) || e.source === 'ft') return 'leader';
  if (e.source === 'kubernetes') return 'kubernetes';
  if (e.source === 'stream' || e.source === 'consumer') return 'stream';
  return 'other';
}

/**
 * The marks: plan actions (scheduled, executed, restored, …), member exits and starts, leader
 * elections, stream availability, Kubernetes events — every timeline entry at a known offset
 * except the samples and the sidecar's own bookkeeping.
 */
export function chaosMarks(timeline: TimelineEvent[]): ChaosMark[] {
  const marks: ChaosMark[] = [];
  for (const e of timeline) {
    if (e.offset_ms === null || NOT_MARKED.has(e.kind) || e.source === 'sidecar' || e.source === 'k6') continue;
    const action = typeof e.detail['action'] === 'string' ? `${String(e.detail['action'])} ` : '';
    marks.push({
      offsetMs: e.offset_ms,
      group: groupOf(e),
      label: `${e.source} ${e.kind}${e.target ? ` ${action === '' ? '' : action}${e.target}` : ''}`,
      entry: e,
    });
  }
  return marks;
}

/** The unavailability windows of the actions that caused failures. */
export function outageWindows(recovery: RecoveryReport[]): OutageWindow[] {
  return recovery.flatMap((r) =>
    r.unavailableFromOffsetMs === undefined || r.unavailableToOffsetMs === undefined
      ? []
      : [
          {
            fromMs: r.unavailableFromOffsetMs,
            toMs: r.unavailableToOffsetMs,
            label: `${r.actionId} (${r.kind}${r.target ? ` ${r.target}` : ''}): unavailable ${r.unavailableSeconds ?? '?'} s`,
          },
        ],
  );
}

export const secondsText = (v: number | null | undefined): string =>
  v === null || v === undefined ? '-' : `${v.toFixed(2)} s`;
