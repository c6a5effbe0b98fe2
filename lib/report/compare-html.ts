// compare.html and the compare.md chart: two or more runs' per-second charts overlaid, aligned at
// load start (second 0 of each run's own timeline), with every run's chaos marks and outage
// windows. Any scenario: each run contributes its main series (publish; EventStore: the busiest
// operation). Pure apart from uPlot's assets (html.ts).
import type { RecoveryReport, TimelineEvent } from '../shared/types.ts';
import { chaosMarks, outageWindows, secondsText } from './model.ts';
import { type ChartSpec, chartsHtml, esc, page } from './html.ts';
import { xyChart } from './mermaid.ts';
import { mainSeriesName, type PerSecondData } from './per-second.ts';

export interface CompareRun {
  label: string;
  dir: string;
  runId: string;
  experiment: string;
  scenario: string;
  k6ExitCode: number | null;
  perSecond: PerSecondData | null;
  timeline: TimelineEvent[];
  recovery: RecoveryReport[];
  /** label → value rows (the same labels for every run) */
  accounting: Array<[string, string]>;
}

/** One colour per run; failures in a warmer shade of the same. */
const RUN_COLOURS = [
  ['#1f77b4', '#d62728'],
  ['#2ca02c', '#ff7f0e'],
  ['#9467bd', '#8c564b'],
  ['#17becf', '#e377c2'],
];

/**
 * One x axis for every run: whole seconds from each run's own load start. A run's rows start at
 * its k6 periods (a fraction of a second off the load's zero, different per run), so each row
 * goes to its nearest whole second; two rows on one second (rare: a period k6 flushed late) keep the larger value.
 */
function aligned(runs: CompareRun[]): {
  x: number[];
  at: (run: CompareRun, col: (i: number) => number | null) => Array<number | null>;
} {
  let lo = 0;
  let hi = 0;
  for (const r of runs) {
    const s = mainOf(r);
    if (s === null || s.t.length === 0) continue;
    lo = Math.min(lo, Math.round(s.t[0] as number));
    hi = Math.max(hi, Math.round(s.t[s.t.length - 1] as number));
  }
  const x = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  return {
    x,
    at: (run, col) => {
      const s = mainOf(run);
      const out: Array<number | null> = x.map(() => null);
      if (s === null) return out;
      s.t.forEach((t, i) => {
        const v = col(i);
        const k = Math.round(t) - lo;
        const prev = out[k];
        out[k] = v === null ? (prev ?? null) : prev === null || prev === undefined ? v : Math.max(prev, v);
      });
      return out;
    },
  };
}

function mainOf(r: CompareRun): PerSecondData['series'][string] | null {
  if (r.perSecond === null) return null;
  const name = mainSeriesName(r.perSecond);
  return name === null ? null : (r.perSecond.series[name] ?? null);
}

export function compareCharts(runs: CompareRun[]): ChartSpec[] {
  if (runs.every((r) => mainOf(r) === null)) return [];
  const { x, at } = aligned(runs);
  const marks = runs.flatMap((r, i) => chaosMarks(r.timeline).map((m) => ({ ...m, run: r.label, dash: i > 0 })));
  const windows = runs.flatMap((r) =>
    outageWindows(r.recovery).map((w) => ({ ...w, label: `${r.label}: ${w.label}` })),
  );
  const dash = (i: number): number[] | undefined => (i === 0 ? undefined : [6, 4]);
  return [
    {
      id: 'chart-compare-count',
      title: 'acked and not acked (failed + unknown) per second, aligned at load start',
      yLabel: 'requests / s',
      stepped: true,
      x,
      marks,
      windows,
      series: runs.flatMap((r, i) => {
        const s = mainOf(r);
        const [c1, c2] = RUN_COLOURS[i % RUN_COLOURS.length] as [string, string];
        return s === null
          ? []
          : [
              {
                label: `${r.label} acked`,
                values: at(r, (j) => s.acked[j] ?? null),
                colour: c1,
                ...(dash(i) ? { dash: dash(i) } : {}),
              },
              {
                label: `${r.label} not acked`,
                values: at(r, (j) => (s.failed[j] ?? 0) + (s.unknown[j] ?? 0)),
                colour: c2,
                ...(dash(i) ? { dash: dash(i) } : {}),
              },
            ];
      }),
    },
    {
      id: 'chart-compare-latency',
      title: 'latency p95 and max per second (ms, log scale)',
      yLabel: 'ms',
      log: true,
      stepped: true,
      x,
      marks,
      windows,
      series: runs.flatMap((r, i) => {
        const s = mainOf(r);
        const [c1, c2] = RUN_COLOURS[i % RUN_COLOURS.length] as [string, string];
        return s === null
          ? []
          : [
              {
                label: `${r.label} p95`,
                values: at(r, (j) => s.p95[j] ?? null),
                colour: c1,
                ...(dash(i) ? { dash: dash(i) } : {}),
              },
              {
                label: `${r.label} max`,
                values: at(r, (j) => s.max[j] ?? null),
                colour: c2,
                width: 1,
                ...(dash(i) ? { dash: dash(i) } : {}),
              },
            ];
      }),
    },
  ];
}

/** The side-by-side rows: one column per run (accounting, recovery, exit code). */
export function compareRows(runs: CompareRun[]): { head: string[]; rows: string[][] } {
  const head = ['', ...runs.map((r) => r.label)];
  const rows: string[][] = [
    ['run', ...runs.map((r) => `${r.runId} (${r.experiment}, ${r.scenario})`)],
    ['k6 exit code', ...runs.map((r) => (r.k6ExitCode === null ? '-' : String(r.k6ExitCode)))],
  ];
  const labels = [...new Set(runs.flatMap((r) => r.accounting.map(([k]) => k)))];
  for (const l of labels) rows.push([l, ...runs.map((r) => r.accounting.find(([k]) => k === l)?.[1] ?? '-')]);
  const actions = Math.max(0, ...runs.map((r) => r.recovery.length));
  for (let i = 0; i < actions; i++) {
    rows.push([
      `action ${i + 1}`,
      ...runs.map((r) => {
        const x = r.recovery[i];
        return x === undefined
          ? '-'
          : `${x.actionId} (${x.kind} ${x.target ?? ''}) at ${((x.executedOffsetMs ?? 0) / 1000).toFixed(1)} s`;
      }),
    ]);
    rows.push([`action ${i + 1}: unavailable`, ...runs.map((r) => secondsText(r.recovery[i]?.unavailableSeconds))]);
    rows.push([
      `action ${i + 1}: leader failover`,
      ...runs.map((r) => secondsText(r.recovery[i]?.leaderFailoverSeconds)),
    ]);
    rows.push([
      `action ${i + 1}: first ack after`,
      ...runs.map((r) => secondsText(r.recovery[i]?.firstAckSeconds ?? null)),
    ]);
    rows.push([`action ${i + 1}: full recovery`, ...runs.map((r) => secondsText(r.recovery[i]?.recoverySeconds))]);
  }
  return { head, rows };
}

export function compareMermaid(runs: CompareRun[]): string {
  const { x, at } = aligned(runs);
  const lines = runs.flatMap((r) => {
    const s = mainOf(r);
    return s === null ? [] : [{ label: `${r.label} acked`, values: at(r, (j) => s.acked[j] ?? 0).map((v) => v ?? 0) }];
  });
  return lines.length === 0 ? '' : xyChart('acked per second', x, lines);
}

export function renderCompareHtml(title: string, runs: CompareRun[], extraTableHtml = ''): string {
  const charts = compareCharts(runs);
  const { head, rows } = compareRows(runs);
  const body = [
    `<h1>${esc(title)}</h1>`,
    `<p class="muted">${runs.map((r, i) => `${i === 0 ? 'solid' : 'dashed'}: <b>${esc(r.label)}</b> (${esc(r.dir)})`).join(' · ')}. Marks of every run; hover one for its timeline entry.</p>`,
    charts.length === 0 ? '<p class="muted">None of the runs has per-second data.</p>' : chartsHtml(charts),
    '<h2>Side by side</h2>',
    `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c, i) => `<td${i > 0 ? ' class="num"' : ''}>${esc(c.replace(/\*\*/g, ''))}</td>`).join('')}</tr>`).join('')}</tbody></table>`,
    extraTableHtml,
  ].join('\n');
  return page(title, body, charts);
}
