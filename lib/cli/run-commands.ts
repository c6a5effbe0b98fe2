// `k6-ha run`, `k6-ha sidecar` and `k6-ha validate`: experiments against the embedded local stack
// or a Kubernetes cluster (target kind "kubernetes": --context, --namespace, --kubeconfig).
import type { Command } from 'commander';
import { join, relative } from 'node:path';
import {
  connectKubernetes,
  createRunDir,
  formatDryRun,
  prepareExperiment,
  runExperiment,
  startTarget,
  type RunOptions,
} from '../run/run.ts';
import { DEFAULT_RESULTS_DIR_HELP } from '../sidecar/artifacts.ts';
import { K6_SAMPLES_FILE, readPerSecond } from '../run/per-second-source.ts';
import { freePort } from '../stack/free-port.ts';
import { parsePort } from '../shared/env-parse.ts';

/** The command's options as commander parses them: RunOptions without the positional file. */
type RunFlags = Omit<RunOptions, 'experimentFile' | 'log' | 'k6Stdout' | 'onRunDir'>;

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function withExperimentFlags(cmd: Command): Command {
  return cmd
    .option('-d, --duration <duration>', 'load duration, e.g. 30s or 5m (overrides the experiment env DURATION)')
    .option('-r, --rate <events/s>', 'arrival rate in events per second (overrides RATE)')
    .option('--replicas <1|3>', 'stream replicas of the local JetStream stack')
    .option(
      '--preset <name>',
      'apply a preset from the experiment file, e.g. "seed" for the seed\'s 5–10 minute timings',
    )
    .option('--thresholds <profile>', 'gate profile from thresholds/ (overrides the experiment)')
    .option('-e, --env <KEY=VALUE>', 'extra k6 environment (repeatable)', collect)
    .option('-o, --out-dir <dir>', `where run directories go (default: ${DEFAULT_RESULTS_DIR_HELP})`)
    .option(
      '--context <name>',
      'kubernetes targets: the kube context to use; overrides target.context (any other context is refused)',
    )
    .option(
      '--namespace <ns>',
      'kubernetes targets: narrow target.namespaces to this one of them (it cannot add a namespace)',
    )
    .option(
      '--kubeconfig <file>',
      'kubernetes targets: kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)',
    );
}

function toRunOptions(file: string, flags: RunFlags): RunOptions {
  return { ...flags, experimentFile: file };
}

export function registerRunCommands(program: Command): void {
  withExperimentFlags(
    program
      .command('run')
      .description(
        "run an experiment end to end: local stack or kubernetes cluster + sidecar + real k6; exits with k6's code (99 = a gate failed)",
      )
      .argument('<experiment>', 'experiment file, e.g. experiments/steady-state.json'),
  )
    .option(
      '--dry-run',
      'print the plan with resolved targets and exit; changes nothing (kubernetes: read-only API calls)',
    )
    .option(
      '--runners <N>',
      'k6 runners sharing the load, started as k6-operator starts a TestRun with parallelism N (execution segments, --paused, resumed over the REST API); one merged verdict',
    )
    .option(
      '--no-per-second',
      'no per-second charts in report.html: k6 writes no samples file (it costs k6 ≈ 20 % more CPU per event; BENCHMARKS.md)',
    )
    .action(async (file: string, flags: RunFlags) => {
      process.exitCode = await runExperiment(toRunOptions(file, flags));
    });

  withExperimentFlags(
    program
      .command('sidecar')
      .description(
        'start the local stack and the sidecar only, print the k6 flags to use, and wait for k6 to finish (Ctrl-C to stop)',
      )
      .argument('<experiment>', 'experiment file'),
  )
    .option('--port <port>', 'control API port on 127.0.0.1 (0: any free port)', '0')
    .action(async (file: string, flags: RunFlags & { port: string }) => {
      const log = (line: string): void => void process.stderr.write(`k6-ha: ${line}\n`);
      const controlPort = parsePort('--port', flags.port, { allowZero: true });
      const runOptions = toRunOptions(file, flags);
      const { experiment } = prepareExperiment(runOptions);
      const kube = experiment.target.kind === 'kubernetes' ? await connectKubernetes(experiment, runOptions) : null;
      if (kube !== null) {
        try {
          await kube.preview();
        } catch (err) {
          await kube.close();
          throw err;
        }
      }
      const { runId, runDir } = createRunDir(experiment, flags.outDir);
      const k6ApiAddress = `127.0.0.1:${await freePort()}`;
      const target = await startTarget(experiment, runId, runDir, log, `http://${k6ApiAddress}`, controlPort, kube);
      const env = {
        ...target.stack.k6Env(),
        ...experiment.env,
        THRESHOLDS: experiment.thresholds,
        SIDECAR_URL: target.control.url,
      };
      process.stdout.write(
        `run ${runId} in ${relative(process.cwd(), runDir)}\nrun k6 with:\n  k6 run --address ${k6ApiAddress} ${Object.entries(
          env,
        )
          .map(([k, v]) => `-e ${k}=${v}`)
          .join(' ')} build/${experiment.scenario}.js\n`,
      );
      // Not in the line above: the samples cost k6 ≈ 20 % more CPU per event (BENCHMARKS.md), the user's k6 decides.
      process.stdout.write(`for report.html's per-second charts add: --out json=${join(runDir, K6_SAMPLES_FILE)}\n`);
      let stopping = false;
      const stop = async (reason: string): Promise<void> => {
        if (stopping) return;
        stopping = true;
        const restored = await target.sidecar.shutdown(reason);
        if (restored.length > 0) log(`restored ${restored.join(', ')}`);
        // k6 closes its --out file only after handleSummary() delivered the summary: wait for it a little.
        target.sidecar.writeArtifacts(
          null,
          await readPerSecond(runDir, target.sidecar.timeline.zero, log, { waitMs: 10_000 }),
        );
        await target.control.close();
        await target.stack.stop();
        log(`stopped (${reason}); report: ${relative(process.cwd(), runDir)}/report.md`);
      };
      await new Promise<void>((resolve) => {
        const onSignal = (): void => {
          // Like `run`: an interrupted sidecar reports the interruption.
          process.exitCode = 130;
          void stop('interrupted').then(resolve);
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        void target.sidecar
          .waitForSummary()
          .then(() => stop('k6 delivered its summary'))
          .then(resolve);
      });
    });

  withExperimentFlags(
    program
      .command('validate')
      .description('validate an experiment file and preflight its plan; starts nothing')
      .argument('<experiment>', 'experiment file'),
  ).action((file: string, flags: RunFlags) => {
    process.stdout.write(`${formatDryRun(prepareExperiment(toRunOptions(file, flags)))}\n`);
  });
}
