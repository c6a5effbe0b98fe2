// Per-second data: what `k6 run --out json=<file>.json.gz` (the source lib/run/run.ts uses) costs
// k6 at a fixed arrival rate, measured against the same scenario without it, in one run; and, for
// comparison, plain JSON into a FIFO that this Node process aggregates while k6 runs (no gzip in
// k6, nothing to read after the run). Each round starts the three k6 processes at the same time (same slowdowns on a shared VM), the built
// jetstream-publish scenario at RATE events/s against a trivial 204 server, plain (no sidecar).
// Figures: k6 CPU per event of each (throughput at saturation is its inverse), the rate each
// achieved and its dropped iterations, the file's size, and how fast lib/report/per-second.ts
// aggregates it (to extrapolate to a 1-hour run at 2,000/s). BENCHMARKS.md, "Per-second data".
//
//   node --import tsx bench/per-second-source.ts [--rate 1000] [--duration 20s] [--rounds 3]
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { metricCount } from '../lib/shared/summary.ts';
import { parseDurationMs } from '../lib/shared/env-parse.ts';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';
import { buildScenarios } from '../lib/run/k6-process.ts';
import { aggregateK6Json } from '../lib/report/per-second.ts';
import {
  CpuMeter,
  intArg,
  loadNow,
  machineInfo,
  median,
  out,
  saveResult,
  startK6WithSummary,
  startNoContentServer,
} from './support.ts';

const GOAL = 0.98;

const opts = new Command('bench/per-second-source.ts')
  .option('--rate <n>', 'events/s', intArg('--rate', 5000), 1000)
  .option('--duration <d>', 'length of each k6 run', (v) => (parseDurationMs('--duration', v), v), '20s')
  .option('--rounds <n>', 'rounds (each runs the three variants at once)', intArg('--rounds', 20), 3)
  .option(
    '--third <variant>',
    'the third variant: fifo (plain JSON into a FIFO read live) or lean (json.gz with fewer system tags, as k6-ha run uses)',
    'lean',
  )
  .parse()
  .opts<{ rate: number; duration: string; rounds: number; third: 'fifo' | 'lean' }>();
if (opts.third !== 'fifo' && opts.third !== 'lean') throw new Error('--third: fifo or lean');
/** the tags the per-second data and the scenarios' gates read (k6's default adds url, method, proto, subproto, tls_version, service) */
const LEAN_SYSTEM_TAGS = 'status,name,group,check,error,error_code,scenario,expected_response';

const command = `node --import tsx bench/per-second-source.ts --rate ${opts.rate} --duration ${opts.duration} --rounds ${opts.rounds} --third ${opts.third}`;
const machine = await machineInfo();
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-per-second-'));
const script = join(PROJECT_ROOT, 'build', 'jetstream-publish.js');
const server = await startNoContentServer();
const seconds = parseDurationMs('duration', opts.duration) / 1000;
out(
  `per-second source: jetstream-publish at ${opts.rate}/s for ${opts.duration}, without, with --out json=….json.gz and ${opts.third === 'fifo' ? 'with --out json=<fifo>' : 'json.gz with lean system tags'}, run together, ${opts.rounds} rounds, ${server.kind} 204 server (load average ${loadNow()})`,
);
interface Side {
  rate: number;
  dropped: number;
  cpuUsPerEvent: number;
  cores: number;
}
interface Round {
  none: Side;
  gz: Side;
  fifo: Side;
  ratioGz: number;
  ratioFifo: number;
  fileMb: number;
  aggregateSeconds: number;
  lines: number;
  requests: number;
  linesPerSecond: number;
  fifoRequests: number;
  nodeCores: number;
}
const rounds: Round[] = [];
try {
  for (let round = 1; round <= opts.rounds; round++) {
    const file = join(dir, `samples-${round}.json.gz`);
    const fifo = join(dir, `samples-${round}.fifo`);
    const leanFile = join(dir, `samples-${round}-lean.json.gz`);
    if (opts.third === 'fifo') execFileSync('mkfifo', [fifo]);
    // REQUEST_TIMEOUT 1s keeps the pre-allocated VUs (RATE × (timeout + 1 s) × 1.1) at 2,200 each.
    const env = {
      PUBLISH_URL: `${server.url}/publish`,
      RATE: String(opts.rate),
      DURATION: opts.duration,
      REQUEST_TIMEOUT: '1s',
      THRESHOLDS: 'ha-observe',
    };
    // The FIFO's reader first: k6 opens it for writing and would wait for one.
    const streamed = opts.third === 'fifo' ? aggregateK6Json(createReadStream(fifo), null) : Promise.resolve(null);
    const none = await startK6WithSummary({ script, env, summaryPath: join(dir, `none-${round}.json`) });
    const gz = await startK6WithSummary({
      script,
      env,
      args: ['--out', `json=${file}`],
      summaryPath: join(dir, `gz-${round}.json`),
    });
    const viaFifo = await startK6WithSummary({
      script,
      env,
      args:
        opts.third === 'fifo'
          ? ['--out', `json=${fifo}`]
          : ['--out', `json=${leanFile}`, '--system-tags', LEAN_SYSTEM_TAGS],
      summaryPath: join(dir, `fifo-${round}.json`),
    });
    const meter = new CpuMeter(() => ({
      none: none.child.pid,
      gz: gz.child.pid,
      fifo: viaFifo.child.pid,
      node: process.pid,
    }));
    meter.begin();
    const [rn, rg, rf] = await Promise.all([none.done, gz.done, viaFifo.done]);
    const used = meter.end();
    const fifoData = await streamed;
    const side = (r: typeof rn, cores: number | undefined): Side => {
      const iterations = metricCount(r.summary, 'iterations');
      const c = cores ?? NaN;
      return {
        rate: iterations / seconds,
        dropped: metricCount(r.summary, 'dropped_iterations'),
        cores: c,
        cpuUsPerEvent: (c * (r.summary.durationMs ?? seconds * 1000) * 1000) / Math.max(1, iterations),
      };
    };
    const sn = side(rn, used['none']);
    const sg = side(rg, used['gz']);
    const sf = side(rf, used['fifo']);
    const t0 = performance.now();
    const data = await aggregateK6Json(file, null);
    const aggregateSeconds = (performance.now() - t0) / 1000;
    const publish = data.series['publish'];
    const sent = publish === undefined ? 0 : publish.sent.reduce((a, b) => a + b, 0);
    const fileMb = statSync(file).size / 1e6;
    const r: Round = {
      none: sn,
      gz: sg,
      fifo: sf,
      ratioGz: sn.cpuUsPerEvent / sg.cpuUsPerEvent,
      ratioFifo: sn.cpuUsPerEvent / sf.cpuUsPerEvent,
      fileMb,
      aggregateSeconds,
      lines: data.samples.lines,
      requests: data.samples.requests,
      linesPerSecond: data.samples.lines / aggregateSeconds,
      fifoRequests:
        fifoData?.samples.requests ??
        (opts.third === 'lean' ? (await aggregateK6Json(leanFile, null)).samples.requests : 0),
      nodeCores: used['node'] ?? NaN,
    };
    rounds.push(r);
    out(
      `round ${round}: without ${sn.rate.toFixed(1)}/s (${sn.dropped} dropped) ${sn.cpuUsPerEvent.toFixed(0)} µs k6 CPU/event · json.gz file ${sg.rate.toFixed(1)}/s (${sg.dropped} dropped) ${sg.cpuUsPerEvent.toFixed(0)} µs/event, ratio ${r.ratioGz.toFixed(3)} · ${opts.third === 'fifo' ? 'json to a FIFO read live' : `json.gz, --system-tags ${LEAN_SYSTEM_TAGS}`} ${sf.rate.toFixed(1)}/s (${sf.dropped} dropped) ${sf.cpuUsPerEvent.toFixed(0)} µs/event, ratio ${r.ratioFifo.toFixed(3)}, the reader (this Node process) ${r.nodeCores} cores`,
    );
    out(
      `   file ${fileMb.toFixed(1)} MB, ${data.samples.lines} lines, aggregated after the run in ${aggregateSeconds.toFixed(2)} s (${(data.samples.lines / aggregateSeconds / 1e3).toFixed(0)}k lines/s); publish requests ${sent} = iterations ${metricCount(rg.summary, 'iterations')}; ${opts.third} ${r.fifoRequests} = ${metricCount(rf.summary, 'iterations')}`,
    );
    rmSync(file, { force: true });
    rmSync(fifo, { force: true });
    if (opts.third === 'lean') out(`   lean file ${(statSync(leanFile).size / 1e6).toFixed(1)} MB`);
    rmSync(leanFile, { force: true });
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
const ratio = median(rounds.map((r) => r.ratioGz));
const ratioFifo = median(rounds.map((r) => r.ratioFifo));
const linesPerSecond = median(rounds.map((r) => r.linesPerSecond));
const linesPerEvent = median(rounds.map((r) => r.lines / Math.max(1, r.requests)));
const mbPerEvent = median(rounds.map((r) => r.fileMb / Math.max(1, r.requests)));
const hourEvents = 2000 * 3600;
const met = ratio >= GOAL;
out(
  `RESULT per-second source: k6 throughput with --out json.gz / without = ${ratio.toFixed(3)}, ${opts.third === 'fifo' ? 'json to a FIFO read live' : 'json.gz with lean system tags'} ${ratioFifo.toFixed(3)} (medians of k6 CPU per event, ${opts.rate}/s; goal ≥ ${GOAL}: ${met ? 'met' : 'NOT met'} for json.gz); ${linesPerEvent.toFixed(1)} lines and ${(mbPerEvent * 1e6).toFixed(0)} bytes (gz) per event; aggregation ${(linesPerSecond / 1e3).toFixed(0)}k lines/s, so a 1-hour run at 2,000/s (${((hourEvents * mbPerEvent) / 1e3).toFixed(1)} GB gz) would take ≈ ${((hourEvents * linesPerEvent) / linesPerSecond).toFixed(0)} s`,
);
out(`load average after: ${loadNow()}`);
out(`command: ${command}`);
saveResult('per-second-source', {
  command,
  machine,
  loadAfter: loadNow(),
  goal: `with/without ≥ ${GOAL}`,
  met,
  ratio,
  ratioFifo,
  rounds,
  linesPerSecond,
  linesPerEvent,
  mbPerEvent,
});
process.exitCode = met ? 0 : 1;
