// Experiment files (experiments/*.json): which scenario, against what target, with which chaos
// plan and which gate profile. Validated with zod before anything starts; an error names the
// field path, the value found and what is allowed.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDurationMs, parseRunDurationMs } from '../shared/env-parse.ts';
import { ExperimentError, InvalidSettingError } from '../shared/errors.ts';
import { SCENARIO_NAMES } from '../shared/scenarios.ts';
import { S3_DEFAULT_ACCESS_KEY, S3_DEFAULT_SECRET_KEY } from '../shared/scenario-config.ts';
import { THRESHOLD_PROFILES } from '../../thresholds/index.ts';

export const SCENARIOS = SCENARIO_NAMES;

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const DURATION_ALLOWED = 'a duration such as 30s, 3m, 1m30s or 500ms';
// On the type too, so a number or a missing offset reads the same as a malformed one.
// Every `.meta({ id })` names a definition in experiment.schema.json (reused parts are $refs there).
const duration = z
  .string({ error: DURATION_ALLOWED })
  .regex(DURATION, { error: DURATION_ALLOWED })
  .meta({ id: 'duration' });

const selector = z
  .union(
    [
      z.object({ name: z.string().min(1) }).strict(),
      z.object({ leaderOf: z.string().min(1) }).strict(),
      z.object({ notLeaderOf: z.string().min(1) }).strict(),
      // a fault-tolerance group (NATS Streaming's ft_group): its active member, or a standby
      z.object({ activeOf: z.string().min(1) }).strict(),
      z.object({ standbyOf: z.string().min(1) }).strict(),
      z.object({ labelSelector: z.string().min(1) }).strict(),
    ],
    {
      error:
        'a target: { "name": … }, { "leaderOf": "<stream>" }, { "notLeaderOf": "<stream>" }, { "activeOf": "<ft_group>" }, { "standbyOf": "<ft_group>" } or { "labelSelector": "k=v" }',
    },
  )
  .meta({ id: 'localSelector' });

/** Kubernetes names (RFC 1123 subdomain); checked here so a typo fails before anything starts. */
const KUBE_NAME_ALLOWED = 'a Kubernetes name (lower-case letters, digits, - and .)';
const kubeName = z
  .string({ error: KUBE_NAME_ALLOWED })
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { error: KUBE_NAME_ALLOWED })
  .max(253, { error: `${KUBE_NAME_ALLOWED}, at most 253 characters` })
  .meta({ id: 'kubernetesName' });
/** The namespace of a selector; the first of target.namespaces when left out. */
const namespaceField = { namespace: kubeName.optional() };

/** Pods: by name, by label selector, or the pod of a JetStream stream leader (or of its followers). */
export const podSelectorSchema = z
  .union(
    [
      z.object({ name: kubeName, ...namespaceField }).strict(),
      z.object({ labelSelector: z.string().min(1), ...namespaceField }).strict(),
      z.object({ leaderOf: z.string().min(1), ...namespaceField }).strict(),
      z.object({ notLeaderOf: z.string().min(1), ...namespaceField }).strict(),
      // a NATS Streaming FT group: the local nats-streaming target's, or target.stan's pods
      z.object({ activeOf: z.string().min(1), ...namespaceField }).strict(),
      z.object({ standbyOf: z.string().min(1), ...namespaceField }).strict(),
    ],
    {
      error:
        'a pod selector: { "name": … }, { "labelSelector": "k=v" }, { "leaderOf": "<stream>" }, { "notLeaderOf": "<stream>" }, { "activeOf": "<ft_group>" } or { "standbyOf": "<ft_group>" }, each with an optional "namespace"',
    },
  )
  .meta({ id: 'podSelector' });
export type PodSelector = z.infer<typeof podSelectorSchema>;

/** Nodes: by name, by label, or the node(s) hosting some pods; `notNodeOf` excludes the nodes of other pods. */
export const nodeSelectorSchema = z
  .union(
    [
      z.object({ name: kubeName }).strict(),
      z.object({ labelSelector: z.string().min(1), notNodeOf: podSelectorSchema.optional() }).strict(),
      z.object({ nodeOf: podSelectorSchema, notNodeOf: podSelectorSchema.optional() }).strict(),
    ],
    {
      error:
        'a node selector: { "name": … }, { "labelSelector": "k=v" } or { "nodeOf": <pod selector> }, optionally with "notNodeOf": <pod selector>',
    },
  )
  .meta({ id: 'nodeSelector' });
export type NodeSelector = z.infer<typeof nodeSelectorSchema>;

export const workloadSelectorSchema = z
  .union(
    [
      z.object({ deployment: kubeName, ...namespaceField }).strict(),
      z.object({ statefulSet: kubeName, ...namespaceField }).strict(),
    ],
    { error: 'a workload: { "deployment": "<name>" } or { "statefulSet": "<name>" }, with an optional "namespace"' },
  )
  .meta({ id: 'workloadSelector' });
export type WorkloadSelector = z.infer<typeof workloadSelectorSchema>;

/** A group of a local target's members (its preflight world names them: `replicas`, `backends`), as a Deployment's pods. */
export const groupSelectorSchema = z
  .object({ group: z.string().min(1) })
  .strict()
  .meta({ id: 'groupSelector' });
export type GroupSelector = z.infer<typeof groupSelectorSchema>;

const base = {
  id: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .meta({ id: 'actionId' })
    .optional(),
  at: duration,
  note: z.string().optional(),
};
const targeted = {
  ...base,
  target: selector,
  /** one (the first match, sorted by name) or every match; the blast-radius cap applies to the count */
  pick: z.enum(['one', 'all']).default('one'),
};
const pick = z.enum(['one', 'all']).default('one').meta({ id: 'pick' });
const SIGNALS = ['TERM', 'INT', 'QUIT', 'HUP', 'KILL', 'USR1', 'USR2', 'ABRT', 'SEGV'] as const;

export const actionSchema = z
  .discriminatedUnion('action', [
    // local targets: stack members are processes
    z.object({ ...targeted, action: z.literal('kill'), restartAfter: duration.optional() }).strict(),
    z.object({ ...targeted, action: z.literal('stop'), restartAfter: duration.optional() }).strict(),
    z.object({ ...targeted, action: z.literal('restart'), delay: duration.default('0s') }).strict(),
    z.object({ ...targeted, action: z.literal('wipe'), restartAfter: duration.default('0s') }).strict(),
    z.object({ ...targeted, action: z.literal('start') }).strict(),
    // any target
    z
      .object({
        ...base,
        action: z.literal('wait'),
        until: z.enum(['leader', 'recovered']).default('recovered'),
        timeout: duration.default('2m'),
      })
      .strict(),
    z
      .object({
        ...base,
        action: z.literal('command'),
        /** argv, run without a shell (use ["sh", "-c", "…"] for one), from the project directory */
        command: z.array(z.string().min(1)).min(1),
        timeout: duration.default('2m'),
        env: z.record(z.string(), z.string()).default({}),
        /** the exit code that counts as success; another one fails the action (recorded either way) */
        expectExitCode: z.number().int().min(0).max(255).default(0),
      })
      .strict(),
    // both kinds of target: what `kubectl delete pod` does (see LOCAL_ACTIONS)
    z
      .object({
        ...base,
        action: z.literal('deletePod'),
        target: podSelectorSchema,
        pick,
        /** kubernetes: the DELETE's gracePeriodSeconds ("0s" = force), else the pod's own
         * terminationGracePeriodSeconds; local: preStop + SIGTERM + this long before SIGKILL, else 60s
         * (the NATS helm chart's terminationGracePeriodSeconds) */
        gracePeriod: duration.optional(),
      })
      .strict(),
    // kubernetes targets
    z
      .object({
        ...base,
        action: z.literal('deleteNode'),
        target: nodeSelectorSchema,
        pick,
        /** taint node.kubernetes.io/out-of-service first (non-graceful node shutdown): its pods go at once
         * instead of after the pod GC's 40–80 s, as when the VM behind the node is gone */
        outOfService: z.boolean().default(false),
      })
      .strict(),
    z
      .object({
        ...base,
        action: z.literal('cordon'),
        target: nodeSelectorSchema,
        pick,
        uncordonAfter: duration.optional(),
      })
      .strict(),
    z.object({ ...base, action: z.literal('uncordon'), target: nodeSelectorSchema, pick }).strict(),
    z
      .object({
        ...base,
        action: z.literal('drain'),
        target: nodeSelectorSchema,
        pick,
        /** how long evictions refused by a PodDisruptionBudget (429) are retried before the drain fails */
        timeout: duration.default('2m'),
        gracePeriod: duration.optional(),
        uncordonAfter: duration.optional(),
      })
      .strict(),
    // kubernetes (a Deployment or StatefulSet) or local (a group of members: those above `replicas`
    // are stopped, a later scale up or restoreAfter starts them again)
    z
      .object({
        ...base,
        action: z.literal('scale'),
        target: z.union([workloadSelectorSchema, groupSelectorSchema], {
          error:
            'a workload: { "deployment": "<name>" } or { "statefulSet": "<name>" } (kubernetes), or { "group": "<name>" } (a local target\'s group of members)',
        }),
        replicas: z.number().int().min(0),
        /** scale back to the replicas found before the action after this long */
        restoreAfter: duration.optional(),
      })
      .strict(),
    z.object({ ...base, action: z.literal('rolloutRestart'), target: workloadSelectorSchema }).strict(),
    z
      .object({
        ...base,
        action: z.literal('waitRollout'),
        target: workloadSelectorSchema,
        timeout: duration.default('5m'),
      })
      .strict(),
    z
      .object({
        ...base,
        action: z.literal('execKill'),
        target: podSelectorSchema,
        pick,
        container: kubeName.optional(),
        /** `kill -s <signal> 1` in the container (PID 1 is the main process) */
        signal: z.enum(SIGNALS).default('TERM'),
        /** instead of kill: a command that makes the main process exit, e.g. an app's "die with code 1" endpoint */
        command: z.array(z.string().min(1)).min(1).optional(),
        /** the exit code the container should report (lastState.terminated.exitCode); a mismatch is noted */
        expectExitCode: z.number().int().min(0).max(255).optional(),
        /** kill this many times, each after the container is running again (the s3gw restart probe) */
        times: z.number().int().min(1).max(100).default(1),
        /** pause after the container is back before the next kill */
        interval: duration.default('0s'),
        /** how long to wait for the container to run again (CrashLoopBackOff reaches 5 minutes) */
        restartTimeout: duration.default('10m'),
      })
      .strict(),
  ])
  .meta({ id: 'action' });
export type ChaosAction = z.infer<typeof actionSchema>;

/**
 * `deletePod` is in both lists, on purpose: it means what `kubectl delete pod` means on either
 * kind of target, so a plan rehearsed locally runs unchanged against a cluster (the seed's
 * scenarios 1 and 4 are a `kubectl delete pod`, and the kyma-* experiments say `deletePod` too).
 * On Kubernetes the API server deletes the pod and its controller recreates it; on a local stack
 * the driver plays both the kubelet and the StatefulSet: the member's preStop hook (nats-server:
 * lame-duck mode, as the NATS chart's preStop triggers it), SIGTERM, the grace period, SIGKILL if
 * it is still there, then the member is started again with its data. A second name for the local
 * half (`podDelete`, `gracefulDelete`) would have made the same plan read differently per target.
 * `kill` stays the crash (SIGKILL), `stop` a bare SIGTERM.
 */
// `scale` is in both as well: its target tells them apart (a group is local, a workload kubernetes).
export const LOCAL_ACTIONS = ['kill', 'stop', 'restart', 'wipe', 'start', 'scale', 'deletePod'] as const;
export const KUBERNETES_ACTIONS = [
  'deletePod',
  'deleteNode',
  'cordon',
  'uncordon',
  'drain',
  'scale',
  'rolloutRestart',
  'waitRollout',
  'execKill',
] as const;
export const COMMON_ACTIONS = ['wait', 'command'] as const;
type ScaleAction = Extract<ChaosAction, { action: 'scale' }>;
/** scale of a local target's group of members */
export type LocalScaleAction = ScaleAction & { target: GroupSelector };
/** scale of a Deployment or StatefulSet */
export type KubernetesScaleAction = ScaleAction & { target: WorkloadSelector };
export type LocalChaosAction =
  Extract<ChaosAction, { action: Exclude<(typeof LOCAL_ACTIONS)[number], 'scale'> }> | LocalScaleAction;
export type KubernetesChaosAction =
  Extract<ChaosAction, { action: Exclude<(typeof KUBERNETES_ACTIONS)[number], 'scale'> }> | KubernetesScaleAction;
/** Actions only a local stack can carry out (kill, stop, restart, wipe, start, scale of a group). */
export type LocalOnlyChaosAction = Exclude<LocalChaosAction, KubernetesChaosAction>;
export type CommandAction = Extract<ChaosAction, { action: 'command' }>;

/** The local driver's default grace period of `deletePod`: the NATS helm chart's terminationGracePeriodSeconds. */
export const LOCAL_POD_GRACE_PERIOD = '60s';

export function isLocalAction(a: ChaosAction): a is LocalChaosAction {
  if (a.action === 'scale') return 'group' in a.target;
  return (LOCAL_ACTIONS as readonly string[]).includes(a.action);
}

export function isLocalOnlyAction(a: ChaosAction): a is LocalOnlyChaosAction {
  return isLocalAction(a) && !isKubernetesAction(a);
}

export function isKubernetesAction(a: ChaosAction): a is KubernetesChaosAction {
  if (a.action === 'scale') return !('group' in a.target);
  return (KUBERNETES_ACTIONS as readonly string[]).includes(a.action);
}

/** The embedded JetStream stack (lib/targets/jetstream.ts); the local stack when `stack` is left out. */
const jetstreamLocalTarget = z
  .object({
    kind: z.literal('local'),
    stack: z.literal('jetstream').default('jetstream'),
    replicas: z.union([z.literal(1), z.literal(3)], { error: "1 or 3 (the stream's replicas)" }).default(3),
  })
  .strict();

/** The embedded EventStore fixture (lib/targets/eventstore.ts): one member, so no replicas. */
const eventstoreLocalTarget = z
  .object({
    kind: z.literal('local'),
    stack: z.literal('eventstore'),
    /** fsync (a persistent disk) or memory (pod-local storage that dies with the pod) */
    storage: z.enum(['fsync', 'memory']).optional(),
  })
  .strict();

/** PostgreSQL replicas behind HAProxy, backends behind nginx (lib/targets/postgres-haproxy.ts). */
const postgresHaproxyLocalTarget = z
  .object({
    kind: z.literal('local'),
    stack: z.literal('postgres-haproxy'),
    /** resolve-once: the backends' Service name resolved when nginx starts (the seed's config);
     * re-resolve: `resolver … valid=<resolverValid>` and a variable proxy_pass */
    nginx: z.enum(['resolve-once', 're-resolve']).default('resolve-once'),
    /** HAProxy's health check of the replicas (the seed: inter 2s fall 3 rise 2) */
    healthCheck: z
      .object({
        inter: duration.default('2s'),
        fall: z.number().int().min(1).max(100).default(3),
        rise: z.number().int().min(1).max(100).default(2),
      })
      .strict()
      .default({ inter: '2s', fall: 3, rise: 2 }),
    /** how long nginx keeps a resolved address in re-resolve mode (whole seconds) */
    resolverValid: duration.default('1s'),
    /** per-request (default, as the seed's backend): HAProxy balances every request; pool: connections stick */
    backendConnection: z.enum(['per-request', 'pool']).default('per-request'),
  })
  .strict();

/** One versitygw S3 gateway on one directory (lib/targets/s3-gateway.ts), with fixed root credentials. */
const s3GatewayLocalTarget = z
  .object({
    kind: z.literal('local'),
    stack: z.literal('s3-gateway'),
    /** the gateway's root credentials; the scenario signs with them unless S3_ACCESS_KEY / S3_SECRET_KEY say otherwise */
    accessKey: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{3,128}$/, { error: '3–128 letters, digits, _ . -' })
      .default(S3_DEFAULT_ACCESS_KEY),
    secretKey: z
      .string()
      .regex(/^\S{8,128}$/, { error: '8–128 characters, no spaces' })
      .default(S3_DEFAULT_SECRET_KEY),
    region: z
      .string()
      .regex(/^[a-z0-9-]{2,32}$/, { error: 'a region name such as us-east-1' })
      .default('us-east-1'),
  })
  .strict();

/** A NATS Streaming fault-tolerance group on one shared file store (lib/targets/nats-streaming.ts). */
const natsStreamingLocalTarget = z
  .object({
    kind: z.literal('local'),
    stack: z.literal('nats-streaming'),
    /** members of the FT group (the seed: 3 on AWS, 2 in its Azure values) */
    members: z.union([z.literal(2), z.literal(3)], { error: '2 or 3 (members of the FT group)' }).default(3),
    /** the publisher publishes again after an ack timeout, as a STAN application would (STAN has no de-duplication) */
    republish: z.boolean().default(true),
  })
  .strict();

/** A local stack, told apart by `stack`: one schema per target module, so each takes only its own fields. */
const localTarget = z.discriminatedUnion(
  'stack',
  [
    jetstreamLocalTarget,
    eventstoreLocalTarget,
    postgresHaproxyLocalTarget,
    s3GatewayLocalTarget,
    natsStreamingLocalTarget,
  ],
  {
    error:
      'a local stack: "stack" is "jetstream" (the default), "eventstore", "postgres-haproxy", "s3-gateway" or "nats-streaming"',
  },
);

const NATS_URLS = /^(?:nats|tls|wss?):\/\/[^\s,]+(?:,(?:nats|tls|wss?):\/\/[^\s,]+)*$/;
const NATS_URLS_ALLOWED = 'a NATS URL such as nats://127.0.0.1:4222 (several: comma-separated)';

/**
 * A NATS Streaming FT group in the cluster (seed 004: the `stan` StatefulSet on one shared
 * volume): who is active comes from each pod's own /streaming/serverz, the accounting from a read
 * of the channel and k6-ha's STAN publisher and sink.
 */
const kubeStanGroup = z
  .object({
    /** the members' ft_group_name: what activeOf / standbyOf name */
    ftGroup: z.string().min(1),
    /** the streaming `id` (the seed's: test-cluster) */
    clusterId: z.string().min(1).default('test-cluster'),
    /** pod name → its monitoring endpoint (port 8222 of each pod: a port-forward each, or in-cluster the pod's DNS name) */
    monitorUrls: z
      .record(kubeName, z.string().url({ error: 'an http URL such as http://127.0.0.1:8222' }))
      .refine((m) => Object.keys(m).length > 0, { error: 'at least one pod: { "stan-0": "http://127.0.0.1:8222" }' }),
    /** the members' client URL(s), for the full read of the channel after the run */
    natsUrl: z.string().regex(NATS_URLS, { error: NATS_URLS_ALLOWED }),
    /** the channel k6-ha's publisher writes (its STAN backend) and the sink reads */
    channel: z.string().min(1).default('kyma.events'),
    /** the sink's durable subscription, whose progress counts as "consumed" */
    durable: z.string().min(1).default('k6-ha-sink'),
    /** k6-ha's publisher with the STAN backend (its /first-ack gives chaos_failover_seconds) */
    publisherUrl: z.string().url().optional(),
  })
  .strict();

const kubernetesTarget = z
  .object({
    kind: z.literal('kubernetes'),
    /** the kube context that must be current (or passed with --context); anything else is refused */
    context: z.string().min(1),
    /** the only namespaces the plan may touch; the first is the default of every selector */
    namespaces: z.array(kubeName).min(1),
    /** NATS client URL(s), comma-separated, for JetStream's view (leaderOf, leader changes, accounting):
     * port-forwards of each member (a forward to one pod dies with it) or, in-cluster, the service */
    natsUrl: z.string().regex(NATS_URLS, { error: NATS_URLS_ALLOWED }).optional(),
    /** the stream under test and the consumer whose progress counts as "consumed" */
    stream: z.string().min(1).default('sap'),
    consumer: z.string().min(1).optional(),
    /** JetStream server name → pod name, where they differ (in the NATS helm chart server_name = pod name) */
    serverPods: z.record(z.string(), kubeName).default({}),
    /** deleteNode is refused unless this is true */
    allowNodeDeletion: z.boolean().default(false),
    /** the sink's /ids endpoint (k6-ha's sink), when there is one to ask */
    sinkUrl: z.string().url().optional(),
    /** a NATS Streaming FT group instead of a JetStream stream (activeOf / standbyOf) */
    stan: kubeStanGroup.optional(),
  })
  .strict();

const envValue = z
  .union([z.string(), z.number()], { error: 'a string or a number' })
  .transform(String)
  .meta({ id: 'envValue' });

const presetSchema = z
  .object({
    description: z.string().optional(),
    env: z.record(z.string(), envValue).default({}),
    plan: z.array(actionSchema).optional(),
  })
  .strict();

const PROFILE_NAMES = Object.keys(THRESHOLD_PROFILES) as [string, ...string[]];

export const experimentSchema = z
  .object({
    /** where editors find experiment.schema.json; the run ignores it */
    $schema: z.string().optional(),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'lower-case letters, digits and -' }),
    description: z.string().default(''),
    scenario: z.enum(SCENARIOS),
    target: z.discriminatedUnion('kind', [localTarget, kubernetesTarget]),
    env: z.record(z.string(), envValue).default({}),
    // An enum rather than a refinement so the JSON Schema lists the profiles too.
    thresholds: z.enum(PROFILE_NAMES, {
      error: (issue) =>
        `${typeof issue.input === 'string' ? '' : 'a gate profile: '}one of ${PROFILE_NAMES.join(', ')}`,
    }),
    /** the most members one action may touch */
    blastRadius: z.number().int().min(1).default(1),
    /** k6 runners sharing the load (k6-operator's parallelism): each runs one execution segment; one merged verdict */
    runners: z.number().int().min(1).max(64).optional(),
    plan: z.array(actionSchema).default([]),
    presets: z.record(z.string(), presetSchema).default({}),
  })
  .strict();

export type Experiment = Omit<z.infer<typeof experimentSchema>, '$schema'>;

// Re-exported for the importers that predate lib/shared/errors.ts (the unit tests).
export { ExperimentError };

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function formatPath(path: PropertyKey[]): string {
  return (
    path.reduce<string>(
      (acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc === '' ? String(k) : `${acc}.${String(k)}`),
      '',
    ) || '(top level)'
  );
}

const quoted = (values: readonly unknown[]): string =>
  values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(' | ');
const counted = (n: number | bigint, unit: string): string => `${n} ${unit}${n === 1 || n === 1n ? '' : 's'}`;

const TYPE_ALLOWED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  array: 'an array',
};

/** too_small / too_big: "a number >= 1", "a string of at least 1 character", "an array of at most 3 items". */
function sizeAllowed(
  origin: string,
  bound: number | bigint,
  side: 'min' | 'max',
  inclusive: boolean,
  exact: boolean,
): string {
  if (origin === 'number' || origin === 'int' || origin === 'bigint') {
    const op = exact ? '=' : side === 'min' ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
    return `a number ${op} ${bound}`;
  }
  const edge = exact ? 'exactly' : side === 'min' ? 'at least' : 'at most';
  if (origin === 'string') return `a string of ${edge} ${counted(bound, 'character')}`;
  if (origin === 'array' || origin === 'set') return `an array of ${edge} ${counted(bound, 'item')}`;
  return `${edge} ${bound}`;
}

/**
 * zod's error map for experiments: what is allowed, for the checks whose schema does not say it
 * itself (a schema's own `error` takes precedence). describeIssues() puts the field path and the
 * value found in front, so the text here is only the "expected …" part.
 */
export const allowedByExperiment: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return TYPE_ALLOWED[issue.expected] ?? issue.expected;
    case 'invalid_value':
      return issue.values.length === 1 ? quoted(issue.values) : `one of ${quoted(issue.values)}`;
    case 'invalid_union':
      // A discriminated union whose discriminator matched no option (e.g. an unknown action).
      if (Array.isArray(issue.options) && issue.options.length > 0) return `one of ${quoted(issue.options)}`;
      return issue.inclusive === false
        ? 'exactly one of the allowed forms (several match)'
        : 'one of the allowed forms';
    case 'too_small':
      return sizeAllowed(issue.origin, issue.minimum, 'min', issue.inclusive ?? false, issue.exact ?? false);
    case 'too_big':
      return sizeAllowed(issue.origin, issue.maximum, 'max', issue.inclusive ?? false, issue.exact ?? false);
    case 'invalid_format':
      if (issue.format === 'regex') return `a string matching ${issue.pattern ?? 'the pattern'}`;
      return issue.format === 'url' ? 'a URL' : `a valid ${issue.format}`;
    case 'not_multiple_of':
      return `a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return `no field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_key':
      return `valid keys in the ${issue.origin}`;
    case 'invalid_element':
      return `valid elements in the ${issue.origin}`;
    default:
      return 'a valid value';
  }
};

/**
 * Every problem on its own line: `plan[0].at: "3x" is not allowed — expected a duration such as …`.
 * The messages are the "expected …" texts of the schema's `error`s and of allowedByExperiment.
 */
export function describeIssues(input: unknown, error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys')
      return `${path}: unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    const value = valueAt(input, issue.path);
    if (value === undefined) return `${path}: missing — required: ${issue.message}`;
    return `${path}: ${JSON.stringify(value)} is not allowed — expected ${issue.message}`;
  });
}

export function parseExperiment(input: unknown, file: string): Experiment {
  const result = experimentSchema.safeParse(input, { error: allowedByExperiment });
  if (!result.success) {
    throw new ExperimentError(`invalid experiment ${file}:\n  ${describeIssues(input, result.error).join('\n  ')}`, {
      file,
      cause: result.error,
    });
  }
  const { $schema: _editorSchema, ...exp } = result.data;
  checkPlanConsistency(exp, file);
  return exp;
}

export function loadExperiment(file: string): Experiment {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ExperimentError(`cannot read experiment ${file}: ${(err as Error).message}`, { file, cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ExperimentError(`experiment ${file} is not valid JSON: ${(err as Error).message}`, { file, cause: err });
  }
  return parseExperiment(json, file);
}

/** Applies a preset (e.g. the seed's 5–10 minute timings) on top of the experiment. */
export function applyPreset(exp: Experiment, preset: string | undefined, file: string): Experiment {
  if (preset === undefined) return exp;
  const p = exp.presets[preset];
  if (p === undefined) {
    const known = Object.keys(exp.presets);
    throw new ExperimentError(
      `--preset ${JSON.stringify(preset)} is not defined in ${file}; ${known.length ? `presets: ${known.join(', ')}` : 'it defines no presets'}`,
      { file },
    );
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
      runMs = parseRunDurationMs('env.DURATION', durationText);
    } catch (err) {
      if (err instanceof InvalidSettingError)
        problems.push(`env.DURATION: ${JSON.stringify(durationText)} is not allowed — expected ${err.allowed}`);
    }
  }
  if (exp.target.kind === 'kubernetes' && exp.target.stan !== undefined && exp.target.natsUrl !== undefined)
    problems.push(
      'target.natsUrl: not allowed next to target.stan — a kubernetes target has one view, a JetStream stream (natsUrl) or a NATS Streaming FT group (stan, with its own stan.natsUrl)',
    );
  exp.plan.forEach((a, i) => {
    const at = parseDurationMs(`plan[${i}].at`, a.at);
    if (runMs !== null && at >= runMs)
      problems.push(
        `plan[${i}].at: ${JSON.stringify(a.at)} is not allowed — expected an offset before the end of the load (DURATION ${durationText})`,
      );
    problems.push(...targetKindProblems(exp, a, `plan[${i}]`));
  });
  if (problems.length > 0)
    throw new ExperimentError(`invalid experiment ${file}:\n  ${problems.join('\n  ')}`, { file });
}

/** The pod selectors inside a kubernetes action's target (a node selector may name pods too). */
export function podSelectorsOf(a: KubernetesChaosAction): PodSelector[] {
  switch (a.action) {
    case 'deletePod':
    case 'execKill':
      return [a.target];
    case 'deleteNode':
    case 'cordon':
    case 'uncordon':
    case 'drain': {
      const t = a.target;
      const not = 'notNodeOf' in t && t.notNodeOf !== undefined ? [t.notNodeOf] : [];
      return 'nodeOf' in t ? [t.nodeOf, ...not] : not;
    }
    default:
      return [];
  }
}

/** The namespaces a kubernetes action's selectors name (a missing one is the default). */
export function selectorNamespaces(a: KubernetesChaosAction, defaultNamespace: string): string[] {
  if (a.action === 'scale' || a.action === 'rolloutRestart' || a.action === 'waitRollout')
    return [a.target.namespace ?? defaultNamespace];
  return podSelectorsOf(a).map((p) => p.namespace ?? defaultNamespace);
}

/** Actions for the other kind of target, namespaces outside the allow-list, and node deletion without consent. */
function targetKindProblems(exp: Experiment, a: ChaosAction, at: string): string[] {
  const kind = exp.target.kind;
  if (kind === 'local') {
    if (a.action === 'scale' && isKubernetesAction(a))
      return [
        `${at}.target: ${JSON.stringify(a.target)} is not allowed — expected a group of the local target's members, { "group": "<name>" } (a deployment or statefulSet is for target kind "kubernetes")`,
      ];
    if (isKubernetesAction(a) && !isLocalAction(a))
      return [
        `${at}.action: "${a.action}" is for target kind "kubernetes"; target.kind is "local" (local actions: ${[...LOCAL_ACTIONS, ...COMMON_ACTIONS].join(', ')})`,
      ];
    if (isLocalAction(a) && 'labelSelector' in a.target)
      return [
        `${at}.target: labelSelector is for target kind "kubernetes"; local members are chosen by name, leaderOf, notLeaderOf, activeOf or standbyOf`,
      ];
    if (a.action === 'deletePod' && a.target.namespace !== undefined)
      return [
        `${at}.target.namespace: ${JSON.stringify(a.target.namespace)} is for target kind "kubernetes"; local members have no namespace`,
      ];
    return [];
  }
  if (a.action === 'scale' && isLocalAction(a))
    return [
      `${at}.target: ${JSON.stringify(a.target)} is not allowed — expected a workload, { "deployment": "<name>" } or { "statefulSet": "<name>" } (a group is for target kind "local")`,
    ];
  if (isLocalOnlyAction(a)) {
    const hint =
      a.action === 'kill' || a.action === 'stop' || a.action === 'restart'
        ? 'deletePod, execKill or scale'
        : a.action === 'wipe'
          ? 'deleteNode or deletePod'
          : 'scale';
    return [
      `${at}.action: "${a.action}" is for target kind "local" (processes of the embedded stack); target.kind is "kubernetes" — use ${hint}`,
    ];
  }
  if (!isKubernetesAction(a)) return [];
  const t = exp.target;
  const problems: string[] = [];
  for (const p of podSelectorsOf(a)) {
    if (!('activeOf' in p || 'standbyOf' in p)) continue;
    const [field, group] = 'activeOf' in p ? ['activeOf', p.activeOf] : ['standbyOf', p.standbyOf];
    const path = a.action === 'deletePod' || a.action === 'execKill' ? `${at}.target.${field}` : `${at}.target`;
    if (t.stan === undefined)
      problems.push(
        `${path}: ${JSON.stringify(group)} is not allowed — expected nothing: this target has no fault-tolerance group (set target.stan: the ft_group, each pod's monitoring URL and the client URL)`,
      );
    else if (group !== t.stan.ftGroup)
      problems.push(
        `${path}: ${JSON.stringify(group)} is not allowed — expected ${JSON.stringify(t.stan.ftGroup)}, the ft_group of target.stan`,
      );
  }
  for (const ns of selectorNamespaces(a, t.namespaces[0] as string)) {
    if (!t.namespaces.includes(ns))
      problems.push(
        `${at}.target: namespace ${JSON.stringify(ns)} is not allowed — expected one of target.namespaces (${t.namespaces.join(', ')})`,
      );
  }
  if (podSelectorsOf(a).some((p) => 'leaderOf' in p || 'notLeaderOf' in p) && t.natsUrl === undefined) {
    problems.push(
      `${at}.target: leaderOf/notLeaderOf need JetStream's view — set target.natsUrl (e.g. nats://127.0.0.1:4222 through kubectl port-forward)`,
    );
  }
  if (a.action === 'deleteNode' && !t.allowNodeDeletion) {
    problems.push(
      `${at}.action: "deleteNode" is refused — set target.allowNodeDeletion to true to allow deleting Nodes of context ${JSON.stringify(t.context)}`,
    );
  }
  if (a.action === 'execKill' && a.command !== undefined && a.signal !== 'TERM')
    problems.push(`${at}: give either signal or command, not both`);
  return problems;
}

export function actionId(action: ChaosAction, index: number): string {
  return action.id ?? `a${index + 1}-${action.action}`;
}
