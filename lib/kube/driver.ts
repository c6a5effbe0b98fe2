// The Kubernetes chaos driver: deletes pods (by name, label, or the JetStream stream leader's
// pod), deletes / cordons / drains nodes, scales and restarts workloads, kills containers' main
// processes through exec, and runs local commands. Every object is resolved at action time,
// checked against the namespace allow-list and the blast-radius cap; restore() uncordons what it
// cordoned and scales back what it scaled. Deleted pods and nodes cannot be restored (their
// controllers recreate pods; a deleted node comes back only when its kubelet registers again).
import type { ConfigurationOptions, V1Pod } from '@kubernetes/client-node';
import { parseDurationMs } from '../shared/env-parse.ts';
import { KubeApiError, NamespaceRefusedError, PlanRefusedError } from '../shared/errors.ts';
import { type ActionContext, type ChaosDriver, type ChaosWorld, type ResolvedPreview, selectorText } from '../sidecar/chaos.ts';
import { executeCommandAction } from '../sidecar/command-action.ts';
import { actionId, type ChaosAction, isKubernetesAction, type KubernetesChaosAction, type NodeSelector } from '../sidecar/experiment.ts';
import { apiMessage, type KubeClients, statusOf } from './client.ts';
import { ClientExecRunner, type ExecRunner, killCommand } from './exec-kill.ts';
import type { AffectedPod } from './kube-metrics.ts';
import { ownerOf } from './lifecycle.ts';
import { podText, SelectorError, type TargetResolver, type WorkloadRef, workloadText } from './resolve.ts';
import { watchUntil } from './watch.ts';

export class DrainError extends Error {
  constructor(message: string, readonly blocked: string[], options?: ErrorOptions) {
    super(message, options);
    this.name = 'DrainError';
  }
}

export interface KubernetesDriverOptions {
  clients: KubeClients;
  resolver: TargetResolver;
  blastRadius: number;
  /** target.allowNodeDeletion: checked here too, not only when the experiment is parsed */
  allowNodeDeletion: boolean;
  /** JetStream conditions for `wait` actions (the sidecar's world); absent: `wait` is refused */
  world?: Pick<ChaosWorld, 'waitUntil' | 'currentLeader'>;
  exec?: ExecRunner;
  /** how often a refused eviction (429) is retried */
  evictionRetryMs?: number;
  /** how long deleteNode with outOfService waits for the node's pods to go before deleting it */
  outOfServiceWaitMs?: number;
}

/** Like parseDurationMs, but "0s" is a valid answer (a grace period of zero, no interval). */
function durationMs(field: string, text: string): number {
  return /^0+(?:\.0+)?(?:ms|s|m|h)$/.test(text) ? 0 : parseDurationMs(field, text);
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

function apiError(what: string, err: unknown): KubeApiError {
  return new KubeApiError(`${what}: ${apiMessage(err)}`, { code: statusOf(err), cause: err });
}

export class KubernetesDriver implements ChaosDriver {
  /** pods the plan took away (deleted, evicted, gone with their node): input of the reschedule metrics */
  readonly affected: AffectedPod[] = [];
  private readonly cordonedByUs = new Set<string>();
  /** workload → replicas before the plan first scaled it */
  private readonly scaledByUs = new Map<string, { ref: WorkloadRef; replicas: number }>();
  private readonly exec: ExecRunner;
  /** client-node picks the JSON-patch content type for every PATCH; these set the one meant */
  private readonly mergePatch: ConfigurationOptions;
  private readonly jsonPatch: ConfigurationOptions;

  constructor(private readonly opts: KubernetesDriverOptions) {
    const { lib, kubeConfig } = opts.clients;
    this.exec = opts.exec ?? new ClientExecRunner(new lib.Exec(kubeConfig));
    this.mergePatch = lib.setHeaderOptions('Content-Type', lib.PatchStrategy.MergePatch);
    this.jsonPatch = lib.setHeaderOptions('Content-Type', lib.PatchStrategy.JsonPatch);
  }

  private get resolver(): TargetResolver {
    return this.opts.resolver;
  }

  private capped<T>(what: string, matches: T[], pick: 'one' | 'all'): T[] {
    const chosen = pick === 'all' ? matches : matches.slice(0, 1);
    if (chosen.length === 0) throw new PlanRefusedError(`target ${what} matches nothing right now`);
    if (chosen.length > this.opts.blastRadius) throw new PlanRefusedError(`target ${what} matches ${chosen.length}, more than blastRadius ${this.opts.blastRadius}`);
    return chosen;
  }

  private remember(action: string, at: number, pods: V1Pod[]): void {
    for (const p of pods) {
      this.affected.push({ actionId: action, at, namespace: p.metadata?.namespace ?? '', pod: p.metadata?.name ?? '', uid: p.metadata?.uid ?? '', node: p.spec?.nodeName ?? null, owner: ownerOf(p) });
    }
  }

  async execute(action: ChaosAction, ctx: ActionContext): Promise<void> {
    if (action.action === 'command') return executeCommandAction(action, ctx);
    if (action.action === 'wait') {
      if (this.opts.world === undefined) throw new PlanRefusedError('wait needs JetStream\'s view: set target.natsUrl');
      ctx.markExecuted([], this.opts.world.currentLeader(), { until: action.until });
      const started = Date.now();
      const ok = await this.opts.world.waitUntil(action.until, parseDurationMs('timeout', action.timeout));
      ctx.timeline.record('plan', ok ? 'wait-done' : 'wait-timeout', null, { action_id: ctx.id, until: action.until, waited_ms: Date.now() - started });
      return;
    }
    if (!isKubernetesAction(action)) throw new PlanRefusedError(`${action.action} is for local targets; on kubernetes use deletePod, execKill or scale`);
    switch (action.action) {
      case 'deletePod':
        return this.deletePods(action, ctx);
      case 'deleteNode':
        return this.deleteNodes(action, ctx);
      case 'cordon':
      case 'uncordon':
        return this.cordonAction(action, ctx);
      case 'drain':
        return this.drain(action, ctx);
      case 'scale':
        return this.scale(action, ctx);
      case 'rolloutRestart':
        return this.rolloutRestart(action, ctx);
      case 'waitRollout':
        return this.waitRollout(action, ctx);
      case 'execKill':
        return this.execKill(action, ctx);
    }
  }

  private async deletePods(action: Extract<KubernetesChaosAction, { action: 'deletePod' }>, ctx: ActionContext): Promise<void> {
    const { pods, leader } = await this.resolver.pods(action.target);
    const chosen = this.capped(selectorText(action), pods, action.pick);
    const gracePeriodSeconds = action.gracePeriod === undefined ? undefined : Math.round(durationMs('gracePeriod', action.gracePeriod) / 1000);
    ctx.markExecuted(chosen.map(podText), leader, { grace_period_s: gracePeriodSeconds ?? null, nodes: chosen.map((p) => p.spec?.nodeName ?? '?').join(',') });
    this.remember(ctx.id, ctx.record.executedAt ?? Date.now(), chosen);
    await Promise.all(chosen.map(async (p) => {
      const name = p.metadata?.name ?? '';
      const namespace = this.resolver.guard.check(p.metadata?.namespace, `pod ${name}`);
      try {
        // The uid precondition: never delete a replacement that took the name meanwhile.
        await this.opts.clients.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds, body: { preconditions: { uid: p.metadata?.uid } } });
      } catch (err) {
        if (statusOf(err) === 404 || statusOf(err) === 409) {
          ctx.timeline.record('plan', 'already-gone', podText(p), { action_id: ctx.id, status: statusOf(err) });
          return;
        }
        throw apiError(`deleting pod ${namespace}/${name}`, err);
      }
    }));
  }

  private async nodes(sel: NodeSelector, pick: 'one' | 'all', what: string): Promise<{ nodes: string[]; leader: string | null }> {
    const r = await this.resolver.nodes(sel);
    return { nodes: this.capped(what, r.nodes, pick), leader: r.leader };
  }

  private async setUnschedulable(node: string, unschedulable: boolean): Promise<void> {
    try {
      await this.opts.clients.core.patchNode({ name: node, body: { spec: { unschedulable } } }, this.mergePatch);
    } catch (err) {
      throw apiError(`${unschedulable ? 'cordoning' : 'uncordoning'} node ${node}`, err);
    }
  }

  private async isUnschedulable(node: string): Promise<boolean> {
    return (await this.opts.clients.core.readNode({ name: node })).spec?.unschedulable === true;
  }

  /** Cordons, remembering only nodes that were schedulable before (those restore() uncordons). */
  private async cordon(node: string, ctx: ActionContext): Promise<void> {
    if (await this.isUnschedulable(node)) {
      ctx.timeline.record('plan', 'already-cordoned', node, { action_id: ctx.id });
      return;
    }
    this.cordonedByUs.add(node);
    await this.setUnschedulable(node, true);
  }

  private async uncordon(node: string): Promise<void> {
    await this.setUnschedulable(node, false);
    this.cordonedByUs.delete(node);
  }

  private async cordonAction(action: Extract<KubernetesChaosAction, { action: 'cordon' | 'uncordon' }>, ctx: ActionContext): Promise<void> {
    const { nodes, leader } = await this.nodes(action.target, action.pick, selectorText(action));
    ctx.markExecuted(nodes, leader);
    if (action.action === 'uncordon') {
      for (const n of nodes) await this.uncordon(n);
      return;
    }
    for (const n of nodes) await this.cordon(n, ctx);
    if (action.uncordonAfter !== undefined) await this.uncordonLater(nodes, parseDurationMs('uncordonAfter', action.uncordonAfter), ctx);
  }

  private async uncordonLater(nodes: string[], afterMs: number, ctx: ActionContext): Promise<void> {
    await ctx.sleep(afterMs);
    // Stopped meanwhile: restore() uncordons instead.
    if (ctx.signal.aborted) return;
    for (const n of nodes) if (this.cordonedByUs.has(n)) await this.uncordon(n);
    ctx.record.restartedAt = Date.now();
    ctx.timeline.record('plan', 'uncordoned', nodes.join(','), { action_id: ctx.id, cordoned_ms: ctx.record.restartedAt - (ctx.record.executedAt ?? ctx.record.restartedAt) });
  }

  private async deleteNodes(action: Extract<KubernetesChaosAction, { action: 'deleteNode' }>, ctx: ActionContext): Promise<void> {
    if (!this.opts.allowNodeDeletion) throw new PlanRefusedError('deleteNode is refused: target.allowNodeDeletion is not true');
    const { nodes, leader } = await this.nodes(action.target, action.pick, selectorText(action));
    const hosted = (await Promise.all(nodes.map((n) => this.resolver.podsOnNode(n)))).flat();
    ctx.markExecuted(nodes, leader, { pods: hosted.map(podText).join(','), out_of_service: action.outOfService });
    this.remember(ctx.id, ctx.record.executedAt ?? Date.now(), hosted.filter((p) => drainSkips(p) === null));
    for (const node of nodes) {
      if (action.outOfService) {
        await this.taintOutOfService(node);
        const waitMs = this.opts.outOfServiceWaitMs ?? 60_000;
        // Deleting the node first would orphan its pods until the pod GC notices (40–80 s).
        const gone = await this.waitPodsGone(node, waitMs, ctx.signal).catch((err: unknown) => err as Error);
        ctx.timeline.record('plan', gone instanceof Error ? 'pods-not-gone' : 'pods-gone', node, { action_id: ctx.id, waited_ms: Date.now() - (ctx.record.executedAt ?? Date.now()), ...(gone instanceof Error ? { error: gone.message } : {}) });
      }
      try {
        await this.opts.clients.core.deleteNode({ name: node });
      } catch (err) {
        if (statusOf(err) === 404) {
          ctx.timeline.record('plan', 'already-gone', node, { action_id: ctx.id });
          continue;
        }
        throw apiError(`deleting node ${node}`, err);
      }
      ctx.timeline.record('plan', 'node-deleted', node, { action_id: ctx.id, restorable: false });
    }
  }

  private async taintOutOfService(node: string): Promise<void> {
    const current = (await this.opts.clients.core.readNode({ name: node })).spec?.taints ?? [];
    if (current.some((t) => t.key === OUT_OF_SERVICE.key)) return;
    // A JSON patch appends to the taints; a merge patch would replace the whole list.
    const body = current.length === 0 ? [{ op: 'add', path: '/spec/taints', value: [OUT_OF_SERVICE] }] : [{ op: 'add', path: '/spec/taints/-', value: OUT_OF_SERVICE }];
    try {
      await this.opts.clients.core.patchNode({ name: node, body }, this.jsonPatch);
    } catch (err) {
      throw apiError(`tainting node ${node} out-of-service`, err);
    }
  }

  /** Waits (watching, per allowed namespace) until no pod of ours is bound to the node. */
  private async waitPodsGone(node: string, timeoutMs: number, signal: AbortSignal, ignore: (p: V1Pod) => boolean = (p) => drainSkips(p) === 'DaemonSet' || drainSkips(p) === 'mirror pod'): Promise<void> {
    const { core } = this.opts.clients;
    const deadline = Date.now() + timeoutMs;
    await Promise.all(this.resolver.guard.allowed.map((namespace) => watchUntil<V1Pod, true>({
      clients: this.opts.clients,
      path: `/api/v1/namespaces/${namespace}/pods`,
      fieldSelector: `spec.nodeName=${node}`,
      list: () => core.listNamespacedPod({ namespace, fieldSelector: `spec.nodeName=${node}` }),
      check: (pods) => ([...pods.values()].some((p) => !ignore(p)) ? null : true),
      timeoutMs: Math.max(1, deadline - Date.now()),
      what: `the pods of node ${node} in ${namespace} to go`,
      signal,
    })));
  }

  private async drain(action: Extract<KubernetesChaosAction, { action: 'drain' }>, ctx: ActionContext): Promise<void> {
    const { nodes, leader } = await this.nodes(action.target, action.pick, selectorText(action));
    const timeoutMs = parseDurationMs('timeout', action.timeout);
    const deadline = Date.now() + timeoutMs;
    ctx.markExecuted(nodes, leader, { timeout: action.timeout });
    for (const node of nodes) await this.cordon(node, ctx);
    const retryMs = this.opts.evictionRetryMs ?? 1000;
    const gracePeriodSeconds = action.gracePeriod === undefined ? undefined : Math.round(durationMs('gracePeriod', action.gracePeriod) / 1000);
    const blocked = new Set<string>();
    for (const node of nodes) {
      const elsewhere = await this.resolver.podsOnNodeElsewhere(node);
      const outside = (elsewhere ?? []).filter((p) => drainSkips(p) === null).map(podText);
      if (outside.length > 0 || elsewhere === null) {
        // The allow-list holds for drains too: other namespaces' pods stay where they are.
        ctx.timeline.record('plan', 'drain-skipped', node, { action_id: ctx.id, reason: 'outside target.namespaces', pods: elsewhere === null ? 'not visible (RBAC)' : outside.join(',') });
      }
      const pods = (await this.resolver.podsOnNode(node)).filter((p) => drainSkips(p) === null);
      this.remember(ctx.id, Date.now(), pods);
      await Promise.all(pods.map((p) => this.evict(p, deadline, retryMs, gracePeriodSeconds, ctx, blocked)));
    }
    if (blocked.size > 0) {
      ctx.timeline.record('plan', 'drain-timeout', nodes.join(','), { action_id: ctx.id, blocked: [...blocked].join(','), timeout: action.timeout });
      throw new DrainError(`drain of ${nodes.join(', ')} gave up after ${action.timeout}: eviction of ${[...blocked].join(', ')} still refused (PodDisruptionBudget)`, [...blocked]);
    }
    for (const node of nodes) {
      await this.waitPodsGone(node, Math.max(1000, deadline - Date.now()), ctx.signal);
    }
    ctx.timeline.record('plan', 'drained', nodes.join(','), { action_id: ctx.id, took_ms: Date.now() - (ctx.record.executedAt ?? Date.now()) });
    if (action.uncordonAfter !== undefined) await this.uncordonLater(nodes, parseDurationMs('uncordonAfter', action.uncordonAfter), ctx);
  }

  /** One eviction, retried while a PodDisruptionBudget refuses it (429) and the deadline allows. */
  private async evict(p: V1Pod, deadline: number, retryMs: number, gracePeriodSeconds: number | undefined, ctx: ActionContext, blocked: Set<string>): Promise<void> {
    const name = p.metadata?.name ?? '';
    const namespace = this.resolver.guard.check(p.metadata?.namespace, `pod ${name}`);
    const started = Date.now();
    let attempts = 0;
    let refusals = 0;
    for (;;) {
      attempts++;
      try {
        await this.opts.clients.core.createNamespacedPodEviction({
          name,
          namespace,
          body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace }, ...(gracePeriodSeconds === undefined ? {} : { deleteOptions: { gracePeriodSeconds } }) },
        });
        ctx.timeline.record('plan', 'evicted', `${namespace}/${name}`, { action_id: ctx.id, attempts, waited_ms: Date.now() - started, refused: refusals });
        return;
      } catch (err) {
        const code = statusOf(err);
        if (code === 404) return;
        if (code !== 429) throw apiError(`evicting pod ${namespace}/${name}`, err);
        refusals++;
        if (refusals === 1) ctx.timeline.record('plan', 'eviction-blocked', `${namespace}/${name}`, { action_id: ctx.id, status: 429, message: apiMessage(err) });
        if (Date.now() + retryMs > deadline || ctx.signal.aborted) {
          blocked.add(`${namespace}/${name}`);
          return;
        }
        await ctx.sleep(retryMs);
      }
    }
  }

  private async readReplicas(ref: WorkloadRef): Promise<number> {
    const { apps } = this.opts.clients;
    try {
      const scale = ref.kind === 'Deployment' ? await apps.readNamespacedDeploymentScale({ name: ref.name, namespace: ref.namespace }) : await apps.readNamespacedStatefulSetScale({ name: ref.name, namespace: ref.namespace });
      return scale.spec?.replicas ?? 0;
    } catch (err) {
      if (statusOf(err) === 404) throw new PlanRefusedError(`${workloadText(ref)} does not exist`);
      throw apiError(`reading the scale of ${workloadText(ref)}`, err);
    }
  }

  private async setReplicas(ref: WorkloadRef, replicas: number): Promise<void> {
    const { apps } = this.opts.clients;
    const body = { spec: { replicas } };
    try {
      if (ref.kind === 'Deployment') await apps.patchNamespacedDeploymentScale({ name: ref.name, namespace: ref.namespace, body }, this.mergePatch);
      else await apps.patchNamespacedStatefulSetScale({ name: ref.name, namespace: ref.namespace, body }, this.mergePatch);
    } catch (err) {
      throw apiError(`scaling ${workloadText(ref)} to ${replicas}`, err);
    }
  }

  private async scale(action: Extract<KubernetesChaosAction, { action: 'scale' }>, ctx: ActionContext): Promise<void> {
    const ref = this.resolver.workload(action.target);
    const before = await this.readReplicas(ref);
    const removed = before - action.replicas;
    if (removed > this.opts.blastRadius) throw new PlanRefusedError(`scaling ${workloadText(ref)} from ${before} to ${action.replicas} removes ${removed} pods, more than blastRadius ${this.opts.blastRadius}`);
    const key = workloadText(ref);
    if (!this.scaledByUs.has(key)) this.scaledByUs.set(key, { ref, replicas: before });
    ctx.markExecuted([key], null, { replicas_before: before, replicas: action.replicas });
    await this.setReplicas(ref, action.replicas);
    if (action.restoreAfter === undefined) return;
    await ctx.sleep(parseDurationMs('restoreAfter', action.restoreAfter));
    if (ctx.signal.aborted) return;
    const original = this.scaledByUs.get(key)?.replicas ?? before;
    await this.setReplicas(ref, original);
    this.scaledByUs.delete(key);
    ctx.record.restartedAt = Date.now();
    ctx.timeline.record('plan', 'scaled-back', key, { action_id: ctx.id, replicas: original, scaled_ms: ctx.record.restartedAt - (ctx.record.executedAt ?? ctx.record.restartedAt) });
  }

  private async rolloutRestart(action: Extract<KubernetesChaosAction, { action: 'rolloutRestart' }>, ctx: ActionContext): Promise<void> {
    const ref = this.resolver.workload(action.target);
    const restartedAt = new Date().toISOString();
    ctx.markExecuted([workloadText(ref)], null, { restarted_at: restartedAt });
    // What `kubectl rollout restart` does: a new pod template annotation starts a rolling update.
    const body = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': restartedAt } } } } };
    const { apps } = this.opts.clients;
    try {
      if (ref.kind === 'Deployment') await apps.patchNamespacedDeployment({ name: ref.name, namespace: ref.namespace, body }, this.mergePatch);
      else await apps.patchNamespacedStatefulSet({ name: ref.name, namespace: ref.namespace, body }, this.mergePatch);
    } catch (err) {
      throw apiError(`restarting ${workloadText(ref)}`, err);
    }
  }

  private async waitRollout(action: Extract<KubernetesChaosAction, { action: 'waitRollout' }>, ctx: ActionContext): Promise<void> {
    const ref = this.resolver.workload(action.target);
    ctx.markExecuted([workloadText(ref)], null);
    const started = Date.now();
    const { apps } = this.opts.clients;
    const base = `/apis/apps/v1/namespaces/${ref.namespace}/${ref.kind === 'Deployment' ? 'deployments' : 'statefulsets'}`;
    const fieldSelector = `metadata.name=${ref.name}`;
    const list = ref.kind === 'Deployment' ? () => apps.listNamespacedDeployment({ namespace: ref.namespace, fieldSelector }) : () => apps.listNamespacedStatefulSet({ namespace: ref.namespace, fieldSelector });
    const status = await watchUntil<RolloutObject, string>({
      clients: this.opts.clients,
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
    ctx.timeline.record('plan', 'rollout-complete', workloadText(ref), { action_id: ctx.id, waited_ms: Date.now() - started, status });
  }

  private async execKill(action: Extract<KubernetesChaosAction, { action: 'execKill' }>, ctx: ActionContext): Promise<void> {
    const { pods, leader } = await this.resolver.pods(action.target);
    const chosen = this.capped(selectorText(action), pods, action.pick);
    const command = killCommand(action.signal, action.command);
    ctx.markExecuted(chosen.map(podText), leader, { command: command.join(' '), times: action.times });
    const restartTimeoutMs = parseDurationMs('restartTimeout', action.restartTimeout);
    const intervalMs = durationMs('interval', action.interval);
    await Promise.all(chosen.map(async (pod) => {
      const namespace = this.resolver.guard.check(pod.metadata?.namespace, `pod ${pod.metadata?.name ?? ''}`);
      const name = pod.metadata?.name ?? '';
      const container = action.container ?? pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'] ?? pod.spec?.containers[0]?.name ?? '';
      for (let i = 1; i <= action.times && !ctx.signal.aborted; i++) {
        const current = await this.opts.clients.core.readNamespacedPod({ name, namespace });
        const restartsBefore = current.status?.containerStatuses?.find((c) => c.name === container)?.restartCount ?? 0;
        const sentAt = Date.now();
        const outcome = await this.exec.run(namespace, name, container, command, 30_000);
        ctx.timeline.record('plan', 'exec-kill', `${namespace}/${name}`, { action_id: ctx.id, container, round: i, status: outcome.status, exit_code: outcome.exitCode, message: outcome.message, stderr_tail: outcome.stderr || undefined });
        if (outcome.status === 'Failure' && outcome.exitCode === null) throw new KubeApiError(`exec in ${namespace}/${name} was refused: ${outcome.message ?? 'no reason given'}`, { code: null });
        const back = await watchUntil<V1Pod, { exitCode: number | null; startedAt: number }>({
          clients: this.opts.clients,
          path: `/api/v1/namespaces/${namespace}/pods`,
          fieldSelector: `metadata.name=${name}`,
          list: () => this.opts.clients.core.listNamespacedPod({ namespace, fieldSelector: `metadata.name=${name}` }),
          check: (objects) => {
            const c = objects.get(`${namespace}/${name}`)?.status?.containerStatuses?.find((s) => s.name === container);
            if (c === undefined || (c.restartCount ?? 0) <= restartsBefore || !c.state?.running) return null;
            return { exitCode: c.lastState?.terminated?.exitCode ?? null, startedAt: Date.now() };
          },
          timeoutMs: restartTimeoutMs,
          what: `container ${container} of ${namespace}/${name} to run again`,
          signal: ctx.signal,
        });
        const mismatch = action.expectExitCode !== undefined && back.exitCode !== action.expectExitCode;
        ctx.timeline.record('plan', 'container-back', `${namespace}/${name}`, { action_id: ctx.id, container, round: i, down_ms: back.startedAt - sentAt, exit_code: back.exitCode, ...(mismatch ? { expected_exit_code: action.expectExitCode } : {}) });
        ctx.record.restartedAt = back.startedAt;
        if (i < action.times && intervalMs > 0) await ctx.sleep(intervalMs);
      }
    }));
  }

  /** Uncordons nodes this plan cordoned and scales workloads back to their replicas before the plan. */
  async restore(_reason: string): Promise<string[]> {
    const restored: string[] = [];
    for (const node of [...this.cordonedByUs]) {
      try {
        await this.uncordon(node);
        restored.push(`node/${node} uncordoned`);
      } catch (err) {
        if (statusOf(err) === 404 || statusOf((err as Error).cause) === 404) {
          this.cordonedByUs.delete(node);
          restored.push(`node/${node} is gone, nothing to uncordon`);
        } else {
          restored.push(`node/${node} uncordon (failed: ${(err as Error).message})`);
        }
      }
    }
    for (const [key, { ref, replicas }] of [...this.scaledByUs]) {
      try {
        await this.setReplicas(ref, replicas);
        this.scaledByUs.delete(key);
        restored.push(`${key} scaled back to ${replicas}`);
      } catch (err) {
        restored.push(`${key} scale to ${replicas} (failed: ${(err as Error).message})`);
      }
    }
    return restored;
  }

  /**
   * What each action would touch now, with read-only calls only (--dry-run, and the preflight of a
   * real run); refuses a plan whose selectors match nothing or more than the cap.
   */
  async preview(plan: ChaosAction[]): Promise<ResolvedPreview[]> {
    const problems: string[] = [];
    const previews: ResolvedPreview[] = [];
    for (const [i, a] of plan.entries()) {
      const id = actionId(a, i);
      const row: ResolvedPreview = { id, at: a.at, action: a.action, target: selectorText(a), candidates: [], note: '' };
      previews.push(row);
      try {
        await this.previewOne(a, row);
      } catch (err) {
        if (err instanceof PlanRefusedError || err instanceof SelectorError || err instanceof NamespaceRefusedError) problems.push(`plan[${i}] (${id}): ${err.message}`);
        else problems.push(`plan[${i}] (${id}): ${(err as Error).message}`);
      }
    }
    if (problems.length > 0) throw new PlanRefusedError(`plan refused, nothing was started:\n  ${problems.join('\n  ')}`);
    return previews;
  }

  private async previewOne(a: ChaosAction, row: ResolvedPreview): Promise<void> {
    if (a.action === 'wait') {
      if (this.opts.world === undefined) throw new PlanRefusedError('wait needs JetStream\'s view: set target.natsUrl');
      return;
    }
    if (a.action === 'command') {
      row.note = `runs locally: ${a.command.join(' ')}`;
      return;
    }
    if (!isKubernetesAction(a)) throw new PlanRefusedError(`${a.action} is for local targets`);
    const dynamic = (leader: string | null): string => (leader === null ? '' : `resolved again at action time; the leader is ${leader} now`);
    switch (a.action) {
      case 'deletePod':
      case 'execKill': {
        const { pods, leader } = await this.resolver.pods(a.target);
        row.candidates = this.capped(row.target, pods, a.pick).map(podText);
        row.note = [dynamic(leader), ...(a.action === 'execKill' ? [`runs ${killCommand(a.signal, a.command).join(' ')} ×${a.times}`] : [])].filter(Boolean).join('; ');
        return;
      }
      case 'deleteNode':
      case 'cordon':
      case 'uncordon':
      case 'drain': {
        if (a.action === 'deleteNode' && !this.opts.allowNodeDeletion) throw new PlanRefusedError('deleteNode is refused: target.allowNodeDeletion is not true');
        const { nodes, leader } = await this.nodes(a.target, a.pick, row.target);
        row.candidates = nodes;
        const hosted = (await Promise.all(nodes.map((n) => this.resolver.podsOnNode(n)))).flat().filter((p) => drainSkips(p) === null);
        const notes = [dynamic(leader)];
        if (a.action === 'deleteNode' || a.action === 'drain') notes.push(`pods there now: ${hosted.map(podText).join(', ') || 'none of ours'}`);
        row.note = notes.filter(Boolean).join('; ');
        return;
      }
      case 'scale': {
        const ref = this.resolver.workload(a.target);
        const before = await this.readReplicas(ref);
        if (before - a.replicas > this.opts.blastRadius) throw new PlanRefusedError(`scaling ${workloadText(ref)} from ${before} to ${a.replicas} removes ${before - a.replicas} pods, more than blastRadius ${this.opts.blastRadius}`);
        row.candidates = [workloadText(ref)];
        row.note = `replicas ${before} → ${a.replicas}${a.restoreAfter === undefined ? '' : ` → ${before} after ${a.restoreAfter}`}`;
        return;
      }
      case 'rolloutRestart':
      case 'waitRollout': {
        const ref = this.resolver.workload(a.target);
        await this.readReplicas(ref);
        row.candidates = [workloadText(ref)];
        return;
      }
    }
  }
}

interface RolloutObject {
  metadata?: { name?: string; namespace?: string; generation?: number; resourceVersion?: string };
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number; currentRevision?: string; updateRevision?: string };
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
