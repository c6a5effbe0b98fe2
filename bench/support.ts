// Shared helpers of the benchmarks in bench/: running real k6 (through lib/run/k6-process.ts, with
// its summary read back) and `k6-ha run` as child processes, sampling CPU and RSS from /proc, a
// trivial HTTP 204 server, statistics, the machine's description and the result file each
// benchmark leaves in results/bench/<name>.json.
import { type Command, InvalidArgumentError } from 'commander';
import { parseDurationMs, parsePositiveInt } from '../lib/shared/env-parse.ts';
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { normalizeSummary, type NormalizedSummary } from '../lib/shared/summary.ts';
import { startK6 } from '../lib/run/k6-process.ts';
import { freePort } from '../lib/stack/free-port.ts';
import type { TimelineEvent } from '../lib/shared/types.ts';
import { ensureTool, PROJECT_ROOT } from '../lib/tools/toolchain.ts';

export const BENCH_RESULTS = join(PROJECT_ROOT, 'results', 'bench');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- statistics

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile (p in 0..100): the smallest value with at least p % of values ≤ it. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1] as number;
}

export const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

// ---------------------------------------------------------------- machine and results

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  node: string;
  k6: string;
  natsServer: string;
  loadavg: number[];
}

export async function machineInfo(): Promise<MachineInfo> {
  const run = promisify(execFile);
  const k6 = await ensureTool('k6', { install: false });
  const nats = await ensureTool('nats-server', { install: false });
  const k6v = (await run(k6, ['version'])).stdout.trim().split('\n')[0] ?? '?';
  const natsv = (await run(nats, ['--version'])).stdout.trim();
  return {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    node: process.version,
    k6: k6v,
    natsServer: natsv,
    loadavg: loadavg().map((x) => Number(x.toFixed(2))),
  };
}

export function loadNow(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

/** Writes results/bench/<name>.json (gitignored): what BENCHMARKS.md is written from. */
export function saveResult(name: string, result: object): string {
  mkdirSync(BENCH_RESULTS, { recursive: true });
  const file = join(BENCH_RESULTS, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ name, date: new Date().toISOString(), ...result }, null, 2)}\n`);
  return file;
}

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------- /proc sampling

const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

function procCpuTicks(pid: number, withChildren = false): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    // (cutime/cstime: children the process has waited for, e.g. a postmaster's connection backends)
    return Number(fields[11]) + Number(fields[12]) + (withChildren ? Number(fields[13]) + Number(fields[14]) : 0);
  } catch {
    return null;
  }
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU used by named processes over an interval, in cores (1.0 = one core busy all the time). */
export class CpuMeter {
  private start = new Map<string, number>();
  /** last reading per process: a process that exited keeps its last sampled value */
  private last = new Map<string, { ticks: number; at: number }>();
  private t0 = 0;
  private m0 = machineTicks();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pids: () => Record<string, number | undefined>,
    private readonly sampleMs = 250,
    /** names whose reaped children count too (a postmaster's per-connection backends) */
    private readonly withChildren: ReadonlySet<string> = new Set(),
  ) {}

  private read(): void {
    for (const [name, pid] of Object.entries(this.pids())) {
      const t = pid === undefined ? null : procCpuTicks(pid, this.withChildren.has(name));
      if (t === null) continue;
      if (!this.start.has(name)) this.start.set(name, t);
      this.last.set(name, { ticks: t, at: Date.now() });
    }
  }

  begin(): void {
    this.t0 = Date.now();
    this.m0 = machineTicks();
    this.start.clear();
    this.last.clear();
    this.read();
    this.timer = setInterval(() => this.read(), this.sampleMs);
  }

  /** cores per process since begin(), plus `machine` (busy fraction of all cores × nproc). */
  end(): Record<string, number> {
    if (this.timer !== null) clearInterval(this.timer);
    this.read();
    const result: Record<string, number> = {};
    for (const [name, before] of this.start) {
      const l = this.last.get(name);
      const seconds = l === undefined ? 0 : (l.at - this.t0) / 1000;
      if (l !== undefined && seconds > 0.5) result[name] = Number(((l.ticks - before) / CLK_TCK / seconds).toFixed(2));
    }
    const m = machineTicks();
    result['machine'] = Number(
      (((m.busy - this.m0.busy) / Math.max(1, m.total - this.m0.total)) * cpus().length).toFixed(2),
    );
    return result;
  }
}

export function rssMb(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** Samples VmRSS of one process every intervalMs until stopped (or the process is gone). */
export class RssSampler {
  readonly samples: number[] = [];
  hwm = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    const take = (): void => {
      const r = rssMb(this.pid);
      if (r === null) return;
      this.samples.push(r.rss);
      if (Number.isFinite(r.hwm)) this.hwm = Math.max(this.hwm, r.hwm);
    };
    take();
    this.timer = setInterval(take, this.intervalMs);
  }

  stop(): { samples: number; maxMb: number; medianMb: number; hwmMb: number } {
    if (this.timer !== null) clearInterval(this.timer);
    const r = (x: number): number => Number(x.toFixed(1));
    return {
      samples: this.samples.length,
      maxMb: r(Math.max(...this.samples)),
      medianMb: r(median(this.samples)),
      hwmMb: r(this.hwm),
    };
  }
}

/** RSS of a bare Node process (and one that loaded tsx, as bin/k6-ha.js does) after 1.5 s. */
export async function baselineNodeRss(): Promise<{ nodeMb: number; nodeTsxMb: number }> {
  const measure = async (args: string[]): Promise<number> => {
    const child = spawn(process.execPath, args, { stdio: 'ignore', cwd: PROJECT_ROOT });
    await sleep(1500);
    const r = child.pid === undefined ? null : rssMb(child.pid);
    child.kill('SIGKILL');
    return r === null ? NaN : Number(r.rss.toFixed(1));
  };
  return {
    nodeMb: await measure(['-e', 'setTimeout(() => {}, 5000)']),
    nodeTsxMb: await measure(['--import', 'tsx', '-e', 'setTimeout(() => {}, 5000)']),
  };
}

// ---------------------------------------------------------------- k6

export interface K6Result {
  /** k6ExitCode: 0, 99 (a gate failed), 128 + signal, … */
  code: number;
  summary: NormalizedSummary;
  raw: Record<string, unknown>;
  /** everything k6 printed: its log (console.log lines too) and stdout */
  output: string;
}

export interface BenchK6Options {
  script: string;
  /** k6 flags before the script (--quiet is always given): --vus 10, --duration 20s, … */
  args?: string[];
  env: Record<string, string>;
  /** k6's process environment besides ours (output settings: K6_PROMETHEUS_RW_*) */
  processEnv?: Record<string, string>;
  summaryPath: string;
}

/** Starts k6 --quiet with a summary JSON path; returns the child (for CPU sampling) and its result with the summary read. */
export async function startK6WithSummary(
  opts: BenchK6Options,
): Promise<{ child: ChildProcess; done: Promise<K6Result> }> {
  const k6 = await ensureTool('k6', { install: false });
  let output = '';
  const started = startK6({
    k6,
    script: opts.script,
    env: opts.env,
    args: ['--quiet', ...(opts.args ?? [])],
    ...(opts.processEnv === undefined ? {} : { processEnv: opts.processEnv }),
    summaryPath: opts.summaryPath,
    onLine: (line) => (output += `${line}\n`),
  });
  const done = started.done.then(({ exitCode }): K6Result => {
    if (!existsSync(opts.summaryPath))
      throw new Error(`k6 run ${opts.script} exited ${exitCode} without a summary:\n${output.slice(-2000)}`);
    const raw = JSON.parse(readFileSync(opts.summaryPath, 'utf8')) as Record<string, unknown>;
    return { code: exitCode, summary: normalizeSummary(raw), raw, output };
  });
  return { child: started.child, done };
}

export async function runK6WithSummary(opts: BenchK6Options): Promise<K6Result> {
  return (await startK6WithSummary(opts)).done;
}

// ---------------------------------------------------------------- a trivial 204 server

const GO_204 = `package main

import (
	"io"
	"net/http"
	"os"
)

func main() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], h); err != nil {
		panic(err)
	}
}
`;

export interface NoContentServer {
  url: string;
  kind: 'go' | 'node';
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * A server that answers every request 204 and does nothing else. Go when `go` is available (a
 * few µs of CPU per request, so the load generator, not the server, is what saturates), a Node
 * server otherwise. Either runs in its own process so its CPU can be measured apart from k6's.
 */
/**
 * k6 script text: `publishEvent(url, tag)` sends the scenario's publish request, built the way
 * scenarios/jetstream-publish.ts builds it (EventRequestTemplate: one headers object per VU,
 * ce-id and ce-time set per event, the body by concatenation), and returns the response. For the
 * benchmark drivers, which embed it after their imports of k6/http and k6/execution.
 */
export const PUBLISH_EVENT_JS = `
let scenario = null;
const headers = { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': '',
  'ce-type': 'order.created.v1', 'ce-source': 'k6-ha', 'ce-time': '' };
const params = { headers, timeout: 5000, tags: { name: 'publish' } };
function publishEvent(url, tag) {
  if (scenario === null) scenario = exec.scenario;
  const seq = scenario.iterationInTest;
  const sentAt = Date.now();
  headers['ce-id'] = tag + '-' + seq;
  headers['ce-time'] = new Date(sentAt).toISOString();
  return http.post(url, '{"seq":' + seq + ',"vu":' + __VU + ',"sentAt":' + sentAt + '}', params);
}
`;

export async function startNoContentServer(): Promise<NoContentServer> {
  const port = await freePort();
  const dir = join(tmpdir(), 'k6-ha-bench-204');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, 'server-204');
  let kind: 'go' | 'node';
  try {
    if (!existsSync(bin)) {
      writeFileSync(join(dir, 'main.go'), GO_204);
      await promisify(execFile)('go', ['build', '-o', bin, 'main.go'], { cwd: dir, timeout: 300_000 });
    }
    kind = 'go';
  } catch {
    kind = 'node';
  }
  const child =
    kind === 'go'
      ? spawn(bin, [String(port)], { stdio: 'ignore' })
      : spawn(
          process.execPath,
          [
            '-e',
            `require('http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.statusCode=204;s.end();});}).listen(${port},'127.0.0.1')`,
          ],
          { stdio: 'ignore' },
        );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url, { method: 'POST', body: 'x', signal: AbortSignal.timeout(500) })).status === 204) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return {
    url,
    kind,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      await sleep(100);
    },
  };
}

// ---------------------------------------------------------------- k6-ha run as a child process

export interface K6HaRun {
  code: number;
  runDir: string;
  pid: number;
  output: string;
}

/**
 * `k6-ha run <args>` in its own process (the sidecar lives in it), results under results/bench
 * so `results/latest` of other work is left alone. onStart receives its pid (for RSS sampling).
 */
export async function runK6Ha(args: string[], onStart?: (pid: number) => void): Promise<K6HaRun> {
  const child = spawn(
    process.execPath,
    [join(PROJECT_ROOT, 'bin', 'k6-ha.js'), 'run', ...args, '--out-dir', BENCH_RESULTS],
    {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, K6_NO_USAGE_REPORT: 'true' },
    },
  );
  if (child.pid === undefined) throw new Error('could not start k6-ha');
  onStart?.(child.pid);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  const m = /run (\S+) → /.exec(output);
  if (m === null)
    throw new Error(`k6-ha run did not say where its results are (exit ${code}):\n${output.slice(-3000)}`);
  return { code, runDir: join(BENCH_RESULTS, m[1] as string), pid: child.pid, output };
}

export function readTimeline(runDir: string): TimelineEvent[] {
  return readFileSync(join(runDir, 'timeline.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TimelineEvent);
}

export function readRunSummary(runDir: string): NormalizedSummary {
  return normalizeSummary(JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')));
}

/** A commander argument parser for a whole number, with the shared parser's error message. */
export function intArg(name: string, max: number): (v: string) => number {
  return (v) => {
    try {
      return parsePositiveInt(name, v, max);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** The options of a headroom search: rising constant-arrival-rate steps, each after a warm-up ramp. */
export interface RateStepOptions {
  rates: number[];
  /** the step's length as given (k6 duration) and in ms */
  duration: string;
  durationMs: number;
  warmup: string;
  warmupMs: number;
}

/**
 * Adds --rates, --duration and --warmup (a headroom search's steps) to a benchmark's command, with
 * its defaults; read them back with rateStepOptions() after parse().
 */
export function withRateSteps(cmd: Command, defaults: { rates: string; duration: string; warmup: string }): Command {
  const duration = (name: string) => (v: string) => {
    try {
      parseDurationMs(name, v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
    return v;
  };
  return cmd
    .option('--rates <list>', 'rates to try, ascending, comma-separated', defaults.rates)
    .option(
      '--duration <d>',
      'length of each step (measured, after the warm-up)',
      duration('--duration'),
      defaults.duration,
    )
    .option(
      '--warmup <d>',
      "ramp from 0 to the step's rate before it, not judged",
      duration('--warmup'),
      defaults.warmup,
    );
}

/** The steps' options of a command that withRateSteps() set up. */
export function rateStepOptions(opts: { rates: string; duration: string; warmup: string }): RateStepOptions {
  const rates = opts.rates
    .split(',')
    .map((r) => Number(r.trim()))
    .filter((r) => Number.isInteger(r) && r > 0);
  if (rates.length === 0)
    throw new InvalidArgumentError(`--rates needs whole numbers > 0, got ${JSON.stringify(opts.rates)}`);
  return {
    rates,
    duration: opts.duration,
    durationMs: parseDurationMs('--duration', opts.duration),
    warmup: opts.warmup,
    warmupMs: parseDurationMs('--warmup', opts.warmup),
  };
}
