// Runs the real k6-ha CLI (and real k6) as a user would, capturing output, with a hard timeout.
import { type ChildProcess, spawn } from 'node:child_process';
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
  result: Promise<CliResult>;
  /** resolves when the combined output matches */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export function startProcess(command: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const child = spawn(command, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // let the pipes drain
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
  return {
    child,
    result,
    waitForOutput(pattern, waitMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = pattern.exec(stdout + stderr);
          if (m) resolve(m[0]);
        };
        watchers.push(check);
        check();
        setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in output:\n${stdout}\n${stderr}`)), waitMs);
        void result.then((r) => reject(new Error(`process exited (${r.code ?? r.signal}) before printing ${pattern}:\n${r.stdout}\n${r.stderr}`)));
      });
    },
  };
}

export function startCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): RunningCli {
  return startProcess(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'lib', 'cli', 'main.ts'), ...args], opts);
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
  const dirs = readdirSync(outDir, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'latest').map((d) => d.name);
  if (dirs.length !== 1) throw new Error(`expected one run directory in ${outDir}, found ${dirs.join(', ') || 'none'}`);
  return join(outDir, dirs[0] as string);
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function readTimeline(runDir: string): Array<{ source: string; kind: string; target: string | null; offset_ms: number | null; detail: Record<string, unknown> }> {
  return readFileSync(join(runDir, 'timeline.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
}

/** Processes of ours still alive (nats-server members, stack components, k6). */
export async function leftoverProcesses(marker: string): Promise<string[]> {
  const out = await new Promise<string>((resolve) => {
    const ps = spawn('ps', ['-eo', 'pid,args'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    ps.stdout.on('data', (d: Buffer) => (text += d.toString()));
    ps.on('exit', () => resolve(text));
  });
  return out.split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
}
