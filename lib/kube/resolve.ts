// Selectors → Kubernetes objects, at action time (and for --dry-run): pods by name, label or
// role (lib/chaos/roles.ts: the JetStream stream leader's server name mapped to its pod, or the
// NATS Streaming FT group's active pod from each pod's /streaming/serverz), nodes by name, label
// or the pods they host, workloads by name. Read-only calls only; namespaces are checked first.
import type { V1Pod } from '@kubernetes/client-node';
import type { NodeSelector, PodSelector, WorkloadSelector } from '../experiment/experiment.ts';
import { KubeApiError } from '../shared/errors.ts';
import { roleMatches, roleOf, type RoleSelection, type RoleView } from '../chaos/roles.ts';
import { type KubeClients, type NamespaceGuard, statusOf } from './client.ts';
import { SelectorError } from '../shared/errors.ts';

/** JetStream's view of a stream: the leader's server name and every replica's. */
export interface StreamView {
  leader: string | null;
  /** server names of the replicas that are not the leader */
  followers: string[];
}

export interface ResolverOptions {
  clients: KubeClients;
  guard: NamespaceGuard;
  /** asks JetStream who leads a stream; absent without target.natsUrl */
  streamView?: (stream: string) => Promise<StreamView>;
  /** JetStream server name → pod name where they differ (default: the same) */
  serverPods?: Record<string, string>;
  /** asks an FT group's pods who is active (members are pod names); absent without target.stan */
  ftGroupView?: (group: string) => Promise<{ active: string | null; members: string[] }>;
}

export interface ResolvedPods {
  pods: V1Pod[];
  /** the stream leader's server name (or the FT group's active pod), when the selector named a role */
  leader: string | null;
}

export interface WorkloadRef {
  kind: 'Deployment' | 'StatefulSet';
  namespace: string;
  name: string;
}

export const workloadText = (w: WorkloadRef): string => `${w.kind.toLowerCase()}/${w.namespace}/${w.name}`;
export const podText = (p: V1Pod): string => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;

const byName = (a: { metadata?: { name?: string } }, b: { metadata?: { name?: string } }): number =>
  (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');

export class TargetResolver {
  constructor(private readonly opts: ResolverOptions) {}

  get guard(): NamespaceGuard {
    return this.opts.guard;
  }

  podNameOf(server: string): string {
    return this.opts.serverPods?.[server] ?? server;
  }

  private async readPod(namespace: string, name: string): Promise<V1Pod | null> {
    try {
      return await this.opts.clients.core.readNamespacedPod({ name, namespace });
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw new KubeApiError(`cannot read pod ${namespace}/${name}: ${(err as Error).message}`, {
        code: statusOf(err),
        cause: err,
      });
    }
  }

  private async view(stream: string): Promise<StreamView> {
    if (this.opts.streamView === undefined)
      throw new SelectorError(`leaderOf/notLeaderOf ${stream}: no JetStream view (set target.natsUrl)`);
    try {
      return await this.opts.streamView(stream);
    } catch (err) {
      throw new SelectorError(`cannot ask JetStream for stream ${stream}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * The role's group as its own view shows it now, members as pod names, and the member the record
   * names as the leader before (the stream leader's server name, the FT group's active pod).
   */
  private async roleView(role: RoleSelection): Promise<RoleView & { leader: string | null }> {
    if (role.spec.group === 'stream') {
      const view = await this.view(role.value);
      const members = [...(view.leader === null ? [] : [view.leader]), ...view.followers];
      return {
        holder: view.leader === null ? null : this.podNameOf(view.leader),
        members: members.map((m) => this.podNameOf(m)),
        leader: view.leader,
      };
    }
    if (this.opts.ftGroupView === undefined)
      throw new SelectorError(`${role.field} ${role.value}: no fault-tolerance group (set target.stan)`);
    try {
      const view = await this.opts.ftGroupView(role.value);
      return { holder: view.active, members: view.members, leader: view.active };
    } catch (err) {
      throw new SelectorError(`cannot ask FT group ${role.value} who is active: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Pods the selector names right now, sorted by name; terminating pods are left out. */
  async pods(sel: PodSelector): Promise<ResolvedPods> {
    const namespace = this.opts.guard.check(sel.namespace, `pod selector ${JSON.stringify(sel)}`);
    let pods: V1Pod[];
    let leader: string | null = null;
    if ('name' in sel) {
      const p = await this.readPod(namespace, sel.name);
      pods = p === null ? [] : [p];
    } else if ('labelSelector' in sel) {
      pods = (await this.opts.clients.core.listNamespacedPod({ namespace, labelSelector: sel.labelSelector })).items;
    } else {
      const role = roleOf(sel) as RoleSelection;
      const view = await this.roleView(role);
      leader = view.leader;
      const found = await Promise.all(roleMatches(role, view).map((name) => this.readPod(namespace, name)));
      pods = found.filter((p): p is V1Pod => p !== null);
    }
    return { pods: pods.filter((p) => p.metadata?.deletionTimestamp == null).sort(byName), leader };
  }

  /** Node names the selector names right now, sorted. */
  async nodes(sel: NodeSelector): Promise<{ nodes: string[]; leader: string | null }> {
    let names: string[];
    let leader: string | null = null;
    if ('name' in sel) {
      try {
        await this.opts.clients.core.readNode({ name: sel.name });
        names = [sel.name];
      } catch (err) {
        if (statusOf(err) !== 404)
          throw new KubeApiError(`cannot read node ${sel.name}: ${(err as Error).message}`, {
            code: statusOf(err),
            cause: err,
          });
        names = [];
      }
    } else if ('labelSelector' in sel) {
      names = (await this.opts.clients.core.listNode({ labelSelector: sel.labelSelector })).items.map(
        (n) => n.metadata?.name ?? '',
      );
    } else {
      const r = await this.pods(sel.nodeOf);
      leader = r.leader;
      names = r.pods.map((p) => p.spec?.nodeName).filter((n): n is string => typeof n === 'string' && n !== '');
    }
    if ('notNodeOf' in sel && sel.notNodeOf !== undefined) {
      const r = await this.pods(sel.notNodeOf);
      leader ??= r.leader;
      const excluded = new Set(r.pods.map((p) => p.spec?.nodeName));
      names = names.filter((n) => !excluded.has(n));
    }
    return { nodes: [...new Set(names)].filter((n) => n !== '').sort(), leader };
  }

  workload(sel: WorkloadSelector): WorkloadRef {
    const kind = 'deployment' in sel ? 'Deployment' : 'StatefulSet';
    const name = 'deployment' in sel ? sel.deployment : sel.statefulSet;
    const namespace = this.opts.guard.check(sel.namespace, `${kind} ${name}`);
    return { kind, namespace, name };
  }

  /** Pods bound to a node in the allowed namespaces (the ones this plan may touch). */
  async podsOnNode(node: string): Promise<V1Pod[]> {
    const lists = await Promise.all(
      this.opts.guard.allowed.map((namespace) =>
        this.opts.clients.core.listNamespacedPod({ namespace, fieldSelector: `spec.nodeName=${node}` }),
      ),
    );
    return lists.flatMap((l) => l.items).sort(byName);
  }

  /** Pods on a node outside the allowed namespaces, when RBAC lets us see them (null: not visible). */
  async podsOnNodeElsewhere(node: string): Promise<V1Pod[] | null> {
    try {
      const all = await this.opts.clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
      return all.items.filter((p) => !this.opts.guard.allows(p.metadata?.namespace ?? '')).sort(byName);
    } catch (err) {
      if (statusOf(err) === 403) return null;
      throw err;
    }
  }
}
