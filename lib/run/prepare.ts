// Before anything starts: an experiment loaded, its preset and the flags applied, validated by the
// same rules as the file, its scenario environment checked by the scenario's own parsers, and its
// plan preflighted (selectors resolved, the plan-wide blast radius). Also the --dry-run text.
import { readFileSync } from 'node:fs';
import { parsePositiveInt, parseRunDurationMs } from '../shared/env-parse.ts';
import { ExperimentError, InvalidSettingError, ScenarioEnvError } from '../shared/errors.ts';
import { publishVus } from '../shared/publish-load.ts';
import { rateFlagRefusal, SCENARIOS } from '../shared/scenarios.ts';
import { preflightPlan, type PreflightWorld, type ResolvedPreview, selectorText } from '../chaos/chaos.ts';
import { actionId, applyPreset, type Experiment, loadExperiment, parseExperiment } from '../experiment/experiment.ts';
import { checkScenarioEnv } from '../experiment/scenario-env.ts';
import { replicaTargets, targetKey, targetModule } from '../targets/index.ts';
import { MAX_RUNNERS } from '../shared/runners.ts';

/** Scenarios whose event ids and accounting know about several runners. */
export const MULTI_RUNNER_SCENARIOS: readonly string[] = ['jetstream-publish'];

export interface RunOptions {
  experimentFile: string;
  duration?: string;
  rate?: string;
  replicas?: string;
  /** k6 runners sharing the load (k6-operator's parallelism), overrides the experiment's `runners` */
  runners?: string;
  preset?: string;
  thresholds?: string;
  outDir?: string;
  dryRun?: boolean;
  /** false (--no-per-second): k6 records no per-period aggregates, so no per-second charts (what they cost k6: BENCHMARKS.md) */
  perSecond?: boolean;
  /** --dashboard: k6 also exports its own web dashboard page to <run dir>/k6-dashboard.html, linked from report.html */
  dashboard?: boolean;
  /** extra k6 environment, KEY=VALUE */
  env?: string[];
  /** kubernetes targets: the kube context to use (overrides target.context) */
  context?: string;
  /** kubernetes targets: the only namespace the plan may touch (replaces target.namespaces) */
  namespace?: string;
  /** kubernetes targets: the kubeconfig file (default $KUBECONFIG, ~/.kube/config or in-cluster) */
  kubeconfig?: string;
  log?: (line: string) => void;
  /** k6's stdout (its progress bar and end-of-test summary): ours (default), or 'log': with its log, on stderr — `compare` keeps stdout for its table */
  k6Stdout?: 'inherit' | 'log';
  /** told the run directory as soon as it exists (`compare --local` names each side's) */
  onRunDir?: (runDir: string) => void;
}

export interface PreparedExperiment {
  experiment: Experiment;
  previews: ResolvedPreview[];
  /** kubernetes targets: true once the selectors were resolved against the cluster */
  resolvedAgainstCluster?: boolean;
}

/** What a local stack's plan may target, known before anything starts (its target module says). */
export function localPreflightWorld(exp: Experiment): PreflightWorld {
  return targetModule(exp.target).preflightWorld(exp.target);
}

/** Loads, applies preset and flag overrides, validates, and preflights the plan. Starts nothing. */
export function prepareExperiment(opts: RunOptions): PreparedExperiment {
  const file = opts.experimentFile;
  let exp = applyPreset(loadExperiment(file), opts.preset, file);
  const env = { ...exp.env };
  try {
    if (opts.duration !== undefined) {
      parseRunDurationMs('--duration', opts.duration);
      env['DURATION'] = opts.duration;
    }
    if (opts.rate !== undefined) {
      const refusal = rateFlagRefusal(exp.scenario);
      if (refusal !== null) throw new ExperimentError(refusal, { file });
      env['RATE'] = String(parsePositiveInt('--rate', opts.rate, 100_000));
    }
    for (const pair of opts.env ?? []) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw InvalidSettingError.format('--env', pair, 'KEY=VALUE');
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  } catch (err) {
    if (err instanceof InvalidSettingError) throw new ExperimentError(err.message, { file, cause: err });
    throw err;
  }
  const target = { ...exp.target } as Record<string, unknown>;
  if (opts.namespace !== undefined || opts.context !== undefined || opts.kubeconfig !== undefined) {
    if (exp.target.kind !== 'kubernetes')
      throw new ExperimentError('--context, --namespace and --kubeconfig apply to kubernetes targets only', { file });
    if (opts.namespace !== undefined) {
      // It narrows the allow-list to one of its namespaces; it cannot point the run elsewhere.
      const allowed = exp.target.kind === 'kubernetes' ? exp.target.namespaces : [];
      if (!allowed.includes(opts.namespace))
        throw new ExperimentError(
          `--namespace ${JSON.stringify(opts.namespace)} is not allowed — expected one of target.namespaces (${allowed.join(', ')}) from the experiment file`,
          { file },
        );
      target['namespaces'] = [opts.namespace];
    }
    if (opts.context !== undefined) target['context'] = opts.context;
  }
  if (opts.replicas !== undefined) {
    // A target that has replicas to choose says so in its module; the override is then re-validated with the file.
    const replicas = targetModule(exp.target).replicas;
    if (replicas === undefined)
      throw new ExperimentError(
        `--replicas applies to ${replicaTargets()} only (this experiment's target is ${targetKey(exp.target)})`,
        { file },
      );
    if (!replicas.allowed.includes(opts.replicas))
      throw new ExperimentError(
        `invalid --replicas=${JSON.stringify(opts.replicas)}: ${replicas.allowed.join(' or ')}`,
        { file },
      );
    target['replicas'] = Number(opts.replicas);
  }
  let runners = exp.runners;
  if (opts.runners !== undefined) {
    try {
      runners = parsePositiveInt('--runners', opts.runners, MAX_RUNNERS);
    } catch (err) {
      if (err instanceof InvalidSettingError) throw new ExperimentError(err.message, { file, cause: err });
      throw err;
    }
  }
  // Event ids per runner and the merged accounting are jetstream-publish's (lib/shared/runners.ts).
  if ((runners ?? 1) > 1 && !MULTI_RUNNER_SCENARIOS.includes(exp.scenario))
    throw new ExperimentError(
      `runners: ${runners} is not allowed for scenario ${exp.scenario} — several runners (one merged verdict) are supported for ${MULTI_RUNNER_SCENARIOS.join(', ')}; use 1`,
      { file },
    );
  // Re-validate the merged result so overrides obey the same rules as the file.
  exp = parseExperiment(
    {
      ...exp,
      env,
      target,
      thresholds: opts.thresholds ?? exp.thresholds,
      ...(runners === undefined ? {} : { runners }),
    },
    file,
  );
  try {
    checkScenarioEnv(exp.scenario, exp.env, exp.thresholds);
  } catch (err) {
    if (err instanceof ScenarioEnvError)
      throw new ExperimentError(`invalid experiment ${file}:\n  ${err.message}`, { file, cause: err });
    throw err;
  }
  const files = openFilesProblem(exp);
  if (files !== null) throw new ExperimentError(`experiment ${file} cannot run here: ${files}`, { file });
  // Kubernetes selectors are resolved against the cluster (read-only) when the run starts.
  const previews =
    exp.target.kind === 'local'
      ? preflightPlan(exp.plan, localPreflightWorld(exp), exp.blastRadius)
      : unresolvedPreviews(exp);
  return { experiment: exp, previews };
}

function unresolvedPreviews(exp: Experiment): ResolvedPreview[] {
  return exp.plan.map((a, i) => ({
    id: actionId(a, i),
    at: a.at,
    action: a.action,
    target: selectorText(a),
    candidates: [],
    note: '',
  }));
}

export function formatDryRun(prepared: PreparedExperiment): string {
  const { experiment: exp, previews } = prepared;
  const lines = [
    `experiment ${exp.name}: ${exp.description}`,
    `  scenario ${exp.scenario}, target ${JSON.stringify(exp.target)}, gates ${exp.thresholds}, blast radius ${exp.blastRadius}`,
    `  k6 env: ${
      Object.entries(exp.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || '(defaults)'
    }`,
    previews.length === 0 ? '  plan: no chaos actions (steady state)' : '  plan:',
    ...previews.map(
      (p) =>
        `    at ${p.at.padEnd(6)} ${p.id.padEnd(14)} ${p.action.padEnd(8)} ${p.target.padEnd(28)} → ${p.candidates.length > 0 ? p.candidates.join(' | ') : '-'}${p.note ? `  (${p.note})` : ''}`,
    ),
    exp.target.kind !== 'kubernetes'
      ? '  dry run: nothing was started or changed.'
      : prepared.resolvedAgainstCluster === true
        ? `  dry run: resolved in context ${exp.target.context} with read-only API calls; nothing was started or changed.`
        : '  validated only: the cluster was not asked (`k6-ha run <file> --dry-run` resolves the selectors read-only).',
  ];
  return lines.join('\n');
}

/** Files k6 keeps open besides its VUs' connections (binaries, logs, its API, the runtime). */
const OPEN_FILES_MARGIN = 512;

/** This process's soft limit on open files (k6 inherits it), from /proc; null where there is none to read. */
export function openFilesLimit(): number | null {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return line === undefined || line === 'unlimited' ? null : Number(line);
  } catch {
    return null;
  }
}

/**
 * A fixed-rate scenario pre-allocates a VU per event that may be in flight for a whole timeout,
 * and in an outage every one of them holds a connection to the target and one to the sidecar at
 * once. Past the open-file limit k6 fails its connections with EMFILE — it could not even tell the
 * sidecar the load was over — so such a run is refused before anything starts.
 */
export function openFilesProblem(exp: Experiment, limit = openFilesLimit()): string | null {
  if (limit === null || SCENARIOS[exp.scenario].sizing !== 'rate') return null;
  const config = SCENARIOS[exp.scenario].parse(exp.env) as { rate?: unknown; requestTimeoutMs?: unknown };
  if (typeof config.rate !== 'number' || typeof config.requestTimeoutMs !== 'number') return null;
  const vus = publishVus(config.rate, config.requestTimeoutMs);
  const needed = 2 * vus + OPEN_FILES_MARGIN;
  if (needed <= limit) return null;
  const timeoutS = config.requestTimeoutMs / 1000;
  const maxRate = Math.max(0, Math.floor(((limit - OPEN_FILES_MARGIN) / 2 - 5) / 1.1 / (timeoutS + 1)));
  return `RATE=${config.rate} with REQUEST_TIMEOUT=${timeoutS}s pre-allocates ${vus.toLocaleString('en-US')} VUs, and during an outage each holds a connection to the target and one to the sidecar: k6 needs up to ${needed.toLocaleString('en-US')} open files, and this shell allows ${limit.toLocaleString('en-US')} (ulimit -n). Raise the limit (ulimit -n ${needed}) or lower RATE to at most ${maxRate.toLocaleString('en-US')} (or REQUEST_TIMEOUT)`;
}
