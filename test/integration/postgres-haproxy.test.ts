// The postgres-haproxy target with real servers (PostgreSQL streaming replication, HAProxy,
// nginx, dnsmasq) and real k6: replication is real, the seed's phases run end to end with every
// request accounted for, Ctrl-C leaves nothing behind (postgres's forked children included), and
// bad input is refused before anything starts.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startPostgresHaproxyStack } from '../../lib/stack/postgres-haproxy/stack.ts';
import {
  leftoverProcesses,
  markChildrenOfThisProcess,
  onlyRunDir,
  readJson,
  readTimeline,
  requireK6,
  runCli,
  scratchDir,
  startCli,
  writeExperiment,
} from '../support/cli.ts';

interface PhaseRow {
  phase: string;
  requests: number;
  ok: number;
  errors: number;
  errorsByClass: Record<string, number>;
  split: Record<string, Record<string, number>>;
}
interface Rebalance {
  actionId: string | null;
  member: string;
  attribute: string;
  firstResponseSeconds: number | null;
  balancedSeconds: number | null;
  note: string | null;
}
interface Summary {
  k6ha: { derived: Record<string, number | null>; tables?: Record<string, PhaseRow[]>; notes: string[] };
  rebalance?: Rebalance[];
  recovery: Array<{ actionId: string; recoverySeconds: number | null }>;
}

/** Processes working in the run directory (postgres chdirs into its data directory; its forked children keep that cwd and rewrite their environment). */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (cmd !== '' && (cwd.startsWith(dir) || cmd.includes(dir))) found.push(`${pid} ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const experiment = (
  name: string,
  nginx: string,
  plan: unknown[],
  env: Record<string, string>,
): Record<string, unknown> => ({
  name,
  scenario: 'http-get',
  target: { kind: 'local', stack: 'postgres-haproxy', nginx, healthCheck: { inter: '1s', fall: 2, rise: 2 } },
  env: { RATE: '20', REQUEST_TIMEOUT: '2s', ATTRIBUTE: 'pod,db', ...env },
  thresholds: 'http-observe',
  blastRadius: 3,
  plan,
});

describe(
  'postgres-haproxy (real PostgreSQL, HAProxy, nginx, dnsmasq)',
  { timeout: 300_000, concurrency: false },
  () => {
    it('replication is real: a row written on the primary is read through nginx → backend → HAProxy → replica', async () => {
      const marker = markChildrenOfThisProcess();
      const dir = scratchDir('pgha-repl');
      const stack = await startPostgresHaproxyStack({ runDir: dir, nginx: 're-resolve' });
      try {
        const before = (await (await fetch(stack.url)).json()) as { users: number };
        const rows = await stack.insertUser('written-on-primary');
        assert.equal(rows, before.users + 1);
        const seen = new Set<string>();
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && seen.size < 2) {
          const body = (await (await fetch(stack.url)).json()) as { users: number; db: string; pod: string };
          if (body.users === rows) seen.add(body.db);
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.deepEqual(
          [...seen].sort(),
          ['pg-replica-0', 'pg-replica-1'],
          'both replicas return the row written on the primary',
        );
      } finally {
        await stack.stop();
      }
      assert.deepEqual(await leftoverProcesses(marker), [], 'nothing left running');
      assert.deepEqual(processesUnder(dir), [], 'no postgres child left');
    });

    it('phases: every request accounted for; 2 replicas and 2 backends in phase 0, one replica in A; resolve-once keeps the 502s after the only backend is recreated', async () => {
      await requireK6();
      const dir = scratchDir('pgha-phases');
      const file = writeExperiment(
        dir,
        experiment(
          't-pgha-phases',
          'resolve-once',
          [
            { id: 'A', at: '6s', action: 'scale', target: { group: 'replicas' }, replicas: 1 },
            { id: 'A.restore', at: '12s', action: 'scale', target: { group: 'replicas' }, replicas: 2 },
            { id: 'C', at: '20s', action: 'scale', target: { group: 'backends' }, replicas: 1 },
            { id: 'C.drop', at: '24s', action: 'kill', target: { name: 'backend-0' }, restartAfter: '2s' },
            { id: 'C.restore', at: '27s', action: 'wait', until: 'leader', timeout: '1s' },
          ],
          { DURATION: '32s' },
        ),
      );
      const res = await runCli(['run', file, '--out-dir', dir], { timeoutMs: 150_000 });
      assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
      const runDir = onlyRunDir(dir);
      const s = readJson<Summary>(join(runDir, 'summary.json'));
      const d = s.k6ha.derived;
      assert.equal(d['get_sent'], (d['get_ok'] ?? 0) + (d['get_errors'] ?? 0), 'sent = ok + errors');
      assert.equal(
        (d['get_attributed'] ?? 0) + (d['get_unattributed'] ?? 0),
        d['get_ok'],
        'attributed + unattributed = ok',
      );
      assert.equal(d['get_unattributed'], 0, 'no db=unknown: every response is attributed from its body');
      const rows = Object.fromEntries((s.k6ha.tables?.['per phase'] ?? []).map((r) => [r.phase, r]));
      assert.equal(rows['0']?.errors, 0);
      for (const v of ['backend-0', 'backend-1'])
        assert.ok((rows['0']?.split['pod']?.[v] ?? 0) > 0, `phase 0: ${v} serves`);
      for (const v of ['pg-replica-0', 'pg-replica-1'])
        assert.ok((rows['0']?.split['db']?.[v] ?? 0) > 0, `phase 0: ${v} serves`);
      // A graceful stop closes the replica's socket: HAProxy's retries redispatch, so no request needs it.
      assert.equal(rows['A']?.split['db']?.['pg-replica-1'] ?? 0, 0, 'phase A: only pg-replica-0 serves');
      assert.ok((rows['A']?.ok ?? 0) > 0);
      assert.ok(
        (rows['A.restore']?.split['db']?.['pg-replica-1'] ?? 0) > 0,
        'pg-replica-1 serves again after A.restore',
      );
      // resolve-once: the recreated pod has a new address nginx never learns, so every request fails until a reload.
      assert.equal(
        rows['C.restore']?.ok,
        0,
        `C.restore: nginx still sends to the old address: ${JSON.stringify(rows['C.restore'])}`,
      );
      assert.ok((rows['C.restore']?.errorsByClass['502'] ?? 0) > 0, '502s in C.restore');
      // Per-second attribution: the returning replica answers once HAProxy has it UP again (rise × inter = 2 s
      // here, plus its start), the split is back within 60/40; the recreated backend-0 never answers (resolve-once).
      const replica = s.rebalance?.find((r) => r.actionId === 'A.restore' && r.member === 'pg-replica-1');
      assert.ok(replica !== undefined, `a rebalance row for A.restore: ${JSON.stringify(s.rebalance)}`);
      assert.ok(
        replica.firstResponseSeconds !== null && replica.firstResponseSeconds < 8,
        `pg-replica-1 answers again: ${JSON.stringify(replica)}`,
      );
      assert.ok(
        replica.balancedSeconds !== null && replica.balancedSeconds >= replica.firstResponseSeconds,
        `the split is back within 60/40: ${JSON.stringify(replica)}`,
      );
      const dropped = s.rebalance?.find((r) => r.actionId === 'C.drop' && r.member === 'backend-0');
      assert.equal(
        dropped?.firstResponseSeconds,
        null,
        `resolve-once: the recreated backend-0 never answers: ${JSON.stringify(dropped)}`,
      );
      assert.match(readFileSync(join(runDir, 'report.md'), 'utf8'), /## Rebalance after each restore/);
      // A's replica was brought back by the later A.restore: back then, not "did not come back".
      const a = s.recovery.find((r) => r.actionId === 'A');
      assert.ok(a?.recoverySeconds !== null && (a?.recoverySeconds ?? 0) > 5, `A recovered: ${JSON.stringify(a)}`);
      assert.ok(
        !s.k6ha.notes.some((n) => /^A: .*did not come back/.test(n)),
        `no "did not come back" for A: ${s.k6ha.notes.join(' | ')}`,
      );
      const timeline = readTimeline(runDir);
      assert.ok(
        timeline.some((e) => e.kind === 'haproxy-down' && e.target === 'pg-replica-1'),
        'HAProxy marked the stopped replica DOWN',
      );
      const up = timeline.find(
        (e) => e.kind === 'haproxy-up' && e.target === 'pg-replica-1' && (e.offset_ms ?? 0) > 12_000,
      );
      assert.ok(up !== undefined, 'HAProxy marked it UP again');
      assert.deepEqual(processesUnder(runDir), [], 'no server left running');
    });

    it('re-resolve: the 502s after the only backend is recreated end within about valid + its start', async () => {
      await requireK6();
      const dir = scratchDir('pgha-reresolve');
      const file = writeExperiment(
        dir,
        experiment(
          't-pgha-reresolve',
          're-resolve',
          [
            { id: 'C', at: '4s', action: 'scale', target: { group: 'backends' }, replicas: 1 },
            { id: 'C.drop', at: '8s', action: 'kill', target: { name: 'backend-0' }, restartAfter: '2s' },
            { id: 'C.restore', at: '11s', action: 'wait', until: 'leader', timeout: '1s' },
            { id: 'late', at: '15s', action: 'wait', until: 'leader', timeout: '1s' },
            // the seed's B.restore: the second backend comes back on a new address, which re-resolve learns
            { id: 'B.restore', at: '17s', action: 'scale', target: { group: 'backends' }, replicas: 2 },
          ],
          { DURATION: '25s' },
        ),
      );
      const res = await runCli(['run', file, '--out-dir', dir], { timeoutMs: 120_000 });
      assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
      const runDir = onlyRunDir(dir);
      const summary = readJson<Summary>(join(runDir, 'summary.json'));
      const rows = Object.fromEntries((summary.k6ha.tables?.['per phase'] ?? []).map((r) => [r.phase, r]));
      assert.ok((rows['C.drop']?.errors ?? 0) > 0, 'an error window while no backend runs');
      const back = summary.rebalance?.find((r) => r.actionId === 'C.drop' && r.member === 'backend-0');
      assert.ok(
        back?.firstResponseSeconds !== null &&
          back?.firstResponseSeconds !== undefined &&
          back.firstResponseSeconds < 5,
        `re-resolve: the recreated backend-0 answers within about valid + its start: ${JSON.stringify(back)}`,
      );
      assert.equal(rows['late']?.errors, 0, `the errors ended: ${JSON.stringify(rows['late'])}`);
      assert.ok(
        (rows['late']?.split['pod']?.['backend-0'] ?? 0) > 0,
        'the recreated backend-0 serves on its new address',
      );
      const b1 = summary.rebalance?.find((r) => r.actionId === 'B.restore' && r.member === 'backend-1');
      assert.ok(
        b1 !== undefined && b1.firstResponseSeconds !== null && b1.balancedSeconds !== null,
        `re-resolve: backend-1 is back and the split by pod is within 60/40 after B.restore: ${JSON.stringify(summary.rebalance)}`,
      );
      assert.equal(rows['B.restore']?.errors, 0, 'scaling up costs no request');
    });

    it('Ctrl-C leaves no postgres, haproxy, nginx or dnsmasq process behind', async () => {
      await requireK6();
      const dir = scratchDir('pgha-int');
      const file = writeExperiment(
        dir,
        experiment('t-pgha-int', 'resolve-once', [{ at: '2s', action: 'kill', target: { name: 'pg-replica-0' } }], {
          DURATION: '60s',
        }),
      );
      const cli = startCli(['run', file, '--out-dir', dir], { timeoutMs: 120_000 });
      await cli.waitForOutput(/load started/, 90_000);
      await new Promise((r) => setTimeout(r, 3000));
      cli.child.kill('SIGINT');
      const res = await cli.result;
      assert.equal(res.code, 130, `${res.stdout}\n${res.stderr}`);
      assert.deepEqual(await leftoverProcesses(cli.marker), []);
      assert.deepEqual(processesUnder(dir), [], 'no postgres child left');
    });

    it('bad input: an unknown nginx mode, a scale below 0 or above the group, an unknown group (exit 2), missing binaries (exit 3, the install line, nothing started)', async () => {
      const dir = scratchDir('pgha-bad');
      const bad = writeExperiment(dir, experiment('t-pgha-bad', 'sometimes', [], { DURATION: '5s' }));
      const r2 = await runCli(['run', bad, '--out-dir', dir]);
      assert.equal(r2.code, 2, r2.stderr);
      assert.match(r2.stderr, /target\.nginx/);
      const ok = writeExperiment(
        dir,
        experiment('t-pgha-nobin', 'resolve-once', [{ at: '1s', action: 'stop', target: { name: 'pg-replica-9' } }], {
          DURATION: '5s',
        }),
      );
      const r2b = await runCli(['run', ok, '--out-dir', dir]);
      assert.equal(r2b.code, 2, r2b.stderr);
      assert.match(r2b.stderr, /pg-replica-9 matches nothing/);
      const scales: Array<[unknown, RegExp]> = [
        [
          { at: '1s', action: 'scale', target: { group: 'replicas' }, replicas: -1 },
          /plan\[0\]\.replicas: -1 is not allowed — expected a number >= 0/,
        ],
        [
          { at: '1s', action: 'scale', target: { group: 'replicas' }, replicas: 3 },
          /replicas: 3 is not allowed — expected 0 to 2, the size of group replicas/,
        ],
        [
          { at: '1s', action: 'scale', target: { group: 'pods' }, replicas: 1 },
          /target\.group: "pods" is not allowed — expected one of replicas \(pg-replica-0, pg-replica-1\), backends/,
        ],
      ];
      for (const [i, [action, message]] of scales.entries()) {
        const f = writeExperiment(dir, experiment(`t-pgha-scale-${i}`, 'resolve-once', [action], { DURATION: '5s' }));
        const r = await runCli(['run', f, '--out-dir', dir]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, message);
      }
      const good = writeExperiment(dir, experiment('t-pgha-nobin2', 'resolve-once', [], { DURATION: '5s' }));
      const cli = startCli(['run', good, '--out-dir', dir], { env: { K6HA_STACK_BIN_PATH: '/nonexistent' } });
      const r3 = await cli.result;
      assert.equal(r3.code, 3, r3.stderr);
      assert.match(r3.stderr, /apt-get install -y postgresql haproxy nginx dnsmasq/);
      assert.match(r3.stderr, /initdb, pg_basebackup, postgres, haproxy, nginx, dnsmasq not found/);
      assert.deepEqual(await leftoverProcesses(cli.marker), []);
    });
  },
);
