// Per-second data: what k6's prometheus remote-write output (the source lib/run/per-second-source.ts
// sets up: `--out experimental-prometheus-rw`, native histograms, a push every 1 s to the
// sidecar's receiver, lib/sidecar/remote-write-receiver.ts) costs k6 at a fixed arrival rate,
// measured against the same scenario without it, in one run (`--with-dashboard`: also k6's
// web-dashboard recording, the source before); and what folding a 1-hour run's receiver file at
// 2,000/s costs (time, peak RSS) and how big its report.html gets.
//
// Throughput: each round starts the variants at the same time (same slowdowns on a shared VM),
// the built jetstream-publish scenario at RATE events/s against a trivial 204 server, plain (no
// sidecar); the start order alternates. Figures: k6 CPU per event of each (throughput at
// saturation is its inverse), also per third of the run — the dashboard keeps a cumulative copy of
// every trend and sorts it every period, a cost that grows with the run's length —, the rate each
// achieved and its dropped iterations. `--with-json` adds `--out json=….json.gz`, session 6's source.
// The receiver runs in this Node process (the 204 server is a Go binary): its CPU is reported too.
//
// Fold: a synthetic receiver file in its real format — the last round's real periods replicated
// to 3,600 and their counts scaled to 2,000/s — with 120,000 outcome reports (two 30 s outages at 2,000/s), folded in a child process
// (lib/report/per-second.ts, as k6-ha run does), then rendered into report.html.
//
//   node --import tsx bench/per-second-source.ts [--rate 1000] [--duration 60s] [--rounds 2] [--with-dashboard] [--with-json]
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
import { perSecondEnv } from '../lib/run/per-second-source.ts';
import { foldPerSecond, readDashboardRecording } from '../lib/report/per-second.ts';
import { readRemoteWriteRecording, type RemoteWritePeriod } from '../lib/report/remote-write.ts';
import { remoteWriteEnv, startRemoteWriteReceiver } from '../lib/sidecar/remote-write-receiver.ts';
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
  const kind = process.argv[5] ?? 'dashboard';
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
  const rec = kind === 'rw' ? await readRemoteWriteRecording(file) : await readDashboardRecording(file);
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
  .option('--with-json', 'a variant: --out json=….json.gz, the source of session 6', false)
  .option('--with-dashboard', "a variant: k6's web-dashboard recording, the source of session 7", false)
  .parse()
  .opts<{ rate: number; duration: string; rounds: number; withJson: boolean; withDashboard: boolean }>();

const command = `node --import tsx bench/per-second-source.ts --rate ${opts.rate} --duration ${opts.duration} --rounds ${opts.rounds}${opts.withJson ? ' --with-json' : ''}${opts.withDashboard ? ' --with-dashboard' : ''}`;
const machine = await machineInfo();
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-per-second-'));
const script = join(PROJECT_ROOT, 'build', 'jetstream-publish.js');
const server = await startNoContentServer();
const durationMs = parseDurationMs('duration', opts.duration);
const seconds = durationMs / 1000;
const loadBefore = loadNow();
out(
  `per-second source: jetstream-publish at ${opts.rate}/s for ${opts.duration}, without and with k6's prometheus remote write (native histograms, 1 s) to the receiver${opts.withDashboard ? ", with k6's dashboard recording" : ''}${opts.withJson ? ' and with --out json.gz' : ''}, run together, ${opts.rounds} rounds, ${server.kind} 204 server (load average ${loadBefore})`,
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

type Variant = 'none' | 'rw' | 'dashboard' | 'json';
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
  /** none / rw: k6 CPU per event without / with the remote-write output */
  ratio: number;
  ratioDashboard: number | null;
  ratioJson: number | null;
  /** rw's ratio in the last third alone (none's cores / rw's cores at the same rate) */
  ratioLastThird: number;
  ratioDashboardLastThird: number | null;
  recordingBytes: number;
  /** the receiver: pushes recorded, refused, and this Node process's CPU (the receiver is all it does) */
  receiver: { pushes: number; refused: number; cores: number; cpuUsPerEvent: number };
}
const rounds: Round[] = [];
let lastRecording: string | null = null;
let lastRate = opts.rate;
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
    const variants: Variant[] = [
      'none',
      'rw',
      ...(opts.withDashboard ? (['dashboard'] as const) : []),
      ...(opts.withJson ? (['json'] as const) : []),
    ];
    const order = round % 2 === 1 ? variants : [...variants].reverse();
    const rwFile = join(roundDir, 'k6-remote-write.ndjson.gz');
    const receiver = await startRemoteWriteReceiver(rwFile);
    const cpu0 = process.cpuUsage();
    const wall0 = Date.now();
    const started = new Map<Variant, Awaited<ReturnType<typeof startK6WithSummary>>>();
    for (const v of order) {
      started.set(
        v,
        await startK6WithSummary({
          script,
          env: v === 'dashboard' ? { ...env, ...perSecondEnv(roundDir) } : env,
          ...(v === 'rw' ? { processEnv: remoteWriteEnv(receiver.url) } : {}),
          args:
            v === 'json'
              ? ['--out', `json=${join(roundDir, 'samples.json.gz')}`]
              : v === 'rw'
                ? ['--out', 'experimental-prometheus-rw']
                : [],
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
    const cpu = process.cpuUsage(cpu0);
    const wallS = (Date.now() - wall0) / 1000;
    await receiver.close();
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
    const rw = sides.rw as Side;
    const dash = sides.dashboard;
    const receiverCpuS = (cpu.user + cpu.system) / 1e6;
    const rwIterations = metricCount((results.get('rw') as K6Result).summary, 'iterations');
    const r: Round = {
      order,
      sides,
      ratio: none.cpuUsPerEvent / rw.cpuUsPerEvent,
      ratioDashboard: dash === undefined ? null : none.cpuUsPerEvent / dash.cpuUsPerEvent,
      ratioJson: sides.json === undefined ? null : none.cpuUsPerEvent / sides.json.cpuUsPerEvent,
      ratioLastThird: (none.coresByThird[2] ?? NaN) / (rw.coresByThird[2] ?? NaN),
      ratioDashboardLastThird:
        dash === undefined ? null : (none.coresByThird[2] ?? NaN) / (dash.coresByThird[2] ?? NaN),
      recordingBytes: statSync(rwFile).size,
      receiver: {
        pushes: receiver.pushes,
        refused: receiver.refused,
        cores: Number((receiverCpuS / wallS).toFixed(4)),
        cpuUsPerEvent: Number(((receiverCpuS * 1e6) / Math.max(1, rwIterations)).toFixed(2)),
      },
    };
    rounds.push(r);
    lastRecording = readFileSync(rwFile).toString('base64');
    lastRate = rw.rate;
    const line = (v: Variant): string => {
      const s = sides[v];
      return s === undefined
        ? ''
        : `${v} ${s.rate.toFixed(1)}/s (${s.dropped} dropped) ${s.cpuUsPerEvent.toFixed(0)} µs k6 CPU/event, cores by third ${s.coresByThird.map((c) => c.toFixed(2)).join(' / ')}`;
    };
    out(
      `round ${round} (started ${order.join(', ')}): ${variantsLine(order, line)} · ratio none/rw ${r.ratio.toFixed(3)} (last third ${r.ratioLastThird.toFixed(3)})${r.ratioDashboard === null ? '' : `, none/dashboard ${r.ratioDashboard.toFixed(3)} (last third ${(r.ratioDashboardLastThird ?? NaN).toFixed(3)})`}${r.ratioJson === null ? '' : `, none/json ${r.ratioJson.toFixed(3)}`}; receiver ${r.receiver.pushes} pushes (${r.receiver.refused} refused), ${r.receiver.cores.toFixed(3)} cores of Node (${r.receiver.cpuUsPerEvent.toFixed(1)} µs/event); its file ${(r.recordingBytes / 1e3).toFixed(0)} kB`,
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
 * The last round's real receiver file, replicated: 3,600 periods, each one of the real steady
 * periods (cycled), counts scaled from the measured rate to 2,000/s with ±5 % noise on every
 * number (so they do not compress to the few real ones), one second apart. What the fold reads is
 * exactly the receiver's format.
 */
function synthesize(realGz: Buffer, rate: number): { file: string; zero: number; bytes: number } {
  const periods = gunzipSync(realGz)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as RemoteWritePeriod);
  const steady = periods.filter((p) => (p.v['http_reqs{name:publish}']?.[0] ?? 0) > rate * 0.5);
  if (steady.length === 0) throw new Error('the real receiver file has no steady period to replicate');
  const scale = 2000 / rate;
  const zero = Date.parse('2026-12-01T00:00:00.000Z');
  const jitter = (): number => 0.95 + Math.random() * 0.1;
  const lines: string[] = [];
  for (let k = 0; k < 3600; k++) {
    const src = steady[k % steady.length] as RemoteWritePeriod;
    const v: Record<string, number[]> = {};
    for (const [key, vals] of Object.entries(src.v))
      v[key] = key.startsWith('http_reqs')
        ? [Math.round((vals[0] ?? 0) * scale * jitter())]
        : vals.map((x) => (x === 0 ? 0 : Number((x * jitter()).toPrecision(5))));
    lines.push(JSON.stringify({ t: zero + (k + 1) * 1000, pushes: 1, v } satisfies RemoteWritePeriod));
  }
  const file = join(dir, 'synthetic-1h-2000.ndjson.gz');
  const gz = gzipSync(`${lines.join('\n')}\n`);
  writeFileSync(file, gz);
  return { file, zero, bytes: gz.length };
}

let fold: Record<string, number> | null = null;
let syntheticBytes = 0;
try {
  if (lastRecording !== null) {
    const syn = synthesize(Buffer.from(lastRecording, 'base64'), lastRate);
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
        'rw',
      ],
      { cwd: PROJECT_ROOT, maxBuffer: 1 << 20 },
    );
    fold = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
    out(
      `fold: synthetic 1-hour recording at 2,000/s (${(syn.bytes / 1e6).toFixed(1)} MB gz, 3,600 periods, replicated from round ${rounds.length}'s real receiver file) + 120,000 outcome reports: folded in ${fold['foldSeconds']?.toFixed(2)} s, peak RSS ${fold['peakRssMb']?.toFixed(0)} MB (the whole Node process), report.html ${((fold['htmlBytes'] ?? 0) / 1e6).toFixed(2)} MB rendered in ${fold['renderSeconds']?.toFixed(2)} s; ${fold['rows']} rows, ${fold['sent']} publishes (${fold['notAcked']} not acked)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const ratio = median(rounds.map((r) => r.ratio));
const ratioLast = median(rounds.map((r) => r.ratioLastThird));
const ratioJson = opts.withJson ? median(rounds.map((r) => r.ratioJson ?? NaN)) : null;
const ratioDash = opts.withDashboard ? median(rounds.map((r) => r.ratioDashboard ?? NaN)) : null;
const ratioDashLast = opts.withDashboard ? median(rounds.map((r) => r.ratioDashboardLastThird ?? NaN)) : null;
const receiverCores = median(rounds.map((r) => r.receiver.cores));
const met = ratio >= GOAL;
const foldMet =
  fold !== null &&
  (fold['foldSeconds'] ?? Infinity) <= FOLD_GOAL.seconds &&
  (fold['peakRssMb'] ?? Infinity) <= FOLD_GOAL.rssMb &&
  (fold['htmlBytes'] ?? Infinity) <= FOLD_GOAL.htmlMb * 1e6;
out(
  `RESULT per-second source: k6 throughput with prometheus remote write (native histograms, 1 s) / without = ${ratio.toFixed(3)} over the whole ${opts.duration} (last third ${ratioLast.toFixed(3)})${ratioDash === null ? '' : `, with the dashboard recording ${ratioDash.toFixed(3)} (last third ${(ratioDashLast ?? NaN).toFixed(3)})`}${ratioJson === null ? '' : `, with --out json.gz ${ratioJson.toFixed(3)}`} (medians of k6 CPU per event, ${opts.rate}/s; goal ≥ ${GOAL}: ${met ? 'met' : 'NOT met'}); the receiver ${receiverCores.toFixed(3)} cores of Node`,
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
  ratioDashboard: ratioDash,
  ratioDashboardLastThird: ratioDashLast,
  receiverCores,
  rounds,
  fold,
  syntheticBytes,
});
process.exitCode = met && foldMet ? 0 : 1;
