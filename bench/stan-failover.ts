// STAN failover time (seed 004): one `k6-ha run` of the nats-streaming target at 150 events/s whose
// plan kills the active member of the FT group again and again (SIGKILL, `activeOf:
// "test-cluster"`, the killed one started again 3 s later as a standby, a kill every 6 s). Per kill:
//   takeover      kill → the new active's log says "STREAM: Server is active" (the store lock taken)
//   reported      kill → a standby's /streaming/serverz says FT_ACTIVE (the sidecar's 50 ms poll:
//                 leader failover in the run's recovery report)
//   store recovery "Server is active" → "Streaming Server is ready" in the new active's log
//   first ack     kill → the first publish acked after the new active took over (first ack after)
// The seed's notes put the takeover at ~1.25 s after the last heartbeat plus store recovery; in
// nats-streaming-server v0.25.6 (server/ft.go) the active heartbeats every 1 s ± 10 % and a standby
// tries the lock 1.25 s ± 10 % after the last one it heard, so kill → takeover lies within
// 0.025–1.375 s (goal: max ≤ 1.375 s + 0.1 s for the lock attempt), and nothing acked may be lost.
//
//   node --import tsx bench/stan-failover.ts [--kills 12] [--rate 150]
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';
import { buildScenarios } from '../lib/run/k6-process.ts';
import type { Accounting, RecoveryReport } from '../lib/shared/types.ts';
import { intArg, loadNow, machineInfo, median, out, readTimeline, runK6Ha, saveResult } from './support.ts';

const TAKEOVER_GOAL_S = 1.475;
const MIN_KILLS = 10;
const EVERY_MS = 6000;

const opts = new Command('bench/stan-failover.ts')
  .description('failover time of a NATS Streaming FT group over repeated kills of the active member')
  .option('--kills <n>', 'kills of the active, one every 6 s', intArg('--kills', 200), 12)
  .option('--rate <n>', 'events per second', intArg('--rate', 100_000), 150)
  .parse()
  .opts<{ kills: number; rate: number }>();
const command = `npm run bench -- stan-failover   # node --import tsx bench/stan-failover.ts --kills ${opts.kills} --rate ${opts.rate}`;

const plan = Array.from({ length: opts.kills }, (_, i) => ({
  id: `kill-active-${i + 1}`,
  at: `${5000 + i * EVERY_MS}ms`,
  action: 'kill',
  target: { activeOf: 'test-cluster' },
  restartAfter: '3s',
}));
const durationS = Math.ceil((5000 + opts.kills * EVERY_MS) / 1000) + 2;
const experiment = {
  name: 'bench-stan-failover',
  description: 'benchmark: the active member of the NATS Streaming FT group killed every 6 s',
  scenario: 'jetstream-publish',
  target: { kind: 'local', stack: 'nats-streaming', members: 3 },
  env: { RATE: String(opts.rate), DURATION: `${durationS}s` },
  thresholds: 'ft-at-least-once',
  blastRadius: 1,
  plan,
};

/** "[pid] 2026/12/01 11:55:23.781694 [INF] STREAM: Server is active" → epoch ms (the log is in local time). */
function logTimes(file: string, pattern: RegExp): number[] {
  const times: number[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!pattern.test(line)) continue;
    const m = /(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})/.exec(line);
    if (m === null) continue;
    const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as number[];
    times.push(new Date(y as number, (mo as number) - 1, d, h, mi, s, ms).getTime());
  }
  return times;
}

const stats = (xs: number[]): { n: number; median: number; max: number; min: number } => ({
  n: xs.length,
  median: Number(median(xs).toFixed(3)),
  max: Number(Math.max(...xs).toFixed(3)),
  min: Number(Math.min(...xs).toFixed(3)),
});

const machine = await machineInfo();
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-stan-failover-'));
const file = join(dir, 'bench-stan-failover.json');
writeFileSync(file, JSON.stringify(experiment, null, 2));
const loadBefore = loadNow();
out(
  `stan failover: ${opts.kills} kills of the active over ${durationS} s at ${opts.rate}/s (load average ${loadBefore})`,
);
let run;
try {
  run = await runK6Ha([file]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const summary = JSON.parse(readFileSync(join(run.runDir, 'summary.json'), 'utf8')) as {
  accounting: Accounting;
  recovery: RecoveryReport[];
};
const timeline = readTimeline(run.runDir);
const rows: Array<{
  id: string;
  from: string;
  to: string;
  takeover: number;
  reported: number;
  recovery: number;
  firstAck: number;
}> = [];
const problems: string[] = [];
for (const r of summary.recovery) {
  const executed = timeline.find(
    (e) => e.source === 'plan' && e.kind === 'executed' && e.detail['action_id'] === r.actionId,
  );
  if (
    executed === undefined ||
    r.leaderAfter === null ||
    r.leaderFailoverSeconds === null ||
    r.firstAckSeconds == null
  ) {
    problems.push(`${r.actionId}: no failover measured (${JSON.stringify(r)})`);
    continue;
  }
  // The kill is stamped once the process is gone; the signal went out just before.
  const killedAt = Date.parse(executed.ts);
  const log = join(run.runDir, `${r.leaderAfter}.log`);
  const active = logTimes(log, /STREAM: Server is active/).find((t) => t >= killedAt - 50);
  const ready = logTimes(log, /STREAM: Streaming Server is ready/).find((t) => active !== undefined && t >= active);
  if (active === undefined || ready === undefined) {
    problems.push(`${r.actionId}: ${r.leaderAfter}'s log has no takeover after the kill`);
    continue;
  }
  rows.push({
    id: r.actionId,
    from: r.leaderBefore ?? '?',
    to: r.leaderAfter,
    takeover: (active - killedAt) / 1000,
    reported: r.leaderFailoverSeconds,
    recovery: (ready - active) / 1000,
    firstAck: r.firstAckSeconds,
  });
}
const takeover = stats(rows.map((x) => x.takeover));
const reported = stats(rows.map((x) => x.reported));
const recovery = stats(rows.map((x) => x.recovery));
const firstAck = stats(rows.map((x) => x.firstAck));
const a = summary.accounting;
const met = rows.length >= MIN_KILLS && takeover.max <= TAKEOVER_GOAL_S && a.lost === 0 && problems.length === 0;

out(`run ${relative(PROJECT_ROOT, run.runDir)}: k6-ha exited ${run.code}`);
out(
  '| kill | active → new active | kill → "Server is active" | kill → FT_ACTIVE reported | store recovery | kill → first ack |',
);
out('|---|---|---:|---:|---:|---:|');
for (const x of rows)
  out(
    `| ${x.id} | ${x.from} → ${x.to} | ${x.takeover.toFixed(3)} s | ${x.reported.toFixed(3)} s | ${x.recovery.toFixed(3)} s | ${x.firstAck.toFixed(3)} s |`,
  );
for (const p of problems) out(`problem: ${p}`);
out(
  `accounting: ${a.attempted} sent, ${a.acked} acked, ${a.failed} failed, ${a.unknown} unknown, LOST ${a.lost}, ${a.duplicates} duplicate(s) in the channel, ${a.sinkDuplicates} at the sink`,
);
out(
  `RESULT takeover (kill → "Server is active"): median ${takeover.median} s, max ${takeover.max} s over ${takeover.n} kills (goal max ≤ ${TAKEOVER_GOAL_S} s over ≥ ${MIN_KILLS}, nothing acked lost: ${met ? 'met' : 'NOT met'})`,
);
out(`RESULT kill → FT_ACTIVE reported: median ${reported.median} s, max ${reported.max} s`);
out(`RESULT store recovery: median ${recovery.median} s, max ${recovery.max} s`);
out(`RESULT kill → first acked publish: median ${firstAck.median} s, max ${firstAck.max} s`);
out(`load average before: ${loadBefore}; after: ${loadNow()}`);
out(`command: ${command}`);
saveResult('stan-failover', {
  command,
  machine,
  loadBefore,
  loadAfter: loadNow(),
  runDir: relative(PROJECT_ROOT, run.runDir),
  k6haExit: run.code,
  goal: `kill → takeover max ≤ ${TAKEOVER_GOAL_S} s over ≥ ${MIN_KILLS} kills, nothing acked lost`,
  met,
  takeover,
  reported,
  recovery,
  firstAck,
  accounting: { ...a, examples: undefined },
  rows,
  problems,
});
process.exitCode = met ? 0 : 1;
