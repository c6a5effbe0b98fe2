// CI output of a finished run: with GITHUB_STEP_SUMMARY set, the verdict, the accounting, recovery
// per action, the gates and the Mermaid chart appended to the job's step summary (Markdown; GitHub
// renders the chart); with GITHUB_ACTIONS=true, one `::error` workflow command per failed gate, so
// the failure shows on the run's page. docs/ci.md shows both in a workflow.
import { appendFileSync } from 'node:fs';
import type { RunReportModel } from './model.ts';
import { secondsText } from './model.ts';
import { runMermaid } from './mermaid.ts';

/** The step summary section of one run. */
export function stepSummary(m: RunReportModel, runDir: string): string {
  const icon = m.k6ExitCode === 0 ? '✅' : m.k6ExitCode === 99 ? '❌' : '⚠️';
  const lines = [
    `## ${icon} k6-ha ${m.experiment.name}: ${m.verdict}`,
    '',
    `run \`${m.runId}\` · scenario \`${m.experiment.scenario}\` · gates \`${m.experiment.thresholds}\` · artifacts in \`${runDir}\` (report.html, report.md, junit.xml)`,
    '',
  ];
  const chart = runMermaid(m.perSecond);
  if (chart !== '') lines.push(chart);
  if (m.accounting.length > 0)
    lines.push('| | events |', '|---|---:|', ...m.accounting.map(([k, v]) => `| ${k} | ${v} |`), '');
  if (m.recovery.length > 0) {
    lines.push(
      '| action | target | first error | unavailable | failover | full recovery |',
      '|---|---|---:|---:|---:|---:|',
    );
    for (const r of m.recovery)
      lines.push(
        `| ${r.actionId} (${r.kind}) at ${((r.executedOffsetMs ?? 0) / 1000).toFixed(1)} s | ${r.target ?? ''} | ${secondsText(r.timeToFirstErrorSeconds)} | ${secondsText(r.unavailableSeconds)} | ${secondsText(r.leaderFailoverSeconds)} | ${secondsText(r.recoverySeconds)} |`,
      );
    lines.push('');
  }
  if (m.gates.length > 0) {
    lines.push('| | gate | why |', '|---|---|---|');
    for (const g of m.gates)
      lines.push(`| ${g.ok === null ? '?' : g.ok ? '✓' : '✗'} | \`${g.metric}\` \`${g.threshold}\` | ${g.reason} |`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** GitHub's escaping of a workflow command's message and of its properties. */
const escData = (s: string): string => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escProp = (s: string): string => escData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** `::error title=…::…` for each failed gate. */
export function githubAnnotations(m: RunReportModel): string[] {
  return m.gates
    .filter((g) => g.ok === false)
    .map(
      (g) =>
        `::error title=${escProp(`k6-ha gate failed: ${g.metric} ${g.threshold}`)}::${escData(`${m.experiment.name} (run ${m.runId}): ${g.metric} ${g.threshold} crossed — ${g.reason}`)}`,
    );
}

/** What a run writes to CI, decided by the environment; returns what it wrote (for the log). */
export function writeCiOutputs(
  m: RunReportModel,
  runDir: string,
  env: NodeJS.ProcessEnv = process.env,
  stdout: (s: string) => void = (s) => void process.stdout.write(s),
): string[] {
  const done: string[] = [];
  const summaryFile = env['GITHUB_STEP_SUMMARY'];
  if (summaryFile !== undefined && summaryFile !== '') {
    appendFileSync(summaryFile, stepSummary(m, runDir));
    done.push('step summary');
  }
  if (env['GITHUB_ACTIONS'] === 'true') {
    const lines = githubAnnotations(m);
    for (const l of lines) stdout(`${l}\n`);
    if (lines.length > 0) done.push(`${lines.length} ::error annotation(s)`);
  }
  return done;
}
