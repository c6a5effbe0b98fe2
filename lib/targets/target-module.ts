// One module per kind of target, one registry map (lib/targets/index.ts) — the shape of unjs/giget's
// providers and of our TOOLS and THRESHOLD_PROFILES maps. A module says what a plan may name
// before anything runs (its preflight world) and starts the target for a run.
import type { PreflightWorld } from '../chaos/chaos.ts';
import type { Experiment } from '../experiment/experiment.ts';
import type { TargetUnderTest } from '../chaos/target.ts';
import type { KubernetesConnection } from '../kube/kube-target.ts';

export type ExperimentTarget = Experiment['target'];
export type LocalJetStreamTarget = Extract<ExperimentTarget, { kind: 'local'; stack: 'jetstream' }>;
export type LocalEventStoreTarget = Extract<ExperimentTarget, { kind: 'local'; stack: 'eventstore' }>;
export type LocalPostgresHaproxyTarget = Extract<ExperimentTarget, { kind: 'local'; stack: 'postgres-haproxy' }>;
export type LocalS3GatewayTarget = Extract<ExperimentTarget, { kind: 'local'; stack: 's3-gateway' }>;
export type LocalNatsStreamingTarget = Extract<ExperimentTarget, { kind: 'local'; stack: 'nats-streaming' }>;
export type KubernetesTargetSpec = Extract<ExperimentTarget, { kind: 'kubernetes' }>;

export interface TargetStartContext<T> {
  experiment: Experiment;
  target: T;
  runDir: string;
  log: (line: string) => void;
  /** kubernetes targets: the connection made (and its context checked) before anything starts */
  kube: KubernetesConnection | null;
}

export interface TargetModule<T extends ExperimentTarget = ExperimentTarget> {
  /** one line for --help and the README */
  description: string;
  /** What the plan's selectors can match before the target runs (validation and --dry-run). */
  preflightWorld(target: T): PreflightWorld;
  start(ctx: TargetStartContext<T>): Promise<TargetUnderTest>;
  /** Targets whose replica count a run may choose (`--replicas`): the values allowed. */
  replicas?: { allowed: string[] };
}
