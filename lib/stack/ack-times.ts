import type { RecoveryReport } from '../shared/types.ts';

// When each publish was acked, in order, so the end of a failover can be asked for afterwards:
// the first ack at or after a moment (GET /first-ack?after=<epoch ms> on the publisher). A number
// per ack; past a cap the older half goes (a week-long run keeps its last million acks).
export class AckTimes {
  private times: number[] = [];

  constructor(private readonly cap = 2_000_000) {}

  push(at: number): void {
    if (this.times.length >= this.cap) this.times = this.times.slice(this.times.length >> 1);
    this.times.push(at);
  }

  /** The first ack at or after `after` (epoch ms), or null when none came since. */
  firstAtOrAfter(after: number): number | null {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.times[mid] as number) < after) lo = mid + 1;
      else hi = mid;
    }
    return this.times[lo] ?? null;
  }

  get size(): number {
    return this.times.length;
  }
}

/** Asks a k6-ha publisher (its GET /first-ack) for the first ack at or after `after` (epoch ms). */
export async function firstAckAfter(publisherUrl: string, after: number): Promise<number | null> {
  const res = await fetch(`${publisherUrl}/first-ack?after=${Math.floor(after)}`, {
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`${publisherUrl}/first-ack answered ${res.status}`);
  return ((await res.json()) as { at: number | null }).at;
}

/**
 * The first-ack figure of each recovery report: for an action that took the leader (the active
 * member) down, action → the first publish acked after the first new leader seen; null otherwise.
 */
export async function withFirstAck(
  reports: RecoveryReport[],
  actions: ExecutedAction[],
  leaderHistory: Array<{ at: number; leader: string | null }>,
  publisherUrl: string,
): Promise<RecoveryReport[]> {
  return Promise.all(
    reports.map(async (r) => {
      const a = actions.find((x) => x.id === r.actionId);
      // A local member is named as itself; a pod as namespace/name (the leader is the member name).
      const hitLeader = (t: string): boolean => t === a?.leaderBefore || t.endsWith(`/${a?.leaderBefore ?? ''}`);
      if (a === undefined || a.executedAt === null || a.leaderBefore === null || !a.targets.some(hitLeader))
        return { ...r, firstAckSeconds: null };
      const at = a.executedAt;
      // A different leader, or the same one back after a moment without any (an R1 member restarted).
      let sawLoss = false;
      const took = leaderHistory.find((c) => {
        if (c.at < at) return false;
        if (c.leader === null) sawLoss = true;
        return c.leader !== null && (c.leader !== a.leaderBefore || sawLoss);
      });
      if (took === undefined) return { ...r, firstAckSeconds: null };
      const acked = await firstAckAfter(publisherUrl, took.at);
      return { ...r, firstAckSeconds: acked === null ? null : Math.round(acked - at) / 1000 };
    }),
  );
}

/** The fields of an executed action withFirstAck reads (lib/chaos's ExecutedAction; lib/stack may not import it). */
interface ExecutedAction {
  id: string;
  executedAt: number | null;
  targets: string[];
  leaderBefore: string | null;
}
