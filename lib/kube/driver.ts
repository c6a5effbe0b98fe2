// The Kubernetes chaos driver: hands each action to its entry in KUBE_ACTIONS (actions.ts) and
// keeps what holds across actions: the blast-radius cap (every object is resolved at action time
// and checked against the namespace allow-list and the cap), the record of what the plan changed,
// and restore(), which uncordons what the plan cordoned and scales back what it scaled. Deleted
// pods and nodes cannot be restored (their controllers recreate pods; a deleted node comes back
// only when its kubelet registers again).
import type { ConfigurationOptions, V1Pod } from '@kubernetes/client-node';
import {
  type ActionContext,
  type ChaosDriver,
  type ChaosWorld,
  concludePreflight,
  type ResolvedAction,
  type ResolvedPreview,
  selectorText,
} from '../chaos/chaos.ts';
import { actionId, type ChaosAction } from '../experiment/experiment.ts';
import { PlanRefusedError } from '../shared/errors.ts';
import { apiError, isKubernetesPlanAction, type KubeActionScope, kubeActionHandler } from './actions.ts';
import { type KubeClients, statusOf } from './client.ts';
import { ClientExecRunner, type ExecRunner } from './exec-kill.ts';
import type { AffectedPod } from './kube-metrics.ts';
import { ownerOf } from './lifecycle.ts';
import { type TargetResolver, type WorkloadRef, workloadText } from './resolve.ts';

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

/** What a Kubernetes plan that keeps too much down at once is told to change. */
const CONCURRENT_DOWN_HINT =
  'let each come back before the next goes: a restoreAfter or uncordonAfter that ends before it, or a wait until recovered or a waitRollout in between; or raise blastRadius';

export class KubernetesDriver implements ChaosDriver {
  /** pods the plan took away (deleted, evicted, gone with their node): input of the reschedule metrics */
  readonly affected: AffectedPod[] = [];
  private readonly cordonedByUs = new Set<string>();
  /** workload → replicas before the plan first scaled it */
  private readonly scaledByUs = new Map<string, { ref: WorkloadRef; replicas: number }>();
  /** client-node picks the JSON-patch content type for every PATCH; these set the one meant */
  private readonly mergePatch: ConfigurationOptions;
  private readonly scope: KubeActionScope;

  constructor(private readonly opts: KubernetesDriverOptions) {
    const { lib, kubeConfig } = opts.clients;
    this.mergePatch = lib.setHeaderOptions('Content-Type', lib.PatchStrategy.MergePatch);
    this.scope = {
      clients: opts.clients,
      resolver: opts.resolver,
      exec: opts.exec ?? new ClientExecRunner(new lib.Exec(kubeConfig)),
      allowNodeDeletion: opts.allowNodeDeletion,
      world: opts.world,
      evictionRetryMs: opts.evictionRetryMs ?? 1000,
      outOfServiceWaitMs: opts.outOfServiceWaitMs ?? 60_000,
      jsonPatch: lib.setHeaderOptions('Content-Type', lib.PatchStrategy.JsonPatch),
      mergePatch: this.mergePatch,
      capped: (what, matches, pick) => this.capped(what, matches, pick),
      capScaleDown: (ref, before, replicas) => this.capScaleDown(ref, before, replicas),
      remember: (action, at, pods) => this.remember(action, at, pods),
      cordon: (node, ctx) => this.cordon(node, ctx),
      uncordon: (node) => this.uncordon(node),
      isCordonedByUs: (node) => this.cordonedByUs.has(node),
      scaleTo: (ref, replicas, before) => this.scaleTo(ref, replicas, before),
      scaleBack: (ref, before) => this.scaleBack(ref, before),
    };
  }

  private capped<T>(what: string, matches: T[], pick: 'one' | 'all'): T[] {
    const chosen = pick === 'all' ? matches : matches.slice(0, 1);
    if (chosen.length === 0) throw new PlanRefusedError(`target ${what} matches nothing right now`);
    if (chosen.length > this.opts.blastRadius)
      throw new PlanRefusedError(
        `target ${what} matches ${chosen.length}, more than blastRadius ${this.opts.blastRadius}`,
      );
    return chosen;
  }

  private capScaleDown(ref: WorkloadRef, before: number, replicas: number): void {
    const removed = before - replicas;
    if (removed > this.opts.blastRadius)
      throw new PlanRefusedError(
        `scaling ${workloadText(ref)} from ${before} to ${replicas} removes ${removed} pods, more than blastRadius ${this.opts.blastRadius}`,
      );
  }

  private remember(action: string, at: number, pods: V1Pod[]): void {
    for (const p of pods) {
      this.affected.push({
        actionId: action,
        at,
        namespace: p.metadata?.namespace ?? '',
        pod: p.metadata?.name ?? '',
        uid: p.metadata?.uid ?? '',
        node: p.spec?.nodeName ?? null,
        owner: ownerOf(p),
      });
    }
  }

  private async setUnschedulable(node: string, unschedulable: boolean): Promise<void> {
    try {
      await this.opts.clients.core.patchNode({ name: node, body: { spec: { unschedulable } } }, this.mergePatch);
    } catch (err) {
      throw apiError(`${unschedulable ? 'cordoning' : 'uncordoning'} node ${node}`, err);
    }
  }

  /** Cordons, remembering only nodes that were schedulable before (those restore() uncordons). */
  private async cordon(node: string, ctx: ActionContext): Promise<void> {
    if ((await this.opts.clients.core.readNode({ name: node })).spec?.unschedulable === true) {
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

  private async setReplicas(ref: WorkloadRef, replicas: number): Promise<void> {
    const { apps } = this.opts.clients;
    const body = { spec: { replicas } };
    try {
      if (ref.kind === 'Deployment')
        await apps.patchNamespacedDeploymentScale({ name: ref.name, namespace: ref.namespace, body }, this.mergePatch);
      else
        await apps.patchNamespacedStatefulSetScale({ name: ref.name, namespace: ref.namespace, body }, this.mergePatch);
    } catch (err) {
      throw apiError(`scaling ${workloadText(ref)} to ${replicas}`, err);
    }
  }

  private async scaleTo(ref: WorkloadRef, replicas: number, before: number): Promise<void> {
    const key = workloadText(ref);
    if (!this.scaledByUs.has(key)) this.scaledByUs.set(key, { ref, replicas: before });
    await this.setReplicas(ref, replicas);
  }

  private async scaleBack(ref: WorkloadRef, before: number): Promise<number> {
    const key = workloadText(ref);
    const original = this.scaledByUs.get(key)?.replicas ?? before;
    await this.setReplicas(ref, original);
    this.scaledByUs.delete(key);
    return original;
  }

  async execute(action: ChaosAction, ctx: ActionContext): Promise<void> {
    if (!isKubernetesPlanAction(action))
      throw new PlanRefusedError(
        `${action.action} is for local targets; on kubernetes use deletePod, execKill or scale`,
      );
    return kubeActionHandler(action.action).execute(this.scope, action, ctx);
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
   * real run); refuses a plan whose selectors match nothing or more than the cap, or that would
   * keep more than blastRadius pods and nodes down at once (the rule local plans follow).
   */
  async preview(plan: ChaosAction[]): Promise<ResolvedPreview[]> {
    const resolved: ResolvedAction[] = [];
    for (const [i, a] of plan.entries()) {
      const preview: ResolvedPreview = {
        id: actionId(a, i),
        at: a.at,
        action: a.action,
        target: selectorText(a),
        candidates: [],
        note: '',
      };
      try {
        if (!isKubernetesPlanAction(a)) throw new PlanRefusedError(`${a.action} is for local targets`);
        const { candidates, note, down } = await kubeActionHandler(a.action).preview(this.scope, a);
        resolved.push({ preview: { ...preview, candidates, note }, down, problems: [] });
      } catch (err) {
        resolved.push({ preview, down: null, problems: [(err as Error).message] });
      }
    }
    return concludePreflight({ plan, resolved, blastRadius: this.opts.blastRadius, hint: CONCURRENT_DOWN_HINT });
  }
}
