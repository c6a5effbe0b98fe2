// Every kind of target k6-ha can test, one module each. Adding a target = one module + one line
// here (README: "Add a target").
import type { ExperimentTarget, TargetModule } from './target-module.ts';
import { eventstoreTarget } from './eventstore.ts';
import { jetstreamTarget } from './jetstream.ts';
import { kubernetesTarget } from './kubernetes.ts';
import { natsStreamingTarget } from './nats-streaming.ts';
import { postgresHaproxyTarget } from './postgres-haproxy.ts';
import { s3GatewayTarget } from './s3-gateway.ts';

export const TARGETS = {
  jetstream: jetstreamTarget,
  eventstore: eventstoreTarget,
  kubernetes: kubernetesTarget,
  'postgres-haproxy': postgresHaproxyTarget,
  's3-gateway': s3GatewayTarget,
  'nats-streaming': natsStreamingTarget,
} as const satisfies Record<string, TargetModule<never>>;

export type TargetKey = keyof typeof TARGETS;

/** The registry key of an experiment's target: a local stack by its name, a cluster by its kind. */
export function targetKey(target: ExperimentTarget): TargetKey {
  return target.kind === 'local' ? target.stack : target.kind;
}

/** The module for an experiment's target, typed loosely: the key was derived from the target itself. */
export function targetModule(target: ExperimentTarget): TargetModule {
  return TARGETS[targetKey(target)] as unknown as TargetModule;
}

/** The targets that take `--replicas`, for the message that refuses it elsewhere. */
export function replicaTargets(): string {
  return Object.entries(TARGETS)
    .filter(([, m]) => 'replicas' in m)
    .map(([k]) => `the ${k} target`)
    .join(', ');
}
