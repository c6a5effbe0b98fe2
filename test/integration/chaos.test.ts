// The sidecar end to end with real k6 and real nats-server members: leader kills at R1 and R3,
// the R3 leader's pod deleted (lame duck: the seed's scenario 4), a gate that fails (exit 99), a
// sidecar or the whole CLI killed mid-run, invalid plans, dry run, and Ctrl-C.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Accounting, RecoveryReport } from '../../lib/shared/types.ts';
import {
  leftoverProcesses,
  onlyRunDir,
  readJson,
  readTimeline,
  requireK6,
  runCli,
  scratchDir,
  startCli,
  startProcess,
  writeExperiment,
} from '../support/cli.ts';

interface RunSummary {
  accounting: Accounting;
  recovery: RecoveryReport[];
  k6ha: { notes: string[]; derived: Record<string, number | null> };
}

const base = (
  name: string,
  replicas: 1 | 3,
  plan: unknown[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  name,
  scenario: 'jetstream-publish',
  target: { kind: 'local', stack: 'jetstream', replicas },
  env: { RATE: '100', DURATION: '20s', REQUEST_TIMEOUT: '3s' },
  thresholds: 'ha-observe',
  plan,
  ...extra,
});

/** The invariants that tie k6's view to the stream's: they must hold whatever the chaos did. */
function assertConsistent(a: Accounting, runDir: string): void {
  assert.equal(a.acked + a.failed + a.unknown, a.attempted, 'every event sent has exactly one outcome');
  assert.equal(
    a.inStream,
    a.acked - a.lost + a.recovered,
    'the stream holds the acked events not lost, plus recovered unknowns',
  );
  assert.equal(a.streamDelta, a.inStream + a.duplicates, 'stream sequence numbers = distinct events + duplicates');
  // Ground truth for the sink: its own durable record on disk.
  const sinkIds = new Set(
    readFileSync(join(runDir, 'sink-ids.log'), 'utf8')
      .split('\n')
      .filter((l) => l !== ''),
  );
  assert.equal(a.sinkReceived, sinkIds.size, 'sink count equals the ids in its durable record');
  // The consumer must resume after the failover (it once stood still for 30 s: nats.js notices a
  // lost pull only after two missed heartbeats) and deliver everything the stream holds.
  assert.equal(
    a.missingAtSink,
    0,
    `every event in the stream reached the sink (consumed ${a.consumed}, sink ${a.sinkReceived}, in stream ${a.inStream})`,
  );
}

describe('chaos experiments (real k6, real nats-server)', { timeout: 600_000, concurrency: false }, () => {
  it('R3 leader kill: a new leader, zero acked loss, measured failover; ha-strict passes', async () => {
    await requireK6();
    const dir = scratchDir('r3');
    const file = writeExperiment(
      dir,
      base(
        't-r3-leader-kill',
        3,
        [{ id: 'kill-leader', at: '6s', action: 'kill', target: { leaderOf: 'sap' }, restartAfter: '6s' }],
        { thresholds: 'ha-strict' },
      ),
    );
    const res = await runCli(['run', file, '--out-dir', dir], { timeoutMs: 180_000 });
    assert.equal(res.code, 0, `ha-strict should pass at R3:\n${res.stdout}\n${res.stderr}`);
    const runDir = onlyRunDir(dir);
    const s = readJson<RunSummary>(join(runDir, 'summary.json'));
    assert.equal(s.accounting.lost, 0);
    assert.equal(s.accounting.duplicates, 0);
    assertConsistent(s.accounting, runDir);
    assert.equal(
      typeof s.k6ha.derived['publish_latency_p95_ms'],
      'number',
      'publish latency is reported under a profile with no latency gate',
    );
    const r = s.recovery[0];
    assert.ok(r, 'a recovery report for the action');
    assert.ok(
      r.leaderBefore !== null && r.leaderAfter !== null && r.leaderAfter !== r.leaderBefore,
      `leader moved: ${r.leaderBefore} → ${r.leaderAfter}`,
    );
    // nats-server's election timeout is a random 4–9 s: the failover is at least the shortest.
    assert.ok(
      r.leaderFailoverSeconds !== null && r.leaderFailoverSeconds >= 3.5 && r.leaderFailoverSeconds < 12,
      `failover ${r.leaderFailoverSeconds}s`,
    );
    const timeline = readTimeline(runDir);
    const executed = timeline.find((e) => e.source === 'plan' && e.kind === 'executed');
    assert.equal(executed?.target, r.leaderBefore, 'the action hit the leader resolved at action time');
    const elected = timeline.find((e) => e.kind === 'leader-elected' && e.target === r.leaderAfter);
    assert.equal(
      elected?.detail?.['via'],
      'advisory',
      "the election is timed by JetStream's own advisory, not by the next poll",
    );
    assert.ok(timeline.some((e) => e.kind === 'member-exited' && e.target === r.leaderBefore));
    assert.ok(timeline.some((e) => e.kind === 'restarted'));
  });

  it("R3 leader pod deleted (the seed's scenario 4, graceful): lame-duck hand-over, nothing acked lost, well under 1 % failed or unknown (seed: 16 of 32,237)", async (t) => {
    await requireK6();
    const dir = scratchDir('r3-pod-deleted');
    // The shipped experiment at the seed's 150 events/s, its load shortened (deletion at 10 s).
    const res = await runCli(
      ['run', 'experiments/jetstream-r3-leader-pod-deleted.json', '--duration', '25s', '--out-dir', dir],
      { timeoutMs: 180_000 },
    );
    assert.equal(
      res.code,
      0,
      `ha-strict should pass when the R3 leader's pod is deleted:\n${res.stdout}\n${res.stderr}`,
    );
    const runDir = onlyRunDir(dir);
    const s = readJson<RunSummary>(join(runDir, 'summary.json'));
    const a = s.accounting;
    assert.equal(a.lost, 0, 'nothing acked is lost');
    assert.equal(a.duplicates, 0);
    assertConsistent(a, runDir);
    assert.ok(a.attempted >= 3000, `the load ran at the seed's rate: ${a.attempted} events`);
    const notAcked = a.failed + a.unknown;
    assert.ok(
      notAcked / a.attempted < 0.01,
      `failed + unknown ${notAcked} of ${a.attempted} (${((100 * notAcked) / a.attempted).toFixed(2)} %) should be well under 1 %, as the seed's 0.05 %`,
    );
    const r = s.recovery[0];
    assert.ok(r, 'a recovery report for the deletion');
    assert.equal(r.kind, 'deletePod');
    assert.ok(
      r.leaderBefore !== null && r.leaderAfter !== null && r.leaderAfter !== r.leaderBefore,
      `leader moved: ${r.leaderBefore} → ${r.leaderAfter}`,
    );
    // Handed over in lame-duck mode, not elected after a missed heartbeat (4–9 s in nats-server).
    assert.ok(r.leaderFailoverSeconds !== null && r.leaderFailoverSeconds < 3, `failover ${r.leaderFailoverSeconds}s`);
    const timeline = readTimeline(runDir);
    const terminated = timeline.find((e) => e.source === 'plan' && e.kind === 'terminated');
    assert.equal(terminated?.target, r.leaderBefore, 'the leader resolved at action time was the pod deleted');
    assert.match(
      String(terminated?.detail['pre_stop']),
      /^nats-server --signal ldm=\d+$/,
      "the NATS chart's preStop ran",
    );
    assert.equal(terminated?.detail['sigkill'], false, 'it exited on its own within the grace period');
    assert.equal(terminated?.detail['code'], 0);
    assert.ok(
      timeline.some((e) => e.kind === 'member-stopped' && e.target === r.leaderBefore),
      'a planned exit, not a crash',
    );
    assert.ok(
      timeline.some((e) => e.kind === 'restarted' && e.target === r.leaderBefore),
      'the pod was recreated',
    );
    const log = readFileSync(join(runDir, `${r.leaderBefore}.log`), 'utf8');
    assert.match(log, /Entering lame duck mode/);
    t.diagnostic(
      `R3 pod deleted: ${notAcked} of ${a.attempted} not acked, unavailable ${r.unavailableSeconds}s, failover ${r.leaderFailoverSeconds}s, terminated in ${String(terminated?.detail['took_ms'])} ms`,
    );
  });

  it('R1 leader kill: publishes fail during the window, accounting matches the stream, and the steady gate fails with exit 99', async () => {
    const dir = scratchDir('r1');
    const file = writeExperiment(
      dir,
      base(
        't-r1-leader-kill',
        1,
        [{ id: 'kill-leader', at: '5s', action: 'kill', target: { leaderOf: 'sap' }, restartAfter: '5s' }],
        { thresholds: 'steady' },
      ),
    );
    const res = await runCli(['run', file, '--out-dir', dir], { timeoutMs: 180_000 });
    assert.equal(
      res.code,
      99,
      `the steady profile cannot pass with the only replica killed:\n${res.stdout}\n${res.stderr}`,
    );
    assert.match(res.stderr, /a gate failed/);
    const runDir = onlyRunDir(dir);
    const s = readJson<RunSummary>(join(runDir, 'summary.json'));
    assert.ok(
      s.accounting.failed + s.accounting.unknown > 50,
      `failures during the outage: ${s.accounting.failed + s.accounting.unknown}`,
    );
    assert.equal(s.accounting.lost, 0, 'acked events survive a SIGKILL of the only replica (page cache)');
    assertConsistent(s.accounting, runDir);
    const r = s.recovery[0];
    assert.ok(
      r && r.unavailableSeconds !== null && r.unavailableSeconds >= 3,
      `unavailable ${r?.unavailableSeconds}s while the member was down 5 s`,
    );
    assert.match(readFileSync(join(runDir, 'junit.xml'), 'utf8'), /<failure/);
    assert.match(readFileSync(join(runDir, 'report.md'), 'utf8'), /Total events sent by \*\*k6\*\*/);
  });

  it('wipe: a follower loses its data (node lost with its volume), rejoins and catches up; nothing acked is lost', async () => {
    const dir = scratchDir('wipe');
    const file = writeExperiment(
      dir,
      base(
        't-wipe-follower',
        3,
        [{ id: 'wipe-follower', at: '4s', action: 'wipe', target: { notLeaderOf: 'sap' }, restartAfter: '2s' }],
        { thresholds: 'ha-strict', env: { RATE: '100', DURATION: '16s', REQUEST_TIMEOUT: '3s' } },
      ),
    );
    const res = await runCli(['run', file, '--out-dir', dir], { timeoutMs: 180_000 });
    assert.equal(res.code, 0, `losing a follower's data must not cost acked events:\n${res.stdout}\n${res.stderr}`);
    const runDir = onlyRunDir(dir);
    const s = readJson<RunSummary>(join(runDir, 'summary.json'));
    assert.equal(s.accounting.lost, 0);
    assertConsistent(s.accounting, runDir);
    const timeline = readTimeline(runDir);
    const wiped = timeline.find((e) => e.kind === 'wiped')?.target;
    assert.ok(wiped, 'the wipe ran');
    assert.notEqual(wiped, s.recovery[0]?.leaderBefore, 'a follower, not the leader, was wiped');
    assert.ok(timeline.some((e) => e.kind === 'restarted' && e.target === wiped));
    const recovery = s.recovery[0];
    assert.ok(recovery, 'a recovery report for the wipe');
    assert.notEqual(recovery.recoverySeconds, null, 'replicas current again and the consumer drained');
  });

  it('kill -9 of the sidecar mid-run: timeline.jsonl stays intact, k6 finishes and fails closed (chaos_unmeasured), nothing is left running', async () => {
    const k6 = await requireK6();
    const dir = scratchDir('sidecar-kill');
    const file = writeExperiment(
      dir,
      base('t-sidecar-kill', 3, [{ at: '8s', action: 'kill', target: { notLeaderOf: 'sap' } }], {
        env: { RATE: '50', DURATION: '12s', REQUEST_TIMEOUT: '2s' },
      }),
    );
    const sidecar = startCli(['sidecar', file, '--out-dir', dir], { timeoutMs: 120_000 });
    let k6run: ReturnType<typeof startProcess> | null = null;
    try {
      const command = await sidecar.waitForOutput(/k6 run [^\n]+/);
      const args = command.split(' ').slice(1);
      k6run = startProcess(k6, [args[0] as string, '--quiet', ...args.slice(1)], { timeoutMs: 120_000 });
      await k6run.waitForOutput(/load starts now/);
      await new Promise((r) => setTimeout(r, 2500));
      sidecar.child.kill('SIGKILL');
      const k6res = await k6run.result;
      // It finishes on its own, and fails closed: gates on loss it could not measure do not pass.
      assert.equal(
        k6res.code,
        99,
        `k6 finished on its own, its chaos gates unmeasured (exit ${k6res.code}):\n${k6res.stdout}\n${k6res.stderr}`,
      );
      assert.match(
        k6res.stdout + k6res.stderr,
        /sidecar .* did not answer|could not be reached|did not return results/,
      );
      assert.match(k6res.stdout, /✗ chaos_unmeasured\.* count=1/);
      const runDir = onlyRunDir(dir);
      const lines = readFileSync(join(runDir, 'timeline.jsonl'), 'utf8').trimEnd().split('\n');
      const events = lines.map((l) => JSON.parse(l) as { kind: string });
      assert.ok(
        events.some((e) => e.kind === 'load-started'),
        'the events before the crash were flushed',
      );
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(
        await leftoverProcesses(sidecar.marker),
        [],
        'the reaper stopped the stack the dead sidecar left',
      );
    } finally {
      sidecar.child.kill('SIGKILL');
      k6run?.child.kill('SIGKILL');
    }
  });

  it('kill -9 of `k6-ha run` mid-run: its watchdogs stop k6 and the stack, the timeline so far is kept', async () => {
    await requireK6();
    const dir = scratchDir('cli-kill');
    const file = writeExperiment(
      dir,
      base('t-cli-kill', 3, [], { env: { RATE: '50', DURATION: '60s', REQUEST_TIMEOUT: '2s' } }),
    );
    const run = startCli(['run', file, '--out-dir', dir], { timeoutMs: 120_000 });
    try {
      await run.waitForOutput(/load starts now/, 90_000);
      await new Promise((r) => setTimeout(r, 1000));
      run.child.kill('SIGKILL');
      await run.result;
      // The watchdogs poll every 0.5 s; 5 s is the margin for a busy CI machine.
      assert.deepEqual(
        await leftoverProcesses(run.marker, 5000),
        [],
        'k6 (in its own process group) and the stack went with the CLI',
      );
      assert.ok(
        readTimeline(onlyRunDir(dir)).some((e) => e.kind === 'load-started'),
        'the timeline up to the kill is on disk',
      );
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('refuses invalid plans with exit 2, naming the problem, starting nothing', async () => {
    const dir = scratchDir('invalid');
    const nothing = writeExperiment(
      dir,
      base('t-nothing', 3, [{ at: '2s', action: 'kill', target: { name: 'eventing-nats-9' } }]),
    );
    let res = await runCli(['run', nothing, '--out-dir', dir]);
    assert.equal(res.code, 2);
    assert.match(
      res.stderr,
      /plan refused, nothing was started:\n\s+plan\[0\] \(a1-kill\): target name=eventing-nats-9 matches nothing; members are eventing-nats-0/,
    );
    const wide = writeExperiment(
      dir,
      base('t-wide', 3, [{ at: '2s', action: 'stop', target: { notLeaderOf: 'sap' }, pick: 'all' }]),
    );
    res = await runCli(['run', wide, '--out-dir', dir]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /would touch 2 members, more than blastRadius 1/);
    const typo = writeExperiment(dir, base('t-typo', 3, [{ at: 'soon', action: 'kill', target: { leaderOf: 'sap' } }]));
    res = await runCli(['run', typo, '--out-dir', dir]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /plan\[0\]\.at: "soon" is not allowed — expected a duration such as 30s/);
    res = await runCli(['run', 'experiments/steady-state.json', '--rate', 'lots', '--out-dir', dir]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /invalid --rate="lots": a whole number/);
    res = await runCli(['run', join(dir, 'missing.json'), '--out-dir', dir]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /cannot read experiment .*missing\.json/);
    assert.deepEqual(
      readdirSync(dir).filter((d) => !d.endsWith('.json')),
      [],
      'no run directory was created',
    );
  });

  it('--dry-run prints resolved targets and changes nothing', async () => {
    const dir = scratchDir('dry');
    const res = await runCli(['run', 'experiments/jetstream-r1-other-node-lost.json', '--dry-run', '--out-dir', dir]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout,
      /notLeaderOf=sap\s+→ eventing-nats-0 \| eventing-nats-1 \| eventing-nats-2\s+\(resolved at action time: a member that is not the leader\)/,
    );
    assert.match(res.stdout, /dry run: nothing was started or changed/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('Ctrl-C stops the schedule and restarts the member the plan took down', async () => {
    const dir = scratchDir('ctrl-c');
    const file = writeExperiment(
      dir,
      base(
        't-ctrl-c',
        3,
        [
          { id: 'stop-other', at: '3s', action: 'stop', target: { notLeaderOf: 'sap' }, restartAfter: '2m' },
          { id: 'never', at: '25s', action: 'kill', target: { leaderOf: 'sap' } },
          // Two members down at once at 25 s, had it run: the plan must say it may touch two.
        ],
        { env: { RATE: '50', DURATION: '40s', REQUEST_TIMEOUT: '2s' }, blastRadius: 2 },
      ),
    );
    const run = startCli(['run', file, '--out-dir', dir], { timeoutMs: 120_000 });
    await run.waitForOutput(/plan executed (eventing-nats-\d)/, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    run.child.kill('SIGINT');
    const res = await run.result;
    assert.equal(res.code, 130, `an interrupted run exits 130:\n${res.stderr.slice(-2000)}`);
    const runDir = onlyRunDir(dir);
    const timeline = readTimeline(runDir);
    const stopped = timeline.find((e) => e.source === 'plan' && e.kind === 'executed')?.target;
    assert.ok(stopped, 'the stop action ran');
    assert.ok(
      timeline.some((e) => e.kind === 'restored' && e.target === stopped),
      `${stopped} was restored`,
    );
    assert.ok(
      timeline.some((e) => e.kind === 'cancelled'),
      'the pending leader kill was cancelled',
    );
    assert.ok(!timeline.some((e) => e.source === 'plan' && e.kind === 'executed' && e.detail['action_id'] === 'never'));
    assert.ok(
      timeline.some((e) => e.source === 'sidecar' && e.kind === 'interrupted'),
      'the moment of the Ctrl-C is on the timeline',
    );
    const s = readJson<RunSummary>(join(runDir, 'summary.json'));
    // Requests cancelled by the stop have no outcome k6 could report: unknown, never "lost" or
    // "unexpected" (a follower was down, so nothing acked was really lost).
    assert.equal(s.accounting.lost, 0, JSON.stringify(s.accounting));
    assert.equal(s.accounting.unexpected, 0, JSON.stringify(s.accounting));
    assert.equal(s.accounting.acked + s.accounting.failed + s.accounting.unknown, s.accounting.attempted);
    assert.deepEqual(await leftoverProcesses(run.marker), [], 'nothing the run started is still running (k6, stack)');
  });
});
