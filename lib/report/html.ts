// report.html and compare.html: one self-contained file each (uPlot's script and stylesheet inlined
// from node_modules, the data as JSON in the page; no request leaves the page), readable in light
// and dark (prefers-color-scheme) and in print. Per-second charts over the run's time axis (seconds
// from load start), chaos marks from the timeline (hover: the timeline entry), unavailability
// windows shaded; below, the accounting, recovery per action, the gates and the timeline.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { TimelineEvent } from '../shared/types.ts';
import { chaosMarks, outageWindows, type RunReportModel, secondsText } from './model.ts';
import { mainSeriesName, type PerSecondData } from './per-second.ts';

const require = createRequire(import.meta.url);

let uplotAssets: { js: string; css: string } | null = null;
/** uPlot 1.6.32 (MIT, pinned in package.json), read once from node_modules. */
function uplot(): { js: string; css: string } {
  uplotAssets ??= {
    js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
  return uplotAssets;
}

export const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** JSON safe inside <script type="application/json">. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

const STYLE = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1d1d1f; --muted: #666; --grid: rgba(0,0,0,.08); --border: #d0d0d0; --outage: rgba(214,39,40,.13); --ok: #1a7f37; --bad: #c62828; --tip: #fffbe6; }
@media (prefers-color-scheme: dark) { :root { --bg: #16181c; --fg: #e6e6e6; --muted: #9a9a9a; --grid: rgba(255,255,255,.09); --border: #3a3d42; --outage: rgba(255,90,90,.18); --ok: #4cc26a; --bad: #ff6b6b; --tip: #2b2a20; } }
body { background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem auto; max-width: 1200px; padding: 0 1rem; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; border-bottom: 1px solid var(--border); }
.muted { color: var(--muted); } .verdict { font-weight: 600; } .pass { color: var(--ok); } .fail { color: var(--bad); }
table { border-collapse: collapse; margin: .4rem 0; } th, td { border: 1px solid var(--border); padding: .2rem .5rem; text-align: left; vertical-align: top; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.chart { position: relative; margin: .6rem 0 1rem; break-inside: avoid; } .chart h3 { font-size: .95rem; margin: .2rem 0; }
.u-legend { color: var(--fg); } .u-over .mark { position: absolute; top: 0; bottom: 0; width: 9px; margin-left: -4px; cursor: help; z-index: 5; }
.u-over .mark::after { content: ""; position: absolute; left: 4px; top: 0; bottom: 0; border-left: 2px solid var(--c); }
.u-over .outage { position: absolute; top: 0; bottom: 0; background: var(--outage); pointer-events: none; }
#tip { position: fixed; display: none; z-index: 10; max-width: 460px; background: var(--tip); color: var(--fg); border: 1px solid var(--border); padding: .3rem .5rem; font: 12px/1.35 ui-monospace, monospace; white-space: pre-wrap; pointer-events: none; }
.legend-marks span { display: inline-block; margin-right: 1rem; } .legend-marks i { display: inline-block; width: 12px; height: 3px; vertical-align: middle; margin-right: .3rem; }
tr.timeline-row:target { outline: 2px solid var(--bad); }
@media print { body { margin: 0; max-width: none; font-size: 11px; } #tip { display: none !important; } .chart, table { break-inside: avoid; } }
`;

/** Client side: draws every chart described in the page's data with uPlot, marks and windows on top. */
const CLIENT = String.raw`
(function () {
  const D = JSON.parse(document.getElementById('k6ha-data').textContent);
  const MARK_COLOURS = { plan: '#d62728', member: '#8c564b', leader: '#1f77b4', kubernetes: '#17becf', stream: '#9467bd', other: '#7f7f7f' };
  const tip = document.getElementById('tip');
  const charts = [];
  window.k6haCharts = charts;
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function width(el) { return Math.max(320, Math.min(el.clientWidth || 900, 1180)); }
  function showTip(ev, text) { tip.textContent = text; tip.style.display = 'block'; tip.style.left = Math.min(ev.clientX + 12, window.innerWidth - 470) + 'px'; tip.style.top = (ev.clientY + 12) + 'px'; }
  function hideTip() { tip.style.display = 'none'; }
  function overlay(u, spec) {
    const over = u.over;
    over.querySelectorAll('.mark, .outage').forEach(function (n) { n.remove(); });
    (spec.windows || []).forEach(function (w) {
      const a = u.valToPos(w.fromMs / 1000, 'x'), b = u.valToPos(w.toMs / 1000, 'x');
      const d = document.createElement('div');
      d.className = 'outage'; d.dataset.from = w.fromMs; d.dataset.to = w.toMs; d.title = w.label;
      d.style.left = a + 'px'; d.style.width = Math.max(1, b - a) + 'px';
      over.appendChild(d);
    });
    // Marks a few pixels apart (a kill and the member's exit 5 ms later) overlap: hovering any of
    // them shows every entry within 5 px, in time order.
    const placed = (spec.marks || []).map(function (m) { return { m: m, x: u.valToPos(m.offsetMs / 1000, 'x') }; });
    const textOf = function (m) { return (m.run ? m.run + ': ' : '') + 't+' + (m.offsetMs / 1000).toFixed(3) + ' s  ' + m.label + '\n' + JSON.stringify(m.entry, null, 1); };
    placed.forEach(function (p) {
      const m = p.m;
      const d = document.createElement('div');
      d.className = 'mark mark-' + m.group; d.dataset.offset = m.offsetMs; d.dataset.kind = m.entry.kind; d.dataset.source = m.entry.source;
      d.style.left = p.x + 'px';
      d.style.setProperty('--c', MARK_COLOURS[m.group] || '#7f7f7f');
      if (m.dash) d.style.opacity = '.6';
      const near = placed.filter(function (q) { return Math.abs(q.x - p.x) <= 5; }).map(function (q) { return textOf(q.m); });
      const text = near.join('\n\n');
      d.addEventListener('mouseenter', function (ev) { showTip(ev, text); });
      d.addEventListener('mousemove', function (ev) { showTip(ev, text); });
      d.addEventListener('mouseleave', hideTip);
      if (m.anchor) d.addEventListener('click', function () { location.hash = m.anchor; });
      over.appendChild(d);
    });
  }
  // a count at second t covers [t, t + 1): drawn as steps, not as a line between seconds
  const stepped = uPlot.paths.stepped({ align: 1 });
  function make(spec) {
    const host = document.getElementById(spec.id);
    const axis = { stroke: css('--fg'), grid: { stroke: css('--grid') }, ticks: { stroke: css('--grid') } };
    const opts = {
      width: width(host), height: spec.height || 260,
      scales: { x: { time: false }, y: spec.log ? { distr: 3, log: 10 } : {} },
      axes: [Object.assign({ label: 'seconds since load start' }, axis), Object.assign({ label: spec.yLabel, size: 60 }, axis)],
      series: [{ label: 't (s)' }].concat(spec.series.map(function (s) { return { label: s.label, stroke: s.colour, width: s.width || 1.5, dash: s.dash, points: { show: false }, paths: spec.stepped ? stepped : undefined, spanGaps: false, value: function (u, v) { return v == null ? '-' : (Math.round(v * 100) / 100).toLocaleString('en-US'); } }; })),
      hooks: { draw: [function (u) { overlay(u, spec); }] },
      cursor: { drag: { x: true, y: false } },
    };
    host.innerHTML = '';
    const u = new uPlot(opts, [spec.x].concat(spec.series.map(function (s) { return s.values; })), host);
    host.dataset.series = spec.series.map(function (s) { return s.label; }).join(',');
    charts.push({ id: spec.id, title: spec.title, series: spec.series.map(function (s) { return s.label; }), u: u });
  }
  function drawAll() {
    charts.splice(0).forEach(function (c) { c.u.destroy(); });
    D.charts.forEach(make);
  }
  drawAll();
  let t = null;
  window.addEventListener('resize', function () { clearTimeout(t); t = setTimeout(function () { charts.forEach(function (c) { c.u.setSize({ width: width(document.getElementById(c.id)), height: c.u.height }); }); }, 100); });
  if (window.matchMedia) window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', drawAll);
  window.addEventListener('beforeprint', function () { charts.forEach(function (c) { c.u.setSize({ width: 700, height: c.u.height }); }); });
  window.addEventListener('afterprint', function () { window.dispatchEvent(new Event('resize')); });
})();
`;

export interface ChartSeriesSpec {
  label: string;
  values: Array<number | null>;
  colour: string;
  dash?: number[];
  width?: number;
}
export interface ChartSpec {
  id: string;
  title: string;
  yLabel: string;
  log?: boolean;
  /** a value per second, drawn as steps over [t, t + 1) */
  stepped?: boolean;
  x: number[];
  series: ChartSeriesSpec[];
  marks: Array<ReturnType<typeof chaosMarks>[number] & { run?: string; dash?: boolean; anchor?: string }>;
  windows: ReturnType<typeof outageWindows>;
}

export const COLOURS = {
  sent: '#7f7f7f',
  acked: '#2ca02c',
  failed: '#d62728',
  unknown: '#ff7f0e',
  p50: '#1f77b4',
  p95: '#9467bd',
  p99: '#e377c2',
  max: '#8c564b',
};

const SPLIT_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** "per second", or the period k6 used when it widened it (runs over 48 min). */
export function perPeriod(data: PerSecondData): string {
  return data.periodMs === 1000 ? 'per second' : `per ${data.periodMs / 1000} s period`;
}

/** The charts of one run: per request name, counts and latency per second (and responses per attribute value). */
export function runCharts(
  data: PerSecondData | null,
  marks: ChartSpec['marks'],
  windows: ChartSpec['windows'],
): ChartSpec[] {
  if (data === null) return [];
  const main = mainSeriesName(data);
  const per = perPeriod(data);
  const names = Object.keys(data.series).sort((a, b) => (a === main ? -1 : b === main ? 1 : a.localeCompare(b)));
  return names.flatMap((name, i) => {
    const s = data.series[name];
    if (s === undefined) return [];
    const charts: ChartSpec[] = [
      {
        id: `chart-${i}-count`,
        title: `${name}: requests ${per} (by send time)`,
        yLabel: 'requests',
        stepped: true,
        x: s.t,
        marks,
        windows,
        series: [
          { label: 'sent', values: s.sent, colour: COLOURS.sent },
          { label: 'acked', values: s.acked, colour: COLOURS.acked },
          { label: 'failed', values: s.failed, colour: COLOURS.failed },
          { label: 'unknown', values: s.unknown, colour: COLOURS.unknown },
        ],
      },
      {
        id: `chart-${i}-latency`,
        title: `${name}: latency ${per} (ms, log scale; k6's percentiles of each period)`,
        yLabel: 'ms',
        log: true,
        stepped: true,
        x: s.t,
        marks,
        windows,
        series: [
          { label: 'p50', values: s.p50, colour: COLOURS.p50 },
          { label: 'p95', values: s.p95, colour: COLOURS.p95 },
          { label: 'p99', values: s.p99, colour: COLOURS.p99 },
          { label: 'max', values: s.max, colour: COLOURS.max },
        ],
      },
    ];
    for (const [tag, byValue] of Object.entries(s.split ?? {}))
      charts.push({
        id: `chart-${i}-split-${tag.replace(/[^a-z0-9_-]/gi, '_')}`,
        title: `${name}: responses ${per} by ${tag}`,
        yLabel: 'responses',
        stepped: true,
        x: s.t,
        marks,
        windows,
        series: Object.entries(byValue).map(([value, values], j) => ({
          label: `${tag}=${value}`,
          values,
          colour: SPLIT_COLOURS[j % SPLIT_COLOURS.length] as string,
        })),
      });
    return charts;
  });
}

export function page(title: string, body: string, charts: ChartSpec[]): string {
  const u = uplot();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${u.css}</style><style>${STYLE}</style></head>
<body>
${body}
<div id="tip"></div>
<script type="application/json" id="k6ha-data">${scriptJson({ charts })}</script>
<script>${u.js}</script>
<script>${CLIENT}</script>
</body></html>
`;
}

export function chartsHtml(charts: ChartSpec[]): string {
  return charts.map((c) => `<div class="chart"><h3>${esc(c.title)}</h3><div id="${c.id}"></div></div>`).join('\n');
}

const MARK_LEGEND = `<p class="legend-marks muted">Marks: <span><i style="background:#d62728"></i>plan action</span><span><i style="background:#8c564b"></i>member exit/start</span><span><i style="background:#1f77b4"></i>leader election</span><span><i style="background:#17becf"></i>Kubernetes</span><span><i style="background:#9467bd"></i>stream</span><span><i style="background:var(--outage)"></i>unavailable (first to last failed send)</span> — hover a mark for its timeline entry, click to find it below.</p>`;

function detailText(e: TimelineEvent): string {
  return Object.entries(e.detail)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

function table(head: string[], rows: string[][], numeric: number[] = []): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** report.html of one run. */
export function renderReportHtml(m: RunReportModel): string {
  const anchors = new Map<TimelineEvent, string>();
  m.timeline.forEach((e, i) => anchors.set(e, `t${i}`));
  const marks = chaosMarks(m.timeline).map((k) => ({ ...k, anchor: anchors.get(k.entry) ?? '' }));
  const windows = outageWindows(m.recovery);
  const charts = runCharts(m.perSecond, marks, windows);
  const failed = m.gates.filter((g) => g.ok === false);
  const parts: string[] = [
    `<h1>k6-ha run ${esc(m.runId)}: ${esc(m.experiment.name)}</h1>`,
    `<p class="muted">${esc(m.experiment.description)}</p>`,
    `<p>scenario <code>${esc(m.experiment.scenario)}</code> · target ${esc(m.experiment.target)} · gates <code>${esc(m.experiment.thresholds)}</code> · <span class="verdict ${m.k6ExitCode === 0 ? 'pass' : m.k6ExitCode === null ? '' : 'fail'}">${esc(m.verdict)}</span></p>`,
  ];
  if (m.k6Dashboard)
    parts.push(
      `<p>k6's own dashboard of this run: <a href="${esc(m.k6Dashboard)}">${esc(m.k6Dashboard)}</a> (<code>k6-ha run --dashboard</code>).</p>`,
    );
  if (charts.length > 0) parts.push(MARK_LEGEND, chartsHtml(charts));
  else
    parts.push(
      '<p class="muted">No per-second data (k6 recorded no per-period aggregates: <code>--no-per-second</code>, or the recording could not be read).</p>',
    );
  if (m.accounting.length > 0)
    parts.push(
      '<h2>Events</h2>',
      table(
        ['', 'events'],
        m.accounting.map(([k, v]) => [esc(k.replace(/\*\*/g, '')), esc(v)]),
        [1],
      ),
    );
  if (m.recovery.length > 0) {
    parts.push(
      '<h2>Recovery</h2>',
      table(
        [
          'action',
          'target',
          'leader before → after',
          'first error',
          'unavailable',
          'failover',
          'first ack after',
          'full recovery',
        ],
        m.recovery.map((r) => [
          esc(`${r.actionId} (${r.kind}) at ${((r.executedOffsetMs ?? 0) / 1000).toFixed(1)} s`),
          esc(r.target ?? ''),
          esc(`${r.leaderBefore ?? '?'} → ${r.leaderAfter ?? '?'}`),
          secondsText(r.timeToFirstErrorSeconds),
          secondsText(r.unavailableSeconds),
          secondsText(r.leaderFailoverSeconds),
          secondsText(r.firstAckSeconds ?? null),
          secondsText(r.recoverySeconds),
        ]),
        [3, 4, 5, 6, 7],
      ),
    );
  }
  if (m.gates.length > 0) {
    parts.push(
      `<h2>Gates${failed.length > 0 ? ` — <span class="fail">${failed.length} failed</span>` : ''}</h2>`,
      table(
        ['', 'metric', 'threshold', 'why'],
        m.gates.map((g) => [
          g.ok === null ? '?' : g.ok ? '<span class="pass">✓</span>' : '<span class="fail">✗</span>',
          `<code>${esc(g.metric)}</code>`,
          `<code>${esc(g.threshold)}</code>`,
          esc(g.reason),
        ]),
      ),
    );
  }
  if (m.notes.length > 0) parts.push('<h2>Notes</h2>', `<ul>${m.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`);
  const rows = m.timeline.filter((e) => e.kind !== 'sample');
  parts.push(
    '<h2>Timeline</h2>',
    `<table><thead><tr><th>t</th><th>source</th><th>event</th><th>target</th><th>detail</th></tr></thead><tbody>${rows.map((e) => `<tr class="timeline-row" id="${anchors.get(e) ?? ''}"><td class="num">${e.offset_ms === null ? '-' : `${(e.offset_ms / 1000).toFixed(2)} s`}</td><td>${esc(e.source)}</td><td>${esc(e.kind)}</td><td>${esc(e.target ?? '')}</td><td>${esc(detailText(e))}</td></tr>`).join('')}</tbody></table>`,
  );
  if (m.perSecond !== null)
    parts.push(
      `<p class="muted">Per-second data: ${m.perSecond.counts.requests.toLocaleString('en-US')} requests in ${m.perSecond.counts.periods.toLocaleString('en-US')} periods of ${m.perSecond.periodMs / 1000} s from ${m.perSecond.source.startsWith('k6 prometheus') ? "k6's prometheus remote-write pushes to k6-ha's receiver (k6-remote-write.ndjson.gz), latency percentiles from each period's own native histogram" : "k6's own per-period aggregates (its web dashboard's recording, k6-dashboard-record.ndjson.gz), latency percentiles k6's of each period"} (${m.perSecond.counts.control.toLocaleString('en-US')} calls to the sidecar left out); failed and unknown from the sidecar's ${m.perSecond.counts.outcomeRecords.toLocaleString('en-US')} outcome reports, in the second each was sent. ${m.perSecond.notes.map(esc).join('; ')}.</p>`,
    );
  return page(`k6-ha ${m.runId}: ${m.experiment.name}`, parts.join('\n'), charts);
}
