// execKill: make a container's main process (PID 1) exit, through the pod exec API — the s3gw
// restart probe, without patching the application. `kill -s TERM 1` gives most runtimes exit
// code 143 (128+15); an application that can exit with a chosen code (s3gw's patched radosgw)
// is asked with its own `command`. The kubelet then restarts the container (and backs off).
import { Writable } from 'node:stream';
import type { Exec, V1Status } from '@kubernetes/client-node';
import { ExecError } from '../shared/errors.ts';

export type KillSignal = 'TERM' | 'INT' | 'QUIT' | 'HUP' | 'KILL' | 'USR1' | 'USR2' | 'ABRT' | 'SEGV';

/** The command run in the container: the plan's own, or `kill -s <signal> 1` through sh (kill is a builtin there). */
export function killCommand(signal: KillSignal, command?: string[]): string[] {
  return command ?? ['sh', '-c', `kill -s ${signal} 1`];
}

export interface ExecOutcome {
  /** Success, Failure (non-zero exit or an API refusal), or closed (the connection ended without a status: PID 1 died with it) */
  status: 'Success' | 'Failure' | 'closed';
  exitCode: number | null;
  message: string | null;
  stdout: string;
  stderr: string;
}

/** Runs a command in a container; a seam so the request can be checked without a kubelet. */
export interface ExecRunner {
  run(namespace: string, pod: string, container: string, command: string[], timeoutMs: number): Promise<ExecOutcome>;
}

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-2000);
    done();
  }
}

/** The exit code in a V1Status from the exec stream (`NonZeroExitCode`, cause `ExitCode`). */
export function exitCodeOf(status: V1Status): number | null {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const n = Number(cause?.message);
  return Number.isInteger(n) ? n : null;
}

/** The client-node exec (a WebSocket to /api/v1/namespaces/<ns>/pods/<pod>/exec). */
export class ClientExecRunner implements ExecRunner {
  constructor(private readonly exec: Exec) {}

  async run(
    namespace: string,
    pod: string,
    container: string,
    command: string[],
    timeoutMs: number,
  ): Promise<ExecOutcome> {
    const stdout = new Collect();
    const stderr = new Collect();
    let status: V1Status | null = null;
    let socket: Awaited<ReturnType<Exec['exec']>>;
    try {
      socket = await this.exec.exec(namespace, pod, container, command, stdout, stderr, null, false, (s) => {
        status = s;
      });
    } catch (err) {
      throw new ExecError(`exec in ${namespace}/${pod} (container ${container}) failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.close();
        resolve();
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      if (socket.readyState === socket.CLOSED) done();
      else socket.on('close', done);
    });
    const s = status as V1Status | null;
    if (s === null)
      return { status: 'closed', exitCode: null, message: null, stdout: stdout.text, stderr: stderr.text };
    return {
      status: s.status === 'Success' ? 'Success' : 'Failure',
      exitCode: exitCodeOf(s),
      message: s.message ?? null,
      stdout: stdout.text,
      stderr: stderr.text,
    };
  }
}
