// Runs the same eventstore-streams workload against two targets, one after the other (never at
// once: on a small machine two runs would share the CPU and each would measure the other), and
// writes results/compare-<id>/{a,b}.summary.json, comparison.md and comparison.json.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type EventStoreStack, startEventStoreStack } from '../fixtures/eventstore-stack.ts';
import type { StorageMode } from '../fixtures/eventstore-store.ts';
import { parseDurationMs } from '../shared/env-parse.ts';
import type { ScenarioName } from '../shared/scenarios.ts';
import { resultsDir } from '../sidecar/artifacts.ts';
import { CompareInputError, CompareRunError } from '../shared/errors.ts';
import { ensureTool, PROJECT_ROOT } from '../tools/toolchain.ts';
import { buildComparison, type Comparison, renderComparisonMarkdown, type RunSide, sideFromSummaryJson } from './table.ts';

const execFileAsync = promisify(execFile);
/** The EventStore workload, by design: the comparison's table reads its es_* metrics (table.ts). */
export const SCENARIO = 'eventstore-streams' satisfies ScenarioName;

export interface CompareTarget {
  label: string;
  /** A running server; or `local` to start a fixture with this storage for the run. */
  url?: string;
  local?: { storage: StorageMode };
}

export interface CompareRunOptions {
  a: CompareTarget;
  b: CompareTarget;
  vus: number;
  duration: string;
  /** More -e K=V for k6 (ES_DIALECT, ES_USER, THRESHOLDS, …). */
  env: Record<string, string>;
  /** Local targets only: kill -9 the fixture at this offset from load start and restart it. */
  killAt?: string;
  restartAfter?: string;
  outDir?: string;
  log?: (line: string) => void;
}

export interface CompareOutput {
  outDir: string;
  comparison: Comparison;
  markdown: string;
  /** k6's exit code per side (99: a gate failed — still compared). */
  exitCodes: { a: number; b: number };
}

export function newCompareDir(outDir: string | undefined): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const dir = outDir === undefined ? join(resultsDir(), `compare-${stamp}`) : resolve(outDir);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes comparison.md and comparison.json next to the inputs. */
export function writeComparison(dir: string, a: RunSide, b: RunSide, title?: string): { comparison: Comparison; markdown: string } {
  const comparison = buildComparison(a, b);
  const markdown = renderComparisonMarkdown(comparison, title);
  writeFileSync(join(dir, 'comparison.md'), markdown);
  writeFileSync(join(dir, 'comparison.json'), `${JSON.stringify(comparison, null, 2)}\n`);
  return { comparison, markdown };
}

export function readSummaryFile(label: string, path: string): RunSide {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CompareInputError(`cannot read the summary ${path}: ${(err as Error).message}`, { cause: err });
  }
  return sideFromSummaryJson(label, path, json);
}

/** Bundles the scenario when build/ is missing or older than its source. */
async function ensureBuilt(): Promise<string> {
  const script = join(PROJECT_ROOT, 'build', `${SCENARIO}.js`);
  const source = join(PROJECT_ROOT, 'scenarios', `${SCENARIO}.ts`);
  if (!existsSync(script) || statSync(script).mtimeMs < statSync(source).mtimeMs) {
    await execFileAsync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'build.mjs')], { cwd: PROJECT_ROOT });
  }
  return script;
}

async function runK6(k6: string, script: string, env: Record<string, string>, logFile: string): Promise<number> {
  const args = ['run', '--quiet'];
  for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
  args.push(script);
  const child = spawn(k6, args, { env: { ...process.env, K6_NO_USAGE_REPORT: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.on('data', (c: Buffer) => chunks.push(c));
  const code = await new Promise<number>((done, fail) => {
    child.on('error', (err) => fail(new CompareRunError(`could not run ${k6}: ${err.message}`, { cause: err })));
    child.on('exit', (c, signal) => done(c ?? (signal === null ? 1 : 128)));
  });
  writeFileSync(logFile, Buffer.concat(chunks));
  return code;
}

/** Kills the local fixture at `killAt` and starts it again `restartAfter` later, with its data. */
function scheduleKill(stack: EventStoreStack, killAtMs: number, restartAfterMs: number, log: (l: string) => void): { done: Promise<void>; cancel: () => void } {
  let cancelled = false;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolveDone, rejectDone) => {
    timer = setTimeout(() => {
      if (cancelled) return resolveDone();
      const member = stack.member;
      log(`kill -9 ${member.name} (storage ${stack.storage}); restart in ${restartAfterMs} ms`);
      member
        .kill()
        .then(() => new Promise((r) => setTimeout(r, restartAfterMs)))
        .then(() => member.start())
        .then(() => log(`${member.name} is back`))
        .then(resolveDone, rejectDone);
    }, killAtMs);
  });
  return {
    done,
    cancel: () => {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}

async function runSide(
  side: 'a' | 'b',
  target: CompareTarget,
  opts: CompareRunOptions,
  k6: string,
  script: string,
  dir: string,
  log: (l: string) => void,
): Promise<{ side: RunSide; exitCode: number }> {
  const summaryPath = join(dir, `${side}.summary.json`);
  let stack: EventStoreStack | null = null;
  let kill: ReturnType<typeof scheduleKill> | null = null;
  try {
    let url = target.url;
    if (target.local !== undefined) {
      stack = await startEventStoreStack({ runDir: join(dir, `${side}-fixture`), storage: target.local.storage, log });
      url = stack.url;
    }
    if (url === undefined) throw new CompareRunError(`target ${side.toUpperCase()} has neither a URL nor a local fixture`);
    const env = { ...opts.env, ...(stack?.k6Env() ?? {}), ES_URL: url, VUS: String(opts.vus), DURATION: opts.duration, SUMMARY_JSON: summaryPath };
    if (opts.killAt !== undefined) {
      if (stack === null) throw new CompareRunError('--kill-at works only with local fixture targets: k6-ha cannot kill a server it did not start');
      // k6 needs a moment before load starts (init, setup); the offset is from spawning k6.
      kill = scheduleKill(stack, parseDurationMs('--kill-at', opts.killAt), parseDurationMs('--restart-after', opts.restartAfter ?? '1s'), log);
    }
    log(`${side.toUpperCase()}: ${target.label} — k6 run ${relative(process.cwd(), script)} against ${url} (${opts.vus} VUs, ${opts.duration})`);
    const exitCode = await runK6(k6, script, env, join(dir, `${side}.k6.log`));
    await kill?.done;
    if (!existsSync(summaryPath)) {
      throw new CompareRunError(`k6 exited ${exitCode} for ${side.toUpperCase()} without writing ${summaryPath}; see ${join(dir, `${side}.k6.log`)}`);
    }
    log(`${side.toUpperCase()}: k6 exited ${exitCode}${exitCode === 99 ? ' (a gate failed; compared anyway)' : ''}`);
    return { side: readSummaryFile(target.label, summaryPath), exitCode };
  } finally {
    kill?.cancel();
    await stack?.stop();
  }
}

export async function runComparison(opts: CompareRunOptions): Promise<CompareOutput> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`k6-ha compare: ${line}\n`));
  const k6 = await ensureTool('k6', { log });
  const script = await ensureBuilt();
  const dir = newCompareDir(opts.outDir);
  log(`writing to ${relative(process.cwd(), dir) || dir}`);
  const a = await runSide('a', opts.a, opts, k6, script, dir, log);
  const b = await runSide('b', opts.b, opts, k6, script, dir, log);
  const title = `${SCENARIO}: ${opts.vus} VUs for ${opts.duration}${opts.killAt !== undefined ? `, node killed at ${opts.killAt}` : ''}`;
  const { comparison, markdown } = writeComparison(dir, a.side, b.side, title);
  return { outDir: dir, comparison, markdown, exitCodes: { a: a.exitCode, b: b.exitCode } };
}
