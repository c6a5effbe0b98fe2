// `k6-ha compare results/a results/b [results/c …]`: finished run directories of any scenario
// (JetStream R1 vs R3, EventStore storage modes, …). Writes compare.md (one column per run: the
// accounting and recovery rows, with two runs also the seed's k6 table of lib/compare/table.ts, and
// a Mermaid chart) and compare.html (lib/report/compare-html.ts: the per-second charts overlaid,
// aligned at load start, with every run's chaos marks).
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CompareInputError } from '../shared/errors.ts';
import type { Accounting, RecoveryReport, TimelineEvent } from '../shared/types.ts';
import { accountingRows } from '../sidecar/artifacts.ts';
import { compareMermaid, compareRows, type CompareRun, renderCompareHtml } from '../report/compare-html.ts';
import type { PerSecondData } from '../report/per-second.ts';
import { buildComparison, renderComparisonMarkdown, type RunSide, sideFromSummaryJson } from './table.ts';

export const isRunDir = (path: string): boolean => existsSync(path) && statSync(path).isDirectory();

/** A run directory's summary.json path; a plain file is its own summary. */
export function summaryPathOf(path: string): string {
  return isRunDir(path) ? join(path, 'summary.json') : path;
}

export function readRunDir(label: string, dir: string): { run: CompareRun; side: RunSide } {
  const file = join(dir, 'summary.json');
  if (!existsSync(file))
    throw new CompareInputError(
      `${dir} is not a k6-ha run directory: it has no summary.json (a run that ended before k6 delivered its summary cannot be compared)`,
    );
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new CompareInputError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const side = sideFromSummaryJson(label, dir, json);
  const k6ha = (json['k6ha'] ?? {}) as Record<string, unknown>;
  let perSecond: PerSecondData | null = null;
  const ps = join(dir, 'per-second.json');
  if (existsSync(ps)) {
    try {
      perSecond = JSON.parse(readFileSync(ps, 'utf8')) as PerSecondData;
    } catch {
      perSecond = null;
    }
  }
  const accounting = (json['accounting'] ?? null) as Accounting | null;
  const run: CompareRun = {
    label,
    dir,
    runId: typeof k6ha['runId'] === 'string' ? k6ha['runId'] : basename(dir),
    experiment: typeof k6ha['experiment'] === 'string' ? k6ha['experiment'] : '?',
    scenario: side.scenario ?? '?',
    k6ExitCode: typeof k6ha['k6ExitCode'] === 'number' ? k6ha['k6ExitCode'] : null,
    perSecond,
    timeline: Array.isArray(json['timeline']) ? (json['timeline'] as TimelineEvent[]) : [],
    recovery: Array.isArray(json['recovery']) ? (json['recovery'] as RecoveryReport[]) : [],
    accounting: accounting === null ? [] : accountingRows(accounting),
  };
  return { run, side };
}

/** Writes compare.md and compare.html into `out`; returns the Markdown. */
export function writeRunDirComparison(out: string, inputs: Array<{ label: string; dir: string }>): string {
  const read = inputs.map((i) => readRunDir(i.label, resolve(i.dir)));
  const runs = read.map((r) => r.run);
  const title = `k6-ha compare: ${runs.map((r) => r.label).join(' vs ')}`;
  const { head, rows } = compareRows(runs);
  const md: string[] = [`# ${title}`, '', ...runs.map((r) => `- **${r.label}**: \`${r.dir}\``), ''];
  const chart = compareMermaid(runs);
  if (chart !== '')
    md.push(
      '## Acked per second (aligned at load start)',
      '',
      chart,
      "(compare.html overlays every series with both runs' chaos marks.)",
      '',
    );
  md.push(
    '## Side by side',
    '',
    `| ${head.join(' | ')} |`,
    `|---|${runs.map(() => '---:').join('|')}|`,
    ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
  );
  let tableHtml = '';
  if (read.length === 2) {
    const [a, b] = read as [(typeof read)[0], (typeof read)[0]];
    const k6Table = renderComparisonMarkdown(buildComparison(a.side, b.side), "k6's figures");
    md.push(k6Table.replace(/^# /m, '## '));
    tableHtml = `<h2>k6's figures</h2><pre>${k6Table.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre>`;
  }
  const markdown = `${md.join('\n')}\n`;
  writeFileSync(join(out, 'compare.md'), markdown);
  writeFileSync(join(out, 'compare.html'), renderCompareHtml(title, runs, tableHtml));
  return markdown;
}
