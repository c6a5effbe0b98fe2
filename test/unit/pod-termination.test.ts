// terminateAsPod: what the kubelet does to a deleted pod's container, done to a local process —
// preStop hook first, then the stop signal, SIGKILL when the grace period (counted from the
// deletion) is over, and never less than the kubelet's 2 s for the stop signal.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KUBELET_MIN_GRACE_MS, ManagedProcess, ProcessRegistry, terminateAsPod } from '../../lib/stack/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'pod-termination-'));
const registry = new ProcessRegistry(dir);
after(() => {
  registry.dispose();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A shell "container" whose script sets how it treats signals (before it says ready); it logs what it saw. */
function container(script: string): { proc: ManagedProcess; log: string } {
  n += 1;
  const log = join(dir, `c${n}.log`);
  const proc = new ManagedProcess({
    name: `c${n}`,
    command: 'sh',
    args: ['-c', `${script}; echo ready; while :; do sleep 0.05; done`],
    logFile: log,
    registry,
  });
  return { proc, log };
}

async function started(proc: ManagedProcess): Promise<void> {
  const ready = proc.waitForLine(/^ready$/, 5000);
  proc.start();
  await ready;
}

describe('terminateAsPod (kubelet pod termination of a local process)', () => {
  it('a process that stops on SIGTERM is gone at once, without SIGKILL', async () => {
    const { proc } = container('trap "exit 0" TERM');
    await started(proc);
    const t = await terminateAsPod(proc, { graceMs: 10_000 });
    assert.equal(t.killed, false);
    assert.equal(t.stopSignal, 'SIGTERM');
    assert.equal(t.preStop, null);
    assert.equal(t.code, 0);
    assert.ok(t.tookMs < 2000, `took ${t.tookMs} ms`);
    assert.equal(proc.running, false);
    assert.equal(proc.expectedExit, true, 'a deletion is a planned exit');
  });

  it('one that ignores SIGTERM gets SIGKILL when the grace period is over', async () => {
    const { proc } = container('trap "" TERM');
    await started(proc);
    const t = await terminateAsPod(proc, { graceMs: 2500 });
    assert.equal(t.killed, true);
    assert.equal(t.signal, 'SIGKILL');
    assert.ok(t.tookMs >= 2400 && t.tookMs < 5000, `took ${t.tookMs} ms`);
  });

  it('runs the preStop hook first; a server that exits by itself after it (lame duck) is not killed', async () => {
    // As nats-server: lame-duck mode on SIGUSR2, after which SIGTERM is ignored, then its own exit.
    const { proc, log } = container(
      'trap "exit 1" TERM; trap "trap \\"\\" TERM; echo lame duck; sleep 0.5; echo exiting; exit 0" USR2',
    );
    await started(proc);
    const t = await terminateAsPod(proc, {
      graceMs: 10_000,
      preStop: { describe: (pid) => `signal ldm=${pid}`, run: async (pid) => void process.kill(pid, 'SIGUSR2') },
    });
    assert.equal(t.killed, false);
    assert.equal(t.code, 0);
    assert.match(t.preStop ?? '', /^signal ldm=\d+$/);
    assert.equal(t.preStopError, null);
    const lines = readFileSync(log, 'utf8');
    assert.ok(lines.indexOf('lame duck') >= 0 && lines.indexOf('lame duck') < lines.indexOf('exiting'), lines);
    assert.ok(t.tookMs >= 400 && t.tookMs < 5000, `took ${t.tookMs} ms`);
  });

  it('a failed preStop hook is recorded and the stop signal still goes out', async () => {
    const { proc } = container('trap "exit 3" TERM');
    await started(proc);
    const t = await terminateAsPod(proc, {
      graceMs: 10_000,
      preStop: { describe: () => 'false', run: () => Promise.reject(new Error('hook failed')) },
    });
    assert.equal(t.preStopError, 'hook failed');
    assert.equal(t.code, 3);
    assert.equal(t.killed, false);
  });

  it("a zero grace period still gives the stop signal the kubelet's minimum of 2 s", async () => {
    const { proc } = container('trap "" TERM');
    await started(proc);
    const t = await terminateAsPod(proc, { graceMs: 0 });
    assert.equal(t.graceMs, KUBELET_MIN_GRACE_MS);
    assert.equal(t.killed, true);
    assert.ok(t.tookMs >= 1900, `took ${t.tookMs} ms`);
  });

  it('a process that is not running is left alone', async () => {
    const { proc } = container('true');
    const t = await terminateAsPod(proc, { graceMs: 1000 });
    assert.equal(t.killed, false);
    assert.equal(t.tookMs < 100, true);
  });
});
