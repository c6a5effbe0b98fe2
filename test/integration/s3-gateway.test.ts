// The s3-gateway target with a real versitygw (posix backend) and real k6 running s3-objects:
// SIGKILLs of the one active gateway while k6 is writing lose no acked object and corrupt none
// (or the failure lists exactly which), checked three ways — the sidecar's read-back, k6's own
// samples (which PUTs the kills cut mid-request) and the gateway's directory on disk; a graceful
// pod deletion goes through versitygw's own shutdown; wrong credentials are refused before any load
// with exit 2 naming the variable; a missing versitygw fails with exit 3 and how to install it.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Accounting, RecoveryReport } from '../../lib/shared/types.ts';
import { ensureTool } from '../../lib/tools/toolchain.ts';
import { filesUnder, putSamples } from '../support/s3-samples.ts';
import {
  leftoverProcesses,
  onlyRunDir,
  readJson,
  readTimeline,
  requireK6,
  runCli,
  scratchDir,
  startCli,
  writeExperiment,
} from '../support/cli.ts';

interface Summary {
  accounting: Accounting;
  recovery: RecoveryReport[];
  k6ha: { derived: Record<string, number | null>; notes: string[] };
}

const requireVersitygw = (): Promise<string> => ensureTool('versitygw', { install: false });

const experiment = (name: string, plan: unknown[], env: Record<string, string>, thresholds = 's3-ha') => ({
  name,
  scenario: 's3-objects',
  target: { kind: 'local', stack: 's3-gateway' },
  env: { RATE: '30', REQUEST_TIMEOUT: '3s', ...env },
  thresholds,
  blastRadius: 1,
  plan,
});

describe('s3-gateway (real versitygw, real k6)', { timeout: 300_000, concurrency: false }, () => {
  it('SIGKILLs mid-write lose no acked object and corrupt none: read-back, k6 samples and the directory agree', async () => {
    await requireK6();
    await requireVersitygw();
    const dir = scratchDir('s3-kill');
    // Ten kills, 1.5 s apart, while 4–8 MiB PUTs stream in: some are cut mid-request (checked
    // below, from k6's samples). A PUT takes ~35 ms and about 24 start each second, so at any one
    // kill there is a PUT in flight only about half the time: with four kills, one CI run in ~30
    // had none cut (all four landed between PUTs); with ten, that is about one in a thousand.
    // (1–4 MiB PUTs took 7–34 ms and were mostly missed; 16 MiB was more than k6 could send at this rate.)
    const KILLS = 10;
    const file = writeExperiment(
      dir,
      experiment(
        't-s3-kill-mid-write',
        Array.from({ length: KILLS }, (_, i) => ({
          id: `kill-${i + 1}`,
          at: `${2000 + i * 1500}ms`,
          action: 'kill',
          target: { leaderOf: 'gateway' },
          restartAfter: '500ms',
        })),
        { DURATION: '18s', S3_MIX: 'put=80,get=15,list=5', S3_SIZES: '4MiB,8MiB' },
      ),
    );
    // k6's raw samples for the mid-write check below: k6-ha's per-second source is k6's dashboard
    // recording (aggregates), so the test asks k6 for `--out json` itself (K6_OUT, k6's own variable).
    const samplesFile = join(dir, 'k6-samples.json.gz');
    const run = startCli(['run', file, '--out-dir', dir], {
      timeoutMs: 200_000,
      env: { K6_OUT: `json=${samplesFile}` },
    });
    const res = await run.result;
    const runDir = onlyRunDir(dir);
    const s = readJson<Summary>(join(runDir, 'summary.json'));
    const a = s.accounting;
    assert.ok(a !== null, `the read-back ran:\n${res.stderr}`);
    // The verdict first, with exactly which objects when it fails.
    assert.equal(a.lost, 0, `acked objects lost: ${JSON.stringify(a.examples.lost)}`);
    assert.equal(a.corrupt, 0, `objects read back corrupt: ${JSON.stringify(a.examples.corrupt)}`);
    assert.equal(a.unexpected, 0, `unexpected objects: ${JSON.stringify(a.examples.unexpected)}`);
    assert.equal(res.code, 0, `all s3-ha gates pass:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-2000)}`);

    // The kills were real SIGKILLs of the gateway, each followed by a restart on the same directory.
    const timeline = readTimeline(runDir);
    const kills = timeline.filter((e) => e.source === 'plan' && e.kind === 'executed');
    assert.equal(kills.length, KILLS);
    const exits = timeline.filter((e) => e.source === 'member' && e.kind === 'member-exited');
    assert.equal(exits.filter((e) => e.detail['signal'] === 'SIGKILL').length, KILLS, JSON.stringify(exits));
    assert.equal(timeline.filter((e) => e.source === 'plan' && e.kind === 'restarted').length, KILLS);
    assert.equal(s.recovery.length, KILLS);
    for (const r of s.recovery) assert.ok((r.recoverySeconds ?? 99) < 10, `${r.actionId} back within 10 s`);

    // Mid-write: PUTs that were in flight at a kill and got no answer (reset, EOF), from k6's samples.
    const killAt = kills.map((k) => Date.parse((k as unknown as { ts: string }).ts));
    const puts = putSamples(samplesFile);
    const cut = puts.filter(
      (p) => p.status === '0' && !p.error.startsWith('dial') && killAt.some((k) => p.start <= k + 50 && p.end >= k),
    );
    assert.ok(
      cut.length >= 1,
      `at least one PUT was cut mid-request by a kill (${puts.length} PUTs; errors: ${[...new Set(puts.map((p) => p.error))].join(' | ')})`,
    );
    // k6 and the sidecar agree on the PUTs and their outcomes.
    assert.equal(a.attempted, puts.length, 'every PUT k6 made is accounted for by key');
    assert.equal(a.acked, puts.filter((p) => p.status === '200').length);
    assert.equal(a.unknown, puts.filter((p) => p.status === '0' || Number(p.status) >= 500).length);

    // The directory the gateway owns holds exactly the objects the read-back found (posix: one file per key).
    const runTag = String(timeline.find((e) => e.kind === 'load-started')?.detail['run_tag']);
    const onDisk = filesUnder(join(runDir, 's3gw-0', 'data', 'k6ha', 'k6ha', runTag));
    assert.equal(onDisk.length, a.inStream, `files on disk: ${onDisk.length}, readable objects: ${a.inStream}`);
    assert.equal(a.inStream, a.acked + a.recovered, 'readable = acked + unknown that were stored intact');
    assert.deepEqual(await leftoverProcesses(run.marker), [], 'nothing the run started is still running');
  });

  it("a pod deletion stops the gateway through versitygw's own shutdown, then it serves its directory again", async () => {
    await requireK6();
    await requireVersitygw();
    const dir = scratchDir('s3-pod');
    const file = writeExperiment(
      dir,
      experiment(
        't-s3-pod-deleted',
        [{ id: 'pod-deleted', at: '4s', action: 'deletePod', target: { name: 's3gw-0' }, gracePeriod: '20s' }],
        { DURATION: '10s', S3_SIZES: '1KiB,64KiB' },
      ),
    );
    const res = await runCli(['run', file, '--out-dir', dir], { timeoutMs: 120_000 });
    const runDir = onlyRunDir(dir);
    const s = readJson<Summary>(join(runDir, 'summary.json'));
    assert.equal(res.code, 0, `${res.stdout.slice(-3000)}\n${res.stderr.slice(-2000)}`);
    assert.equal(s.accounting.lost, 0);
    assert.equal(s.accounting.corrupt, 0);
    const terminated = readTimeline(runDir).find((e) => e.source === 'plan' && e.kind === 'terminated');
    assert.ok(terminated !== undefined, 'the deletion was recorded');
    assert.equal(terminated.detail['sigkill'], false, `no SIGKILL was needed: ${JSON.stringify(terminated.detail)}`);
    assert.equal(terminated.detail['stop_signal'], 'SIGTERM');
    assert.equal(terminated.detail['code'], 0, 'versitygw exited 0 on its own');
    const log = readFileSync(join(runDir, 's3gw-0.log'), 'utf8');
    assert.match(log, /terminating signal caught, shutting down/, "versitygw's own shutdown ran");
  });

  for (const [setting, env, code] of [
    ['S3_SECRET_KEY', 'S3_SECRET_KEY=not-the-gateway-secret', 'SignatureDoesNotMatch'],
    // versitygw's answer to an unknown access key (AWS says InvalidAccessKeyId).
    ['S3_ACCESS_KEY', 'S3_ACCESS_KEY=nobody-here', 'XAdminUserNotFound'],
  ] as const) {
    it(`a wrong ${setting} is refused before any load: exit 2 naming it, nothing left running`, async () => {
      await requireK6();
      await requireVersitygw();
      const dir = scratchDir('s3-creds');
      const file = writeExperiment(
        dir,
        experiment(`t-s3-bad-${setting.toLowerCase().replaceAll('_', '-')}`, [], { DURATION: '5s' }, 's3-steady'),
      );
      const run = startCli(['run', file, '--out-dir', dir, '-e', env], { timeoutMs: 60_000 });
      const res = await run.result;
      assert.equal(res.code, 2, `${res.stdout}\n${res.stderr}`);
      assert.match(res.stderr, new RegExp(`invalid ${setting}=`));
      assert.match(res.stderr, new RegExp(code));
      assert.doesNotMatch(res.stderr, /not-the-gateway-secret/, 'the secret is not printed');
      const runDir = onlyRunDir(dir);
      assert.equal(existsSync(join(runDir, 'k6.log')), false, 'k6 never started');
      assert.deepEqual(await leftoverProcesses(run.marker), [], 'the gateway was stopped');
    });
  }

  it('without versitygw and without Go: exit 3 and how to install it', async () => {
    const k6 = await requireK6();
    // A PATH with k6 alone (no go, no versitygw) and an empty tools directory.
    const pathDir = scratchDir('s3-path');
    mkdirSync(pathDir, { recursive: true });
    symlinkSync(k6, join(pathDir, 'k6'));
    const dir = scratchDir('s3-missing');
    const file = writeExperiment(dir, experiment('t-s3-no-gateway', [], { DURATION: '5s' }, 's3-steady'));
    const res = await runCli(['run', file, '--out-dir', dir], {
      timeoutMs: 60_000,
      env: { PATH: pathDir, K6HA_TOOLS_BIN: scratchDir('s3-empty-tools') },
    });
    assert.equal(res.code, 3, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stderr, /versitygw not found, and Go is not installed to build it/);
    assert.match(res.stderr, /npm run setup/);
    assert.match(res.stderr, /github\.com\/versity\/versitygw/);
  });
});
