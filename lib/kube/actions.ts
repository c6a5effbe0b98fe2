// Every action a Kubernetes plan may hold, as a table of { execute, preview }: execute is what a
// run does at the action's time; preview is what --dry-run and the preflight show — the objects
// the action would hit now, found with read-only calls — and what it would keep down, for the
// plan-wide blast radius. The table is typed over the action union, so an action added to the
// schema without an entry here fails tsc. The cap and restore() stay with the driver (driver.ts);
// handlers reach them through KubeActionScope.
import type { ConfigurationOptions, V1Pod } from '@kubernetes/client-node';
import { parseDurationMs } from '../shared/env-parse.ts';
import { type ActionContext, type ChaosWorld, type DownSpan, durationMs, selectorText } from '../chaos/chaos.ts';
import { DrainError, KubeApiError, PlanRefusedError } from '../shared/errors.ts';
import { executeCommandAction } from '../chaos/command-action.ts';
import { roleOf } from '../chaos/roles.ts';
import {
  type ChaosAction,
  type CommandAction,
  isLocalOnlyAction,
  type KubernetesChaosAction,
  type NodeSelector,
  type WorkloadSelector,
} from '../experiment/experiment.ts';
import { apiMessage, type KubeClients, statusOf } from './client.ts';
import { type ExecRunner, killCommand } from './exec-kill.ts';
import { podText, type TargetResolver, type WorkloadRef, workloadText } from './resolve.ts';
import { watchUntil } from './watch.ts';

/** What a Kubernetes plan may hold: every action but the local stack's. */
export type KubernetesPlanAction = KubernetesChaosAction | CommandAction | Extract<ChaosAction, { action: 'wait' }>;
type ActionName = KubernetesPlanAction['action'];

/** Everything but what only a local stack can do (a `scale` of a group is one; `deletePod` is both): what the kubernetes driver takes. */
export function isKubernetesPlanAction(a: ChaosAction): a is KubernetesPlanAction {
  return !isLocalOnlyAction(a);
}
type ActionOf<K extends ActionName> = Extract<KubernetesPlanAction, { action: K }>;

/** What a handler works with: the run's clients and settings, and the driver's cap and undo ledger. */
export interface KubeActionScope {
  readonly clients: KubeClients;
  readonly resolver: TargetResolver;
  readonly exec: ExecRunner;
  /** target.allowNodeDeletion: checked here too, not only when the experiment is parsed */
  readonly allowNodeDeletion: boolean;
  /** JetStream conditions for `wait` actions (the sidecar's world); absent: `wait` is refused */
  readonly world: Pick<ChaosWorld, 'waitUntil' | 'currentLeader'> | undefined;
  /** how often a refused eviction (429) is retried */
  readonly evictionRetryMs: number;
  /** how long deleteNode with outOfService waits for the node's pods to go before deleting it */
  readonly outOfServiceWaitMs: number;
  /** client-node picks the JSON-patch content type for every PATCH; this sets a JSON patch where one is meant */
  readonly jsonPatch: ConfigurationOptions;
  readonly mergePatch: ConfigurationOptions;
  /** The per-action cap: the first match or all of them, refused when none or more than blastRadius. */
  capped<T>(what: string, matches: T[], pick: 'one' | 'all'): T[];
  /** The cap of a scale-down: refused when it removes more pods than blastRadius. */
  capScaleDown(ref: WorkloadRef, before: number, replicas: number): void;
  /** Pods the plan took away (deleted, evicted, gone with their node): input of the reschedule metrics. */
  remember(actionId: string, at: number, pods: V1Pod[]): void;
  /** Cordons; restore() uncordons the nodes that were schedulable before. */
  cordon(node: string, ctx: ActionContext): Promise<void>;
  uncordon(node: string): Promise<void>;
  /** cordoned by this plan and not uncordoned since */
  isCordonedByUs(node: string): boolean;
  /** Scales; restore() scales back to the replicas found before the plan first scaled it. */
  scaleTo(ref: WorkloadRef, replicas: number, before: number): Promise<void>;
  /** Scales back to the replicas before the plan first scaled it (`before` when unknown); returns them. */
  scaleBack(ref: WorkloadRef, before: number): Promise<number>;
}

/** One row of --dry-run and the preflight, without the fields the driver fills (id, at, target). */
export interface KubePreview {
  candidates: string[];
  note: string;
  /** what the action would keep down over the plan; null: nothing */
  down: DownSpan | null;
}

interface KubeActionHandler<A extends KubernetesPlanAction> {
  execute(scope: KubeActionScope, action: A, ctx: ActionContext): Promise<void>;
  preview(scope: KubeActionScope, action: A): Promise<KubePreview>;
}

export function apiError(what: string, err: unknown): KubeApiError {
  return new KubeApiError(`${what}: ${apiMessage(err)}`, { code: statusOf(err), cause: err });
}

const OUT_OF_SERVICE = { key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' };

/** DaemonSet pods come back on the same node and mirror pods belong to the kubelet: a drain leaves both. */
function drainSkips(p: V1Pod): string | null {
  if (p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet')) return 'DaemonSet';
  if (p.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined) return 'mirror pod';
  if (p.metadata?.deletionTimestamp != null) return 'terminating';
  if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') return 'finished';
  return null;
}

const gracePeriodSeconds = (gracePeriod: string | undefined): number | undefined =>
  gracePeriod === undefined ? undefined : Math.round(durationMs('gracePeriod', gracePeriod) / 1000);

/** "the leader is X now" (a stream's), "the active is X now" (an FT group's: activeOf / standbyOf). */
const dynamicNote = (leader: string | null, selector?: object): string =>
  leader === null
    ? ''
    : `resolved again at action time; the ${selector !== undefined && roleOf(selector)?.spec.group === 'ftGroup' ? 'active' : 'leader'} is ${leader} now`;

/**
 * The workload that recreates a pod, as workloadText writes it: a StatefulSet owns its pods; a
 * Deployment owns them through a ReplicaSet named `<deployment>-<pod-template-hash>`.
 */
function workloadOf(p: V1Pod): string | null {
  const namespace = p.metadata?.namespace ?? '';
  const owner = p.metadata?.ownerReferences?.find((o) => o.controller === true) ?? p.metadata?.ownerReferences?.[0];
  if (owner?.kind === 'StatefulSet') return workloadText({ kind: 'StatefulSet', namespace, name: owner.name });
  const hash = p.metadata?.labels?.['pod-template-hash'];
  if (owner?.kind === 'ReplicaSet' && hash !== undefined && owner.name.endsWith(`-${hash}`))
    return workloadText({ kind: 'Deployment', namespace, name: owner.name.slice(0, -hash.length - 1) });
  return null;
}

function workloadKey(scope: KubeActionScope, sel: WorkloadSelector): string | null {
  try {
    return workloadText(scope.resolver.workload(sel));
  } catch {
    // A namespace outside the allow-list: that action's own preview refuses the plan.
    return null;
  }
}

/** The latest a wait can return: its timeout; a wait does not hold up the actions after it. */
const waitEndMs = (a: { at: string; timeout: string }): number =>
  durationMs('at', a.at) + durationMs('timeout', a.timeout);

/**
 * When a later action is the plan's word that recreated pods are back: a `wait until recovered`
 * (JetStream: every replica current), or a waitRollout of the one workload they all belong to,
 * once its timeout has passed. `wait until leader` is not: a new leader is elected while a
 * replica is still down.
 */
function backWhenReady(scope: KubeActionScope, pods: V1Pod[]): DownSpan['endedBy'] {
  const workloads = new Set(pods.map(workloadOf));
  const [only] = workloads;
  return (later) => {
    if (later.action === 'wait' && later.until === 'recovered') return waitEndMs(later);
    if (
      later.action === 'waitRollout' &&
      workloads.size === 1 &&
      only !== null &&
      only === workloadKey(scope, later.target)
    )
      return waitEndMs(later);
    return null;
  };
}

async function resolveNodes(
  scope: KubeActionScope,
  action: { target: NodeSelector; pick: 'one' | 'all' } & ChaosAction,
): Promise<{ nodes: string[]; leader: string | null }> {
  const r = await scope.resolver.nodes(action.target);
  return { nodes: scope.capped(selectorText(action), r.nodes, action.pick), leader: r.leader };
}

/** Our pods on the nodes that a node action takes away (DaemonSet, mirror and finished pods stay). */
async function podsGoingWith(scope: KubeActionScope, nodes: string[]): Promise<V1Pod[]> {
  return (await Promise.all(nodes.map((n) => scope.resolver.podsOnNode(n))))
    .flat()
    .filter((p) => drainSkips(p) === null);
}

export async function readReplicas(clients: KubeClients, ref: WorkloadRef): Promise<number> {
  const { apps } = clients;
  try {
    const scale =
      ref.kind === 'Deployment'
        ? await apps.readNamespacedDeploymentScale({ name: ref.name, namespace: ref.namespace })
        : await apps.readNamespacedStatefulSetScale({ name: ref.name, namespace: ref.namespace });
    return scale.spec?.replicas ?? 0;
  } catch (err) {
    if (statusOf(err) === 404) throw new PlanRefusedError(`${workloadText(ref)} does not exist`);
    throw apiError(`reading the scale of ${workloadText(ref)}`, err);
  }
}

async function uncordonLater(
  scope: KubeActionScope,
  nodes: string[],
  afterMs: number,
  ctx: ActionContext,
): Promise<void> {
  await ctx.sleep(afterMs);
  // Stopped meanwhile: restore() uncordons instead.
  if (ctx.signal.aborted) return;
  for (const n of nodes) if (scope.isCordonedByUs(n)) await scope.uncordon(n);
  ctx.record.restartedAt = Date.now();
  ctx.timeline.record('plan', 'uncordoned', nodes.join(','), {
    action_id: ctx.id,
    cordoned_ms: ctx.record.restartedAt - (ctx.record.executedAt ?? ctx.record.restartedAt),
  });
}

async function taintOutOfService(scope: KubeActionScope, node: string): Promise<void> {
  const { core } = scope.clients;
  const current = (await core.readNode({ name: node })).spec?.taints ?? [];
  if (current.some((t) => t.key === OUT_OF_SERVICE.key)) return;
  // A JSON patch appends to the taints; a merge patch would replace the whole list.
  const body =
    current.length === 0
      ? [{ op: 'add', path: '/spec/taints', value: [OUT_OF_SERVICE] }]
      : [{ op: 'add', path: '/spec/taints/-', value: OUT_OF_SERVICE }];
  try {
    await core.patchNode({ name: node, body }, scope.jsonPatch);
  } catch (err) {
    throw apiError(`tainting node ${node} out-of-service`, err);
  }
}

/** Waits (watching, per allowed namespace) until no pod of ours is bound to the node. */
async function waitPodsGone(
  scope: KubeActionScope,
  input: { node: string; timeoutMs: number; signal: AbortSignal },
): Promise<void> {
  const { node, timeoutMs, signal } = input;
  const { core } = scope.clients;
  const ignore = (p: V1Pod): boolean => drainSkips(p) === 'DaemonSet' || drainSkips(p) === 'mirror pod';
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    scope.resolver.guard.allowed.map((namespace) =>
      watchUntil<V1Pod, true>({
        clients: scope.clients,
        path: `/api/v1/namespaces/${namespace}/pods`,
        fieldSelector: `spec.nodeName=${node}`,
        list: () => core.listNamespacedPod({ namespace, fieldSelector: `spec.nodeName=${node}` }),
        check: (pods) => ([...pods.values()].some((p) => !ignore(p)) ? null : true),
        timeoutMs: Math.max(1, deadline - Date.now()),
        what: `the pods of node ${node} in ${namespace} to go`,
        signal,
      }),
    ),
  );
}

/** One eviction, retried while a PodDisruptionBudget refuses it (429) and the deadline allows. */
async function evict(
  scope: KubeActionScope,
  input: {
    pod: V1Pod;
    deadline: number;
    gracePeriodSeconds: number | undefined;
    ctx: ActionContext;
    blocked: Set<string>;
  },
): Promise<void> {
  const { pod: p, deadline, gracePeriodSeconds: grace, ctx, blocked } = input;
  const name = p.metadata?.name ?? '';
  const namespace = scope.resolver.guard.check(p.metadata?.namespace, `pod ${name}`);
  const started = Date.now();
  let attempts = 0;
  let refusals = 0;
  for (;;) {
    attempts++;
    try {
      await scope.clients.core.createNamespacedPodEviction({
        name,
        namespace,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name, namespace },
          ...(grace === undefined ? {} : { deleteOptions: { gracePeriodSeconds: grace } }),
        },
      });
      ctx.timeline.record('plan', 'evicted', `${namespace}/${name}`, {
        action_id: ctx.id,
        attempts,
        waited_ms: Date.now() - started,
        refused: refusals,
      });
      return;
    } catch (err) {
      const code = statusOf(err);
      if (code === 404) return;
      if (code !== 429) throw apiError(`evicting pod ${namespace}/${name}`, err);
      refusals++;
      if (refusals === 1)
        ctx.timeline.record('plan', 'eviction-blocked', `${namespace}/${name}`, {
          action_id: ctx.id,
          status: 429,
          message: apiMessage(err),
        });
      if (Date.now() + scope.evictionRetryMs > deadline || ctx.signal.aborted) {
        blocked.add(`${namespace}/${name}`);
        return;
      }
      await ctx.sleep(scope.evictionRetryMs);
    }
  }
}

interface RolloutObject {
  metadata?: { name?: string; namespace?: string; generation?: number; resourceVersion?: string };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
  };
}

/** kubectl rollout status's rules: a status text when the rollout is complete, else null. */
export function rolloutComplete(kind: WorkloadRef['kind'], o: RolloutObject): string | null {
  const want = o.spec?.replicas ?? 1;
  const s = o.status ?? {};
  if ((s.observedGeneration ?? 0) < (o.metadata?.generation ?? 0)) return null;
  if ((s.updatedReplicas ?? 0) < want || (s.readyReplicas ?? 0) < want) return null;
  if (kind === 'Deployment') {
    if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0) || (s.availableReplicas ?? 0) < want) return null;
  } else if (s.updateRevision !== undefined && s.currentRevision !== s.updateRevision) {
    return null;
  }
  return `${s.readyReplicas ?? 0}/${want} ready`;
}

/** The workload's scale, also as the check that it exists (the preview of workload actions). */
async function previewWorkload(
  scope: KubeActionScope,
  sel: WorkloadSelector,
): Promise<{ ref: WorkloadRef; replicas: number }> {
  const ref = scope.resolver.workload(sel);
  return { ref, replicas: await readReplicas(scope.clients, ref) };
}

/**
 * The table. Each entry's comment says what counts as "down" for the plan-wide blast radius (the
 * preview's `down`); the units are those of the per-action cap: pods for pod actions, nodes for
 * node actions (a node's pods go with it: one failure domain), pods removed for a scale.
 */
export const KUBE_ACTIONS: { [K in ActionName]: KubeActionHandler<ActionOf<K>> } = {
  // Down: the chosen pods. Their controller recreates them and nothing in the action waits for
  // that, so they count as down until a later wait until recovered or waitRollout of their
  // workload has had its timeout, else to the end of the plan.
  deletePod: {
    async execute(scope, action, ctx) {
      const { pods, leader } = await scope.resolver.pods(action.target);
      const chosen = scope.capped(selectorText(action), pods, action.pick);
      const grace = gracePeriodSeconds(action.gracePeriod);
      ctx.markExecuted(chosen.map(podText), leader, {
        grace_period_s: grace ?? null,
        nodes: chosen.map((p) => p.spec?.nodeName ?? '?').join(','),
      });
      scope.remember(ctx.id, ctx.record.executedAt ?? Date.now(), chosen);
      await Promise.all(
        chosen.map(async (p) => {
          const name = p.metadata?.name ?? '';
          const namespace = scope.resolver.guard.check(p.metadata?.namespace, `pod ${name}`);
          try {
            // The uid precondition: never delete a replacement that took the name meanwhile.
            await scope.clients.core.deleteNamespacedPod({
              name,
              namespace,
              gracePeriodSeconds: grace,
              body: { preconditions: { uid: p.metadata?.uid } },
            });
          } catch (err) {
            if (statusOf(err) === 404 || statusOf(err) === 409) {
              ctx.timeline.record('plan', 'already-gone', podText(p), { action_id: ctx.id, status: statusOf(err) });
              return;
            }
            throw apiError(`deleting pod ${namespace}/${name}`, err);
          }
        }),
      );
    },
    async preview(scope, action) {
      const { pods, leader } = await scope.resolver.pods(action.target);
      const chosen = scope.capped(selectorText(action), pods, action.pick);
      return {
        candidates: chosen.map(podText),
        note: dynamicNote(leader, action.target),
        down: { count: chosen.length, unit: 'pod', forMs: null, endedBy: backWhenReady(scope, chosen) },
      };
    },
  },

  // Down: the chosen nodes, one each (their pods go with them and are recreated elsewhere). A
  // deleted node is not restorable, so it counts until its pods are back by the rule of
  // deletePod: a later wait until recovered or waitRollout of their workload, else to the end.
  deleteNode: {
    async execute(scope, action, ctx) {
      if (!scope.allowNodeDeletion)
        throw new PlanRefusedError('deleteNode is refused: target.allowNodeDeletion is not true');
      const { nodes, leader } = await resolveNodes(scope, action);
      const hosted = (await Promise.all(nodes.map((n) => scope.resolver.podsOnNode(n)))).flat();
      ctx.markExecuted(nodes, leader, { pods: hosted.map(podText).join(','), out_of_service: action.outOfService });
      scope.remember(
        ctx.id,
        ctx.record.executedAt ?? Date.now(),
        hosted.filter((p) => drainSkips(p) === null),
      );
      for (const node of nodes) {
        if (action.outOfService) {
          await taintOutOfService(scope, node);
          // Deleting the node first would orphan its pods until the pod GC notices (40–80 s).
          const gone = await waitPodsGone(scope, {
            node,
            timeoutMs: scope.outOfServiceWaitMs,
            signal: ctx.signal,
          }).catch((err: unknown) => err as Error);
          ctx.timeline.record('plan', gone instanceof Error ? 'pods-not-gone' : 'pods-gone', node, {
            action_id: ctx.id,
            waited_ms: Date.now() - (ctx.record.executedAt ?? Date.now()),
            ...(gone instanceof Error ? { error: gone.message } : {}),
          });
        }
        try {
          await scope.clients.core.deleteNode({ name: node });
        } catch (err) {
          if (statusOf(err) === 404) {
            ctx.timeline.record('plan', 'already-gone', node, { action_id: ctx.id });
            continue;
          }
          throw apiError(`deleting node ${node}`, err);
        }
        ctx.timeline.record('plan', 'node-deleted', node, { action_id: ctx.id, restorable: false });
      }
    },
    async preview(scope, action) {
      if (!scope.allowNodeDeletion)
        throw new PlanRefusedError('deleteNode is refused: target.allowNodeDeletion is not true');
      const { nodes, leader } = await resolveNodes(scope, action);
      const hosted = await podsGoingWith(scope, nodes);
      const note = [dynamicNote(leader), `pods there now: ${hosted.map(podText).join(', ') || 'none of ours'}`]
        .filter(Boolean)
        .join('; ');
      return {
        candidates: nodes,
        note,
        down: { count: nodes.length, unit: 'node', forMs: null, endedBy: backWhenReady(scope, hosted) },
      };
    },
  },

  // Down: nothing. A cordoned node keeps running its pods; only new ones go elsewhere.
  cordon: {
    async execute(scope, action, ctx) {
      const { nodes, leader } = await resolveNodes(scope, action);
      ctx.markExecuted(nodes, leader);
      for (const n of nodes) await scope.cordon(n, ctx);
      if (action.uncordonAfter !== undefined)
        await uncordonLater(scope, nodes, parseDurationMs('uncordonAfter', action.uncordonAfter), ctx);
    },
    async preview(scope, action) {
      const { nodes, leader } = await resolveNodes(scope, action);
      return { candidates: nodes, note: dynamicNote(leader), down: null };
    },
  },

  // Down: nothing; it undoes a cordon.
  uncordon: {
    async execute(scope, action, ctx) {
      const { nodes, leader } = await resolveNodes(scope, action);
      ctx.markExecuted(nodes, leader);
      for (const n of nodes) await scope.uncordon(n);
    },
    async preview(scope, action) {
      const { nodes, leader } = await resolveNodes(scope, action);
      return { candidates: nodes, note: dynamicNote(leader), down: null };
    },
  },

  // Down: the chosen nodes, one each (cordoned, their pods evicted and recreated elsewhere),
  // until the drain's uncordonAfter, or sooner a later wait until recovered or waitRollout of
  // their pods' workload (after its timeout), else to the end.
  drain: {
    async execute(scope, action, ctx) {
      const { nodes, leader } = await resolveNodes(scope, action);
      const deadline = Date.now() + parseDurationMs('timeout', action.timeout);
      ctx.markExecuted(nodes, leader, { timeout: action.timeout });
      for (const node of nodes) await scope.cordon(node, ctx);
      const grace = gracePeriodSeconds(action.gracePeriod);
      const blocked = new Set<string>();
      for (const node of nodes) {
        const elsewhere = await scope.resolver.podsOnNodeElsewhere(node);
        const outside = (elsewhere ?? []).filter((p) => drainSkips(p) === null).map(podText);
        if (outside.length > 0 || elsewhere === null) {
          // The allow-list holds for drains too: other namespaces' pods stay where they are.
          ctx.timeline.record('plan', 'drain-skipped', node, {
            action_id: ctx.id,
            reason: 'outside target.namespaces',
            pods: elsewhere === null ? 'not visible (RBAC)' : outside.join(','),
          });
        }
        const pods = (await scope.resolver.podsOnNode(node)).filter((p) => drainSkips(p) === null);
        scope.remember(ctx.id, Date.now(), pods);
        await Promise.all(pods.map((pod) => evict(scope, { pod, deadline, gracePeriodSeconds: grace, ctx, blocked })));
      }
      if (blocked.size > 0) {
        ctx.timeline.record('plan', 'drain-timeout', nodes.join(','), {
          action_id: ctx.id,
          blocked: [...blocked].join(','),
          timeout: action.timeout,
        });
        throw new DrainError(
          `drain of ${nodes.join(', ')} gave up after ${action.timeout}: eviction of ${[...blocked].join(', ')} still refused (PodDisruptionBudget)`,
          { blocked: [...blocked] },
        );
      }
      for (const node of nodes) {
        await waitPodsGone(scope, { node, timeoutMs: Math.max(1000, deadline - Date.now()), signal: ctx.signal });
      }
      ctx.timeline.record('plan', 'drained', nodes.join(','), {
        action_id: ctx.id,
        took_ms: Date.now() - (ctx.record.executedAt ?? Date.now()),
      });
      if (action.uncordonAfter !== undefined)
        await uncordonLater(scope, nodes, parseDurationMs('uncordonAfter', action.uncordonAfter), ctx);
    },
    async preview(scope, action) {
      const { nodes, leader } = await resolveNodes(scope, action);
      const hosted = await podsGoingWith(scope, nodes);
      const note = [dynamicNote(leader), `pods there now: ${hosted.map(podText).join(', ') || 'none of ours'}`]
        .filter(Boolean)
        .join('; ');
      const forMs = action.uncordonAfter === undefined ? null : parseDurationMs('uncordonAfter', action.uncordonAfter);
      return {
        candidates: nodes,
        note,
        down: { count: nodes.length, unit: 'node', forMs, endedBy: backWhenReady(scope, hosted) },
      };
    },
  },

  // Down: the pods a scale-down removes (the replicas now minus the target), until its
  // restoreAfter, else until a later scale of the same workload sets them anew, else to the end.
  // A waitRollout does not bring them back: the rollout completes at the lower count.
  scale: {
    async execute(scope, action, ctx) {
      const ref = scope.resolver.workload(action.target);
      const before = await readReplicas(scope.clients, ref);
      scope.capScaleDown(ref, before, action.replicas);
      const key = workloadText(ref);
      ctx.markExecuted([key], null, { replicas_before: before, replicas: action.replicas });
      await scope.scaleTo(ref, action.replicas, before);
      if (action.restoreAfter === undefined) return;
      await ctx.sleep(parseDurationMs('restoreAfter', action.restoreAfter));
      if (ctx.signal.aborted) return;
      const original = await scope.scaleBack(ref, before);
      ctx.record.restartedAt = Date.now();
      ctx.timeline.record('plan', 'scaled-back', key, {
        action_id: ctx.id,
        replicas: original,
        scaled_ms: ctx.record.restartedAt - (ctx.record.executedAt ?? ctx.record.restartedAt),
      });
    },
    async preview(scope, action) {
      const { ref, replicas: before } = await previewWorkload(scope, action.target);
      scope.capScaleDown(ref, before, action.replicas);
      const key = workloadText(ref);
      const forMs = action.restoreAfter === undefined ? null : parseDurationMs('restoreAfter', action.restoreAfter);
      const rescaled = (later: ChaosAction): number | null =>
        later.action === 'scale' && !('group' in later.target) && workloadKey(scope, later.target) === key
          ? durationMs('at', later.at)
          : null;
      return {
        candidates: [key],
        note: `replicas ${before} → ${action.replicas}${action.restoreAfter === undefined ? '' : ` → ${before} after ${action.restoreAfter}`}`,
        down: { count: Math.max(0, before - action.replicas), unit: 'pod', forMs, endedBy: rescaled },
      };
    },
  },

  // Down: one pod (a rolling update replaces pods one at a time by default; the strategy is not
  // read, so a Deployment with Recreate is undercounted), until a later waitRollout of the
  // workload has had its timeout, else to the end. A wait until recovered does not end it: the
  // stream can be current between two pods of the rollout.
  rolloutRestart: {
    async execute(scope, action, ctx) {
      const ref = scope.resolver.workload(action.target);
      const restartedAt = new Date().toISOString();
      ctx.markExecuted([workloadText(ref)], null, { restarted_at: restartedAt });
      // What `kubectl rollout restart` does: a new pod template annotation starts a rolling update.
      const body = {
        spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': restartedAt } } } },
      };
      const { apps } = scope.clients;
      try {
        if (ref.kind === 'Deployment')
          await apps.patchNamespacedDeployment({ name: ref.name, namespace: ref.namespace, body }, scope.mergePatch);
        else
          await apps.patchNamespacedStatefulSet({ name: ref.name, namespace: ref.namespace, body }, scope.mergePatch);
      } catch (err) {
        throw apiError(`restarting ${workloadText(ref)}`, err);
      }
    },
    async preview(scope, action) {
      const { ref } = await previewWorkload(scope, action.target);
      const key = workloadText(ref);
      const rolledOut = (later: ChaosAction): number | null =>
        later.action === 'waitRollout' && workloadKey(scope, later.target) === key ? waitEndMs(later) : null;
      return { candidates: [key], note: '', down: { count: 1, unit: 'pod', forMs: null, endedBy: rolledOut } };
    },
  },

  // Down: nothing; it ends the windows of earlier actions on its workload (see backWhenReady).
  waitRollout: {
    async execute(scope, action, ctx) {
      const ref = scope.resolver.workload(action.target);
      ctx.markExecuted([workloadText(ref)], null);
      const started = Date.now();
      const { apps } = scope.clients;
      const base = `/apis/apps/v1/namespaces/${ref.namespace}/${ref.kind === 'Deployment' ? 'deployments' : 'statefulsets'}`;
      const fieldSelector = `metadata.name=${ref.name}`;
      const list =
        ref.kind === 'Deployment'
          ? () => apps.listNamespacedDeployment({ namespace: ref.namespace, fieldSelector })
          : () => apps.listNamespacedStatefulSet({ namespace: ref.namespace, fieldSelector });
      const status = await watchUntil<RolloutObject, string>({
        clients: scope.clients,
        path: base,
        fieldSelector,
        list: list as () => Promise<{ items: RolloutObject[] }>,
        check: (objects) => {
          const o = objects.get(`${ref.namespace}/${ref.name}`);
          return o === undefined ? null : rolloutComplete(ref.kind, o);
        },
        timeoutMs: parseDurationMs('timeout', action.timeout),
        what: `the rollout of ${workloadText(ref)}`,
        signal: ctx.signal,
      });
      ctx.timeline.record('plan', 'rollout-complete', workloadText(ref), {
        action_id: ctx.id,
        waited_ms: Date.now() - started,
        status,
      });
    },
    async preview(scope, action) {
      const { ref } = await previewWorkload(scope, action.target);
      return { candidates: [workloadText(ref)], note: '', down: null };
    },
  },

  // Down: the chosen pods, their container killed `times` times and restarted in place by the
  // kubelet; the action itself waits for each restart, so they count until its last one, at most
  // times × restartTimeout plus the intervals between the rounds.
  execKill: {
    async execute(scope, action, ctx) {
      const { pods, leader } = await scope.resolver.pods(action.target);
      const chosen = scope.capped(selectorText(action), pods, action.pick);
      const command = killCommand(action.signal, action.command);
      ctx.markExecuted(chosen.map(podText), leader, { command: command.join(' '), times: action.times });
      const restartTimeoutMs = parseDurationMs('restartTimeout', action.restartTimeout);
      const intervalMs = durationMs('interval', action.interval);
      const { core } = scope.clients;
      await Promise.all(
        chosen.map(async (pod) => {
          const namespace = scope.resolver.guard.check(pod.metadata?.namespace, `pod ${pod.metadata?.name ?? ''}`);
          const name = pod.metadata?.name ?? '';
          const container =
            action.container ??
            pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'] ??
            pod.spec?.containers[0]?.name ??
            '';
          for (let i = 1; i <= action.times && !ctx.signal.aborted; i++) {
            const current = await core.readNamespacedPod({ name, namespace });
            const restartsBefore =
              current.status?.containerStatuses?.find((c) => c.name === container)?.restartCount ?? 0;
            const sentAt = Date.now();
            (ctx.record.rounds ??= []).push(sentAt);
            const outcome = await scope.exec.run(namespace, name, container, command, 30_000);
            ctx.timeline.record('plan', 'exec-kill', `${namespace}/${name}`, {
              action_id: ctx.id,
              container,
              round: i,
              status: outcome.status,
              exit_code: outcome.exitCode,
              message: outcome.message,
              stderr_tail: outcome.stderr || undefined,
            });
            if (outcome.status === 'Failure' && outcome.exitCode === null)
              throw new KubeApiError(
                `exec in ${namespace}/${name} was refused: ${outcome.message ?? 'no reason given'}`,
                { code: null },
              );
            const back = await watchUntil<V1Pod, { exitCode: number | null; startedAt: number }>({
              clients: scope.clients,
              path: `/api/v1/namespaces/${namespace}/pods`,
              fieldSelector: `metadata.name=${name}`,
              list: () => core.listNamespacedPod({ namespace, fieldSelector: `metadata.name=${name}` }),
              check: (objects) => {
                const c = objects
                  .get(`${namespace}/${name}`)
                  ?.status?.containerStatuses?.find((s) => s.name === container);
                if (c === undefined || (c.restartCount ?? 0) <= restartsBefore || !c.state?.running) return null;
                return { exitCode: c.lastState?.terminated?.exitCode ?? null, startedAt: Date.now() };
              },
              timeoutMs: restartTimeoutMs,
              what: `container ${container} of ${namespace}/${name} to run again`,
              signal: ctx.signal,
            });
            const mismatch = action.expectExitCode !== undefined && back.exitCode !== action.expectExitCode;
            ctx.timeline.record('plan', 'container-back', `${namespace}/${name}`, {
              action_id: ctx.id,
              container,
              round: i,
              down_ms: back.startedAt - sentAt,
              exit_code: back.exitCode,
              ...(mismatch ? { expected_exit_code: action.expectExitCode } : {}),
            });
            ctx.record.restartedAt = back.startedAt;
            if (i < action.times && intervalMs > 0) await ctx.sleep(intervalMs);
          }
        }),
      );
    },
    async preview(scope, action) {
      const { pods, leader } = await scope.resolver.pods(action.target);
      const chosen = scope.capped(selectorText(action), pods, action.pick);
      const forMs =
        action.times * parseDurationMs('restartTimeout', action.restartTimeout) +
        (action.times - 1) * durationMs('interval', action.interval);
      const note = [
        dynamicNote(leader, action.target),
        `runs ${killCommand(action.signal, action.command).join(' ')} ×${action.times}`,
      ]
        .filter(Boolean)
        .join('; ');
      return {
        candidates: chosen.map(podText),
        note,
        down: { count: chosen.length, unit: 'pod', forMs, endedBy: () => null },
      };
    },
  },

  // Down: nothing; `until: recovered` ends earlier windows of recreated pods (see backWhenReady).
  wait: {
    async execute(scope, action, ctx) {
      if (scope.world === undefined) throw new PlanRefusedError("wait needs JetStream's view: set target.natsUrl");
      ctx.markExecuted([], scope.world.currentLeader(), { until: action.until });
      const started = Date.now();
      const ok = await scope.world.waitUntil(action.until, parseDurationMs('timeout', action.timeout));
      ctx.timeline.record('plan', ok ? 'wait-done' : 'wait-timeout', null, {
        action_id: ctx.id,
        until: action.until,
        waited_ms: Date.now() - started,
      });
    },
    async preview(scope) {
      if (scope.world === undefined) throw new PlanRefusedError("wait needs JetStream's view: set target.natsUrl");
      return { candidates: [], note: '', down: null };
    },
  },

  // Down: nothing the preflight can know; it runs locally (a cloud CLI may take a VM away).
  command: {
    execute: (_scope, action, ctx) => executeCommandAction(action, ctx),
    preview: async (_scope, action) => ({
      candidates: [],
      note: `runs locally: ${action.command.join(' ')}`,
      down: null,
    }),
  },
};

/** The handler of one action; the key's type picks the entry, so the action's type matches it. */
export function kubeActionHandler<K extends ActionName>(name: K): KubeActionHandler<ActionOf<K>> {
  return KUBE_ACTIONS[name];
}
