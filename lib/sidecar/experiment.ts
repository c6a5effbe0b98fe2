// Experiment files (experiments/*.json): which scenario, against what target, with which chaos
// plan and which gate profile. Validated with zod before anything starts; an error names the
// field path, the value found and what is allowed.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InvalidSettingError, parseDurationMs } from '../shared/env-parse.ts';
import { THRESHOLD_PROFILES } from '../../thresholds/index.ts';

export const SCENARIOS = ['jetstream-publish', 'eventstore-streams'] as const;

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const duration = z.string().regex(DURATION, { message: 'a duration such as 30s, 3m, 1m30s or 500ms' });

const selector = z.union([
  z.object({ name: z.string().min(1) }).strict(),
  z.object({ leaderOf: z.string().min(1) }).strict(),
  z.object({ notLeaderOf: z.string().min(1) }).strict(),
  z.object({ labelSelector: z.string().min(1) }).strict(),
], { message: 'a target: { "name": … }, { "leaderOf": "<stream>" }, { "notLeaderOf": "<stream>" } or { "labelSelector": "k=v" }' });

const base = {
  id: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
  at: duration,
  note: z.string().optional(),
};
const targeted = {
  ...base,
  target: selector,
  /** one (the first match, sorted by name) or every match; the blast-radius cap applies to the count */
  pick: z.enum(['one', 'all']).default('one'),
};

export const actionSchema = z.discriminatedUnion('action', [
  z.object({ ...targeted, action: z.literal('kill'), restartAfter: duration.optional() }).strict(),
  z.object({ ...targeted, action: z.literal('stop'), restartAfter: duration.optional() }).strict(),
  z.object({ ...targeted, action: z.literal('restart'), delay: duration.default('0s') }).strict(),
  z.object({ ...targeted, action: z.literal('wipe'), restartAfter: duration.default('0s') }).strict(),
  z.object({ ...targeted, action: z.literal('start') }).strict(),
  z.object({ ...base, action: z.literal('wait'), until: z.enum(['leader', 'recovered']).default('recovered'), timeout: duration.default('2m') }).strict(),
]);
export type ChaosAction = z.infer<typeof actionSchema>;

const localTarget = z.object({
  kind: z.literal('local'),
  stack: z.enum(['jetstream', 'eventstore']).default('jetstream'),
  replicas: z.union([z.literal(1), z.literal(3)]).default(3),
  /** eventstore fixture only: fsync (a persistent disk) or memory (pod-local storage that dies with the pod) */
  storage: z.enum(['fsync', 'memory']).default('fsync'),
}).strict();

const kubernetesTarget = z.object({
  kind: z.literal('kubernetes'),
  /** the kube context that must be current (or passed with --context) */
  context: z.string().min(1),
  namespaces: z.array(z.string().min(1)).min(1),
  /** how pods are named for JetStream server names, e.g. statefulset pods eventing-nats-0.. */
  natsUrl: z.string().optional(),
  allowNodeDeletion: z.boolean().default(false),
}).passthrough();

const envValue = z.union([z.string(), z.number()]).transform(String);

const presetSchema = z.object({
  description: z.string().optional(),
  env: z.record(z.string(), envValue).default({}),
  plan: z.array(actionSchema).optional(),
}).strict();

export const experimentSchema = z.object({
  $schema: z.string().optional(),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'lower-case letters, digits and -' }),
  description: z.string().default(''),
  scenario: z.enum(SCENARIOS),
  target: z.discriminatedUnion('kind', [localTarget, kubernetesTarget]),
  env: z.record(z.string(), envValue).default({}),
  thresholds: z.string().refine((v) => v in THRESHOLD_PROFILES, { message: `one of ${Object.keys(THRESHOLD_PROFILES).join(', ')}` }),
  /** the most members one action may touch */
  blastRadius: z.number().int().min(1).default(1),
  plan: z.array(actionSchema).default([]),
  presets: z.record(z.string(), presetSchema).default({}),
}).strict();

export type Experiment = z.infer<typeof experimentSchema>;

export class ExperimentError extends Error {
  constructor(
    message: string,
    readonly file: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ExperimentError';
  }
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc === '' ? String(k) : `${acc}.${String(k)}`), '') || '(top level)';
}

/** Every problem on its own line: `plan[0].at: "3x" is not allowed — expected a duration such as …`. */
export function describeIssues(input: unknown, error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') return `${path}: unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    const value = valueAt(input, issue.path);
    const shown = value === undefined ? 'missing' : JSON.stringify(value);
    return `${path}: ${shown} is not allowed — expected ${issue.message.replace(/^Invalid (input|option): expected /, '')}`;
  });
}

export function parseExperiment(input: unknown, file: string): Experiment {
  const result = experimentSchema.safeParse(input);
  if (!result.success) {
    throw new ExperimentError(`invalid experiment ${file}:\n  ${describeIssues(input, result.error).join('\n  ')}`, file, { cause: result.error });
  }
  const exp = result.data;
  checkPlanConsistency(exp, file);
  return exp;
}

export function loadExperiment(file: string): Experiment {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ExperimentError(`cannot read experiment ${file}: ${(err as Error).message}`, file, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ExperimentError(`experiment ${file} is not valid JSON: ${(err as Error).message}`, file, { cause: err });
  }
  return parseExperiment(json, file);
}

/** Applies a preset (e.g. the seed's 5–10 minute timings) on top of the experiment. */
export function applyPreset(exp: Experiment, preset: string | undefined, file: string): Experiment {
  if (preset === undefined) return exp;
  const p = exp.presets[preset];
  if (p === undefined) {
    const known = Object.keys(exp.presets);
    throw new ExperimentError(`--preset ${JSON.stringify(preset)} is not defined in ${file}; ${known.length ? `presets: ${known.join(', ')}` : 'it defines no presets'}`, file);
  }
  const merged = { ...exp, env: { ...exp.env, ...p.env }, plan: p.plan ?? exp.plan };
  checkPlanConsistency(merged, file);
  return merged;
}

/** Rules zod cannot express: offsets inside the run, and no action after the load ends. */
function checkPlanConsistency(exp: Experiment, file: string): void {
  const problems: string[] = [];
  let runMs: number | null = null;
  const durationText = exp.env['DURATION'];
  if (durationText !== undefined) {
    try {
      runMs = parseDurationMs('env.DURATION', durationText);
    } catch (err) {
      if (err instanceof InvalidSettingError) problems.push(`env.DURATION: ${JSON.stringify(durationText)} is not allowed — expected ${err.allowed}`);
    }
  }
  exp.plan.forEach((a, i) => {
    const at = parseDurationMs(`plan[${i}].at`, a.at);
    if (runMs !== null && at >= runMs) problems.push(`plan[${i}].at: ${JSON.stringify(a.at)} is not allowed — expected an offset before the end of the load (DURATION ${durationText})`);
    if (a.action !== 'wait' && 'target' in a && exp.target.kind === 'local' && 'labelSelector' in a.target) {
      problems.push(`plan[${i}].target: labelSelector is for target kind "kubernetes"; local members are chosen by name, leaderOf or notLeaderOf`);
    }
  });
  if (problems.length > 0) throw new ExperimentError(`invalid experiment ${file}:\n  ${problems.join('\n  ')}`, file);
}

export function actionId(action: ChaosAction, index: number): string {
  return action.id ?? `a${index + 1}-${action.action}`;
}
