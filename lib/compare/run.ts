// Runs the same eventstore-streams workload against two targets, one after the other (never at
// once: on a small machine two runs would share the CPU and each would measure the other), and
// writes results/compare-<id>/{a,b}.summary.json, comparison.md and comparison.json. A local side
// (a fixture) is a whole `k6-ha run` of a generated experiment, with its own run dir (<id>-compare-a/
// …); a side against a running server is plain k6 (lib/run/k6-process.ts), logged to <side>.k6.log.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { ScenarioName } from '../shared/scenarios.ts';
import { resultsDir } from '../sidecar/artifacts.ts';
import type { Experiment } from '../experiment/experiment.ts';
import { runExperiment } from '../run/run.ts';
import { buildScenarios, scenarioScript, startK6 } from '../run/k6-process.ts';
import { CompareInputError, CompareInterruptedError, CompareRunError } from '../shared/errors.ts';
import { ensureTool } from '../tools/toolchain.ts';
import {
  buildComparison,
  type Comparison,
  renderComparisonMarkdown,
  type RunSide,
  sideFromSummaryJson,
} from './table.ts';

/** The EventStore workload, by design: the comparison's table reads its es_* metrics (table.ts). */
export const SCENARIO = 'eventstore-streams' satisfies ScenarioName;
/** The fixture's one member, as a local eventstore stack names it. */
const FIXTURE_MEMBER = 'eventstore-0';

type Side = 'a' | 'b';

/** The fixture storages an experiment's local target can name (nosync is the fixture's own, not an experiment's). */
export type LocalStorage = NonNullable<Extract<Experiment['target'], { stack: 'eventstore' }>['storage']>;
export const LOCAL_STORAGES: readonly LocalStorage[] = ['memory', 'fsync'];

export interface CompareTarget {
  label: string;
  /** A running server; or `local` to run against a fixture with this storage. */
  url?: string;
  local?: { storage: LocalStorage };
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
  /** a local side's `k6-ha run` directory (timeline, report, k6.log); null for a server's side */
  runDirs: { a: string | null; b: string | null };
}

export function newCompareDir(outDir: string | undefined): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const dir = outDir === undefined ? join(resultsDir(), `compare-${stamp}`) : resolve(outDir);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes comparison.md and comparison.json next to the inputs. */
export function writeComparison(
  dir: string,
  a: RunSide,
  b: RunSide,
  title?: string,
): { comparison: Comparison; markdown: string } {
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

/** A side against a server k6-ha did not start: plain k6, no sidecar (nothing here can be killed). */
async function runRemoteSide(input: {
  side: Side;
  url: string;
  opts: CompareRunOptions;
  k6: string;
  summaryPath: string;
  logFile: string;
}): Promise<number> {
  const { side, url, opts } = input;
  const script = scenarioScript(SCENARIO);
  opts.log?.(
    `${side.toUpperCase()}: k6 run ${relative(process.cwd(), script)} against ${url} (${opts.vus} VUs, ${opts.duration})`,
  );
  try {
    const { exitCode } = await startK6({
      k6: input.k6,
      script,
      env: { ...opts.env, ES_URL: url, VUS: String(opts.vus), DURATION: opts.duration },
      args: ['--quiet'],
      summaryPath: input.summaryPath,
      logFile: input.logFile,
    }).done;
    return exitCode;
  } catch (err) {
    throw new CompareRunError(`${side.toUpperCase()}: ${(err as Error).message}`, { cause: err });
  }
}

/** What the fixture sets for k6 itself: a -e for these would point the side at another server. */
const SET_BY_FIXTURE = ['ES_URL', 'ES_USER', 'ES_PASSWORD'];

/**
 * The experiment `compare --local` runs for one side: the workload against a fixture with the
 * side's storage and, with --kill-at, one kill -9 of its node restarted --restart-after later.
 * Written next to the comparison, so what ran can be run again with `k6-ha run`.
 */
export function localSideExperiment(input: {
  side: Side;
  storage: LocalStorage;
  label: string;
  opts: CompareRunOptions;
  summaryPath: string;
}): Record<string, unknown> {
  const { side, storage, opts } = input;
  const { THRESHOLDS: thresholds, ...env } = opts.env;
  for (const name of SET_BY_FIXTURE) delete env[name];
  return {
    name: `compare-${side}`,
    description: `k6-ha compare --local, side ${side.toUpperCase()}: ${input.label}`,
    scenario: SCENARIO,
    target: { kind: 'local', stack: 'eventstore', storage },
    env: { ...env, VUS: String(opts.vus), DURATION: opts.duration, SUMMARY_JSON: input.summaryPath },
    // The scenario's own default without a sidecar (lib/shared/scenario-config.ts eventstoreConfigFrom).
    thresholds: thresholds ?? 'es-steady',
    plan:
      opts.killAt === undefined
        ? []
        : [
            {
              at: opts.killAt,
              action: 'kill',
              target: { name: FIXTURE_MEMBER },
              restartAfter: opts.restartAfter ?? '1s',
            },
          ],
  };
}

/**
 * A side against a fixture: a whole `k6-ha run` of localSideExperiment — its own run dir with
 * timeline, sidecar accounting, restore at the end (or on Ctrl-C) and report, the same path as
 * every other experiment.
 */
async function runLocalSide(input: {
  side: Side;
  storage: LocalStorage;
  label: string;
  opts: CompareRunOptions;
  dir: string;
  summaryPath: string;
}): Promise<{ exitCode: number; runDir: string | null }> {
  const { side, opts } = input;
  const experimentFile = join(input.dir, `${side}.experiment.json`);
  writeFileSync(experimentFile, `${JSON.stringify(localSideExperiment(input), null, 2)}\n`);
  let runDir: string | null = null;
  opts.log?.(
    `${side.toUpperCase()}: ${input.label} — k6-ha run ${relative(process.cwd(), experimentFile)} (${opts.vus} VUs, ${opts.duration}${opts.killAt === undefined ? '' : `, ${FIXTURE_MEMBER} killed at ${opts.killAt}`})`,
  );
  const exitCode = await runExperiment({
    experimentFile,
    outDir: input.dir,
    // The table goes to stdout; k6's end-of-test summaries go to stderr with its log.
    k6Stdout: 'log',
    onRunDir: (created) => (runDir = created),
    ...(opts.log === undefined ? {} : { log: opts.log }),
  });
  return { exitCode, runDir };
}

async function runSide(input: {
  side: Side;
  target: CompareTarget;
  opts: CompareRunOptions;
  k6: string;
  dir: string;
}): Promise<{ side: RunSide; exitCode: number; runDir: string | null }> {
  const { side, target, opts, dir } = input;
  const summaryPath = join(dir, `${side}.summary.json`);
  let exitCode: number;
  let runDir: string | null = null;
  let logHint: string;
  if (target.local !== undefined) {
    ({ exitCode, runDir } = await runLocalSide({
      side,
      storage: target.local.storage,
      label: target.label,
      opts,
      dir,
      summaryPath,
    }));
    logHint = runDir === null ? 'its run dir' : join(runDir, 'k6.log');
    if (exitCode === 130) {
      throw new CompareInterruptedError(
        `interrupted while running ${side.toUpperCase()}${side === 'a' ? '; B was not run' : ''}: nothing compared${runDir === null ? '' : ` (what ran is in ${relative(process.cwd(), runDir) || runDir})`}`,
      );
    }
  } else {
    if (target.url === undefined)
      throw new CompareRunError(`target ${side.toUpperCase()} has neither a URL nor a local fixture`);
    if (opts.killAt !== undefined)
      throw new CompareRunError(
        '--kill-at works only with local fixture targets: k6-ha cannot kill a server it did not start',
      );
    const logFile = join(dir, `${side}.k6.log`);
    exitCode = await runRemoteSide({ side, url: target.url, opts, k6: input.k6, summaryPath, logFile });
    logHint = logFile;
  }
  if (!existsSync(summaryPath)) {
    throw new CompareRunError(
      `k6 exited ${exitCode} for ${side.toUpperCase()} without writing ${summaryPath}; see ${logHint}`,
    );
  }
  opts.log?.(
    `${side.toUpperCase()}: k6 exited ${exitCode}${exitCode === 99 ? ' (a gate failed; compared anyway)' : ''}`,
  );
  return { side: readSummaryFile(target.label, summaryPath), exitCode, runDir };
}

export async function runComparison(opts: CompareRunOptions): Promise<CompareOutput> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`k6-ha compare: ${line}\n`));
  const withLog = { ...opts, log };
  // Before anything starts: a missing k6 or a broken build fails both sides alike, at once.
  const k6 = await ensureTool('k6', { log });
  await buildScenarios();
  const dir = newCompareDir(opts.outDir);
  log(`writing to ${relative(process.cwd(), dir) || dir}`);
  const a = await runSide({ side: 'a', target: opts.a, opts: withLog, k6, dir });
  const b = await runSide({ side: 'b', target: opts.b, opts: withLog, k6, dir });
  const title = `${SCENARIO}: ${opts.vus} VUs for ${opts.duration}${opts.killAt !== undefined ? `, node killed at ${opts.killAt}` : ''}`;
  const { comparison, markdown } = writeComparison(dir, a.side, b.side, title);
  return {
    outDir: dir,
    comparison,
    markdown,
    exitCodes: { a: a.exitCode, b: b.exitCode },
    runDirs: { a: a.runDir, b: b.runDir },
  };
}
