// Puts what the cluster does onto the run's timeline (source `kubernetes`), as it happens: pods
// (deleted → scheduled → running → Ready, restarts, waiting reasons such as CrashLoopBackOff),
// nodes (Ready/NotReady, cordoned, tainted, deleted) and events (FailedAttachVolume / Multi-Attach,
// FailedMount, BackOff, FailedScheduling, …). Watches only, with resourceVersion and reconnect.
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Timeline } from '../chaos/timeline.ts';
import { statusOf, type KubeClients } from './client.ts';
import {
  type ClusterEvent,
  diffNode,
  diffPod,
  type NodeEvent,
  type NodeLike,
  type PodEvent,
  type PodLike,
  toMs,
} from './lifecycle.ts';
import { ResourceWatch } from './watch.ts';

export interface KubeObserverOptions {
  clients: KubeClients;
  namespaces: readonly string[];
  timeline: Timeline;
  /** watch Nodes too (needs list/watch on nodes: the node ClusterRole) */
  watchNodes?: boolean;
  serverTimeoutSeconds?: number;
}

const keyOf = (o: { metadata?: { namespace?: string; name?: string } }): string =>
  `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class KubernetesObserver {
  readonly podEvents: PodEvent[] = [];
  readonly nodeEvents: NodeEvent[] = [];
  readonly clusterEvents: ClusterEvent[] = [];
  readonly notes: string[] = [];
  private readonly pods = new Map<string, PodLike>();
  private readonly nodes = new Map<string, NodeLike>();
  private readonly watches: Array<{ stop(): Promise<void> }> = [];
  private readonly podListeners: Array<(e: PodEvent) => void> = [];
  private started = false;
  /** namespaces (and '' for nodes) whose first list is done: later lists are relists */
  private readonly synced = new Set<string>();

  constructor(private readonly opts: KubeObserverOptions) {}

  /** The pods of the allowed namespaces as last seen (for the driver: which pods a node hosts). */
  currentPods(): PodLike[] {
    return [...this.pods.values()];
  }

  onPodEvent(listener: (e: PodEvent) => void): () => void {
    this.podListeners.push(listener);
    return () => {
      const i = this.podListeners.indexOf(listener);
      if (i >= 0) this.podListeners.splice(i, 1);
    };
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { core } = this.opts.clients;
    const clients = this.opts.clients;
    const timeline = this.opts.timeline;
    const note = (kind: 'reconnect' | 'relist' | 'error', detail: Record<string, unknown>): void => {
      // Reconnects every ~20 s are routine; only trouble goes on the timeline.
      if (kind !== 'reconnect') timeline.record('kubernetes', `watch-${kind}`, String(detail['path'] ?? ''), detail);
    };
    const starts: Array<Promise<void>> = [];
    for (const namespace of this.opts.namespaces) {
      const pods = new ResourceWatch<PodLike>({
        clients,
        path: `/api/v1/namespaces/${namespace}/pods`,
        list: () => core.listNamespacedPod({ namespace }),
        serverTimeoutSeconds: this.opts.serverTimeoutSeconds,
        onSync: (items, at) => this.syncPods(namespace, items, at),
        onEvent: (type, pod, at) => this.podChanged(type === 'DELETED' ? undefined : pod, pod, at),
        onNote: note,
      });
      const events = new ResourceWatch<CoreV1Event>({
        clients,
        path: `/api/v1/namespaces/${namespace}/events`,
        list: () => core.listNamespacedEvent({ namespace }),
        serverTimeoutSeconds: this.opts.serverTimeoutSeconds,
        // Events from before the run are history, not part of it.
        onSync: () => undefined,
        onEvent: (type, event, at) => {
          if (type !== 'DELETED') this.eventSeen(event, at);
        },
        onNote: note,
      });
      this.watches.push(pods, events);
      starts.push(pods.start(), events.start());
    }
    if (this.opts.watchNodes !== false) {
      const nodes = new ResourceWatch<NodeLike>({
        clients,
        path: '/api/v1/nodes',
        list: () => core.listNode(),
        serverTimeoutSeconds: this.opts.serverTimeoutSeconds,
        onSync: (items, at) => this.syncNodes(items, at),
        onEvent: (type, node, at) => this.nodeChanged(type === 'DELETED' ? undefined : node, node, at),
        onNote: note,
      });
      starts.push(
        nodes.start().then(
          () => void this.watches.push(nodes),
          (err: unknown) => {
            // Without the node ClusterRole the run still works; node events are just not seen.
            if (statusOf(err) !== 403) throw err;
            this.notes.push(
              'nodes are not watched: listing nodes is forbidden (no node ClusterRole); node Ready/NotReady is missing from the timeline',
            );
            timeline.record('kubernetes', 'watch-skipped', 'nodes', { reason: 'forbidden' });
          },
        ),
      );
    }
    const results = await Promise.allSettled(starts);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await this.stop();
      throw failed.reason;
    }
    timeline.record('kubernetes', 'watching', null, {
      namespaces: this.opts.namespaces.join(','),
      pods: this.pods.size,
      nodes: this.nodes.size,
    });
  }

  async stop(): Promise<void> {
    const watches = this.watches.splice(0);
    await Promise.all(watches.map((w) => w.stop()));
  }

  private recordPodEvent(e: PodEvent): void {
    this.podEvents.push(e);
    const detail: Record<string, unknown> = { node: e.node, uid: e.uid.slice(0, 8) };
    if (e.container !== undefined) detail['container'] = e.container;
    if (e.reason !== undefined) detail['reason'] = e.reason;
    if (e.message !== undefined) detail['message'] = e.message;
    if (e.exitCode !== undefined) detail['exit_code'] = e.exitCode;
    if (e.restartCount !== undefined) detail['restart_count'] = e.restartCount;
    if (e.kind === 'container-restarted' && e.finishedAt != null && e.startedAt != null)
      detail['down_s'] = (e.startedAt - e.finishedAt) / 1000;
    this.opts.timeline.record('kubernetes', e.kind, `${e.namespace}/${e.pod}`, detail, e.at);
    for (const l of this.podListeners) l(e);
  }

  private podChanged(next: PodLike | undefined, seen: PodLike, at: number): void {
    const key = keyOf(seen);
    const prev = this.pods.get(key);
    // A StatefulSet pod comes back with the same name and a new uid: a new pod, not a change.
    if (prev !== undefined && next !== undefined && prev.metadata?.uid !== next.metadata?.uid) {
      for (const e of diffPod(prev, undefined, at)) this.recordPodEvent(e);
      this.pods.delete(key);
      return this.podChanged(next, seen, at);
    }
    if (next === undefined) this.pods.delete(key);
    else this.pods.set(key, next);
    for (const e of diffPod(prev, next, at)) this.recordPodEvent(e);
  }

  private syncPods(namespace: string, items: PodLike[], at: number): void {
    const seen = new Set(items.map(keyOf));
    if (!this.synced.has(namespace)) {
      this.synced.add(namespace);
      // The state before the run: remembered, not recorded as "created".
      for (const p of items) this.pods.set(keyOf(p), p);
      return;
    }
    // A relist after "410 Gone": whatever changed meanwhile, as events.
    for (const [key, pod] of [...this.pods])
      if (key.startsWith(`${namespace}/`) && !seen.has(key)) this.podChanged(undefined, pod, at);
    for (const p of items) this.podChanged(p, p, at);
  }

  private recordNodeEvent(e: NodeEvent): void {
    this.nodeEvents.push(e);
    this.opts.timeline.record('kubernetes', e.kind, e.node, e.detail, e.at);
  }

  private nodeChanged(next: NodeLike | undefined, seen: NodeLike, at: number): void {
    const name = seen.metadata?.name ?? '';
    const prev = this.nodes.get(name);
    if (next === undefined) this.nodes.delete(name);
    else this.nodes.set(name, next);
    for (const e of diffNode(prev, next, at)) this.recordNodeEvent(e);
  }

  private syncNodes(items: NodeLike[], at: number): void {
    if (!this.synced.has('')) {
      this.synced.add('');
      for (const n of items) this.nodes.set(n.metadata?.name ?? '', n);
      return;
    }
    const seen = new Set(items.map((n) => n.metadata?.name ?? ''));
    for (const [name, node] of [...this.nodes]) if (!seen.has(name)) this.nodeChanged(undefined, node, at);
    for (const n of items) this.nodeChanged(n, n, at);
  }

  private eventSeen(event: CoreV1Event, at: number): void {
    const e: ClusterEvent = {
      at,
      namespace: event.metadata?.namespace ?? '',
      reason: event.reason ?? '',
      type: event.type ?? '',
      message: event.message ?? '',
      objectKind: event.involvedObject?.kind ?? '',
      objectName: event.involvedObject?.name ?? '',
      objectUid: event.involvedObject?.uid ?? null,
      count: event.count ?? 1,
    };
    this.clusterEvents.push(e);
    const stamp = toMs(event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? null);
    this.opts.timeline.record(
      'kubernetes',
      'event',
      `${e.objectKind}/${e.objectName}`,
      {
        reason: e.reason,
        type: e.type,
        message: e.message,
        count: e.count,
        event_ts: stamp === null ? null : new Date(stamp).toISOString(),
        source: event.source?.component ?? event.reportingComponent ?? null,
      },
      at,
    );
  }
}
