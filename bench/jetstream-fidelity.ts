// Benchmarks 2 and 6 — rate fidelity and sidecar memory, from one run:
//   `k6-ha run experiments/steady-state.json --duration 60s` (150 events/s, local stack, R3).
// Fidelity: achieved rate = events sent (k6 iterations) / 60 s within ±1 % of 150/s and dropped_iterations
// 0, both read from results/bench/<run>/summary.json. Memory: VmRSS of the `k6-ha run` process
// (the sidecar lives in it; the stack members and k6 are separate processes) from
// /proc/<pid>/status every second for the whole run; goal max ≤ 120 MB. A bare `node -e` and a
// `node --import tsx -e` (what bin/k6-ha.js loads first) give the baseline.
//
//   node --import tsx bench/jetstream-fidelity.ts [--duration 60s] [--rate 150]
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { metricCount } from '../lib/shared/summary.ts';
import { parseDurationMs } from '../lib/shared/env-parse.ts';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';
import { buildScenarios } from '../lib/run/k6-process.ts';
import {
  baselineNodeRss,
  loadNow,
  machineInfo,
  out,
  readRunSummary,
  readTimeline,
  RssSampler,
  runK6Ha,
  saveResult,
} from './support.ts';

const RATE_TOLERANCE = 0.01;
const RSS_GOAL_MB = 120;

const opts = new Command('bench/jetstream-fidelity.ts')
  .description('achieved rate and dropped iterations of a steady-state run, and the sidecar process RSS during it')
  .option('--duration <d>', 'load duration', (v) => (parseDurationMs('--duration', v), v), '60s')
  .option('--rate <n>', 'events per second', '150')
  .parse()
  .opts<{ duration: string; rate: string }>();
const rate = Number(opts.rate);
const seconds = parseDurationMs('duration', opts.duration) / 1000;
const command = `node --import tsx bench/jetstream-fidelity.ts --duration ${opts.duration} --rate ${rate}`;

const machine = await machineInfo();
await buildScenarios();
const baseline = await baselineNodeRss();
out(
  `fidelity + sidecar RSS: k6-ha run experiments/steady-state.json --duration ${opts.duration} --rate ${rate} (load average ${loadNow()})`,
);
let sampler: RssSampler | null = null;
const run = await runK6Ha(
  ['experiments/steady-state.json', '--duration', opts.duration, '--rate', String(rate)],
  (pid) => {
    sampler = new RssSampler(pid);
    sampler.start();
  },
);
const rss = (sampler as RssSampler | null)?.stop() ?? { samples: 0, maxMb: NaN, medianMb: NaN, hwmMb: NaN };
const summary = readRunSummary(run.runDir);
const attempted = metricCount(summary, 'iterations');
const acked = metricCount(summary, 'checks');
const dropped = metricCount(summary, 'dropped_iterations');
const achieved = attempted / seconds;
const deviation = achieved / rate - 1;
const timeline = readTimeline(run.runDir);
const startedAt = timeline.find((e) => e.kind === 'load-started')?.ts;
const finishedAt = timeline.find((e) => e.kind === 'load-finished')?.ts;
const loadWindow =
  startedAt !== undefined && finishedAt !== undefined ? (Date.parse(finishedAt) - Date.parse(startedAt)) / 1000 : null;
const fidelityMet = Math.abs(deviation) <= RATE_TOLERANCE && dropped === 0;
const rssMet = rss.maxMb <= RSS_GOAL_MB;

out(`run ${relative(PROJECT_ROOT, run.runDir)}: k6-ha exited ${run.code}`);
out(
  `events sent ${attempted} in ${seconds} s → ${achieved.toFixed(2)}/s (${(deviation * 100).toFixed(2)} % from ${rate}/s), acked ${acked}, dropped_iterations ${dropped}`,
);
if (loadWindow !== null)
  out(`setup() → teardown() on the timeline: ${loadWindow.toFixed(2)} s (includes the last in-flight requests)`);
out(
  `k6-ha run process RSS: max ${rss.maxMb} MB, median ${rss.medianMb} MB over ${rss.samples} samples (VmHWM ${rss.hwmMb} MB); baseline node -e ${baseline.nodeMb} MB, node --import tsx ${baseline.nodeTsxMb} MB`,
);
out(
  `RESULT fidelity: ${achieved.toFixed(2)}/s (${(deviation * 100).toFixed(2)} %), dropped ${dropped} (goal within ±${RATE_TOLERANCE * 100} % and 0 dropped: ${fidelityMet ? 'met' : 'NOT met'})`,
);
out(
  `RESULT sidecar-rss: max ${rss.maxMb} MB, median ${rss.medianMb} MB (goal ≤ ${RSS_GOAL_MB} MB: ${rssMet ? 'met' : 'NOT met'})`,
);
out(`load average after: ${loadNow()}`);
out(`command: ${command}`);
saveResult('fidelity', {
  command,
  machine,
  loadAfter: loadNow(),
  runDir: relative(PROJECT_ROOT, run.runDir),
  k6haExit: run.code,
  fidelity: {
    goal: `|attempted/${seconds} - ${rate}| ≤ 1 % and dropped 0`,
    met: fidelityMet,
    attempted,
    acked,
    dropped,
    achieved,
    deviation,
    loadWindowSeconds: loadWindow,
  },
  rss: { goal: `max ≤ ${RSS_GOAL_MB} MB`, met: rssMet, ...rss, baseline },
  summaryFile: relative(PROJECT_ROOT, join(run.runDir, 'summary.json')),
});
process.exitCode = fidelityMet && rssMet ? 0 : 1;
