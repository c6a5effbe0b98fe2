// Benchmarks 4 and 5 — chaos timing, from one `k6-ha run` at 150 events/s with a dense plan:
//   action skew: `skew_ms` (executed − scheduled) of every `plan executed` event; goal p99 ≤ 50 ms
//     over ≥ 100 actions;
//   detection latency: from a kill's `plan executed` event to the `member member-exited` event of
//     the same member; goal p99 ≤ 200 ms over ≥ 30 kills.
// The plan (written to a temp file, not experiments/) kills the sink, the publisher and
// eventing-nats-2 in turn, one kill every 2 s (so each member every 6 s, restarted after 1 s: a
// Node member needs 1.5–3 s to be healthy again on a busy 2-core machine), with two
// `wait until leader` actions between kills: 36 kills + 72 waits = 108 actions in 73 s. The stack's members are local
// processes, so a kill is a SIGKILL to the member's process group; the exit is pushed by Node's
// child 'exit' event (no polling). Timestamps on the timeline have millisecond resolution.
//
//   node --import tsx bench/sidecar-timing.ts [--kills 36] [--rate 150]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';
import { buildScenarios } from '../lib/run/k6-process.ts';
import {
  loadNow,
  machineInfo,
  median,
  out,
  percentile,
  readTimeline,
  RssSampler,
  runK6Ha,
  saveResult,
  intArg,
} from './support.ts';

const SKEW_GOAL_MS = 50;
const DETECTION_GOAL_MS = 200;
const MIN_ACTIONS = 100;
const MIN_KILLS = 30;
const KILLED = ['sink', 'publisher', 'eventing-nats-2'];

const opts = new Command('bench/sidecar-timing.ts')
  .description('chaos action skew and member-exit detection latency from one dense-plan k6-ha run')
  .option(
    '--kills <n>',
    'kills (sink, publisher, eventing-nats-2 in turn, one every 2 s; two waits per kill)',
    intArg('--kills', 500),
    36,
  )
  .option('--rate <n>', 'events per second', intArg('--rate', 100_000), 150)
  .parse()
  .opts<{ kills: number; rate: number }>();
const command = `node --import tsx bench/sidecar-timing.ts --kills ${opts.kills} --rate ${opts.rate}`;

const plan: object[] = [];
for (let i = 0; i < opts.kills; i++) {
  const at = 3000 + i * 2000;
  plan.push({
    id: `kill-${i}`,
    at: `${at}ms`,
    action: 'kill',
    target: { name: KILLED[i % KILLED.length] },
    restartAfter: '1s',
  });
  plan.push({ id: `wait-${i}a`, at: `${at + 500}ms`, action: 'wait', until: 'leader', timeout: '5s' });
  plan.push({ id: `wait-${i}b`, at: `${at + 1500}ms`, action: 'wait', until: 'leader', timeout: '5s' });
}
const durationS = Math.ceil((3000 + opts.kills * 2000) / 1000) + 4;
const experiment = {
  name: 'bench-sidecar-timing',
  description:
    'benchmark: dense chaos plan (kills of sink, publisher and a NATS member, waits) for action skew and detection latency',
  scenario: 'jetstream-publish',
  target: { kind: 'local', stack: 'jetstream', replicas: 3 },
  env: { RATE: String(opts.rate), DURATION: `${durationS}s` },
  thresholds: 'ha-observe',
  blastRadius: 1,
  plan,
};

const machine = await machineInfo();
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-sidecar-timing-'));
const file = join(dir, 'bench-sidecar-timing.json');
writeFileSync(file, JSON.stringify(experiment, null, 2));
out(
  `sidecar timing: ${plan.length} actions (${opts.kills} kills) over ${durationS} s at ${opts.rate}/s (load average ${loadNow()})`,
);
let sampler: RssSampler | null = null;
let run;
try {
  run = await runK6Ha([file], (pid) => {
    sampler = new RssSampler(pid);
    sampler.start();
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const rss = (sampler as RssSampler | null)?.stop() ?? null;
const timeline = readTimeline(run.runDir);
const executed = timeline.filter((e) => e.source === 'plan' && e.kind === 'executed');
const skews = executed.map((e) => Number(e.detail['skew_ms'])).filter((x) => Number.isFinite(x));
const failedActions = timeline.filter((e) => e.source === 'plan' && e.kind === 'failed').length;
const detections: number[] = [];
const byMember: Record<string, number[]> = {};
let unmatched = 0;
for (const e of executed.filter((x) => x.detail['action'] === 'kill')) {
  const at = Date.parse(e.ts);
  const exit = timeline.find(
    (x) => x.source === 'member' && x.kind === 'member-exited' && x.target === e.target && Date.parse(x.ts) >= at,
  );
  if (exit === undefined) unmatched++;
  else {
    detections.push(Date.parse(exit.ts) - at);
    (byMember[e.target ?? '?'] ??= []).push(Date.parse(exit.ts) - at);
  }
}
const stat = (xs: number[]): { n: number; p50: number; p99: number; max: number } => ({
  n: xs.length,
  p50: median(xs),
  p99: percentile(xs, 99),
  max: Math.max(...xs),
});
const skew = stat(skews);
const detection = stat(detections);
const skewMet = skew.n >= MIN_ACTIONS && skew.p99 <= SKEW_GOAL_MS;
const detectionMet = detection.n >= MIN_KILLS && detection.p99 <= DETECTION_GOAL_MS;

out(
  `run ${relative(PROJECT_ROOT, run.runDir)}: k6-ha exited ${run.code}; ${executed.length} actions executed, ${failedActions} failed`,
);
out(`skew_ms over ${skew.n} actions: p50 ${skew.p50}, p99 ${skew.p99}, max ${skew.max}`);
out(
  `kill → member-exited over ${detection.n} kills (${unmatched} without an exit event): p50 ${detection.p50} ms, p99 ${detection.p99} ms, max ${detection.max} ms`,
);
out(
  `  per member: ${Object.entries(byMember)
    .map(([m, xs]) => `${m} p50 ${median(xs)} / max ${Math.max(...xs)} ms (${xs.length})`)
    .join(', ')}`,
);
if (rss !== null) out(`k6-ha run process RSS during the chaos run: max ${rss.maxMb} MB, median ${rss.medianMb} MB`);
out(
  `RESULT action-skew: p99 ${skew.p99} ms over ${skew.n} actions (goal p99 ≤ ${SKEW_GOAL_MS} ms over ≥ ${MIN_ACTIONS}: ${skewMet ? 'met' : 'NOT met'})`,
);
out(
  `RESULT detection: p99 ${detection.p99} ms over ${detection.n} kills (goal p99 ≤ ${DETECTION_GOAL_MS} ms over ≥ ${MIN_KILLS}: ${detectionMet ? 'met' : 'NOT met'})`,
);
out(`load average after: ${loadNow()}`);
out(`command: ${command}`);
saveResult('sidecar-timing', {
  command,
  machine,
  loadAfter: loadNow(),
  runDir: relative(PROJECT_ROOT, run.runDir),
  k6haExit: run.code,
  actions: plan.length,
  failedActions,
  skew: { goal: `p99 ≤ ${SKEW_GOAL_MS} ms over ≥ ${MIN_ACTIONS} actions`, met: skewMet, ...skew, all: skews },
  detection: {
    goal: `p99 ≤ ${DETECTION_GOAL_MS} ms over ≥ ${MIN_KILLS} kills`,
    met: detectionMet,
    unmatched,
    ...detection,
    all: detections,
    byMember,
  },
  rss,
});
process.exitCode = skewMet && detectionMet ? 0 : 1;
