// `k6-ha run`: one experiment, end to end — validate, start the stack and the sidecar, run real
// k6 against them, write the artifacts, stop everything, and return k6's exit code (99 when a
// gate failed). Ctrl-C stops the chaos schedule, restores members and lets k6 finish cleanly.
import type { ChildProcess } from 'node:child_process';
import { join, relative } from 'node:path';
import { ProcessRegistry } from '../stack/processes.ts';
import { freePort } from '../stack/free-port.ts';
import { ensureTool, PROJECT_ROOT } from '../tools/toolchain.ts';
import { ControlServer, type ControlServerOptions } from '../sidecar/control-server.ts';
import { Sidecar } from '../sidecar/sidecar.ts';
import type { TargetUnderTest } from '../chaos/target.ts';
import type { Experiment } from '../experiment/experiment.ts';
import type { KubernetesConnection } from '../kube/kube-target.ts';
import { targetModule } from '../targets/index.ts';
import {
  dashboardExportEnv,
  type PerSecondSource,
  readPerSecond,
  scenarioPerSecond,
  startPerSecondSource,
} from './per-second-source.ts';
import { writeCiOutputs } from '../report/ci.ts';
import { buildScenarios, readK6Metric, scenarioScript, startK6 } from './k6-process.ts';
import { formatDryRun, prepareExperiment, type RunOptions } from './prepare.ts';
import { createRunDir } from './run-dir.ts';
import { fleetExitCode, joinSamples, readTrendSamples, resumeFleet, startFleet } from './runners.ts';

// The run's parts, for callers that take them from here (the CLI, compare, the tests).
export { createRunDir } from './run-dir.ts';
export {
  formatDryRun,
  localPreflightWorld,
  prepareExperiment,
  type PreparedExperiment,
  type RunOptions,
} from './prepare.ts';

export interface StartedTarget {
  /** the target under test (named stack for the callers that predate other targets) */
  stack: TargetUnderTest;
  sidecar: Sidecar;
  control: ControlServer;
}

/**
 * The target (its registry module starts it: a local stack of real servers, or a connected
 * cluster) and a sidecar bound to it, with the control API listening.
 */
export async function startTarget(
  exp: Experiment,
  runId: string,
  runDir: string,
  log: (l: string) => void,
  k6ApiUrl: string | null,
  controlPort: number,
  kube: KubernetesConnection | null,
  fleet: { runners: number; runnerApis: Array<string | null> } | null = null,
  controlOptions: ControlServerOptions = {},
): Promise<StartedTarget> {
  let target: TargetUnderTest;
  try {
    target = await targetModule(exp.target).start({ experiment: exp, target: exp.target, runDir, log, kube });
  } catch (err) {
    await kube?.close();
    throw err;
  }
  try {
    const sidecar = new Sidecar({
      runId,
      runDir,
      experiment: exp,
      target,
      k6ApiUrl,
      log,
      ...(fleet === null ? {} : { runners: fleet.runners, runnerApis: fleet.runnerApis }),
    });
    await sidecar.prepare();
    const control = new ControlServer(sidecar, controlOptions);
    await control.listen(controlPort);
    return { stack: target, sidecar, control };
  } catch (err) {
    await target.stop();
    throw err;
  }
}

/**
 * k6's log for the terminal (k6.log has all of it): the per-request "Request Failed" warnings of
 * an outage (hundreds a second) are folded into one count every few seconds.
 */
function foldedK6Log(file: string, log: (l: string) => void): { onLine: (line: string) => void; finish: () => void } {
  let folded = 0;
  let lastNotice = 0;
  return {
    onLine: (line) => {
      if (line.includes('msg="Request Failed"')) {
        folded++;
        if (Date.now() - lastNotice > 5000) {
          lastNotice = Date.now();
          log(
            `k6: ${folded} request(s) failed at transport level so far (timeouts, refused connections; details in ${file})`,
          );
        }
        return;
      }
      process.stderr.write(`${line}\n`);
    },
    finish: () => {
      if (folded > 0) log(`k6: ${folded} request(s) failed at transport level in all (see ${file})`);
    },
  };
}

/** Prints chaos-relevant timeline events as they happen: the progress of a long run. */
function echoTimeline(sidecar: Sidecar, log: (l: string) => void): void {
  let done = false;
  sidecar.timeline.onEvent((e) => {
    // After the sidecar stopped, the stack's shutdown is bookkeeping, not progress.
    if (done || e.kind === 'sample') return;
    if (e.source === 'sidecar' && e.kind === 'stopped') done = true;
    const at = e.offset_ms === null ? '' : `t+${(e.offset_ms / 1000).toFixed(1)}s `;
    const detail = Object.entries(e.detail)
      .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    log(`${at}${e.source} ${e.kind}${e.target ? ` ${e.target}` : ''}${detail ? ` (${detail})` : ''}`);
  });
}

/** Checks the kube context and connects (the client library is loaded only for kubernetes targets). */
export async function connectKubernetes(
  exp: Experiment,
  opts: Pick<RunOptions, 'context' | 'kubeconfig'>,
): Promise<KubernetesConnection> {
  const { connectKubernetesTarget } = await import('../kube/kube-target.ts');
  return connectKubernetesTarget(exp, {
    ...(opts.context === undefined ? {} : { context: opts.context }),
    ...(opts.kubeconfig === undefined ? {} : { kubeconfig: opts.kubeconfig }),
  });
}

export async function runExperiment(opts: RunOptions): Promise<number> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`k6-ha: ${line}\n`));
  const prepared = prepareExperiment(opts);
  const exp = prepared.experiment;
  // Kubernetes: the context is checked and the plan resolved (read-only) before anything starts.
  let kube: KubernetesConnection | null = null;
  if (exp.target.kind === 'kubernetes') {
    kube = await connectKubernetes(exp, opts);
    try {
      prepared.previews = await kube.preview();
      prepared.resolvedAgainstCluster = true;
    } catch (err) {
      await kube.close();
      throw err;
    }
  }
  if (opts.dryRun === true) {
    await kube?.close();
    process.stdout.write(`${formatDryRun(prepared)}\n`);
    return 0;
  }
  let k6: string;
  try {
    k6 = await ensureTool('k6', { log });
    await buildScenarios();
  } catch (err) {
    await kube?.close();
    throw err;
  }
  const script = scenarioScript(exp.scenario);
  const { runId, runDir } = createRunDir(exp, opts.outDir);
  log(`run ${runId} → ${relative(process.cwd(), runDir) || runDir}`);
  opts.onRunDir?.(runDir);

  let interrupted = 0;
  let k6Child: ChildProcess | null = null;
  let perSecondSource: PerSecondSource | null = null;
  /** several runners: all their k6 processes (k6Child is then the first) */
  let fleetChildren: ChildProcess[] = [];
  let target: StartedTarget | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted++;
    if (interrupted === 1) {
      log(
        k6Child === null
          ? `${sig}: stopping; k6 has not started, nothing more will be`
          : `${sig}: stopping the chaos schedule and restoring members; k6 finishes its teardown (press Ctrl-C again to abort)`,
      );
      if (target !== null) {
        target.sidecar.markInterrupted(sig);
        target.sidecar.chaos.stop(`${sig} received`);
        void target.sidecar.chaos.settle().then(() => target?.sidecar.chaos.restore(`${sig} received`));
      }
      if (fleetChildren.length > 0) for (const c of fleetChildren) c.kill('SIGINT');
      else k6Child?.kill('SIGINT');
    } else {
      log('second interrupt: aborting k6');
      if (fleetChildren.length > 0) for (const c of fleetChildren) c.kill('SIGKILL');
      else k6Child?.kill('SIGKILL');
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const runners = exp.runners ?? 1;
    if (runners > 1) {
      const fleetRun = await runFleet({
        exp,
        runId,
        runDir,
        log,
        kube,
        k6,
        script,
        runners,
        perSecond: opts.perSecond !== false,
        interrupted: () => interrupted,
        onTarget: (t) => (target = t),
        onChildren: (children) => {
          fleetChildren = children;
          k6Child = children[0] ?? null;
        },
        onSource: (source) => (perSecondSource = source),
      });
      k6Child = null;
      fleetChildren = [];
      return interrupted > 0 ? 130 : fleetRun;
    }
    // k6's REST API tells the sidecar how many events were sent (teardown() cannot know).
    const k6ApiAddress = `127.0.0.1:${await freePort()}`;
    target = await startTarget(exp, runId, runDir, log, `http://${k6ApiAddress}`, 0, kube);
    if (interrupted > 0) return 130;
    echoTimeline(target.sidecar, log);
    const k6Env: Record<string, string> = {
      ...target.stack.k6Env(),
      ...exp.env,
      THRESHOLDS: exp.thresholds,
      SIDECAR_URL: target.control.url,
    };
    log(
      `k6 run ${script.replace(`${PROJECT_ROOT}/`, '')} (${
        Object.entries(exp.env)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || 'defaults'
      }, gates ${exp.thresholds})`,
    );
    // The per-second charts: k6 pushes its cumulative series every second (prometheus remote write,
    // native histograms) to a receiver of ours (BENCHMARKS.md, "Per-second data"); with
    // --dashboard k6's dashboard page too.
    const perSecond = scenarioPerSecond(exp.scenario, k6Env);
    if (opts.perSecond !== false) perSecondSource = await startPerSecondSource(runDir, perSecond.split);
    if (opts.dashboard === true) Object.assign(k6Env, dashboardExportEnv(runDir));
    const k6LogFile = join(runDir, 'k6.log');
    const terminalLog = foldedK6Log(k6LogFile, log);
    const k6Run = startK6({
      k6,
      script,
      env: k6Env,
      // k6's live progress bar on a terminal; quiet in CI logs, where our timeline lines show progress.
      args: [...(process.stdout.isTTY ? [] : ['--quiet']), ...(perSecondSource?.args ?? [])],
      ...(perSecondSource === null ? {} : { processEnv: perSecondSource.processEnv }),
      address: k6ApiAddress,
      logFile: k6LogFile,
      onLine: terminalLog.onLine,
      stdout: opts.k6Stdout ?? 'inherit',
      // A terminal Ctrl-C reaches only us, and we pass exactly one SIGINT on.
      detached: true,
    });
    const child = k6Run.child;
    k6Child = child;
    // Detached, k6 would outlive a kill -9 of this process and keep loading the target for the
    // rest of its duration; the watchdog kills its group if we die first.
    const k6Watchdog = new ProcessRegistry(runDir, 'k6.pid');
    if (child.pid !== undefined) k6Watchdog.register(child.pid);
    child.on('exit', () => k6Watchdog.dispose());
    // Without a terminal k6 runs --quiet, and a steady run has no timeline events to print: a
    // line every 15 s says the load is going (a 5-minute seed run would otherwise be silent).
    const sidecar = target.sidecar;
    const progress = process.stdout.isTTY
      ? null
      : setInterval(() => {
          void readK6Metric(`http://${k6ApiAddress}`, 'iterations').then((sent) => {
            const zero = sidecar.timeline.zero;
            if (sent === null || k6Child === null || zero === null) return;
            const seconds = (Date.now() - zero) / 1000;
            // Over the load so far, as k6's own rate of a counter is.
            const rate = seconds > 0 ? sent / seconds : 0;
            log(
              `t+${seconds.toFixed(1)}s k6: ${sent.toLocaleString('en-US')} events sent (${rate.toFixed(1)}/s), ${sidecar.notAckedSoFar} not acked so far`,
            );
          });
        }, 15_000);
    let exitCode: number;
    try {
      ({ exitCode } = await k6Run.done);
    } catch (err) {
      // k6 could not be started (ProcessStartError): a failed run, reported like any other.
      log((err as Error).message);
      exitCode = 1;
    }
    if (progress !== null) clearInterval(progress);
    terminalLog.finish();
    k6Child = null;
    const restored = await target.sidecar.shutdown(interrupted > 0 ? 'interrupted' : 'k6 exited');
    if (restored.length > 0) log(`restored ${restored.join(', ')}`);
    // k6 has exited: its last push (as it stopped its outputs) is in.
    if (perSecondSource !== null) {
      await perSecondSource.receiver.close();
      if (perSecondSource.receiver.refused > 0)
        log(
          `per-second data: ${perSecondSource.receiver.refused} of k6's pushes could not be decoded (${perSecondSource.receiver.lastError ?? ''})`,
        );
    }
    const perSecondData =
      opts.perSecond === false
        ? null
        : await readPerSecond(runDir, target.sidecar.timeline.zero, log, {
            outcomes: target.sidecar.outcomeRecords(),
            reportedRequest: perSecond.reportedRequest,
            split: perSecond.split,
          });
    const model = target.sidecar.writeArtifacts(exitCode, perSecondData);
    const ci = writeCiOutputs(model, relative(process.cwd(), runDir) || runDir);
    if (ci.length > 0) log(`CI: ${ci.join(', ')}`);
    const verdict =
      interrupted > 0
        ? ' — interrupted, the gates judged a shortened run'
        : exitCode === 99
          ? ' — a gate failed'
          : exitCode === 0
            ? ' — all gates passed'
            : '';
    log(
      `k6 exited ${exitCode}${verdict}; report: ${relative(process.cwd(), join(runDir, 'report.md'))} and report.html`,
    );
    // An interrupted run reports the interruption (130), whatever k6 made of its shortened test.
    return interrupted > 0 ? 130 : exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (k6Child !== null) (k6Child as ChildProcess).kill('SIGKILL');
    await perSecondSource?.receiver.close();
    for (const c of fleetChildren) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (target !== null) {
      await target.control.close();
      await target.stack.stop();
    } else {
      await kube?.close();
    }
  }
}

interface FleetRunInput {
  exp: Experiment;
  runId: string;
  runDir: string;
  log: (l: string) => void;
  kube: KubernetesConnection | null;
  k6: string;
  script: string;
  runners: number;
  perSecond: boolean;
  interrupted: () => number;
  onTarget: (t: StartedTarget) => void;
  onChildren: (children: ChildProcess[]) => void;
  /** the run's receiver, for the caller to close if the run ends early */
  onSource: (source: PerSecondSource | null) => void;
}

/**
 * `--runners N`: the target and one sidecar, N paused k6 runners started as k6-operator starts
 * them and resumed through their REST API like its starter; one merged summary, report and
 * junit from the sidecar; the verdict from all runners (fleetExitCode).
 */
async function runFleet(input: FleetRunInput): Promise<number> {
  const { exp, runId, runDir, log, kube, runners } = input;
  const addresses: string[] = [];
  for (let i = 0; i < runners; i++) addresses.push(`127.0.0.1:${await freePort()}`);
  const target = await startTarget(exp, runId, runDir, log, null, 0, kube, {
    runners,
    runnerApis: addresses.map((a) => `http://${a}`),
  });
  input.onTarget(target);
  if (input.interrupted() > 0) return 130;
  echoTimeline(target.sidecar, log);
  const env: Record<string, string> = {
    ...target.stack.k6Env(),
    ...exp.env,
    THRESHOLDS: exp.thresholds,
    SIDECAR_URL: target.control.url,
  };
  log(
    `${runners} k6 runners of ${input.script.replace(`${PROJECT_ROOT}/`, '')} (${
      Object.entries(exp.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || 'defaults'
    }, gates ${exp.thresholds}), each --execution-segment=(i-1)/${runners}:i/${runners} --paused, as k6-operator starts them`,
  );
  // Every runner pushes to one receiver; their series differ by instance_id (k6-operator's tag).
  const perSecond = scenarioPerSecond(exp.scenario, env);
  const source = input.perSecond ? await startPerSecondSource(runDir, perSecond.split) : null;
  input.onSource(source);
  const fleet = startFleet({
    k6: input.k6,
    script: input.script,
    env,
    count: runners,
    addresses,
    runDir,
    perSecond: input.perSecond,
    source,
    onExit: (index, exit) => {
      target.sidecar.runnerExited(index, exit.exitCode);
      log(`runner ${index} exited ${exit.exitCode}`);
    },
  });
  input.onChildren(fleet.map((r) => r.child));
  let exits: Array<{ exitCode: number }>;
  try {
    await resumeFleet(fleet);
    log(`resumed ${runners} runners through their REST API (PATCH /v1/status paused=false)`);
    exits = await Promise.all(fleet.map((r) => r.done.catch((err: Error) => (log(err.message), { exitCode: 1 }))));
  } catch (err) {
    for (const r of fleet) r.child.kill('SIGKILL');
    await Promise.all(fleet.map((r) => r.done.catch(() => undefined)));
    throw err;
  }
  const codes = exits.map((e) => e.exitCode);
  const exitCode = fleetExitCode(codes);
  const restored = await target.sidecar.shutdown(input.interrupted() > 0 ? 'interrupted' : 'k6 exited');
  if (restored.length > 0) log(`restored ${restored.join(', ')}`);
  // A runner killed by a signal left its samples file cut off: the merge uses the others' (and says so).
  const complete = fleet.filter((_, i) => (codes[i] ?? 1) < 128).map((r) => r.index);
  const samples = input.perSecond ? await joinSamples(fleet, runDir, complete) : null;
  if (complete.length < runners && input.perSecond)
    log(
      `per-second data and merged percentiles without runner(s) ${fleet
        .filter((r) => !complete.includes(r.index))
        .map((r) => r.index)
        .join(', ')} (killed: samples cut off)`,
    );
  if (samples !== null) {
    try {
      target.sidecar.trendSamples = await readTrendSamples(samples, target.sidecar.trendKeys());
    } catch (err) {
      log(`merged percentiles: ${(err as Error).message}; only min and max are merged`);
    }
  }
  // The per-second charts: all runners' pushes, merged per second by the receiver.
  let perSecondData: Awaited<ReturnType<typeof readPerSecond>> = null;
  if (source !== null) {
    await source.receiver.close();
    perSecondData = await readPerSecond(runDir, target.sidecar.timeline.zero, log, {
      outcomes: target.sidecar.outcomeRecords(),
      reportedRequest: perSecond.reportedRequest,
      split: perSecond.split,
    });
  }
  const model = target.sidecar.writeArtifacts(exitCode, perSecondData);
  if (target.sidecar.summary !== null) process.stdout.write(target.sidecar.summary.text);
  const ci = writeCiOutputs(model, relative(process.cwd(), runDir) || runDir);
  if (ci.length > 0) log(`CI: ${ci.join(', ')}`);
  log(
    `runners exited ${codes.join(', ')} → ${exitCode}${exitCode === 99 ? ' — a gate failed' : exitCode === 0 ? ' — all gates passed' : ''}; merged report: ${relative(process.cwd(), join(runDir, 'report.md'))} and report.html`,
  );
  return exitCode;
}
