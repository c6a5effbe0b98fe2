// Child processes of the local stack ("pods"): each in its own process group so a signal reaches
// exactly the process we mean, logging to a file under the run directory, and registered with a
// reaper so that even a crash of k6-ha (kill -9) leaves nothing running.
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ProcessStartError } from '../shared/errors.ts';
import type { PodTermination } from './stack.ts';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/** Keeps the list of process groups we started; a detached watchdog kills them if we die. */
export class ProcessRegistry {
  readonly pidFile: string;
  private readonly reaper: ChildProcess;

  /** `file`: the pid list under runDir; one registry per file (the stack's, the runner's k6). */
  constructor(runDir: string, file = 'pids') {
    this.pidFile = join(runDir, file);
    writeFileSync(this.pidFile, '');
    // A shell loop, not Node: it must outlive us and cost nothing while it waits.
    const script =
      `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.5; done; ` +
      `for p in $(cat '${this.pidFile}'); do kill -9 -$p 2>/dev/null; done`;
    this.reaper = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
    this.reaper.unref();
  }

  register(pid: number): void {
    appendFileSync(this.pidFile, `${pid}\n`);
  }

  /** Normal shutdown: everything is stopped already, so the watchdog can go. */
  dispose(): void {
    try {
      // The whole group: the shell's `sleep` too, which would otherwise linger for its 0.5 s.
      if (this.reaper.pid !== undefined) process.kill(-this.reaper.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export interface ManagedProcessOptions {
  name: string;
  command: string;
  /** may be replaced between starts (e.g. to pin the port a first start picked) */
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  registry: ProcessRegistry;
}

/** One killable, restartable process. Emits 'exit' (ExitInfo) and 'start' (pid). */
export class ManagedProcess extends EventEmitter {
  readonly name: string;
  private child: ChildProcess | null = null;
  private exitWaiters: Array<(info: ExitInfo) => void> = [];
  lastExit: ExitInfo | null = null;
  /** Set while we stop it on purpose, so observers can tell a planned exit from a crash. */
  expectedExit = false;

  constructor(private readonly opts: ManagedProcessOptions) {
    super();
    this.name = opts.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null;
  }

  setArgs(args: string[]): void {
    this.opts.args = args;
  }

  /** Resolves with the first stdout line matching `pattern` (the component's ready line). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const onLine = (line: string): void => {
        const m = pattern.exec(line);
        if (m) {
          cleanup();
          resolve(m);
        }
      };
      const onExit = (info: ExitInfo): void => {
        cleanup();
        reject(
          new ProcessStartError(
            `${this.name} exited (${describeExit(info)}) before it was ready; its log says:\n${tailOf(this.opts.logFile)}`,
          ),
        );
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new ProcessStartError(`timed out after ${timeoutMs} ms waiting for ${this.name} to print ${pattern}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('stdout-line', onLine);
        this.off('exit', onExit);
      };
      this.on('stdout-line', onLine);
      this.on('exit', onExit);
    });
  }

  start(): number {
    if (this.child !== null) throw new ProcessStartError(`${this.name} is already running (pid ${this.child.pid})`);
    const log = createWriteStream(this.opts.logFile, { flags: 'a' });
    log.write(`--- ${new Date().toISOString()} start ${this.opts.command} ${this.opts.args.join(' ')}\n`);
    const child = spawn(this.opts.command, this.opts.args, {
      cwd: this.opts.cwd,
      env: this.opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) {
      log.end();
      throw new ProcessStartError(`could not start ${this.name}: ${this.opts.command} not found or not executable`);
    }
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => this.emit('stdout-line', line));
    this.opts.registry.register(child.pid);
    this.child = child;
    this.expectedExit = false;
    child.on('close', (code, signal) => {
      log.end(`--- ${new Date().toISOString()} exit code=${code} signal=${signal}\n`);
    });
    child.on('exit', (code, signal) => {
      const info: ExitInfo = { code, signal, at: Date.now() };
      this.lastExit = info;
      this.child = null;
      // The log ends on 'close', after the pipes drained: output can arrive after 'exit'.
      const waiters = this.exitWaiters;
      this.exitWaiters = [];
      for (const w of waiters) w(info);
      this.emit('exit', info);
    });
    this.emit('start', child.pid);
    return child.pid;
  }

  /** Resolves with the next exit of the running process; at once with the last one when none runs. */
  whenExited(): Promise<ExitInfo | null> {
    if (this.child === null) return Promise.resolve(this.lastExit);
    return new Promise<ExitInfo>((resolve) => this.exitWaiters.push(resolve));
  }

  /** Sends a signal to the whole process group (or to the process alone) and returns at once. */
  deliver(sig: NodeJS.Signals, to: 'group' | 'process' = 'group'): void {
    const child = this.child;
    if (child === null || child.pid === undefined) return;
    try {
      process.kill(to === 'group' ? -child.pid : child.pid, sig);
    } catch {
      child.kill(sig);
    }
  }

  /** Sends a signal to the whole process group; resolves when it exited (or after timeoutMs). */
  async signal(sig: NodeJS.Signals, timeoutMs = 10_000): Promise<ExitInfo | null> {
    if (this.child === null) return this.lastExit;
    const exited = this.whenExited();
    this.deliver(sig);
    return Promise.race([exited, delay(timeoutMs).then(() => null)]);
  }

  /** Graceful stop, escalating to SIGKILL when it does not go in time. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child === null) return;
    this.expectedExit = true;
    const info = await this.signal('SIGTERM', graceMs);
    if (info === null && this.child !== null) await this.signal('SIGKILL', 5_000);
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());

/** A pod's preStop hook: what it runs, for the record, and running it against the process. */
export interface PreStopHook {
  describe(pid: number): string;
  run(pid: number): Promise<void>;
}

export interface PodTerminationOptions {
  /** from the deletion to SIGKILL, preStop included (terminationGracePeriodSeconds) */
  graceMs: number;
  preStop?: PreStopHook;
  /** the container's stop signal: SIGTERM unless its image sets another STOPSIGNAL */
  stopSignal?: NodeJS.Signals;
  /** the stop signal reaches the process group (default) or, as PID 1 of a container, the process alone */
  stopSignalTo?: 'group' | 'process';
}

/**
 * The kubelet never gives a container less than this to stop, even under a zero grace period
 * (minimumGracePeriodInSeconds in kuberuntime): a preStop that used the whole grace period still
 * leaves the stop signal these 2 s before SIGKILL.
 */
export const KUBELET_MIN_GRACE_MS = 2_000;

/**
 * Between a preStop hook's end and the stop signal the kubelet goes through the container runtime
 * twice: the exec's result comes back (containerd, the shim) and StopContainer goes out (containerd,
 * the shim, a `runc kill`, itself a fork and exec). An estimate of that path, not a measurement.
 * Without it the signals can race: nats-server enters lame-duck mode on a goroutine, and a SIGTERM
 * handled before that goroutine ran is a plain shutdown, no lame duck — a lone nats-server under
 * GOMAXPROCS=1 on a loaded 2-core machine missed lame-duck mode in 1 of 20 deletions with no gap,
 * in none of 20 with 10 ms or 50 ms.
 */
export const KUBELET_STOP_AFTER_PRESTOP_MS = 50;

/**
 * What the kubelet does to a container of a deleted pod, done to a local process: the preStop
 * hook (bounded by the grace period), then — after the runtime's round trip — the stop signal, then SIGKILL once the grace period
 * (counted from the deletion, as the kubelet counts it) is over. Resolves when the process is gone.
 */
export async function terminateAsPod(proc: ManagedProcess, opts: PodTerminationOptions): Promise<PodTermination> {
  const started = Date.now();
  const graceMs = Math.max(opts.graceMs, KUBELET_MIN_GRACE_MS);
  const stopSignal = opts.stopSignal ?? 'SIGTERM';
  const pid = proc.pid;
  const record = (
    info: ExitInfo | null,
    killed: boolean,
    preStop: string | null,
    preStopError: string | null,
  ): PodTermination => ({
    preStop,
    preStopError,
    stopSignal,
    graceMs,
    tookMs: Date.now() - started,
    killed,
    code: info?.code ?? null,
    signal: info?.signal ?? null,
  });
  if (pid === undefined) return record(proc.lastExit, false, null, null);
  proc.expectedExit = true;
  const exited = proc.whenExited();
  const exitWithin = (ms: number): Promise<ExitInfo | null> => Promise.race([exited, delay(ms).then(() => null)]);
  let preStop: string | null = null;
  let preStopError: string | null = null;
  if (opts.preStop !== undefined) {
    preStop = opts.preStop.describe(pid);
    const hook = opts.preStop.run(pid).then(
      () => null,
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    preStopError = await Promise.race([
      hook,
      exited.then(() => null),
      delay(graceMs).then(() => `still running when the grace period of ${graceMs} ms ran out`),
    ]);
    await exitWithin(KUBELET_STOP_AFTER_PRESTOP_MS);
  }
  if (!proc.running) return record(await exited, false, preStop, preStopError);
  proc.deliver(stopSignal, opts.stopSignalTo);
  const info = await exitWithin(Math.max(started + graceMs - Date.now(), KUBELET_MIN_GRACE_MS));
  if (info !== null || !proc.running) return record(info ?? (await exited), false, preStop, preStopError);
  proc.deliver('SIGKILL');
  return record(await exitWithin(10_000), true, preStop, preStopError);
}

export function describeExit(info: ExitInfo | null): string {
  if (info === null) return 'not started';
  return info.signal !== null ? `killed by ${info.signal}` : `exit code ${info.code}`;
}

/** The last lines of a log file, for error messages that say why a process died. */
export function tailOf(file: string, lines = 8): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((l) => `  ${l}`)
    .join('\n');
}

/** Polls `probe` until it resolves true; throws with `what` in the message after timeoutMs. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      // A probe that finds its process dead cannot succeed later: fail now, with the reason.
      if (err instanceof ProcessStartError) throw err;
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new ProcessStartError(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}

export interface ProcessMemberOptions {
  /** resolves true once the restarted process serves again */
  healthy: () => Promise<boolean>;
  /** run first when its pod is deleted (terminate()), e.g. the NATS chart's lame-duck signal */
  preStop?: PreStopHook;
  /** the signal terminate() sends after the preStop hook; SIGTERM by default */
  stopSignal?: NodeJS.Signals;
  /** removes the member's data; omitted for stateless members */
  wipeData?: () => void;
  startTimeoutMs?: number;
  logFile: string;
}

/** A ManagedProcess seen as a chaos target ("pod"): kill, stop, start (healthy), wipe. */
export class ProcessMember {
  constructor(
    readonly process: ManagedProcess,
    private readonly opts: ProcessMemberOptions,
  ) {}

  get name(): string {
    return this.process.name;
  }

  get running(): boolean {
    return this.process.running;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  async kill(): Promise<void> {
    this.process.expectedExit = false;
    await this.process.signal('SIGKILL', 10_000);
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }

  terminate(graceMs: number): Promise<PodTermination> {
    return terminateAsPod(this.process, { graceMs, preStop: this.opts.preStop, stopSignal: this.opts.stopSignal });
  }

  async start(): Promise<void> {
    if (!this.process.running) this.process.start();
    await waitFor(
      `${this.name} to become healthy`,
      async () => {
        if (!this.process.running)
          throw new ProcessStartError(
            `${this.name} exited (${describeExit(this.process.lastExit)}); its log says:\n${tailOf(this.opts.logFile)}`,
          );
        return this.opts.healthy();
      },
      this.opts.startTimeoutMs ?? 30_000,
    );
  }

  wipe(): void {
    if (this.process.running) throw new Error(`refusing to wipe ${this.name} while it runs; stop or kill it first`);
    if (this.opts.wipeData === undefined) throw new Error(`${this.name} keeps no data to wipe`);
    this.opts.wipeData();
  }

  onExit(listener: (info: { code: number | null; signal: string | null; expected: boolean }) => void): void {
    this.process.on('exit', (info: ExitInfo) =>
      listener({ code: info.code, signal: info.signal, expected: this.process.expectedExit }),
    );
  }

  onStart(listener: (pid: number) => void): void {
    this.process.on('start', listener);
  }
}
