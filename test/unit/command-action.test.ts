// The `command` action: a local process with a timeout, recorded like every action (exit code,
// duration, stdout/stderr tails); an unexpected exit code or a timeout fails the action.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ChaosExecutor, type ChaosWorld, LocalMemberDriver } from '../../lib/chaos/chaos.ts';
import { runCommand } from '../../lib/chaos/command-action.ts';
import { actionSchema } from '../../lib/experiment/experiment.ts';
import { Timeline } from '../../lib/chaos/timeline.ts';

const world: ChaosWorld = {
  members: () => [],
  streamMembers: async () => ({ leader: null, members: [] }),
  waitUntil: async () => true,
  currentLeader: () => null,
};

describe('command action', () => {
  it('records exit code and output tails; a wrong exit code or a timeout fails the action', async () => {
    const timeline = new Timeline(join(mkdtempSync(join(tmpdir(), 'k6ha-cmd-')), 'timeline.jsonl'));
    const plan = [
      { id: 'ok', at: '1ms', action: 'command', command: ['sh', '-c', 'echo deleting vm-1; echo warn >&2'] },
      { id: 'bad', at: '1ms', action: 'command', command: ['sh', '-c', 'echo quota exceeded >&2; exit 3'] },
      { id: 'slow', at: '1ms', action: 'command', command: ['sleep', '30'], timeout: '300ms' },
    ].map((a) => actionSchema.parse(a));
    const executor = new ChaosExecutor(plan, new LocalMemberDriver(world, 1), timeline);
    executor.start(Date.now());
    while (executor.executed.length < plan.length) await new Promise((r) => setTimeout(r, 10));
    await executor.settle();
    const finished = (id: string): Record<string, unknown> | undefined =>
      timeline.events.find((e) => e.kind === 'command-finished' && e.detail['action_id'] === id)?.detail;
    assert.equal(executor.executed.find((a) => a.id === 'ok')?.error, null);
    assert.deepEqual(
      [finished('ok')?.['exit_code'], finished('ok')?.['stdout_tail'], finished('ok')?.['stderr_tail']],
      [0, 'deleting vm-1\n', 'warn\n'],
    );
    assert.match(
      executor.executed.find((a) => a.id === 'bad')?.error ?? '',
      /command exited 3 \(expected 0\): sh -c .* — quota exceeded/,
    );
    assert.match(executor.executed.find((a) => a.id === 'slow')?.error ?? '', /command timed out after 300ms/);
    assert.equal(finished('slow')?.['timed_out'], true);
    timeline.close();
  });

  it('a command that cannot start is an error with the reason, not a crash', async () => {
    const r = await runCommand(['/nonexistent/cloud-cli'], { timeoutMs: 1000 });
    assert.equal(r.exitCode, null);
    assert.match(r.stderrTail, /cannot run \/nonexistent\/cloud-cli: spawn .*ENOENT/);
  });
});
