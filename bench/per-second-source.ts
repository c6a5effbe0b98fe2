// Per-second data: what k6's web-dashboard recording (the source lib/run/per-second-source.ts
// sets up: K6_WEB_DASHBOARD_RECORD, period 1 s, tags name) costs k6 at a fixed arrival rate,
// measured against the same scenario without it, in one run; and what folding a 1-hour run's
// recording at 2,000/s costs (time, peak RSS) and how big its report.html gets.
//
// Throughput: each round starts the variants at the same time (same slowdowns on a shared VM),
// the built jetstream-publish scenario at RATE events/s against a trivial 204 server, plain (no
// sidecar); the start order alternates. Figures: k6 CPU per event of each (throughput at
// saturation is its inverse), also per third of the run — the dashboard keeps a cumulative copy of
// every trend and sorts it every period, a cost that grows with the run's length —, the rate each
// achieved and its dropped iterations. `--with-json` adds `--out json=….json.gz`, the source before.
//
// Fold: a synthetic recording in k6's real format — the metric names, event order and snapshot
// arrays of the last round's real recording, its periods replicated to 3,600 and its counts scaled
// to 2,000/s — with 120,000 outcome reports (two 30 s outages at 2,000/s), folded in a child process
// (lib/report/per-second.ts, as k6-ha run does), then rendered into report.html.
//
//   node --import tsx bench/per-second-source.ts [--rate 1000] [--duration 60s] [--rounds 2] [--with-json]
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Command } from 'commander';
import { metricCount } from '../lib/shared/summary.ts';
import { parseDurationMs } from '../lib/shared/env-parse.ts';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';
import { buildScenarios } from '../lib/run/k6-process.ts';
import { K6_RECORDING_FILE, perSecondEnv } from '../lib/run/per-second-source.ts';
import { foldPerSecond, readDashboardRecording } from '../lib/report/per-second.ts';
import { renderReportHtml } from '../lib/report/html.ts';
import type { OutcomeRecord } from '../lib/shared/control-api.ts';
import {
  intArg,
  type K6Result,
  loadNow,
  machineInfo,
  median,
  out,
  saveResult,
  startK6WithSummary,
  startNoContentServer,
} from './support.ts';

const GOAL = 0.98;
const FOLD_GOAL = { seconds: 10, rssMb: 256, htmlMb: 2 };

// ---------------------------------------------------------------- the fold, in a child process

if (process.argv[2] === '--fold-child') {
  const file = process.argv[3] as string;
  const zero = Number(process.argv[4]);
  // The sidecar holds these in memory when the run ends; made here before the clock starts.
  const outcomes: OutcomeRecord[] = [];
  for (const from of [600_000, 2_400_000])
    for (let i = 0; i < 60_000; i++) {
      const sentAt = zero + from + i / 2;
      outcomes.push({
        seq: outcomes.length,
        outcome: i % 7 === 0 ? 'failed' : 'unknown',
        status: i % 7 === 0 ? 429 : 0,
        sentAt,
        t: sentAt + 5000,
      });
    }
  const t0 = performance.now();
  const rec = await readDashboardRecording(file);
  const data = foldPerSecond(rec, { zeroMs: zero, outcomes, reportedRequest: 'publish' });
  const foldSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const html = renderReportHtml({
    runId: 'bench',
    experiment: {
      name: 'bench',
      description: '1 h at 2,000/s (synthetic)',
      scenario: 'jetstream-publish',
      thresholds: 'ha-observe',
      target: 'local',
    },
    k6ExitCode: 0,
    verdict: 'passed',
    accounting: [],
    recovery: [],
    gates: [],
    notes: [],
    timeline: [],
    perSecond: data,
  });
  const renderSeconds = (performance.now() - t1) / 1000;
  const hwm = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) / 1024;
  const s = data.series['publish'];
  process.stdout.write(
    `${JSON.stringify({
      foldSeconds,
      renderSeconds,
      peakRssMb: hwm,
      htmlBytes: Buffer.byteLength(html),
      periods: data.counts.periods,
      requests: data.counts.requests,
      rows: s?.t.length ?? 0,
      sent: s?.sent.reduce((a, b) => a + b, 0) ?? 0,
      notAcked: (s?.failed.reduce((a, b) => a + b, 0) ?? 0) + (s?.unknown.reduce((a, b) => a + b, 0) ?? 0),
    })}\n`,
  );
  process.exit(0);
}

const opts = new Command('bench/per-second-source.ts')
  .option('--rate <n>', 'events/s', intArg('--rate', 5000), 1000)
  .option('--duration <d>', 'length of each k6 run', (v) => (parseDurationMs('--duration', v), v), '60s')
  .option('--rounds <n>', 'rounds (each runs the variants at once)', intArg('--rounds', 20), 2)
  .option('--with-json', 'a third variant: --out json=….json.gz, the source before', false)
  .parse()
  .opts<{ rate: number; duration: string; rounds: number; withJson: boolean }>();

const command = `node --import tsx bench/per-second-source.ts --rate ${opts.rate} --duration ${opts.duration} --rounds ${opts.rounds}${opts.withJson ? ' --with-json' : ''}`;
const machine = await machineInfo();
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-per-second-'));
const script = join(PROJECT_ROOT, 'build', 'jetstream-publish.js');
const server = await startNoContentServer();
const durationMs = parseDurationMs('duration', opts.duration);
const seconds = durationMs / 1000;
const loadBefore = loadNow();
out(
  `per-second source: jetstream-publish at ${opts.rate}/s for ${opts.duration}, without and with k6's dashboard recording${opts.withJson ? ' and with --out json.gz' : ''}, run together, ${opts.rounds} rounds, ${server.kind} 204 server (load average ${loadBefore})`,
);

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
function ticks(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

type Variant = 'none' | 'dashboard' | 'json';
interface Side {
  rate: number;
  dropped: number;
  cpuUsPerEvent: number;
  /** k6 cores used in each third of the load (the run's length matters for the dashboard) */
  coresByThird: number[];
}
interface Round {
  order: Variant[];
  sides: Partial<Record<Variant, Side>>;
  ratio: number;
  ratioJson: number | null;
  /** the dashboard's ratio in the last third alone (none's cores / dashboard's cores at the same rate) */
  ratioLastThird: number;
  recordingBytes: number;
}
const rounds: Round[] = [];
let lastRecording: string | null = null;
try {
  for (let round = 1; round <= opts.rounds; round++) {
    const env = {
      PUBLISH_URL: `${server.url}/publish`,
      RATE: String(opts.rate),
      DURATION: opts.duration,
      REQUEST_TIMEOUT: '1s',
      THRESHOLDS: 'ha-observe',
    };
    const roundDir = join(dir, `round-${round}`);
    execFileSync('mkdir', ['-p', roundDir]);
    const variants: Variant[] = opts.withJson ? ['none', 'dashboard', 'json'] : ['none', 'dashboard'];
    const order = round % 2 === 1 ? variants : [...variants].reverse();
    const started = new Map<Variant, Awaited<ReturnType<typeof startK6WithSummary>>>();
    for (const v of order) {
      started.set(
        v,
        await startK6WithSummary({
          script,
          env: v === 'dashboard' ? { ...env, ...perSecondEnv(roundDir) } : env,
          args: v === 'json' ? ['--out', `json=${join(roundDir, 'samples.json.gz')}`] : [],
          summaryPath: join(roundDir, `${v}.json`),
        }),
      );
    }
    // CPU at k6's start, then at each third of the load (k6 spends ≈ 1 s starting before the load).
    const marks = new Map<Variant, Array<{ at: number; ticks: number | null }>>();
    const sample = (): void => {
      for (const [v, s] of started) {
        const list = marks.get(v) ?? [];
        list.push({ at: Date.now(), ticks: ticks(s.child.pid) });
        marks.set(v, list);
      }
    };
    sample();
    const timers = [1, 2, 3].map((k) => setTimeout(sample, 1000 + (durationMs * k) / 3));
    const results = new Map<Variant, K6Result>();
    for (const [v, s] of started) results.set(v, await s.done);
    timers.forEach(clearTimeout);
    const sides: Partial<Record<Variant, Side>> = {};
    for (const [v, r] of results) {
      const m = marks.get(v) ?? [];
      const coresByThird = [1, 2, 3].map((k) => {
        const a = m[k - 1];
        const b = m[k];
        return a?.ticks == null || b?.ticks == null ? NaN : (b.ticks - a.ticks) / CLK_TCK / ((b.at - a.at) / 1000);
      });
      const iterations = metricCount(r.summary, 'iterations');
      const firstTicks = m[0]?.ticks ?? null;
      const lastTicks = m[m.length - 1]?.ticks ?? null;
      const cpuSeconds = firstTicks === null || lastTicks === null ? NaN : (lastTicks - firstTicks) / CLK_TCK;
      sides[v] = {
        rate: iterations / seconds,
        dropped: metricCount(r.summary, 'dropped_iterations'),
        cpuUsPerEvent: (cpuSeconds * 1e6) / Math.max(1, iterations),
        coresByThird: coresByThird.map((c) => Number(c.toFixed(3))),
      };
    }
    const none = sides.none as Side;
    const dash = sides.dashboard as Side;
    const recFile = join(roundDir, K6_RECORDING_FILE);
    const r: Round = {
      order,
      sides,
      ratio: none.cpuUsPerEvent / dash.cpuUsPerEvent,
      ratioJson: sides.json === undefined ? null : none.cpuUsPerEvent / sides.json.cpuUsPerEvent,
      ratioLastThird: (none.coresByThird[2] ?? NaN) / (dash.coresByThird[2] ?? NaN),
      recordingBytes: statSync(recFile).size,
    };
    rounds.push(r);
    lastRecording = readFileSync(recFile).toString('base64');
    const line = (v: Variant): string => {
      const s = sides[v];
      return s === undefined
        ? ''
        : `${v} ${s.rate.toFixed(1)}/s (${s.dropped} dropped) ${s.cpuUsPerEvent.toFixed(0)} µs k6 CPU/event, cores by third ${s.coresByThird.map((c) => c.toFixed(2)).join(' / ')}`;
    };
    out(
      `round ${round} (started ${order.join(', ')}): ${variantsLine(order, line)} · ratio none/dashboard ${r.ratio.toFixed(3)} (last third ${r.ratioLastThird.toFixed(3)})${r.ratioJson === null ? '' : `, none/json ${r.ratioJson.toFixed(3)}`}; recording ${(r.recordingBytes / 1e3).toFixed(0)} kB`,
    );
  }
} finally {
  await server.stop();
}

function variantsLine(order: Variant[], line: (v: Variant) => string): string {
  return order.map(line).join(' · ');
}

// ---------------------------------------------------------------- a synthetic 1-hour recording at 2,000/s

/**
 * The last round's real recording, replicated: its `param` and `metric` events as they are, then
 * 3,600 periods, each a `cumulative` and a `snapshot` made from one of the real steady snapshots
 * (cycled), counters scaled from the measured rate to 2,000/s and the time gauge moved on by a
 * period; the cumulative counts add up. What the fold reads is exactly k6's format.
 */
function synthesize(realGz: Buffer, rate: number): { file: string; zero: number; bytes: number } {
  const lines = gunzipSync(realGz)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
  const head: string[] = [];
  const snaps: string[] = [];
  let names: string[] = [];
  const known = new Set<string>();
  const kinds = new Map<string, string>();
  for (const l of lines) {
    const e = JSON.parse(l) as { event: string; data: unknown };
    if (e.event === 'metric') {
      for (const [n, m] of Object.entries(e.data as Record<string, { type: string }>)) {
        known.add(n);
        kinds.set(n, m.type);
      }
      head.push(l);
    } else if (e.event === 'param') head.push(l);
    else if (e.event === 'snapshot') snaps.push(l);
  }
  names = [...known].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const timeIdx = names.indexOf('time');
  const reqIdx = names.indexOf('http_reqs{name:publish}');
  // the steady snapshots: every name present (the full set was announced by then), with publishes
  const steady = snaps
    .map((l) => (JSON.parse(l) as { data: number[][] }).data)
    .filter((d) => d.length === names.length && (d[reqIdx]?.[0] ?? 0) > rate * 0.5);
  if (steady.length === 0) throw new Error('the real recording has no steady snapshot to replicate');
  const scale = 2000 / rate;
  const zero = Date.parse('2026-12-01T00:00:00.000Z');
  const outLines = [...head, JSON.stringify({ event: 'start', data: [[zero - 300]] })];
  const cumulative = names.map(() => 0);
  for (let k = 0; k < 3600; k++) {
    const src = steady[k % steady.length] as number[][];
    // ±5 % on every number, so that 3,600 periods do not compress to the few real ones they cycle
    const jitter = (): number => 0.95 + Math.random() * 0.1;
    const snap = src.map((v, i) => {
      if (i === timeIdx) return [zero - 300 + (k + 1) * 1000];
      if (kinds.get(names[i] as string) !== 'counter' || v.length !== 2)
        return v.map((x) => (x === 0 ? 0 : Number((x * jitter()).toPrecision(5))));
      {
        const c = Math.round((v[0] ?? 0) * scale * jitter());
        cumulative[i] = (cumulative[i] ?? 0) + c;
        return [c, c];
      }
    });
    const cum = snap.map((v, i) =>
      kinds.get(names[i] as string) === 'counter' && v.length === 2
        ? [cumulative[i] ?? 0, (cumulative[i] ?? 0) / (k + 1)]
        : v,
    );
    outLines.push(
      JSON.stringify({ event: 'cumulative', data: cum }),
      JSON.stringify({ event: 'snapshot', data: snap }),
    );
  }
  outLines.push(JSON.stringify({ event: 'stop', data: [[zero - 300 + 3601 * 1000]] }));
  const file = join(dir, 'synthetic-1h-2000.ndjson.gz');
  const gz = gzipSync(`${outLines.join('\n')}\n`);
  writeFileSync(file, gz);
  return { file, zero, bytes: gz.length };
}

let fold: Record<string, number> | null = null;
let syntheticBytes = 0;
try {
  if (lastRecording !== null) {
    const syn = synthesize(Buffer.from(lastRecording, 'base64'), opts.rate);
    syntheticBytes = syn.bytes;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        join(PROJECT_ROOT, 'bench', 'per-second-source.ts'),
        '--fold-child',
        syn.file,
        String(syn.zero),
      ],
      { cwd: PROJECT_ROOT, maxBuffer: 1 << 20 },
    );
    fold = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
    out(
      `fold: synthetic 1-hour recording at 2,000/s (${(syn.bytes / 1e6).toFixed(1)} MB gz, 3,600 periods, replicated from round ${rounds.length}'s real one) + 120,000 outcome reports: folded in ${fold['foldSeconds']?.toFixed(2)} s, peak RSS ${fold['peakRssMb']?.toFixed(0)} MB (the whole Node process), report.html ${((fold['htmlBytes'] ?? 0) / 1e6).toFixed(2)} MB rendered in ${fold['renderSeconds']?.toFixed(2)} s; ${fold['rows']} rows, ${fold['sent']} publishes (${fold['notAcked']} not acked)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const ratio = median(rounds.map((r) => r.ratio));
const ratioLast = median(rounds.map((r) => r.ratioLastThird));
const ratioJson = opts.withJson ? median(rounds.map((r) => r.ratioJson ?? NaN)) : null;
const met = ratio >= GOAL;
const foldMet =
  fold !== null &&
  (fold['foldSeconds'] ?? Infinity) <= FOLD_GOAL.seconds &&
  (fold['peakRssMb'] ?? Infinity) <= FOLD_GOAL.rssMb &&
  (fold['htmlBytes'] ?? Infinity) <= FOLD_GOAL.htmlMb * 1e6;
out(
  `RESULT per-second source: k6 throughput with the dashboard recording / without = ${ratio.toFixed(3)} over the whole ${opts.duration} (last third ${ratioLast.toFixed(3)})${ratioJson === null ? '' : `, with --out json.gz ${ratioJson.toFixed(3)}`} (medians of k6 CPU per event, ${opts.rate}/s; goal ≥ ${GOAL}: ${met ? 'met' : 'NOT met'})`,
);
out(
  `RESULT per-second fold: 1 h at 2,000/s in ${fold?.['foldSeconds']?.toFixed(2) ?? '?'} s, ${fold?.['peakRssMb']?.toFixed(0) ?? '?'} MB peak RSS, report.html ${((fold?.['htmlBytes'] ?? 0) / 1e6).toFixed(2)} MB (goal ≤ ${FOLD_GOAL.seconds} s, ≤ ${FOLD_GOAL.rssMb} MB, ≤ ${FOLD_GOAL.htmlMb} MB: ${foldMet ? 'met' : 'NOT met'})`,
);
out(`load average before: ${loadBefore}, after: ${loadNow()}`);
out(`command: ${command}`);
saveResult('per-second-source', {
  command,
  machine,
  loadBefore,
  loadAfter: loadNow(),
  goal: `with/without ≥ ${GOAL}; fold ≤ ${FOLD_GOAL.seconds} s, ≤ ${FOLD_GOAL.rssMb} MB, html ≤ ${FOLD_GOAL.htmlMb} MB`,
  met,
  foldMet,
  ratio,
  ratioLastThird: ratioLast,
  ratioJson,
  rounds,
  fold,
  syntheticBytes,
});
process.exitCode = met && foldMet ? 0 : 1;
