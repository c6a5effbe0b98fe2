// Benchmark — several k6 runners with one merged verdict (`k6-ha run --runners N`, k6-operator's
// parallelism) against one runner at the same total rate, and outcome reporting from N runners.
//   1. steady: the same experiment at the same total RATE with 1 runner and with N, alternating;
//      per run the achieved rate (events sent / RATE × DURATION, goal within 1 % of 1 runner's and
//      of the schedule), dropped iterations (goal 0), and the teardown barrier: from the last
//      runner's teardown() to the merged answer, from the run's timeline (goal ≤ 1 s);
//   2. outage: the R1 leader down for 20 s at 1,000 events/s in all, N runners: every failed
//      publish is one report — none undelivered, k6's not-acked count = the sidecar's, nothing lost,
//      and the sidecar's p99 handling time per report (arrival → response, the control-api entry).
//
//   node --import tsx bench/multi-runner.ts [--runners 3] [--rate 600] [--duration 30] [--repeat 2] [--outage-rate 1000]
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { Accounting } from '../lib/shared/types.ts';
import { buildScenarios } from '../lib/run/k6-process.ts';
import { intArg, loadNow, machineInfo, out, readTimeline, runK6Ha, saveResult } from './support.ts';

const opts = new Command('bench/multi-runner.ts')
  .option('--runners <N>', 'runners of the merged runs', intArg('--runners', 16), 3)
  .option('--rate <events/s>', 'total rate of the steady runs', intArg('--rate', 3000), 600)
  .option('--duration <s>', 'seconds of load per steady run', intArg('--duration', 600), 30)
  .option('--repeat <n>', 'steady runs per runner count', intArg('--repeat', 10), 2)
  .option('--outage-rate <events/s>', 'total rate of the outage run', intArg('--outage-rate', 3000), 1000)
  .parse()
  .opts<{ runners: number; rate: number; duration: number; repeat: number; outageRate: number }>();
const command = `node --import tsx bench/multi-runner.ts --runners ${opts.runners} --rate ${opts.rate} --duration ${opts.duration} --repeat ${opts.repeat} --outage-rate ${opts.outageRate}`;

interface Summary {
  accounting: Accounting | null;
  k6ha: { derived: Record<string, number | null>; notes: string[] };
}

const machine = await machineInfo();
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-multi-runner-'));

const steadyFile = join(dir, 'bench-runners-steady.json');
writeFileSync(
  steadyFile,
  JSON.stringify({
    name: 'bench-runners-steady',
    scenario: 'jetstream-publish',
    target: { kind: 'local', stack: 'jetstream', replicas: 3 },
    env: { RATE: String(opts.rate), DURATION: `${opts.duration}s` },
    thresholds: 'ha-observe',
    plan: [],
  }),
);

interface SteadyRun {
  runners: number;
  exit: number;
  attempted: number;
  due: number;
  achieved: number;
  dropped: number;
  barrierMs: number | null;
  load: string;
}
const steady: SteadyRun[] = [];
out(`${command}\nmachine: ${machine.nproc} cores, ${machine.cpuModel}; ${machine.k6}`);
for (let i = 0; i < opts.repeat; i++) {
  for (const runners of [1, opts.runners]) {
    const load = loadNow();
    const run = await runK6Ha([steadyFile, '--runners', String(runners), '--no-per-second']);
    const s = JSON.parse(readFileSync(join(run.runDir, 'summary.json'), 'utf8')) as Summary;
    const a = s.accounting;
    const due = opts.rate * opts.duration;
    const merged = readTimeline(run.runDir).find((e) => e.kind === 'runners-merged');
    const r: SteadyRun = {
      runners,
      exit: run.code,
      attempted: a?.attempted ?? 0,
      due,
      achieved: (a?.attempted ?? 0) / due,
      dropped: a?.dropped ?? -1,
      barrierMs: merged === undefined ? null : (merged.detail['barrier_ms'] as number | null),
      load,
    };
    steady.push(r);
    out(
      `RESULT steady runners=${runners}: sent ${r.attempted} of ${due} (${(100 * r.achieved).toFixed(2)} %), dropped ${r.dropped}, barrier ${r.barrierMs ?? '-'} ms, exit ${r.exit} (load ${load})`,
    );
  }
}

const outageFile = join(dir, 'bench-runners-outage.json');
writeFileSync(
  outageFile,
  JSON.stringify({
    name: 'bench-runners-outage',
    scenario: 'jetstream-publish',
    target: { kind: 'local', stack: 'jetstream', replicas: 1 },
    env: { RATE: String(opts.outageRate), DURATION: '35s', REQUEST_TIMEOUT: '5s' },
    thresholds: 'ha-observe',
    plan: [{ id: 'lose-leader', at: '5s', action: 'kill', target: { leaderOf: 'sap' }, restartAfter: '20s' }],
  }),
);
const load = loadNow();
const run = await runK6Ha([outageFile, '--runners', String(opts.runners), '--no-per-second']);
const s = JSON.parse(readFileSync(join(run.runDir, 'summary.json'), 'utf8')) as Summary;
const a = s.accounting;
const timeline = readTimeline(run.runDir);
const control = timeline.find((e) => e.kind === 'control-api')?.detail ?? {};
const k6NotAcked = (s.k6ha.derived['publish_failed'] ?? 0) + (s.k6ha.derived['publish_unknown'] ?? 0);
const outage = {
  runners: opts.runners,
  rate: opts.outageRate,
  exit: run.code,
  attempted: a?.attempted ?? null,
  reports: Number(control['outcomeRecords'] ?? 0),
  k6NotAcked,
  sidecarNotAcked: a === null ? null : a.failed + a.unknown,
  undelivered: a?.reportsUndelivered ?? null,
  lost: a?.lost ?? null,
  dropped: a?.dropped ?? null,
  handlingP99Ms: control['outcomesHandlingP99Ms'] ?? null,
  handlingMaxMs: control['outcomesHandlingMaxMs'] ?? null,
  loopDelayP99Ms: control['eventLoopDelayP99Ms'] ?? null,
  barrierMs: timeline.find((e) => e.kind === 'runners-merged')?.detail['barrier_ms'] ?? null,
  load,
  runDir: run.runDir,
};
out(
  `RESULT outage runners=${opts.runners} at ${opts.outageRate}/s: ${outage.reports} reports received, k6 not acked ${k6NotAcked}, sidecar ${outage.sidecarNotAcked}, undelivered ${outage.undelivered}, lost ${outage.lost}, handling p99 ${outage.handlingP99Ms} ms (max ${outage.handlingMaxMs}), loop delay p99 ${outage.loopDelayP99Ms} ms, barrier ${outage.barrierMs} ms, exit ${outage.exit} (load ${load})`,
);

const one = steady.filter((r) => r.runners === 1);
const many = steady.filter((r) => r.runners === opts.runners);
const meanOf = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
const ratio = meanOf(many.map((r) => r.achieved)) / meanOf(one.map((r) => r.achieved));
const worstBarrier = Math.max(...many.map((r) => r.barrierMs ?? Number.POSITIVE_INFINITY));
out(
  `RESULT achieved ${opts.runners} runners / 1 runner: ${ratio.toFixed(4)} (goal within 1 %: ${Math.abs(1 - ratio) <= 0.01 ? 'met' : 'NOT met'}); dropped ${many.map((r) => r.dropped).join(', ')} (goal 0); worst barrier ${worstBarrier} ms (goal ≤ 1000)`,
);
saveResult('multi-runner', { command, machine, steady, outage, ratio, worstBarrier });
