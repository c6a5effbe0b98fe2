// The `command` chaos action: what no API can do from here (a cloud CLI deleting the VM behind a
// node, a script on a bastion host) runs as a local process with a timeout, and is recorded like
// every other action: exit code, duration and the tails of stdout and stderr on the timeline.
import { spawn } from 'node:child_process';
import { parseDurationMs } from '../shared/env-parse.ts';
import { CommandActionError, type CommandResult } from '../shared/errors.ts';
import { PROJECT_ROOT } from '../tools/toolchain.ts';
import type { ActionContext } from './contracts.ts';
import type { CommandAction } from '../experiment/experiment.ts';

const TAIL_BYTES = 2000;

/** Keeps the last `max` bytes of a stream's output: a chatty CLI must not fill the sidecar's memory. */
class Tail {
  private text = '';
  constructor(private readonly max = TAIL_BYTES) {}
  push(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-this.max);
  }
  toString(): string {
    return this.text;
  }
}

/** Runs argv (no shell) with a timeout; SIGTERM at the timeout, SIGKILL 5 s later. Never throws for a failed command. */
export function runCommand(
  argv: string[],
  opts: { timeoutMs: number; env?: Record<string, string>; cwd?: string; signal?: AbortSignal },
): Promise<CommandResult> {
  const [cmd, ...args] = argv;
  const started = Date.now();
  return new Promise((resolve) => {
    const stdout = new Tail();
    const stderr = new Tail();
    let timedOut = false;
    const child = spawn(cmd as string, args, {
      cwd: opts.cwd ?? PROJECT_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout.on('data', (d: Buffer) => stdout.push(d));
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    // The whole process group: a shell's children must not outlive the timeout.
    const killGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), 5000);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    opts.signal?.addEventListener('abort', stop, { once: true });
    const finish = (exitCode: number | null, signal: string | null): void => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', stop);
      resolve({
        exitCode,
        signal,
        timedOut,
        durationMs: Date.now() - started,
        stdoutTail: stdout.toString(),
        stderrTail: stderr.toString(),
      });
    };
    child.on('error', (err) => {
      stderr.push(Buffer.from(`cannot run ${cmd}: ${err.message}`));
      finish(null, null);
    });
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** Executes a `command` action and records its outcome; fails the action on timeout or an unexpected exit code. */
export async function executeCommandAction(action: CommandAction, ctx: ActionContext): Promise<void> {
  ctx.markExecuted([], null, { command: action.command.join(' ') });
  const result = await runCommand(action.command, {
    timeoutMs: parseDurationMs('timeout', action.timeout),
    env: action.env,
  });
  const detail = {
    action_id: ctx.id,
    exit_code: result.exitCode,
    signal: result.signal,
    timed_out: result.timedOut,
    duration_ms: result.durationMs,
    stdout_tail: result.stdoutTail,
    stderr_tail: result.stderrTail,
  };
  ctx.timeline.record('plan', 'command-finished', action.command[0] ?? null, detail);
  if (result.timedOut)
    throw new CommandActionError(`command timed out after ${action.timeout}: ${action.command.join(' ')}`, { result });
  if (result.exitCode !== action.expectExitCode) {
    const why =
      result.exitCode === null
        ? `was killed by ${result.signal ?? 'a signal'} or did not start`
        : `exited ${result.exitCode}`;
    throw new CommandActionError(
      `command ${why} (expected ${action.expectExitCode}): ${action.command.join(' ')}${result.stderrTail ? ` — ${result.stderrTail.trim().split('\n').at(-1)}` : ''}`,
      { result },
    );
  }
}
