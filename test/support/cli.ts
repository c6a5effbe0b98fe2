// Runs the real k6-ha CLI (and real k6) as a user would, capturing output, with a hard timeout.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTool, PROJECT_ROOT } from '../../lib/tools/toolchain.ts';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  /** In the environment of the process and of everything it starts: see leftoverProcesses(). */
  marker: string;
  result: Promise<CliResult>;
  /** resolves when the combined output matches */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export function startProcess(
  command: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): RunningCli {
  const marker = newProcessMarker();
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...opts.env, [MARKER_VAR]: marker },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers: Array<() => void> = [];
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of watchers) w();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of watchers) w();
  });
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const result = new Promise<CliResult>((resolve) => {
    // On timeout, everything the process started goes too (k6 runs in its own process group).
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      killMarked(marker);
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}\ncould not start ${command}: ${err.message}` });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // let the pipes drain
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
  return {
    child,
    marker,
    result,
    waitForOutput(pattern, waitMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${pattern} in output:\n${stdout}\n${stderr}`)),
          waitMs,
        );
        const check = (): void => {
          const m = pattern.exec(stdout + stderr);
          if (m) {
            clearTimeout(timer);
            resolve(m[0]);
          }
        };
        watchers.push(check);
        check();
        void result.then((r) => {
          clearTimeout(timer);
          reject(
            new Error(`process exited (${r.code ?? r.signal}) before printing ${pattern}:\n${r.stdout}\n${r.stderr}`),
          );
        });
      });
    },
  };
}

export function startCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): RunningCli {
  return startProcess(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'lib', 'cli', 'main.ts'), ...args],
    opts,
  );
}

export function runCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return startCli(args, opts).result;
}

/** The real k6 binary, or a failing test that says how to install it. */
export async function requireK6(): Promise<string> {
  return ensureTool('k6', { install: false });
}

export async function requireNatsServer(): Promise<string> {
  return ensureTool('nats-server', { install: false });
}

/** A scratch output dir per test, so runs never collide. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `k6ha-${prefix}-`));
}

/** Writes an experiment file for one test (generated names, like the k8s client tests). */
export function writeExperiment(dir: string, experiment: Record<string, unknown>): string {
  const file = join(dir, `${String(experiment['name'])}.json`);
  writeFileSync(file, JSON.stringify(experiment, null, 2));
  return file;
}

export function onlyRunDir(outDir: string): string {
  const dirs = readdirSync(outDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'latest')
    .map((d) => d.name);
  if (dirs.length !== 1) throw new Error(`expected one run directory in ${outDir}, found ${dirs.join(', ') || 'none'}`);
  return join(outDir, dirs[0] as string);
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function readTimeline(runDir: string): Array<{
  source: string;
  kind: string;
  target: string | null;
  offset_ms: number | null;
  detail: Record<string, unknown>;
}> {
  return readFileSync(join(runDir, 'timeline.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
}

const MARKER_VAR = 'K6HA_TEST_MARKER';

/** A value for K6HA_TEST_MARKER: every process started with it, and all they start, carry it. */
export function newProcessMarker(): string {
  return randomUUID();
}

/** Marks everything this test process starts from now on (for code run in-process, like LocalStack). */
export function markChildrenOfThisProcess(): string {
  const marker = newProcessMarker();
  process.env[MARKER_VAR] = marker;
  return marker;
}

/**
 * Processes still alive that carry the marker in their environment (inherited by every child:
 * nats-server members, publisher, sink, k6, the reaper) or in their command line (a run dir).
 * Read from /proc: a process's environment there is the one it was started with. A process sent
 * SIGKILL a moment ago may still be listed, so the scan repeats for up to `graceMs` until none.
 */
export async function leftoverProcesses(marker: string, graceMs = 3000): Promise<string[]> {
  const deadline = Date.now() + graceMs;
  let found = markedProcesses(marker);
  while (found.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    found = markedProcesses(marker);
  }
  return found;
}

function markedProcesses(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (Number(pid) === process.pid) continue;
    let environ: string;
    let cmdline: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (cmdline === '') continue; // a zombie: exited, not yet reaped
    if (environ.split('\0').includes(`${MARKER_VAR}=${marker}`) || cmdline.includes(marker))
      found.push(`${pid} ${cmdline}`);
  }
  return found;
}

function killMarked(marker: string): void {
  for (const line of markedProcesses(marker)) {
    try {
      process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
