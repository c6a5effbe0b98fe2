// `k6-ha compare`: the seed's side-by-side table from two finished runs, or from two runs it makes.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { basename, join, relative } from 'node:path';
import { parseDurationMs, parseHttpUrl, parsePositiveInt } from '../shared/env-parse.ts';
import { InvalidSettingError } from '../shared/errors.ts';
import { DEFAULT_RESULTS_DIR_HELP } from '../sidecar/artifacts.ts';
import {
  LOCAL_STORAGES,
  type LocalStorage,
  newCompareDir,
  readSummaryFile,
  runComparison,
  writeComparison,
} from './run.ts';
import { isRunDir, summaryPathOf, writeRunDirComparison } from './dirs.ts';

/** Turns a shared parser's InvalidSettingError into commander's own argument error. */
function viaParser<T>(parse: (raw: string) => T): (raw: string) => T {
  return (raw) => {
    try {
      return parse(raw);
    } catch (err) {
      if (err instanceof InvalidSettingError) throw new InvalidArgumentError(err.allowed);
      throw err;
    }
  };
}

function collectEnv(pair: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected KEY=VALUE');
  return { ...previous, [pair.slice(0, eq)]: pair.slice(eq + 1) };
}

interface CompareFlags {
  aLabel?: string;
  bLabel?: string;
  aUrl?: string;
  bUrl?: string;
  local?: boolean;
  aStorage: LocalStorage;
  bStorage: LocalStorage;
  vus: number;
  duration: string;
  env?: Record<string, string>;
  killAt?: string;
  restartAfter: string;
  out?: string;
}

const STORAGE_LABEL: Record<LocalStorage, string> = {
  memory: 'fixture, memory storage (stand-in for pod-local storage lost with its pod)',
  fsync: "fixture, fsync'd log (stand-in for a persistent disk)",
};

export function registerCompareCommand(program: Command): void {
  program
    .command('compare')
    .description(
      'Side by side: two or more finished runs (run directories: compare.md and compare.html with the per-second charts overlaid), two summary files, or two runs it makes',
    )
    .argument(
      '[runs...]',
      'run directories (results/<run-id>, any scenario; two or more), or two summary JSON files (written by a scenario with SUMMARY_JSON=path)',
    )
    .option('--a-label <text>', 'column title for A')
    .option('--b-label <text>', 'column title for B')
    .option(
      '--a-url <url>',
      'run the workload against this EventStore first (A)',
      viaParser((v) => parseHttpUrl('--a-url', v, 'http://127.0.0.1:2113')),
    )
    .option(
      '--b-url <url>',
      '… then against this one (B)',
      viaParser((v) => parseHttpUrl('--b-url', v, 'http://127.0.0.1:2113')),
    )
    .option(
      '--local',
      'run against two local EventStore FIXTURES instead (each a `k6-ha run` with its own run dir): A with --a-storage, B with --b-storage',
    )
    .addOption(
      new Option('--a-storage <mode>', 'storage of the local fixture A').choices(LOCAL_STORAGES).default('memory'),
    )
    .addOption(
      new Option('--b-storage <mode>', 'storage of the local fixture B').choices(LOCAL_STORAGES).default('fsync'),
    )
    .option(
      '--vus <n>',
      'concurrent users (the seed: 10, 100, 1000; 500 with kills)',
      viaParser((v) => parsePositiveInt('--vus', v, 10_000)),
      10,
    )
    .option(
      '--duration <d>',
      'length of each run (the seed: 5m)',
      viaParser((v) => (parseDurationMs('--duration', v), v)),
      '30s',
    )
    .option(
      '-e, --env <KEY=VALUE>',
      'more k6 environment for both runs (ES_DIALECT, ES_USER, ES_PASSWORD, ES_BATCH, THRESHOLDS, …)',
      collectEnv,
    )
    .option(
      '--kill-at <d>',
      'local fixtures only: kill -9 the node this long after the load starts, then restart it',
      viaParser((v) => (parseDurationMs('--kill-at', v), v)),
    )
    .option(
      '--restart-after <d>',
      'with --kill-at: how long the node stays down',
      viaParser((v) => (parseDurationMs('--restart-after', v), v)),
      '1s',
    )
    .option('--out <dir>', `output directory (default: compare-<timestamp>/ in ${DEFAULT_RESULTS_DIR_HELP})`)
    .addHelpText(
      'after',
      `
Examples:
  k6-ha compare results/20261201-r1 results/20261201-r3 --a-label R1 --b-label R3   compare.md + compare.html
  k6-ha compare results/pod/summary.json results/disk/summary.json --a-label "pod-local storage" --b-label "persistent disk"
  k6-ha compare --a-url http://127.0.0.1:2113 --b-url http://127.0.0.1:2114 --vus 100 --duration 5m -e ES_DIALECT=kurrent
  k6-ha compare --local --vus 50 --duration 20s --kill-at 10s     memory vs fsync fixture, node killed mid-run`,
    )
    .action(async (inputs: string[], flags: CompareFlags, command: Command) => {
      const out = (line: string): boolean => process.stdout.write(line);
      if (inputs.length > 0) {
        if (flags.aUrl !== undefined || flags.bUrl !== undefined || flags.local === true)
          command.error('runs to compare and run mode flags exclude each other');
        const label = (i: number, path: string): string =>
          (i === 0 ? flags.aLabel : i === 1 ? flags.bLabel : undefined) ??
          (isRunDir(path) ? basename(path) : String.fromCharCode(65 + i));
        if (inputs.every(isRunDir)) {
          if (inputs.length < 2) command.error('give two or more run directories to compare');
          const dir = newCompareDir(flags.out);
          out(
            writeRunDirComparison(
              dir,
              inputs.map((d, i) => ({ label: label(i, d), dir: d })),
            ),
          );
          process.stderr.write(
            `k6-ha compare: wrote ${relative(process.cwd(), join(dir, 'compare.md'))} and compare.html\n`,
          );
          return;
        }
        if (inputs.length !== 2)
          command.error(
            'give two summary files (A and B), two or more run directories, or run mode flags (--a-url/--b-url or --local)',
          );
        const [aPath, bPath] = inputs as [string, string];
        const a = readSummaryFile(label(0, aPath), summaryPathOf(aPath));
        const b = readSummaryFile(label(1, bPath), summaryPathOf(bPath));
        const dir = newCompareDir(flags.out);
        const { markdown } = writeComparison(dir, a, b);
        out(markdown);
        process.stderr.write(
          `k6-ha compare: wrote ${relative(process.cwd(), join(dir, 'comparison.md'))} and comparison.json\n`,
        );
        return;
      }
      const remote = flags.aUrl !== undefined || flags.bUrl !== undefined;
      if (remote && flags.local === true) command.error('--local and --a-url/--b-url exclude each other');
      if (remote && (flags.aUrl === undefined || flags.bUrl === undefined))
        command.error('run mode needs both --a-url and --b-url');
      if (!remote && flags.local !== true)
        command.error('nothing to compare: give two run directories or summary files, --a-url and --b-url, or --local');
      if (flags.killAt !== undefined && remote)
        command.error('--kill-at needs --local: k6-ha cannot kill a server it did not start');
      const result = await runComparison({
        a: remote
          ? { label: flags.aLabel ?? `A ${flags.aUrl}`, url: flags.aUrl }
          : { label: flags.aLabel ?? STORAGE_LABEL[flags.aStorage], local: { storage: flags.aStorage } },
        b: remote
          ? { label: flags.bLabel ?? `B ${flags.bUrl}`, url: flags.bUrl }
          : { label: flags.bLabel ?? STORAGE_LABEL[flags.bStorage], local: { storage: flags.bStorage } },
        vus: flags.vus,
        duration: flags.duration,
        env: flags.env ?? {},
        killAt: flags.killAt,
        restartAfter: flags.restartAfter,
        outDir: flags.out,
      });
      out(result.markdown);
      process.stderr.write(
        `k6-ha compare: wrote ${relative(process.cwd(), result.outDir) || result.outDir}/{a,b}.summary.json, comparison.md, comparison.json\n`,
      );
      for (const [side, runDir] of Object.entries(result.runDirs)) {
        if (runDir !== null)
          process.stderr.write(
            `k6-ha compare: ${side.toUpperCase()}'s run (timeline, report, k6.log): ${relative(process.cwd(), runDir) || runDir}\n`,
          );
      }
    });
}
