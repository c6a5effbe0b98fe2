// Recovery around each chaos action, from what k6 reported and what the observers saw. Pure.
import type { OutcomeRecord } from '../shared/control-api.ts';
import type { RecoveryReport } from '../shared/types.ts';
import type { ExecutedAction } from '../chaos/chaos.ts';
import type { ConsumerSnapshot, LeaderChange, StreamSnapshot } from '../chaos/signals.ts';

export interface RecoveryInput {
  actions: ExecutedAction[];
  /** non-acked outcomes, any order */
  failures: OutcomeRecord[];
  leaderHistory: LeaderChange[];
  streamSamples: StreamSnapshot[];
  consumerSamples: ConsumerSnapshot[];
  /** events per second (to tell a gap between failures from a burst); null if unknown */
  rate: number | null;
  /** when observation ended: unfinished windows are measured up to here, as lower bounds */
  endedAt: number;
  zero: number;
  /** false for targets without a stream to watch (e.g. the EventStore fixture): recovery is the
   * member being healthy again, and there is no leader to fail over */
  hasStreamView?: boolean;
}

export interface RecoveryResult {
  reports: RecoveryReport[];
  notes: string[];
}

const secs = (ms: number): number => Math.round(ms) / 1000;

/**
 * When every target of `a` ran again, as seconds after `a`: its own restart (restartAfter,
 * restoreAfter), else the first later plan action that started each of them (a `start`, or a
 * `scale` up that brought the member back: both stamp restartedAt once their members run); null
 * when some target was not brought back during the run. A scale down with its restore as a separate
 * action (the phase experiments' A / A.restore) is back when the restore had it running.
 */
function backAt(a: ExecutedAction, actions: ExecutedAction[]): number | null {
  const at = a.executedAt as number;
  if (a.restartedAt !== null) return secs(a.restartedAt - at);
  if (a.targets.length === 0) return null;
  let latest = -Infinity;
  for (const target of a.targets) {
    const by = actions
      .filter(
        (b) =>
          b !== a &&
          (b.action === 'start' || b.action === 'scale') &&
          b.executedAt !== null &&
          b.executedAt >= at &&
          b.restartedAt !== null &&
          b.targets.includes(target),
      )
      .sort((x, y) => (x.restartedAt as number) - (y.restartedAt as number))[0];
    if (by === undefined) return null;
    latest = Math.max(latest, by.restartedAt as number);
  }
  return secs(latest - at);
}

export function computeRecovery(input: RecoveryInput): RecoveryResult {
  const notes: string[] = [];
  const failures = [...input.failures].sort((a, b) => a.sentAt - b.sentAt);
  // Successes are implied between failures; a gap longer than a few arrivals means some got through.
  // Without a fixed arrival rate (closed-model VUs that pause after errors) failures come sparser.
  const burstGapMs = input.rate !== null && input.rate > 0 ? Math.max(1000, (3 * 1000) / input.rate) : 5000;
  const executed = input.actions
    .filter((a) => a.executedAt !== null && a.action !== 'wait' && a.action !== 'start')
    .sort((a, b) => (a.executedAt ?? 0) - (b.executedAt ?? 0));
  const reports = executed.map((a, i): RecoveryReport => {
    const at = a.executedAt as number;
    // executedAt is stamped once the action has done its work (a kill waits for the exit), so the
    // first failures it causes can be seen a few ms before it: the window opens when it began.
    const began = (b: ExecutedAction): number => Math.min(b.executedAt ?? b.scheduledAt, b.scheduledAt);
    const next = executed[i + 1];
    const until = next === undefined ? Number.POSITIVE_INFINITY : began(next);
    const mine = failures.filter((f) => f.t >= began(a) && f.sentAt < until);
    const first = mine[0];
    let unavailable = 0;
    /** the burst by send time, as offsets from load start (report.html shades it) */
    let window: { unavailableFromOffsetMs: number; unavailableToOffsetMs: number } | null = null;
    // An action in rounds (execKill `times`: the restart series) causes one outage per round: each
    // round's burst is measured from its own start, and the longest is the action's unavailability.
    const starts = a.rounds !== undefined && a.rounds.length > 1 ? a.rounds : [began(a)];
    const outages: number[] = [];
    starts.forEach((start, r) => {
      const end = starts[r + 1] ?? until;
      const inRound = mine.filter((f) => (r === 0 || f.t >= start) && f.sentAt < end);
      const head = inRound[0];
      if (head === undefined) return;
      let last = head;
      for (const f of inRound.slice(1)) {
        if (f.sentAt - last.sentAt > burstGapMs) break;
        last = f;
      }
      const stillFailingAtEnd = input.endedAt - last.t < burstGapMs && mine.at(-1) === last;
      const seconds = secs(last.sentAt - head.sentAt);
      outages.push(seconds);
      if (window === null || seconds > unavailable) {
        unavailable = seconds;
        window = { unavailableFromOffsetMs: head.sentAt - input.zero, unavailableToOffsetMs: last.sentAt - input.zero };
      }
      if (stillFailingAtEnd)
        notes.push(
          `${a.id}: publishes were still failing when the load ended; unavailability ${seconds}s is a lower bound`,
        );
    });
    if (starts.length > 1)
      notes.push(
        `${a.id}: ${starts.length} rounds, outages ${outages.join(', ')} s (one per round that saw failures); unavailability is the longest`,
      );
    if (input.hasStreamView === false) {
      const back = backAt(a, input.actions);
      if (back === null) notes.push(`${a.id}: ${a.targets.join(',')} did not come back during the run`);
      return {
        actionId: a.id,
        kind: a.action,
        target: a.targets.join(',') || null,
        scheduledOffsetMs: a.scheduledAt - input.zero,
        executedOffsetMs: at - input.zero,
        leaderBefore: null,
        leaderAfter: null,
        timeToFirstErrorSeconds: first === undefined ? null : secs(Math.max(0, first.t - at)),
        unavailableSeconds: unavailable,
        leaderFailoverSeconds: null,
        recoverySeconds: back,
        ...(window ?? {}),
      };
    }
    let failover: number | null = null;
    let leaderAfter: string | null = null;
    const leaderTargeted = a.leaderBefore !== null && a.targets.includes(a.leaderBefore);
    let sawLoss = false;
    for (const c of input.leaderHistory) {
      if (c.at < at) continue;
      if (c.leader === null) {
        sawLoss = true;
        continue;
      }
      if (c.leader !== a.leaderBefore || sawLoss) {
        failover = secs(c.at - at);
        leaderAfter = c.leader;
        break;
      }
    }
    if (leaderTargeted && failover === null) {
      failover = secs(Math.min(until, input.endedAt) - at);
      notes.push(
        `${a.id}: no new stream leader was seen after ${a.leaderBefore} was hit; failover ${failover}s is a lower bound`,
      );
    }
    if (leaderAfter === null)
      leaderAfter =
        [...input.leaderHistory].reverse().find((c) => c.leader !== null && c.at <= Math.min(until, input.endedAt))
          ?.leader ?? null;
    const from = a.restartedAt ?? at;
    const healthy = input.streamSamples.find(
      (s) => s.at >= from && s.leader !== null && s.replicas.every((r) => r.current && r.lag === 0),
    );
    let recovery: number | null = null;
    if (healthy !== undefined) {
      const drained =
        input.consumerSamples.length === 0
          ? { at: healthy.at }
          : input.consumerSamples.find((c) => c.at >= healthy.at && c.numPending === 0);
      if (drained !== undefined) recovery = secs(Math.max(healthy.at, drained.at) - at);
    }
    if (recovery === null) {
      recovery = secs(input.endedAt - at);
      notes.push(
        `${a.id}: the stream did not fully recover (all replicas current, consumer drained) before observation ended; recovery ${recovery}s is a lower bound`,
      );
    }
    return {
      actionId: a.id,
      kind: a.action,
      target: a.targets.join(',') || null,
      scheduledOffsetMs: a.scheduledAt - input.zero,
      executedOffsetMs: at - input.zero,
      leaderBefore: a.leaderBefore,
      leaderAfter,
      timeToFirstErrorSeconds: first === undefined ? null : secs(Math.max(0, first.t - at)),
      unavailableSeconds: unavailable,
      leaderFailoverSeconds: failover,
      recoverySeconds: recovery,
      ...(window ?? {}),
    };
  });
  return { reports, notes };
}
