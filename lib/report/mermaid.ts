// The main series as a Mermaid xychart-beta, which GitHub renders in Markdown (report.md, the
// step summary, compare.md). Long runs are folded into at most MAX_POINTS buckets (each the mean
// per second over its seconds, so the y axis stays "per second"). Pure.
import { mainSeriesName, type PerSecondData } from './per-second.ts';

const MAX_POINTS = 60;

function fold(values: number[], per: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i += per) {
    const chunk = values.slice(i, i + per);
    out.push(Math.round((chunk.reduce((a, b) => a + b, 0) / chunk.length) * 10) / 10);
  }
  return out;
}

export interface MermaidLine {
  label: string;
  values: number[];
}

/** A fenced ```mermaid block with one line per series; the title names them in order (xychart has no legend). */
export function xyChart(title: string, t: number[], lines: MermaidLine[]): string {
  if (t.length === 0 || lines.length === 0) return '';
  const per = Math.max(1, Math.ceil(t.length / MAX_POINTS));
  const xs = fold(
    t.map((x) => x),
    per,
  ).map((x) => Math.round(x - (per - 1) / 2)); // rows start at k6's periods: fractions of a second off the zero
  const folded = lines.map((l) => ({ label: l.label, values: fold(l.values, per) }));
  const max = Math.max(1, ...folded.flatMap((l) => l.values));
  const q = (s: string): string => s.replace(/"/g, "'");
  return [
    '```mermaid',
    'xychart-beta',
    `    title "${q(`${title} — ${folded.map((l) => l.label).join(', ')}`)}"`,
    `    x-axis "seconds since load start${per > 1 ? ` (mean per second over ${per} s)` : ''}" [${xs.join(', ')}]`,
    `    y-axis "per second" 0 --> ${Math.ceil(max * 1.1)}`,
    ...folded.map((l) => `    line [${l.values.join(', ')}]`),
    '```',
    '',
  ].join('\n');
}

/** The run's main chart: acked and not acked (failed + unknown) per second of the main series. */
export function runMermaid(data: PerSecondData | null): string {
  if (data === null) return '';
  const name = mainSeriesName(data);
  const s = name === null ? undefined : data.series[name];
  if (s === undefined) return '';
  return xyChart(`${name} per second`, s.t, [
    { label: 'acked', values: s.acked },
    { label: 'failed + unknown', values: s.failed.map((f, i) => f + (s.unknown[i] ?? 0)) },
  ]);
}
