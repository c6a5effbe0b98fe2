// Derived Kubernetes metrics — time to reschedule, time to ready, volume attach delay, restart
// durations and back-off growth — from the lifecycle events the watches recorded. Pure.
import type { PodRecovery, RestartSeries, SeriesStats } from '../shared/types.ts';
import type { ClusterEvent, PodEvent } from './lifecycle.ts';

const secs = (ms: number): number => Math.round(ms) / 1000;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

export function seriesStats(values: number[]): SeriesStats | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return {
    count: sorted.length,
    min: sorted[0] as number,
    median,
    p95: percentile(sorted, 95),
    max: sorted.at(-1) as number,
  };
}

/** Go duration text as the kubelet prints it (`10s`, `2m40s`, `5m0s`, `1.5s`) in seconds; null if it is not one. */
export function parseGoDurationSeconds(text: string): number | null {
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    const unit = m[2];
    total +=
      unit === 'h'
        ? n * 3600
        : unit === 'm'
          ? n * 60
          : unit === 's'
            ? n
            : unit === 'ms'
              ? n / 1000
              : unit === 'ns'
                ? n / 1e9
                : n / 1e6;
    consumed += m[0].length;
  }
  return consumed === text.length && consumed > 0 ? total : null;
}

/** The back-off in a CrashLoopBackOff message: `back-off 40s restarting failed container=…`. */
export function parseBackoffSeconds(message: string | undefined): number | null {
  const m = /back-off (\S+) restarting/i.exec(message ?? '');
  return m?.[1] === undefined ? null : parseGoDurationSeconds(m[1]);
}

/** A pod an action took away (deleted, evicted, gone with its node). */
export interface AffectedPod {
  actionId: string;
  /** epoch ms the action touched it */
  at: number;
  namespace: string;
  pod: string;
  uid: string;
  node: string | null;
  owner: string | null;
}

const VOLUME_REASONS = new Set(['FailedAttachVolume', 'FailedMount', 'SuccessfulAttachVolume']);

/**
 * For each affected pod: when it was gone, and when its replacement (same name for a StatefulSet,
 * else a new pod of the same owner) was scheduled, Ready and had its volume.
 */
export function podRecoveries(
  affected: AffectedPod[],
  podEvents: PodEvent[],
  clusterEvents: ClusterEvent[],
): PodRecovery[] {
  const events = [...podEvents].sort((a, b) => a.at - b.at);
  const claimed = new Set<string>();
  const firstOf = (uid: string, kind: PodEvent['kind']): PodEvent | undefined =>
    events.find((e) => e.uid === uid && e.kind === kind);
  return [...affected]
    .sort((a, b) => a.at - b.at)
    .map((p): PodRecovery => {
      const gone = events.find((e) => e.uid === p.uid && e.kind === 'pod-deleted' && e.at >= p.at);
      const created = events.filter(
        (e) =>
          e.kind === 'pod-created' &&
          e.at >= p.at &&
          e.namespace === p.namespace &&
          e.uid !== p.uid &&
          !claimed.has(e.uid),
      );
      // A replacement may itself vanish before it runs (evicted again, node gone): the first one that
      // became Ready (else was scheduled, else appeared) is the one that took over.
      const sameName = created.filter((e) => e.pod === p.pod);
      const candidates =
        sameName.length > 0 ? sameName : created.filter((e) => p.owner !== null && e.owner === p.owner).slice(0, 1);
      const reached = (kind: PodEvent['kind']): PodEvent | undefined =>
        candidates.find((c) => events.some((e) => e.uid === c.uid && e.kind === kind));
      const replacement = reached('pod-ready') ?? reached('pod-scheduled') ?? candidates[0];
      for (const c of candidates) {
        claimed.add(c.uid);
        if (c === replacement) break;
      }
      const scheduled = replacement && firstOf(replacement.uid, 'pod-scheduled');
      const ready = replacement && firstOf(replacement.uid, 'pod-ready');
      const running = replacement && firstOf(replacement.uid, 'pod-running');
      const mine =
        replacement === undefined
          ? []
          : clusterEvents
              .filter(
                (e) =>
                  e.objectKind === 'Pod' &&
                  e.namespace === p.namespace &&
                  e.objectName === replacement.pod &&
                  (e.objectUid === null || e.objectUid === replacement.uid) &&
                  e.at >= replacement.at,
              )
              .sort((a, b) => a.at - b.at);
      const volumeEvents = mine.filter((e) => VOLUME_REASONS.has(e.reason));
      let volumeAttachSeconds: number | null = null;
      if (volumeEvents.length > 0 && scheduled !== undefined) {
        const attached = volumeEvents.find((e) => e.reason === 'SuccessfulAttachVolume')?.at ?? running?.at ?? null;
        if (attached !== null) volumeAttachSeconds = secs(Math.max(0, attached - scheduled.at));
      }
      return {
        actionId: p.actionId,
        namespace: p.namespace,
        pod: p.pod,
        node: p.node,
        replacement: replacement?.pod ?? null,
        replacementNode: scheduled?.node ?? null,
        goneSeconds: gone === undefined ? null : secs(gone.at - p.at),
        rescheduleSeconds: scheduled === undefined ? null : secs(scheduled.at - p.at),
        readySeconds: ready === undefined ? null : secs(ready.at - p.at),
        volumeAttachSeconds,
        failedScheduling: mine.filter((e) => e.reason === 'FailedScheduling').length,
        volumeEvents: volumeEvents.map((e) => e.reason),
      };
    });
}

/**
 * Restart series per container: each restart's duration (the kubelet's finishedAt → startedAt
 * when both are known, else our own observation: down → running again), the back-off the kubelet
 * announced, and how each duration grew over the previous one.
 */
export function restartSeries(podEvents: PodEvent[]): RestartSeries[] {
  const byContainer = new Map<string, PodEvent[]>();
  for (const e of [...podEvents].sort((a, b) => a.at - b.at)) {
    if (e.container === undefined) continue;
    const key = `${e.namespace}/${e.pod}/${e.container}`;
    byContainer.set(key, [...(byContainer.get(key) ?? []), e]);
  }
  const out: RestartSeries[] = [];
  for (const list of byContainer.values()) {
    const first = list[0] as PodEvent;
    const durations: number[] = [];
    const backoff: number[] = [];
    const exitCodes: number[] = [];
    let downSince: number | null = null;
    let restarts = 0;
    let countedThisRestart = false;
    for (const e of list) {
      if (
        e.kind === 'container-terminated' ||
        (e.kind === 'container-waiting' && e.reason !== 'ContainerCreating' && e.reason !== 'PodInitializing')
      ) {
        if (downSince === null) {
          downSince = e.finishedAt ?? e.at;
          countedThisRestart = false;
        }
        if (e.kind === 'container-waiting') {
          const b = parseBackoffSeconds(e.message);
          if (b !== null && backoff.at(-1) !== b) backoff.push(b);
        }
      } else if (e.kind === 'container-restarted') {
        restarts++;
        if (e.exitCode !== undefined) exitCodes.push(e.exitCode);
        if (e.finishedAt != null && e.startedAt != null && e.startedAt >= e.finishedAt) {
          durations.push(secs(e.startedAt - e.finishedAt));
          countedThisRestart = true;
          downSince = null;
        }
      } else if (e.kind === 'container-running') {
        if (downSince !== null && !countedThisRestart) durations.push(secs((e.startedAt ?? e.at) - downSince));
        downSince = null;
        countedThisRestart = false;
      }
    }
    const growth = durations.slice(1).map((d, i) => {
      const prev = durations[i] as number;
      return prev > 0 ? Math.round((d / prev) * 100) / 100 : 0;
    });
    if (restarts === 0 && durations.length === 0) continue;
    out.push({
      namespace: first.namespace,
      pod: first.pod,
      container: first.container as string,
      restarts,
      durationsSeconds: durations,
      stats: seriesStats(durations),
      backoffSeconds: backoff,
      growth,
      exitCodes,
    });
  }
  return out;
}

/**
 * The kubelet's CrashLoopBackOff before a container's n-th restart (n from 1): none before the
 * first, then 10 s doubling per restart, capped at 300 s (pkg/kubelet: initial 10 s, max 5 min).
 */
export function kubeletBackoffSeconds(n: number): number {
  return n <= 1 ? 0 : Math.min(300, 10 * 2 ** (n - 2));
}

/**
 * The wait a back-off of b seconds may really take, exit to next start, as read from container
 * statuses: b + [0, 0.5 × min(b, syncFrequency) + 2] s (the pod worker retries on its jittered
 * resync or a pod event; the real-kubelet note's bound), widened by 1 s either way because
 * finishedAt and startedAt have whole-second resolution.
 */
export function backoffWaitBounds(b: number, syncFrequencySeconds = 10): [number, number] {
  return [Math.max(0, b - 1), b + 0.5 * Math.min(b, syncFrequencySeconds) + 3];
}
