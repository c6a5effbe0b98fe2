// JetStream's view of the stream under test, bound to a run: the roles (`leaderOf` is the stream
// leader), the observers (stream and consumer polls, leader-elected advisories, the publisher's
// reachability) and the accountant (a final full read of the stream, the consumer's ack floor and
// the sink's ids, reconciled by event id). Shared by the local JetStream stack and by Kubernetes
// targets that give a natsUrl.
import { computeAccounting, inferAttempted, inferRunnerAttempted } from '../measure/accounting.ts';
import type { JetStreamProbe } from './probe.ts';
import { JetStreamObserver, ReachabilityObserver } from './observers.ts';
import type {
  AccountingRequest,
  BoundTarget,
  RecoverySignals,
  TargetAccountant,
  TargetRoles,
} from '../chaos/target.ts';
import type { Timeline } from '../chaos/timeline.ts';
import type { Accounting, RecoveryReport } from '../shared/types.ts';
import type { ExecutedAction } from '../chaos/chaos.ts';
import { withFirstAck } from '../stack/ack-times.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface JetStreamViewOptions {
  probe: JetStreamProbe;
  /** the members that may hold the stream's replicas (candidates for leaderOf / notLeaderOf) */
  streamMembers: string[];
  /** the sink's base URL (its /ids endpoint), when there is one to ask */
  sinkUrl: string | null;
  /** the publisher's health URL, polled for reachability; null when it is not ours to watch */
  publisherHealthUrl: string | null;
  /** how long the accountant waits for the consumer to drain */
  drainTimeoutMs?: number;
  pollIntervalMs?: number;
}

export class JetStreamView implements BoundTarget {
  readonly accountant: TargetAccountant;
  readonly roles: TargetRoles;
  private readonly observer: JetStreamObserver;
  private readonly reachability: ReachabilityObserver | null;
  private streamSeqBefore = 0;
  private ackFloorBefore = 0;

  constructor(
    private readonly opts: JetStreamViewOptions,
    timeline: Timeline,
  ) {
    this.observer = new JetStreamObserver(opts.probe, timeline, opts.pollIntervalMs ?? 250);
    this.reachability =
      opts.publisherHealthUrl === null
        ? null
        : new ReachabilityObserver('publisher', opts.publisherHealthUrl, timeline);
    this.roles = {
      streamMembers: (stream) => this.streamMembers(stream),
      waitUntil: (condition, timeoutMs) => this.waitUntil(condition, timeoutMs),
      currentLeader: () => this.observer.currentLeader,
    };
    this.accountant = {
      atLoadStart: (notes) => this.atLoadStart(notes),
      account: (request) => this.account(request),
    };
  }

  async prepare(): Promise<void> {
    await this.observer.poll();
    await this.observer.start();
    this.reachability?.start();
  }

  recoverySignals(): RecoverySignals {
    return {
      leaderHistory: this.observer.leaderHistory,
      streamSamples: this.observer.streamSamples,
      consumerSamples: this.observer.consumerSamples,
      hasStreamView: true,
    };
  }

  async stop(): Promise<void> {
    await this.observer.stop();
    await this.reachability?.stop();
  }

  /** With our own publisher: action → the first publish it acked after a new stream leader was seen. */
  async enrichRecovery(reports: RecoveryReport[], actions: ExecutedAction[]): Promise<RecoveryReport[]> {
    const health = this.opts.publisherHealthUrl;
    if (health === null) return reports;
    return withFirstAck(reports, actions, this.observer.leaderHistory, health.replace(/\/healthz$/, ''));
  }

  private async streamMembers(stream: string): Promise<{ leader: string | null; members: string[] }> {
    const probe = this.opts.probe;
    if (probe.stream !== stream) return { leader: null, members: [] };
    try {
      const info = await probe.streamInfo();
      return { leader: info.leader, members: this.opts.streamMembers };
    } catch {
      return { leader: this.observer.currentLeader, members: this.opts.streamMembers };
    }
  }

  private async waitUntil(condition: 'leader' | 'recovered', timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const since = Date.now();
    while (Date.now() < deadline) {
      const s = this.observer.latestStream();
      if (s !== null && s.at >= since && s.leader !== null) {
        if (condition === 'leader') return true;
        if (s.replicas.every((r) => r.current && r.lag === 0)) return true;
      }
      await sleep(100);
    }
    return false;
  }

  private async atLoadStart(notes: string[]): Promise<Record<string, unknown>> {
    try {
      this.streamSeqBefore = (await this.opts.probe.streamInfo()).lastSeq;
      this.ackFloorBefore = (await this.opts.probe.consumerInfo())?.ackFloorStreamSeq ?? 0;
    } catch (err) {
      notes.push(`could not read the stream before load: ${(err as Error).message}`);
    }
    return { stream_last_seq: this.streamSeqBefore };
  }

  private async account(request: AccountingRequest): Promise<Accounting> {
    const { probe } = this.opts;
    const { runTag, notes } = request;
    await this.drain(notes);
    const read = await probe.readRun(this.streamSeqBefore, `${runTag}-`);
    let attempted = request.attempted;
    let runners: Array<{ attempted: number; finished: boolean }> | undefined;
    if (request.runners !== undefined) {
      const count = request.runners.length;
      runners = request.runners.map((r, i) => ({
        attempted: r.attempted ?? inferRunnerAttempted(runTag, read.ids, request.notAcked, i + 1, count),
        finished: r.finished && r.attempted !== null,
      }));
      attempted = runners.reduce((sum, r) => sum + r.attempted, 0);
    } else if (attempted === null) {
      attempted = inferAttempted(runTag, read.ids, request.notAcked);
      notes.push(
        `k6's API was not reachable, so the number of events sent (${attempted}) is inferred from the highest id seen; acked events lost at the very end would go unnoticed (run k6 with --address and give the sidecar --k6-api)`,
      );
    }
    const consumer = await probe.consumerInfo().catch(() => null);
    const sinkIds = await this.sinkIds(runTag, notes);
    if (read.foreign > 0)
      notes.push(`${read.foreign} message(s) in the stream during the run were not k6's (another publisher)`);
    return computeAccounting({
      runTag,
      attempted,
      notAcked: request.notAcked,
      streamIds: read.ids,
      streamDelta: read.lastSeq - this.streamSeqBefore,
      consumed: consumer === null ? null : consumer.ackFloorStreamSeq - this.ackFloorBefore,
      sinkIds,
      inFlightWindow: request.inFlightWindow,
      reportsUndelivered: request.reportsUndelivered,
      ...(runners === undefined ? {} : { runners }),
    });
  }

  /** Waits (bounded) until the consumer has nothing pending, so "consumed" and "sink" are final. */
  private async drain(notes: string[]): Promise<void> {
    const timeoutMs = this.opts.drainTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    let last = 'not asked';
    let floor = -1;
    let floorSince = Date.now();
    while (Date.now() < deadline) {
      try {
        const c = await this.opts.probe.consumerInfo();
        if (c === null) return;
        last = `pending ${c.numPending}, ack pending ${c.numAckPending}`;
        if (c.numPending === 0 && c.numAckPending === 0) return;
        if (c.ackFloorStreamSeq !== floor) {
          floor = c.ackFloorStreamSeq;
          floorSince = Date.now();
        } else if (Date.now() - floorSince > 10_000) {
          // Nothing acked for 10 s: the sink is gone or stuck; waiting longer changes nothing.
          notes.push(`the consumer made no progress for 10 s (${last}); consumed and sink counts are as of then`);
          return;
        }
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(250);
    }
    notes.push(`the consumer did not drain within ${timeoutMs / 1000}s (${last}); consumed and sink counts may be low`);
  }

  private sinkIds(runTag: string, notes: string[]): Promise<Map<string, number> | null> {
    return this.opts.sinkUrl === null ? Promise.resolve(null) : fetchSinkIds(this.opts.sinkUrl, runTag, notes);
  }
}

/** k6-ha's sink's record of one run's ids (id → times received); null, with a note, when it cannot be asked. */
export async function fetchSinkIds(
  sinkUrl: string,
  runTag: string,
  notes: string[],
): Promise<Map<string, number> | null> {
  try {
    const res = await fetch(`${sinkUrl}/ids?prefix=${encodeURIComponent(`${runTag}-`)}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const ids = new Map<string, number>();
    for (const line of (await res.text()).split('\n')) {
      const [id, n] = line.split('\t');
      if (id) ids.set(id, Number(n ?? 1));
    }
    return ids;
  } catch (err) {
    notes.push(`the sink could not be asked for its ids: ${(err as Error).message}`);
    return null;
  }
}
