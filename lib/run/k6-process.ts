// k6 as a child process, in one place: the scenario bundles it runs (built when stale), how it is
// started (environment, REST API address, summary file, its log), what its exit means (a shell's
// 128 + signal), and what its REST API says while it runs. `run`, `compare`, the benchmarks and
// the tests all start k6 through here, so a fix to any of these reaches every one of them.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, statSync, type WriteStream } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { ProcessStartError } from '../shared/errors.ts';
import { PROJECT_ROOT } from '../tools/toolchain.ts';

const BUILD_DIR = join(PROJECT_ROOT, 'build');

/**
 * What scripts/build.mjs reads: lib/ and thresholds/ are bundled into the scenarios and the CLI,
 * and package.json and the build script decide how. bin/k6-ha.js judges its bundle by the same list.
 */
const BUILD_SOURCES = ['lib', 'thresholds', 'scenarios', 'package.json', join('scripts', 'build.mjs')];

/** The bundle `k6 run` takes for a scenario of scenarios/. */
export function scenarioScript(scenario: string): string {
  return join(BUILD_DIR, `${scenario}.js`);
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted file only shows in its directory's mtime
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Every file scripts/build.mjs writes: one bundle per scenarios/*.ts, and the CLI's. */
function buildOutputs(): string[] {
  const scenarios = readdirSync(join(PROJECT_ROOT, 'scenarios')).filter((f) => f.endsWith('.ts'));
  return [
    ...scenarios.map((f) => scenarioScript(f.slice(0, -'.ts'.length))),
    ...scenarios.map((f) => join(BUILD_DIR, 'xk6-kubernetes', f.replace(/\.ts$/, '.js'))),
    join(BUILD_DIR, 'k6-ha.mjs'),
  ];
}

/**
 * True when build/ is missing a bundle or one is older than anything it is made from. One rule
 * for all of build/: a scenario bundle inlines lib/ and thresholds/, so judging it by its own
 * scenarios/<name>.ts alone would keep a bundle with an old gate profile or env parser.
 */
export function scenariosStale(): boolean {
  const newestSource = Math.max(...BUILD_SOURCES.map((p) => newestMtime(join(PROJECT_ROOT, p))));
  return buildOutputs().some((out) => !existsSync(out) || statSync(out).mtimeMs < newestSource);
}

/** Bundles scenarios/ (and the CLI) into build/ with scripts/build.mjs when build/ is stale. */
export async function buildScenarios(): Promise<void> {
  if (!scenariosStale()) return;
  try {
    await promisify(execFile)(process.execPath, [join(PROJECT_ROOT, 'scripts', 'build.mjs')], { cwd: PROJECT_ROOT });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(
      `scenario build failed (scripts/build.mjs)${stderr ? `:\n${stderr}` : `: ${(err as Error).message}`}`,
      { cause: err },
    );
  }
}

/**
 * k6's exit as a shell reports it: its own code, or 128 + the signal's number when a signal ended
 * it (130 for SIGINT, 137 for SIGKILL), so a killed k6 never looks like a passed (0) or gated (99) run.
 */
export function k6ExitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal === null) return 1;
  return 128 + (osConstants.signals[signal] ?? 0);
}

export interface K6StartOptions {
  /** the k6 binary, from ensureTool('k6') — resolved by the caller before it starts anything else */
  k6: string;
  /** the script k6 runs, e.g. scenarioScript('jetstream-publish') */
  script: string;
  /** the script's environment, passed as -e KEY=VALUE */
  env: Record<string, string>;
  /** more k6 flags, placed after `run`: --quiet, --vus 10, … */
  args?: string[];
  /** host:port of k6's REST API (--address): readK6Metric asks it while k6 runs */
  address?: string;
  /** where the scenario's handleSummary writes its JSON (SUMMARY_JSON) */
  summaryPath?: string;
  /** k6's output, line by line, in full */
  logFile?: string;
  /** each line k6 prints (stderr: its log; stdout too unless it goes to the terminal) */
  onLine?: (line: string) => void;
  /** 'inherit': k6's stdout (progress bar, end-of-test summary) on ours; 'log' (default): with its log */
  stdout?: 'inherit' | 'log';
  /** its own process group: a terminal's Ctrl-C then reaches only us, and we decide what k6 gets */
  detached?: boolean;
  /** a command k6 runs under, e.g. GNU time for k6's own CPU seconds (bench/eventstore.ts) */
  prefix?: string[];
  /** k6's own process environment besides ours: output settings k6 reads only there (K6_PROMETHEUS_RW_*) */
  processEnv?: Record<string, string>;
}

export interface K6Exit {
  /** k6ExitCode(code, signal): 0 passed, 99 a gate failed, 128 + n killed by signal n, … */
  exitCode: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the last lines k6 printed, for an error message (all of them are in logFile) */
  lastLines: string[];
}

export interface StartedK6 {
  child: ChildProcess;
  /** after k6 exited and its output was read to the end; rejects (ProcessStartError) when k6 could not be started */
  done: Promise<K6Exit>;
}

const LAST_LINES = 40;

/**
 * k6-ha's own `--out` flags plus the user's K6_OUT: k6 takes its outputs from the flags OR from
 * K6_OUT, never both, so once k6-ha adds one (the per-second source, a fleet's samples) a user's
 * `K6_OUT=json=… k6-ha run …` would silently write nothing. Each K6_OUT entry (comma-separated, as
 * k6 reads it) becomes a flag of its own next to ours.
 */
export function withUserOutputs(args: readonly string[], k6Out: string | undefined = process.env['K6_OUT']): string[] {
  const ours = args.some((a) => a === '--out' || a === '-o' || a.startsWith('--out='));
  if (!ours || k6Out === undefined || k6Out.trim() === '') return [...args];
  const user = k6Out
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  return [...args, ...user.flatMap((o) => ['--out', o])];
}

/** The k6 command line for `opts`: `run`, the flags (with the user's K6_OUT kept), -e KEY=VALUE for the script, the script. */
export function k6RunArgs(opts: Pick<K6StartOptions, 'script' | 'env' | 'args' | 'address' | 'summaryPath'>): string[] {
  const args = ['run', ...withUserOutputs(opts.args ?? [])];
  if (opts.address !== undefined) args.push('--address', opts.address);
  const env = opts.summaryPath === undefined ? opts.env : { ...opts.env, SUMMARY_JSON: opts.summaryPath };
  for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
  args.push(opts.script);
  return args;
}

/** Starts `k6 run`; its output goes to logFile and onLine, and `done` says how it ended. */
export function startK6(opts: K6StartOptions): StartedK6 {
  const k6Args = k6RunArgs(opts);
  const [command, args] =
    opts.prefix === undefined || opts.prefix.length === 0
      ? [opts.k6, k6Args]
      : [opts.prefix[0] as string, [...opts.prefix.slice(1), opts.k6, ...k6Args]];
  const child = spawn(command, args, {
    // Usage reports would phone home from every test and benchmark run.
    env: { ...process.env, ...opts.processEnv, K6_NO_USAGE_REPORT: 'true' },
    stdio: ['ignore', opts.stdout === 'inherit' ? 'inherit' : 'pipe', 'pipe'],
    detached: opts.detached === true,
  });
  const log: WriteStream | null = opts.logFile === undefined ? null : createWriteStream(opts.logFile);
  const lastLines: string[] = [];
  const readers: Array<Promise<void>> = [];
  const read = (stream: Readable | null): void => {
    if (stream === null) return;
    readers.push(
      new Promise((resolveRead) => {
        createInterface({ input: stream, crlfDelay: Infinity })
          .on('line', (line) => {
            log?.write(`${line}\n`);
            lastLines.push(line);
            if (lastLines.length > LAST_LINES) lastLines.shift();
            opts.onLine?.(line);
          })
          .on('close', resolveRead);
      }),
    );
  };
  read(child.stdout);
  read(child.stderr);
  const done = new Promise<K6Exit>((resolveDone, rejectDone) => {
    child.on('error', (err) => {
      log?.end();
      rejectDone(new ProcessStartError(`could not run ${command}: ${err.message}`, { cause: err }));
    });
    child.on('exit', (code, signal) => {
      // Every line read and the log file flushed before anyone looks at either.
      void Promise.all(readers)
        .then(() => new Promise<void>((flushed) => (log === null ? flushed() : log.end(flushed))))
        .then(() => resolveDone({ exitCode: k6ExitCode(code, signal), code, signal, lastLines: [...lastLines] }));
    });
  });
  return { child, done };
}

// The REST API reader lives with its other user, the sidecar (which asks k6 for its counts at the end).
export { readK6Metric } from '../sidecar/k6-api.ts';
