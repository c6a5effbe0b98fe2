// `k6-ha run`, `k6-ha sidecar` and `k6-ha validate`: experiments against the embedded local stack
// or a Kubernetes cluster (target kind "kubernetes": --context, --namespace, --kubeconfig).
import type { Command } from 'commander';
import { relative } from 'node:path';
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
import { perSecondEnv, readPerSecond, scenarioPerSecond } from '../run/per-second-source.ts';
import { freePort } from '../stack/free-port.ts';
import { parsePort } from '../shared/env-parse.ts';
import { InvalidSettingError } from '../shared/errors.ts';
import { runnerSlot, segmentFlags } from '../shared/runners.ts';
import { TOKEN_PATTERN } from '../sidecar/control-server.ts';

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
      "no per-second charts in report.html: k6 records no per-period aggregates (k6's web dashboard, recording only; its cost: BENCHMARKS.md)",
    )
    .option(
      '--dashboard',
      "also write k6's own web dashboard page to <run dir>/k6-dashboard.html (K6_WEB_DASHBOARD_EXPORT; no port opened beyond 127.0.0.1), linked from report.html",
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
    .option('--port <port>', 'control API port (0: any free port)', '0')
    .option(
      '--listen <host>',
      'address the control API listens on: 127.0.0.1, or 0.0.0.0 in a pod behind a Service',
      '127.0.0.1',
    )
    .option(
      '--public-url <url>',
      'base URL the k6 runners reach the control API by (in a cluster: http://<service>.<ns>.svc:<port>); the token ($K6HA_SIDECAR_TOKEN, else random) is appended',
    )
    .option(
      '--runners <N>',
      'k6 runners of the run (k6-operator parallelism): each registers its execution segment; one merged verdict',
    )
    .option(
      '--runner-api <url>',
      "each runner's k6 REST API, {i} for its index (k6-operator: http://<testrun>-service-{i}.<ns>.svc:6565), or one URL per runner separated by commas; default 127.0.0.1 ports printed below",
    )
    .option(
      '--linger',
      'after the artifacts are written, stay up (serving nothing new) until SIGTERM: `kubectl cp` them from the pod',
    )
    .action(
      async (
        file: string,
        flags: RunFlags & { port: string; listen: string; publicUrl?: string; runnerApi?: string; linger?: boolean },
      ) => {
        const log = (line: string): void => void process.stderr.write(`k6-ha: ${line}\n`);
        const controlPort = parsePort('--port', flags.port, { allowZero: true });
        const { port: _port, listen, publicUrl, runnerApi, linger, ...runFlags } = flags;
        const runOptions = toRunOptions(file, runFlags);
        const { experiment } = prepareExperiment(runOptions);
        const runners = experiment.runners ?? 1;
        const token = process.env['K6HA_SIDECAR_TOKEN'];
        if (token !== undefined && !TOKEN_PATTERN.test(token))
          throw InvalidSettingError.format('K6HA_SIDECAR_TOKEN', '(hidden)', '16–128 letters or digits');
        if (publicUrl !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(publicUrl))
          throw InvalidSettingError.format('--public-url', publicUrl, 'http(s)://host:port with no path');
        const runnerApiList = runnerApi?.includes(',') === true ? runnerApi.split(',') : null;
        if (
          runnerApi !== undefined &&
          (runnerApiList === null
            ? runners > 1 && !runnerApi.includes('{i}')
            : runnerApiList.length !== runners || runnerApiList.some((u) => !/^https?:\/\/[^/\s]+\/?$/.test(u)))
        )
          throw InvalidSettingError.format(
            '--runner-api',
            runnerApi,
            `a URL with {i} for the runner index, or ${runners} URL(s) separated by commas (http://host:port)`,
          );
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
        const addresses: string[] = [];
        for (let i = 0; i < runners; i++) addresses.push(`127.0.0.1:${await freePort()}`);
        const apis = addresses.map((a, i) =>
          runnerApi === undefined
            ? `http://${a}`
            : (runnerApiList?.[i] ?? runnerApi.replaceAll('{i}', String(i + 1))).replace(/\/+$/, ''),
        );
        const k6ApiAddress = addresses[0] as string;
        const target = await startTarget(
          experiment,
          runId,
          runDir,
          log,
          apis[0] ?? null,
          controlPort,
          kube,
          runners > 1 ? { runners, runnerApis: apis } : null,
          {
            host: listen,
            ...(token === undefined ? {} : { token }),
            ...(publicUrl === undefined ? {} : { publicBase: publicUrl }),
          },
        );
        const env = {
          ...target.stack.k6Env(),
          ...experiment.env,
          THRESHOLDS: experiment.thresholds,
          SIDECAR_URL: target.control.url,
        };
        const envArgs = Object.entries(env)
          .map(([k, v]) => `-e ${k}=${v}`)
          .join(' ');
        process.stdout.write(
          runners === 1
            ? `run ${runId} in ${relative(process.cwd(), runDir)}\nrun k6 with:\n  k6 run --address ${k6ApiAddress} ${envArgs} build/${experiment.scenario}.js\n`
            : `run ${runId} in ${relative(process.cwd(), runDir)}\nrun ${runners} k6 runners (as k6-operator does), then resume each with PATCH /v1/status {"data":{"attributes":{"paused":false}}}:\n${addresses
                .map(
                  (a, i) =>
                    `  k6 run ${segmentFlags(runnerSlot(i + 1, runners)).join(' ')} --paused --address ${runnerApi === undefined ? a : runnerApiList === null ? '0.0.0.0:6565' : new URL(apis[i] as string).host} --tag instance_id=${i + 1} ${envArgs} build/${experiment.scenario}.js`,
                )
                .join('\n')}\n`,
        );
        // Not in the line above: the user's k6 decides (what the recording costs: BENCHMARKS.md).
        const perSecond = scenarioPerSecond(experiment.scenario, env);
        process.stdout.write(
          `for report.html's per-second charts, in k6's environment: ${Object.entries(
            perSecondEnv(runDir, { tags: perSecond.tags }),
          )
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}\n`,
        );
        let stopping = false;
        const stop = async (reason: string): Promise<void> => {
          if (stopping) return;
          stopping = true;
          const restored = await target.sidecar.shutdown(reason);
          if (restored.length > 0) log(`restored ${restored.join(', ')}`);
          // k6 closes its recording only after handleSummary() delivered the summary: wait for it a little.
          target.sidecar.writeArtifacts(
            null,
            await readPerSecond(runDir, target.sidecar.timeline.zero, log, {
              waitMs: 10_000,
              outcomes: target.sidecar.outcomeRecords(),
              reportedRequest: perSecond.reportedRequest,
              split: perSecond.split,
            }),
          );
          await target.control.close();
          await target.stack.stop();
          // The merged verdict (or the one runner's summary) in this process's output: a pod's log.
          if (target.sidecar.summary !== null) process.stdout.write(`${target.sidecar.summary.text}\n`);
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
            .then(() => stop(runners === 1 ? 'k6 delivered its summary' : 'every runner delivered its summary'))
            .then(async () => {
              if (linger !== true) return;
              log('--linger: the artifacts stay in this pod until SIGTERM (kubectl cp them now)');
              // A timer keeps the event loop alive: with the control server closed nothing else does,
              // and Node would end the process (exit 13, an unsettled await) — the pod's container
              // restarted and the run started over, as the first real-node run showed.
              const keepAlive = setInterval(() => undefined, 60_000);
              await new Promise<void>((done) => {
                process.once('SIGTERM', () => done());
                process.once('SIGINT', () => done());
              });
              clearInterval(keepAlive);
            })
            .then(resolve);
        });
      },
    );

  withExperimentFlags(
    program
      .command('validate')
      .description('validate an experiment file and preflight its plan; starts nothing')
      .argument('<experiment>', 'experiment file'),
  ).action((file: string, flags: RunFlags) => {
    process.stdout.write(`${formatDryRun(prepareExperiment(toRunOptions(file, flags)))}\n`);
  });
}
