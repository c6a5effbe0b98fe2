// Seed 004 end to end with real k6 and real nats-streaming-server members in FT mode on one shared
// file store: the active's kill elects a standby and the run reconciles (nothing acked lost, the
// numbers add up against the publisher's own record and the channel); a standby's kill changes
// nothing; bad plans are refused before anything starts; a missing server binary fails with the
// install hint.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Accounting, RecoveryReport } from '../../lib/shared/types.ts';
import { ensureTool } from '../../lib/tools/toolchain.ts';
import {
  onlyRunDir,
  readJson,
  readTimeline,
  requireK6,
  runCli,
  scratchDir,
  startCli,
  leftoverProcesses,
  writeExperiment,
} from '../support/cli.ts';

interface RunSummary {
  accounting: Accounting;
  recovery: RecoveryReport[];
  k6ha: { notes: string[]; derived: Record<string, number | null> };
}

/** nats-streaming-server v0.25.6 from .tools/bin (npm test builds it), or a failure saying how to get it. */
function requireStanServer(): Promise<string> {
  return ensureTool('nats-streaming-server', { install: false });
}

const lines = (file: string): string[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];

/** k6's view, the channel's and the publisher's own record must agree, whatever the chaos did. */
function assertReconciles(a: Accounting, runDir: string): void {
  assert.equal(a.acked + a.failed + a.unknown, a.attempted, 'every event sent has exactly one outcome');
  assert.equal(
    a.inStream,
    a.acked - a.lost + a.recovered,
    'the channel holds the acked events not lost, plus recovered',
  );
  assert.equal(a.streamDelta, a.inStream + a.duplicates, 'channel sequences = distinct events + duplicates');
  // The publisher wrote every acked id to its own file before the 204 went out.
  const publisherAcked = new Set(lines(join(runDir, 'publisher-acked-ids.log')));
  assert.equal(publisherAcked.size, a.acked, "k6's acked count equals the publisher's own record of acks");
  const sink = new Set(lines(join(runDir, 'sink-ids.log')));
  assert.equal(a.sinkReceived, sink.size, "the sink's count equals the ids in its durable record");
  assert.equal(a.missingAtSink, 0, 'the durable subscription delivered everything in the channel after the failover');
}

describe(
  'nats-streaming FT group (real k6, real nats-streaming-server)',
  { timeout: 600_000, concurrency: false },
  () => {
    it("the active's kill: a standby reports FT_ACTIVE, publishing resumes, nothing acked is lost and the run reconciles", async (t) => {
      await requireK6();
      await requireStanServer();
      const dir = scratchDir('stan-active-kill');
      const res = await runCli(
        ['run', 'experiments/stan-ft-active-killed.json', '--duration', '25s', '--out-dir', dir],
        { timeoutMs: 240_000 },
      );
      assert.equal(res.code, 0, `ft-at-least-once should pass:\n${res.stdout}\n${res.stderr}`);
      const runDir = onlyRunDir(dir);
      const s = readJson<RunSummary>(join(runDir, 'summary.json'));
      const a = s.accounting;
      assert.equal(a.lost, 0, 'nothing acked is lost');
      assert.equal(a.unexpected, 0);
      assert.ok(a.attempted >= 3000, `the load ran at 150/s: ${a.attempted} events`);
      assertReconciles(a, runDir);
      const r = s.recovery[0];
      assert.ok(r, 'a recovery report for the kill');
      assert.ok(
        r.leaderBefore !== null && r.leaderAfter !== null && r.leaderAfter !== r.leaderBefore,
        `the active moved: ${r.leaderBefore} → ${r.leaderAfter}`,
      );
      // A standby tries the lock 1.25 s ± 10 % after the last heartbeat it heard, and heartbeats
      // come every second: takeover between ~0.1 s and ~2.4 s after the kill; 5 s for a loaded machine.
      assert.ok(
        r.leaderFailoverSeconds !== null && r.leaderFailoverSeconds > 0 && r.leaderFailoverSeconds < 5,
        `action → a standby reports FT_ACTIVE: ${r.leaderFailoverSeconds}s`,
      );
      assert.ok(
        typeof r.firstAckSeconds === 'number' && r.firstAckSeconds >= r.leaderFailoverSeconds,
        `the first ack after the new active comes after it took over: ${r.firstAckSeconds}s`,
      );
      const timeline = readTimeline(runDir);
      const executed = timeline.find((e) => e.source === 'plan' && e.kind === 'executed');
      assert.equal(executed?.target, r.leaderBefore, 'the kill hit the member that was active at action time');
      const activeBefore = timeline.filter((e) => e.kind === 'ft-active' && (e.offset_ms ?? -1) < 10_000);
      assert.equal(activeBefore.at(-1)?.target, r.leaderBefore, 'the timeline saw that member active before the kill');
      assert.ok(
        timeline.some((e) => e.kind === 'ft-no-active'),
        'the group had no active member for a moment',
      );
      assert.ok(
        timeline.some((e) => e.kind === 'ft-active' && e.target === r.leaderAfter && (e.offset_ms ?? 0) > 10_000),
        'a standby reported FT_ACTIVE after the kill',
      );
      assert.ok(
        timeline.some((e) => e.kind === 'ft-standby' && e.target === r.leaderBefore && (e.offset_ms ?? 0) > 20_000),
        'the killed member came back as a standby',
      );
      // The new active recovered the shared store: its log says so (the seed's "Server is active").
      const log = readFileSync(join(runDir, `${r.leaderAfter}.log`), 'utf8');
      assert.match(log, /STREAM: Server is active/);
      assert.match(log, /STREAM: Recovered \d+ channel\(s\)|STREAM: Recovering the state/);
      t.diagnostic(
        `active kill: ${r.leaderBefore} → ${r.leaderAfter} in ${r.leaderFailoverSeconds}s, first ack after ${r.firstAckSeconds}s; ${a.failed + a.unknown} of ${a.attempted} not acked, ${a.duplicates} duplicate(s) in the channel`,
      );
    });

    it("a standby's kill: the active goes on — no failover, nothing failed, nothing lost", async () => {
      await requireK6();
      await requireStanServer();
      const dir = scratchDir('stan-standby-kill');
      const res = await runCli(
        ['run', 'experiments/stan-ft-standby-killed.json', '--duration', '20s', '--out-dir', dir],
        { timeoutMs: 240_000 },
      );
      assert.equal(res.code, 0, `ft-at-least-once should pass:\n${res.stdout}\n${res.stderr}`);
      const runDir = onlyRunDir(dir);
      const s = readJson<RunSummary>(join(runDir, 'summary.json'));
      const a = s.accounting;
      assert.equal(a.failed + a.unknown, 0, 'every publish acked');
      assert.equal(a.lost, 0);
      // A standby's kill gives the publisher no reason to publish again. On a loaded machine (CI
      // runs this beside other suites) an ack can still take longer than the client's 2 s ack
      // timeout; the event is then published again and, STAN having no de-duplication, stored
      // twice. So: every duplicate must be one of the publisher's own re-publishes (its note).
      const republished = Number(/published (\d+) event\(s\) again/.exec(s.k6ha.notes.join('\n'))?.[1] ?? 0);
      assert.ok(
        a.duplicates <= republished,
        `duplicates ${a.duplicates} not explained by re-publishes (${republished}): ${s.k6ha.notes.join('; ')}`,
      );
      assertReconciles(a, runDir);
      const r = s.recovery[0];
      assert.ok(r, 'a recovery report for the kill');
      assert.notEqual(r.target, r.leaderBefore, 'the member killed was not the active one');
      assert.equal(r.leaderAfter, r.leaderBefore, 'the active stayed active');
      assert.equal(r.leaderFailoverSeconds, null, 'no failover');
      const timeline = readTimeline(runDir);
      assert.ok(!timeline.some((e) => e.kind === 'ft-no-active'), 'the group always had an active member');
      assert.ok(
        timeline.some((e) => e.kind === 'ft-standby' && e.target === r.target && (e.offset_ms ?? -1) < 10_000),
        'the member killed was a standby before the kill',
      );
    });

    it('refuses an activeOf of a group that does not exist, a standbyOf on JetStream and 4 members before anything starts (exit 2)', async () => {
      const dir = scratchDir('stan-bad');
      const experiment = JSON.parse(readFileSync('experiments/stan-ft-active-killed.json', 'utf8')) as Record<
        string,
        unknown
      >;
      const noGroup = writeExperiment(dir, {
        ...experiment,
        $schema: undefined,
        name: 't-stan-no-group',
        plan: [{ at: '5s', action: 'kill', target: { activeOf: 'no-such-group' } }],
      });
      const run = startCli(['run', noGroup, '--out-dir', dir], { timeoutMs: 60_000 });
      const res = await run.result;
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /target\.activeOf: "no-such-group" is not allowed — expected one of "test-cluster"/);
      assert.match(res.stderr, /nothing was started/);
      assert.deepEqual(await leftoverProcesses(run.marker), [], 'no process was left running');
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.startsWith('2')),
        [],
        'no run directory was made',
      );

      const onJetStream = writeExperiment(dir, {
        ...experiment,
        $schema: undefined,
        name: 't-stan-on-jetstream',
        target: { kind: 'local', stack: 'jetstream', replicas: 3 },
        plan: [{ at: '5s', action: 'kill', target: { standbyOf: 'test-cluster' } }],
      });
      const res2 = await runCli(['validate', onJetStream]);
      assert.equal(res2.code, 2, res2.stderr);
      assert.match(
        res2.stderr,
        /target\.standbyOf: "test-cluster" is not allowed — expected nothing: this target has no fault-tolerance group/,
      );

      const fourMembers = writeExperiment(dir, {
        ...experiment,
        $schema: undefined,
        name: 't-stan-four',
        target: { kind: 'local', stack: 'nats-streaming', members: 4 },
      });
      const res3 = await runCli(['validate', fourMembers]);
      assert.equal(res3.code, 2, res3.stderr);
      assert.match(res3.stderr, /target\.members: 4 is not allowed — expected 2 or 3/);
    });

    it('without nats-streaming-server and without Go: exit 3 with the install hint', async () => {
      const k6 = await requireK6();
      const tools = scratchDir('stan-tools');
      symlinkSync(k6, join(tools, 'k6'));
      const dir = scratchDir('stan-notool');
      const res = await runCli(['run', 'experiments/stan-ft-active-killed.json', '--out-dir', dir], {
        // An empty PATH: a go (or a nats-streaming-server) in /usr/bin or /usr/local must not leak in.
        env: { PATH: scratchDir('stan-empty-path'), K6HA_TOOLS_BIN: tools },
        timeoutMs: 60_000,
      });
      assert.equal(res.code, 3, res.stderr);
      assert.match(res.stderr, /nats-streaming-server not found, and Go is not installed to build it/);
      assert.match(res.stderr, /end of life since 2023/);
      assert.match(res.stderr, /npm run setup/);
      assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
    });
  },
);
