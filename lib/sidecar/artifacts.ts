// Writes a run's artifacts into results/<run-id>/: summary.json (k6's own summary data with the
// timeline, accounting and recovery merged in), report.md (the seed's table, the main chart as
// Mermaid, the timeline), report.html (lib/report/html.ts: per-second charts with the chaos marks),
// per-second.json and junit.xml (one test case per gate, for CI).
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { normalizeSummary, type NormalizedSummary } from '../shared/summary.ts';
import type { ReportResponse, SummaryUpload } from '../shared/control-api.ts';
import type { KubernetesReport, SeriesStats } from '../shared/types.ts';
import { THRESHOLD_PROFILES } from '../../thresholds/index.ts';
import type { Experiment } from '../experiment/experiment.ts';
import { K6_DASHBOARD_FILE, type ReportGate, type RunReportModel } from '../report/model.ts';
import { renderReportHtml } from '../report/html.ts';
import { runMermaid } from '../report/mermaid.ts';
import type { PerSecondData } from '../report/per-second.ts';

/**
 * Where run, sidecar, stack up and compare write unless told otherwise. Relative on purpose: under
 * the current directory (as the README says), not inside wherever k6-ha is installed.
 */
export const DEFAULT_RESULTS_DIR = 'results';
/** How --help names the default. */
export const DEFAULT_RESULTS_DIR_HELP = `${DEFAULT_RESULTS_DIR}/ under the current directory`;

/** The absolute results directory: the one given (relative to the current directory), else the default. */
export function resultsDir(outDir?: string): string {
  return resolve(outDir ?? DEFAULT_RESULTS_DIR);
}

export interface ArtifactInput {
  runDir: string;
  experiment: Experiment;
  report: ReportResponse;
  summary: SummaryUpload | null;
  /** null while k6 has not exited (standalone sidecar) */
  k6ExitCode: number | null;
  /** k6's per-period aggregates and the outcome reports, folded per second (lib/report/per-second.ts); null when there are none */
  perSecond?: PerSecondData | null;
}

type Gate = ReportGate;

function gatesOf(exp: Experiment, norm: NormalizedSummary | null, exitCode: number | null): Gate[] {
  const profile = THRESHOLD_PROFILES[exp.thresholds];
  if (profile === undefined) return [];
  const gates: Gate[] = [];
  for (const [metric, lines] of Object.entries(profile.gates)) {
    for (const line of lines) {
      const verdict = norm?.metrics[metric]?.thresholds[line.threshold];
      // The machine-readable summary carries no verdicts; k6's exit code 99 still says one failed.
      const ok = verdict ?? (exitCode === 0 ? true : null);
      gates.push({ metric, threshold: line.threshold, reason: line.reason, ok });
    }
  }
  return gates;
}

/** `local (stack jetstream, replicas 3)`: the target's own fields, whatever kind it is. */
function describeTarget(target: Experiment['target']): string {
  // A kubernetes target with an FT group has no stream under test (`stream` is only its default).
  const stan = target.kind === 'kubernetes' ? target.stan : undefined;
  const fields: Array<[string, unknown]> = Object.entries(target).filter(
    ([k, v]) =>
      k !== 'kind' &&
      !(stan !== undefined && k === 'stream') &&
      (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'),
  );
  if (stan !== undefined) fields.push(['ft_group', `${stan.ftGroup} (${Object.keys(stan.monitorUrls).join(', ')})`]);
  return fields.length === 0
    ? target.kind
    : `${target.kind} (${fields.map(([k, v]) => `${k} ${String(v)}`).join(', ')})`;
}

const xml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const n = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : v.toLocaleString('en-US'));

/** The seed's table as label → value (Markdown emphasis in the labels), for report.md, report.html and the step summary. */
export function accountingRows(a: NonNullable<ReportResponse['accounting']>): Array<[string, string]> {
  if (a.corrupt !== undefined) return objectAccountingRows(a);
  return [
    [
      'Total events sent by **k6**',
      `${n(a.attempted)}${a.failed + a.unknown > 0 ? ` (${n(a.acked)} acked + ${n(a.failed)} failed + ${n(a.unknown)} unknown)` : ''}`,
    ],
    ['Scheduled (sent + dropped)', n(a.scheduled)],
    ['Not started (owed at RATE × DURATION, never sent)', n(a.notStarted ?? null)],
    ['Received by **stream** (last_seq delta)', n(a.streamDelta)],
    ['In stream, distinct, read back', n(a.inStream)],
    ['Processed by **consumer** (ack floor delta)', n(a.consumed)],
    ['Received by **sink**', n(a.sinkReceived)],
    ['**Lost** (acked, not in stream)', n(a.lost)],
    ['Recovered (unknown outcome, stored)', n(a.recovered)],
    ...((a.inFlightAtStop ?? 0) > 0
      ? [['In flight when the load was cut short (counted as unknown)', n(a.inFlightAtStop)] as [string, string]]
      : []),
    ...((a.reportsUndelivered ?? 0) > 0
      ? ([
          ['Outcome reports that never reached the sidecar (the run is unmeasured)', n(a.reportsUndelivered)],
          [
            'No report and not in stream: lost, or failed with the report lost (counted as unknown)',
            n(a.unknownReportLost ?? 0),
          ],
        ] as Array<[string, string]>)
      : []),
    ['Duplicates in stream / at sink', `${n(a.duplicates)} / ${n(a.sinkDuplicates)}`],
    ['Missing at sink', n(a.missingAtSink)],
    ['Unexpected (never sent)', n(a.unexpected)],
  ];
}

/** An object store's read-back (s3-objects: every PUT's key read back after the run). */
function objectAccountingRows(a: NonNullable<ReportResponse['accounting']>): Array<[string, string]> {
  const bad = (a.notAckedPerSecond ?? []).length;
  return [
    [
      'PUTs sent by **k6**',
      `${n(a.attempted)}${a.failed + a.unknown > 0 ? ` (${n(a.acked)} acked + ${n(a.failed)} failed + ${n(a.unknown)} unknown)` : ''}`,
    ],
    ['Operations dropped by k6 (any of PUT, GET, LIST)', n(a.dropped)],
    ['Not started (owed at RATE × DURATION, never sent)', n(a.notStarted ?? null)],
    ['Objects of this run the **bucket** lists', n(a.streamDelta)],
    ['Objects readable in the final read-back', n(a.inStream)],
    ['**Lost** (PUT acked, object not readable)', n(a.lost)],
    ['**Corrupt** (readable, sha256 not the one written)', n(a.corrupt)],
    ['Recovered (unknown outcome, stored intact)', n(a.recovered)],
    ...((a.inFlightAtStop ?? 0) > 0
      ? [['In flight when the load was cut short (counted as unknown)', n(a.inFlightAtStop)] as [string, string]]
      : []),
    ...((a.reportsUndelivered ?? 0) > 0
      ? ([
          ['Outcome reports that never reached the sidecar (the run is unmeasured)', n(a.reportsUndelivered)],
          [
            'No report and not readable: lost, or failed with the report lost (counted as unknown)',
            n(a.unknownReportLost ?? 0),
          ],
        ] as Array<[string, string]>)
      : []),
    ['Unexpected (stored, but no counted PUT wrote it, or refused and stored)', n(a.unexpected)],
    ['Seconds of load with an operation not acked', n(bad)],
  ];
}

export function verdictOf(exitCode: number | null): string {
  if (exitCode === null) return 'k6 has not exited (standalone sidecar)';
  if (exitCode === 0) return 'passed: all gates held (k6 exit code 0)';
  if (exitCode === 99) return 'FAILED: a gate was crossed (k6 exit code 99)';
  if (exitCode === 130) return 'interrupted (exit code 130)';
  return `k6 exited ${exitCode}: no verdict`;
}

export function renderReport(input: ArtifactInput, norm: NormalizedSummary | null, gates: Gate[]): string {
  const { report, experiment } = input;
  const a = report.accounting;
  const lines: string[] = [
    `# k6-ha run ${report.runId}: ${experiment.name}`,
    '',
    experiment.description,
    '',
    `- scenario: \`${experiment.scenario}\`, target: ${describeTarget(experiment.target)}`,
    `- gate profile: \`${experiment.thresholds}\`${input.k6ExitCode === null ? '' : `, k6 exit code ${input.k6ExitCode}${input.k6ExitCode === 99 ? ' (a gate failed)' : ''}`}`,
    '',
  ];
  const chart = runMermaid(input.perSecond ?? null);
  if (chart !== '')
    lines.push('## Per second', '', chart, '(report.html has every series, the latency and the chaos marks.)', '');
  if (a !== null) {
    lines.push(
      '## Events',
      '',
      '| | events |',
      '|---|---:|',
      ...accountingRows(a).map(([k, v]) => `| ${k} | ${v} |`),
      '',
    );
    if (a.examples.lost.length > 0)
      lines.push(`Lost ids (first ${a.examples.lost.length}): ${a.examples.lost.join(', ')}`, '');
    const corrupt = a.examples.corrupt ?? [];
    if (corrupt.length > 0)
      lines.push(
        `Corrupt objects (first ${corrupt.length}): ${corrupt.map((c) => `${c.key} (expected ${c.expected.slice(0, 12)}…, found ${c.found.slice(0, 12)}…)`).join(', ')}`,
        '',
      );
    const noReport = a.examples.noReport ?? [];
    if (noReport.length > 0)
      lines.push(`Ids with no report and not in the stream (first ${noReport.length}): ${noReport.join(', ')}`, '');
  }
  if (report.recovery.length > 0) {
    lines.push(
      '## Recovery',
      '',
      '| action | target | leader before → after | first error | unavailable | failover | first ack after | full recovery |',
      '|---|---|---|---:|---:|---:|---:|---:|',
    );
    const s = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)} s`);
    for (const r of report.recovery) {
      lines.push(
        `| ${r.actionId} (${r.kind}) at ${((r.executedOffsetMs ?? 0) / 1000).toFixed(1)} s | ${r.target ?? ''} | ${r.leaderBefore ?? '?'} → ${r.leaderAfter ?? '?'} | ${s(r.timeToFirstErrorSeconds)} | ${s(r.unavailableSeconds)} | ${s(r.leaderFailoverSeconds)} | ${s(r.firstAckSeconds ?? null)} | ${s(r.recoverySeconds)} |`,
      );
    }
    lines.push('');
  }
  const rebalance = report.rebalance ?? [];
  if (rebalance.length > 0) {
    lines.push(
      '## Rebalance after each restore',
      '',
      `From per-second attribution (k6's per-phase counters read every ${report.attribution?.pollMs ?? '?'} ms): the first response from the returning member, and the end of the first 1 s window in which the running members of its attribute split within 60/40.`,
      '',
      '| action | member | started | first response | within 60/40 | note |',
      '|---|---|---:|---:|---:|---|',
    );
    const s = (v: number | null): string => (v === null ? '-' : `${v.toFixed(1)} s`);
    for (const r of rebalance)
      lines.push(
        `| ${r.actionId ?? '?'} | ${r.attribute}=${r.member} | ${(r.startedOffsetMs / 1000).toFixed(1)} s | ${s(r.firstResponseSeconds)} | ${s(r.balancedSeconds)} | ${r.note ?? ''} |`,
      );
    lines.push('');
  }
  if (report.kubernetes !== undefined && report.kubernetes !== null) lines.push(...renderKubernetes(report.kubernetes));
  if (gates.length > 0) {
    lines.push('## Gates', '', '| | metric | threshold | why |', '|---|---|---|---|');
    for (const g of gates)
      lines.push(`| ${g.ok === null ? '?' : g.ok ? '✓' : '✗'} | \`${g.metric}\` | \`${g.threshold}\` | ${g.reason} |`);
    lines.push('');
  }
  if (norm !== null) {
    const m = (name: string, key: string): string => n(norm.metrics[name]?.values[key]);
    lines.push(
      '## k6',
      '',
      `- http_reqs ${m('http_reqs', 'count')}, iterations ${m('iterations', 'count')}, dropped_iterations ${m('dropped_iterations', 'count')}`,
      `- publish latency p95 ${m('http_req_duration{name:publish}', 'p(95)')} ms, max ${m('http_req_duration{name:publish}', 'max')} ms`,
      '',
    );
  }
  if (report.notes.length > 0) lines.push('## Notes', '', ...report.notes.map((x) => `- ${x}`), '');
  lines.push('## Timeline', '', '| t | source | event | target | detail |', '|---:|---|---|---|---|');
  for (const e of report.timeline) {
    if (e.kind === 'sample') continue;
    const detail = Object.entries(e.detail)
      .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    lines.push(
      `| ${e.offset_ms === null ? '-' : `${(e.offset_ms / 1000).toFixed(2)} s`} | ${e.source} | ${e.kind} | ${e.target ?? ''} | ${detail.replace(/\|/g, '\\|')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function renderKubernetes(k: KubernetesReport): string[] {
  const s = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)} s`);
  const stats = (x: SeriesStats | null): string =>
    x === null ? '-' : `min ${x.min} s · median ${x.median} s · p95 ${x.p95} s · max ${x.max} s (${x.count})`;
  const lines = ['## Kubernetes', '', `context \`${k.context}\`, namespaces ${k.namespaces.join(', ')}`, ''];
  if (k.pods.length > 0) {
    lines.push(
      '| action | pod (node) | replacement (node) | gone | rescheduled | Ready | volume attach | FailedScheduling |',
      '|---|---|---|---:|---:|---:|---:|---:|',
    );
    for (const p of k.pods) {
      lines.push(
        `| ${p.actionId} | ${p.namespace}/${p.pod} (${p.node ?? '?'}) | ${p.replacement ?? '-'} (${p.replacementNode ?? '-'}) | ${s(p.goneSeconds)} | ${s(p.rescheduleSeconds)} | ${s(p.readySeconds)} | ${s(p.volumeAttachSeconds)} | ${p.failedScheduling} |`,
      );
    }
    lines.push(
      '',
      `- time to reschedule: ${stats(k.rescheduleSeconds)}`,
      `- time to Ready: ${stats(k.readySeconds)}`,
      '',
    );
  }
  for (const r of k.restarts) {
    lines.push(
      `- restarts of ${r.namespace}/${r.pod} ${r.container}: ${r.restarts}, down ${r.durationsSeconds.join(', ') || '-'} s (${stats(r.stats)}); back-off ${r.backoffSeconds.join(', ') || '-'} s; exit codes ${r.exitCodes.join(', ') || '-'}`,
    );
  }
  const reasons = Object.entries(k.eventReasons);
  if (reasons.length > 0) lines.push(`- events: ${reasons.map(([r, n]) => `${r} ×${n}`).join(', ')}`);
  if (k.notes.length > 0) lines.push(...k.notes.map((x) => `- ${x}`));
  lines.push('');
  return lines;
}

export function renderJunit(input: ArtifactInput, gates: Gate[]): string {
  const cases = gates.map((g) => {
    const name = xml(`${g.metric} ${g.threshold}`);
    if (g.ok === true) return `    <testcase classname="k6-ha.${xml(input.experiment.name)}" name="${name}"/>`;
    if (g.ok === false)
      return `    <testcase classname="k6-ha.${xml(input.experiment.name)}" name="${name}"><failure message="threshold crossed">${xml(g.reason)}</failure></testcase>`;
    return `    <testcase classname="k6-ha.${xml(input.experiment.name)}" name="${name}"><skipped message="no verdict in the machine-readable summary; see k6's exit code"/></testcase>`;
  });
  const failures = gates.filter((g) => g.ok === false).length;
  const skipped = gates.filter((g) => g.ok === null).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="k6-ha" tests="${gates.length}" failures="${failures}">`,
    `  <testsuite name="${xml(input.experiment.name)}" tests="${gates.length}" failures="${failures}" skipped="${skipped}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

export function writeArtifacts(input: ArtifactInput): RunReportModel {
  let norm: NormalizedSummary | null = null;
  if (input.summary !== null) {
    try {
      norm = normalizeSummary(input.summary.summary);
    } catch {
      norm = null;
    }
  }
  const gates = gatesOf(input.experiment, norm, input.k6ExitCode);
  const k6Data = (input.summary?.summary ?? {
    note: 'k6 did not deliver its summary (it may have crashed or been killed)',
  }) as Record<string, unknown>;
  // handleSummary() completed the accounting with k6's dropped iterations (scheduled = sent + dropped).
  const uploaded = k6Data['accounting'] as ReportResponse['accounting'] | undefined;
  const report = { ...input.report, accounting: uploaded ?? input.report.accounting };
  input = { ...input, report };
  const summary = {
    ...k6Data,
    timeline: input.report.timeline,
    accounting: input.report.accounting,
    recovery: input.report.recovery,
    ...(input.report.kubernetes === undefined || input.report.kubernetes === null
      ? {}
      : { kubernetes: input.report.kubernetes }),
    ...(input.report.rebalance === undefined
      ? {}
      : { rebalance: input.report.rebalance, attribution: input.report.attribution ?? null }),
    k6ha: {
      ...(k6Data['k6ha'] as Record<string, unknown> | undefined),
      runId: input.report.runId,
      experiment: input.experiment.name,
      thresholds: input.experiment.thresholds,
      k6ExitCode: input.k6ExitCode,
      notes: input.report.notes,
    },
  };
  writeFileSync(join(input.runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(input.runDir, 'report.md'), renderReport(input, norm, gates));
  writeFileSync(join(input.runDir, 'junit.xml'), renderJunit(input, gates));
  const model = reportModel(input, gates);
  if (input.perSecond !== undefined && input.perSecond !== null)
    writeFileSync(join(input.runDir, 'per-second.json'), `${JSON.stringify(input.perSecond)}\n`);
  writeFileSync(join(input.runDir, 'report.html'), renderReportHtml(model));
  return model;
}

/** What report.html and the CI summary show (lib/report/model.ts). */
function reportModel(input: ArtifactInput, gates: Gate[]): RunReportModel {
  const { report, experiment } = input;
  return {
    runId: report.runId,
    experiment: {
      name: experiment.name,
      description: experiment.description,
      scenario: experiment.scenario,
      thresholds: experiment.thresholds,
      target: describeTarget(experiment.target),
    },
    k6ExitCode: input.k6ExitCode,
    verdict: verdictOf(input.k6ExitCode),
    accounting: report.accounting === null ? [] : accountingRows(report.accounting),
    recovery: report.recovery,
    gates,
    notes: report.notes,
    timeline: report.timeline,
    perSecond: input.perSecond ?? null,
    // `k6-ha run --dashboard`: k6 wrote its own dashboard page next to report.html.
    k6Dashboard: existsSync(join(input.runDir, K6_DASHBOARD_FILE)) ? K6_DASHBOARD_FILE : null,
  };
}
