// What happened to pods and nodes, derived from successive versions of the objects (as a watch
// delivers them): pure functions, so realistic sequences can be unit-tested without a cluster.
// Objects come either from typed list calls (timestamps are Date) or from the watch stream
// (timestamps are RFC 3339 strings); both are read through the minimal shapes below.

type Timestamp = Date | string | null | undefined;

export interface ContainerStateLike {
  waiting?: { reason?: string; message?: string } | null;
  running?: { startedAt?: Timestamp } | null;
  terminated?: {
    exitCode?: number;
    reason?: string;
    startedAt?: Timestamp;
    finishedAt?: Timestamp;
    signal?: number;
  } | null;
}

export interface ContainerStatusLike {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerStateLike | null;
  lastState?: ContainerStateLike | null;
}

export interface PodLike {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    creationTimestamp?: Timestamp;
    deletionTimestamp?: Timestamp;
    deletionGracePeriodSeconds?: number;
    ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }> | null;
  };
  spec?: { nodeName?: string | null };
  status?: {
    phase?: string;
    reason?: string;
    conditions?: Array<{ type?: string; status?: string }> | null;
    containerStatuses?: ContainerStatusLike[] | null;
  };
}

export interface NodeLike {
  metadata?: { name?: string; uid?: string };
  spec?: { unschedulable?: boolean; taints?: Array<{ key?: string; value?: string; effect?: string }> | null };
  status?: { conditions?: Array<{ type?: string; status?: string; reason?: string }> | null };
}

import type { NodeEventKind, PodEventKind } from '../shared/types.ts';

export type { NodeEventKind, PodEventKind };

export interface PodEvent {
  at: number;
  kind: PodEventKind;
  namespace: string;
  pod: string;
  uid: string;
  node: string | null;
  /** the controlling owner, `ReplicaSet/api-7d9f` or `StatefulSet/eventing-nats` */
  owner: string | null;
  container?: string;
  reason?: string;
  message?: string;
  exitCode?: number;
  restartCount?: number;
  /** kubelet timestamps of a restart: when the old container finished and the new one started */
  finishedAt?: number | null;
  startedAt?: number | null;
}

export interface NodeEvent {
  at: number;
  kind: NodeEventKind;
  node: string;
  detail: Record<string, string | null>;
}

/** A core/v1 Event as recorded: FailedAttachVolume, FailedMount, BackOff, FailedScheduling, … */
export interface ClusterEvent {
  at: number;
  namespace: string;
  reason: string;
  type: string;
  message: string;
  objectKind: string;
  objectName: string;
  objectUid: string | null;
  count: number;
}

export function toMs(t: Timestamp): number | null {
  if (t === null || t === undefined) return null;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isFinite(ms) ? ms : null;
}

export function ownerOf(pod: PodLike): string | null {
  const refs = pod.metadata?.ownerReferences ?? [];
  const ref = refs.find((r) => r.controller === true) ?? refs[0];
  return ref?.kind !== undefined && ref.name !== undefined ? `${ref.kind}/${ref.name}` : null;
}

const isReady = (p: PodLike | undefined): boolean =>
  p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const allRunning = (p: PodLike | undefined): boolean => {
  const cs = p?.status?.containerStatuses ?? [];
  return cs.length > 0 && cs.every((c) => c.state?.running !== undefined && c.state.running !== null);
};
function stateOf(c: ContainerStatusLike | undefined): {
  kind: 'waiting' | 'running' | 'terminated' | 'none';
  reason: string;
} {
  const s = c?.state;
  if (s?.running) return { kind: 'running', reason: '' };
  if (s?.terminated) return { kind: 'terminated', reason: s.terminated.reason ?? '' };
  if (s?.waiting) return { kind: 'waiting', reason: s.waiting.reason ?? '' };
  return { kind: 'none', reason: '' };
}

/**
 * The lifecycle events between two versions of a pod (`prev` undefined: it just appeared; `next`
 * undefined: it was deleted). A pod first seen already scheduled/ready yields those events too.
 */
export function diffPod(prev: PodLike | undefined, next: PodLike | undefined, at: number): PodEvent[] {
  const cur = next ?? prev;
  if (cur === undefined) return [];
  const base = {
    at,
    namespace: cur.metadata?.namespace ?? '',
    pod: cur.metadata?.name ?? '',
    uid: cur.metadata?.uid ?? '',
    node: cur.spec?.nodeName ?? null,
    owner: ownerOf(cur),
  };
  const out: PodEvent[] = [];
  if (next === undefined) return [{ ...base, kind: 'pod-deleted' }];
  if (prev === undefined) out.push({ ...base, kind: 'pod-created' });
  if (!prev?.spec?.nodeName && next.spec?.nodeName) out.push({ ...base, kind: 'pod-scheduled' });
  const before = new Map((prev?.status?.containerStatuses ?? []).map((c) => [c.name, c]));
  for (const c of next.status?.containerStatuses ?? []) {
    const old = before.get(c.name);
    const restarts = c.restartCount ?? 0;
    if (old !== undefined && restarts > (old.restartCount ?? 0)) {
      const last = c.lastState?.terminated;
      out.push({
        ...base,
        kind: 'container-restarted',
        container: c.name,
        restartCount: restarts,
        exitCode: last?.exitCode,
        reason: last?.reason,
        finishedAt: toMs(last?.finishedAt),
        startedAt: toMs(c.state?.running?.startedAt),
      });
    }
    const was = stateOf(old);
    const now = stateOf(c);
    if (now.kind === was.kind && now.reason === was.reason) continue;
    if (now.kind === 'waiting')
      out.push({
        ...base,
        kind: 'container-waiting',
        container: c.name,
        reason: now.reason,
        message: c.state?.waiting?.message,
        restartCount: restarts,
      });
    else if (now.kind === 'running')
      out.push({
        ...base,
        kind: 'container-running',
        container: c.name,
        restartCount: restarts,
        startedAt: toMs(c.state?.running?.startedAt),
      });
    else if (now.kind === 'terminated')
      out.push({
        ...base,
        kind: 'container-terminated',
        container: c.name,
        reason: now.reason,
        exitCode: c.state?.terminated?.exitCode,
        restartCount: restarts,
        finishedAt: toMs(c.state?.terminated?.finishedAt),
      });
  }
  if (!allRunning(prev) && allRunning(next)) out.push({ ...base, kind: 'pod-running' });
  if (!isReady(prev) && isReady(next)) out.push({ ...base, kind: 'pod-ready' });
  if (isReady(prev) && !isReady(next)) out.push({ ...base, kind: 'pod-not-ready' });
  if (!prev?.metadata?.deletionTimestamp && next.metadata?.deletionTimestamp) {
    out.push({
      ...base,
      kind: 'pod-terminating',
      message: `grace ${next.metadata.deletionGracePeriodSeconds ?? '?'}s`,
    });
  }
  return out;
}

const nodeReady = (n: NodeLike | undefined): string =>
  n?.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
const taintKey = (t: { key?: string; effect?: string }): string => `${t.key ?? ''}:${t.effect ?? ''}`;

export function diffNode(prev: NodeLike | undefined, next: NodeLike | undefined, at: number): NodeEvent[] {
  const cur = next ?? prev;
  const node = cur?.metadata?.name ?? '';
  if (next === undefined) return [{ at, kind: 'node-deleted', node, detail: {} }];
  const out: NodeEvent[] = [];
  if (prev === undefined) out.push({ at, kind: 'node-added', node, detail: { ready: nodeReady(next) } });
  const was = prev === undefined ? null : nodeReady(prev);
  const now = nodeReady(next);
  if (was !== now && (prev !== undefined || now === 'True')) {
    const cond = next.status?.conditions?.find((c) => c.type === 'Ready');
    out.push({
      at,
      kind: now === 'True' ? 'node-ready' : 'node-not-ready',
      node,
      detail: { status: now, reason: cond?.reason ?? null },
    });
  }
  if (!prev?.spec?.unschedulable && next.spec?.unschedulable) out.push({ at, kind: 'node-cordoned', node, detail: {} });
  if (prev?.spec?.unschedulable && !next.spec?.unschedulable)
    out.push({ at, kind: 'node-uncordoned', node, detail: {} });
  const before = new Set((prev?.spec?.taints ?? []).map(taintKey));
  const after = new Set((next.spec?.taints ?? []).map(taintKey));
  for (const t of after) if (!before.has(t)) out.push({ at, kind: 'node-tainted', node, detail: { taint: t } });
  for (const t of before) if (!after.has(t)) out.push({ at, kind: 'node-untainted', node, detail: { taint: t } });
  return out;
}
