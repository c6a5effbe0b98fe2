// The nats-streaming target (seed 004, "NATS Streaming Cluster with FT Mode"): 2–3
// nats-streaming-server members in one fault-tolerance group on ONE shared file store, an HTTP
// publisher with a STAN backend, a durable-subscription sink (lib/stack/stan/). Its view:
//   roles       `activeOf: "test-cluster"` = the member whose /streaming/serverz says FT_ACTIVE,
//               `standbyOf` = a running member that does not; `leaderOf` names no stream here
//   observer    every member's FT state polled every 50 ms onto the timeline (ft-active,
//               ft-standby, ft-unreachable, ft-no-active), the active's changes as leader history
//   accountant  the sink drained, then a full read of the channel by sequence, reconciled by id
//   recovery    leader failover = action → a standby reports FT_ACTIVE; first ack after = action →
//               the first publish the publisher acked after that (its GET /first-ack)
import { computeAccounting, inferAttempted } from '../measure/accounting.ts';
import type { AccountingRequest, BoundTarget, RecoverySignals } from '../chaos/target.ts';
import type { ExecutedAction } from '../chaos/chaos.ts';
import type { ConsumerSnapshot, LeaderChange, StreamSnapshot } from '../chaos/signals.ts';
import type { Timeline } from '../chaos/timeline.ts';
import type { Accounting, RecoveryReport, TimelineKinds } from '../shared/types.ts';
import { withFirstAck } from '../stack/ack-times.ts';
import { fetchSinkIds } from '../jetstream/view.ts';
import { waitFor } from '../stack/processes.ts';
import { closeStan, connectStan, readChannel } from '../stack/stan/stan-client.ts';
import {
  ftActive,
  ftGroupMembers,
  ftStates,
  STAN_CHANNEL,
  STAN_CLUSTER_ID,
  STAN_FT_GROUP,
  STAN_MEMBER_PREFIX,
  type Channelz,
  type FtGroupReader,
} from '../stack/stan/stan-cluster.ts';
import { STAN_DURABLE, StanStack } from '../stack/stan/stan-stack.ts';
import { ensureTool } from '../tools/toolchain.ts';
import type { LocalNatsStreamingTarget, TargetModule } from './target-module.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function stanMemberNames(size: number): string[] {
  return Array.from({ length: size }, (_, i) => `${STAN_MEMBER_PREFIX}-${i}`);
}

function ftKind(state: string | null): TimelineKinds['ft'] {
  if (state === null) return 'ft-unreachable';
  if (state === 'FT_ACTIVE') return 'ft-active';
  if (state === 'FT_STANDBY') return 'ft-standby';
  return 'ft-other';
}

/** Polls every member's /streaming/serverz and the active's channel; records each change. */
class FtObserver {
  readonly leaderHistory: LeaderChange[] = [];
  readonly streamSamples: StreamSnapshot[] = [];
  readonly consumerSamples: ConsumerSnapshot[] = [];
  private readonly states = new Map<string, string | null>();
  active: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private polls = 0;

  constructor(
    private readonly input: FtViewInput,
    private readonly timeline: Timeline,
    private readonly intervalMs = 50,
  ) {}

  private get cluster(): FtGroupReader {
    return this.input.group;
  }

  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const states = await ftStates(this.cluster.members, 500);
      const at = Date.now();
      for (const [name, state] of states) {
        if (this.states.has(name) && this.states.get(name) === state) continue;
        const before = this.states.get(name) ?? null;
        this.states.set(name, state);
        this.timeline.record('ft', ftKind(state), name, { state, before, group: this.input.ftGroup });
      }
      const actives = [...states].filter(([, s]) => s === 'FT_ACTIVE').map(([n]) => n);
      const active = actives.length === 1 ? (actives[0] as string) : actives.length === 0 ? null : this.active;
      if (actives.length > 1)
        this.timeline.record('ft', 'ft-other', actives.join(','), { note: 'more than one member reports FT_ACTIVE' });
      if (active !== this.active || this.leaderHistory.length === 0) {
        if (active === null && this.active !== null)
          this.timeline.record('ft', 'ft-no-active', null, { before: this.active, group: this.input.ftGroup });
        this.active = active;
        this.leaderHistory.push({ at, leader: active });
      }
      if (this.polls++ % 5 === 0) await this.sampleChannel(at, states);
    } finally {
      this.polling = false;
    }
  }

  /** The channel and the sink's durable as the active reports them (every 250 ms). */
  private async sampleChannel(at: number, states: Map<string, string | null>): Promise<void> {
    const member = this.cluster.members.find((m) => m.name === this.active);
    const ch = member === undefined ? null : await member.channelz(this.input.channel);
    const replicas = this.cluster.members
      .filter((m) => m.name !== this.active)
      .map((m) => ({
        name: m.name,
        // a standby is "current" when it stands by: it has nothing to catch up (the store is shared)
        current: states.get(m.name) === 'FT_STANDBY',
        lag: 0,
        activeMs: 0,
        offline: states.get(m.name) === null,
      }));
    this.streamSamples.push({
      at,
      leader: this.active,
      replicas,
      lastSeq: ch?.last_seq ?? 0,
      firstSeq: ch?.first_seq ?? 0,
      messages: ch?.msgs ?? 0,
    });
    const durable = durableOf(ch, this.input.durable);
    if (ch !== null && durable !== null)
      this.consumerSamples.push({
        at,
        ackFloorStreamSeq: durable.last_sent - durable.pending_count,
        deliveredStreamSeq: durable.last_sent,
        numPending: ch.last_seq - durable.last_sent,
        numAckPending: durable.pending_count,
        numRedelivered: 0,
      });
  }

  start(): void {
    this.timer = setInterval(() => void this.poll().catch(() => undefined), this.intervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

function durableOf(ch: Channelz | null, durable: string): NonNullable<Channelz['subscriptions']>[number] | null {
  return ch?.subscriptions?.find((s) => s.durable_name === durable) ?? null;
}

/** What an FT group's view reads: the members' monitoring endpoints, the channel, and k6-ha's publisher and sink. */
export interface FtViewInput {
  group: FtGroupReader;
  /** the ft_group_name the members run with (what activeOf / standbyOf name) */
  ftGroup: string;
  clusterId: string;
  channel: string;
  /** the sink's durable subscription, whose progress counts as "consumed" */
  durable: string;
  /** k6-ha's publisher with the STAN backend (GET /first-ack, /stats); null: no first-ack figure */
  publisherUrl: string | null;
  /** k6-ha's STAN sink (GET /ids); null: no sink column */
  sinkUrl: string | null;
}

/** The roles, observer and accountant of one NATS Streaming FT group: a local stack's or the pods of a StatefulSet. */
export class FtView implements BoundTarget {
  private readonly observer: FtObserver;
  private seqBefore = 0;
  private sentBefore = 0;

  constructor(
    private readonly input: FtViewInput,
    timeline: Timeline,
  ) {
    this.observer = new FtObserver(input, timeline);
  }

  readonly roles: BoundTarget['roles'] = {
    // No JetStream stream here: leaderOf / notLeaderOf are refused by the preflight.
    streamMembers: async () => ({ leader: null, members: [] }),
    ftGroupMembers: (group) => ftGroupMembers(this.input.group, this.input.ftGroup, group),
    waitUntil: (condition, timeoutMs) => this.waitUntil(condition, timeoutMs),
    currentLeader: () => this.observer.active,
  };

  readonly accountant: BoundTarget['accountant'] = {
    atLoadStart: (notes) => this.atLoadStart(notes),
    account: (request) => this.account(request),
  };

  async prepare(): Promise<void> {
    await this.observer.poll();
    this.observer.start();
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
    this.observer.stop();
  }

  private async waitUntil(condition: 'leader' | 'recovered', timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const since = Date.now();
    while (Date.now() < deadline) {
      const s = this.observer.streamSamples.at(-1);
      const c = this.observer.consumerSamples.at(-1);
      if (s !== undefined && s.at >= since && s.leader !== null) {
        if (condition === 'leader') return true;
        if (s.replicas.every((r) => r.current) && c !== undefined && c.numPending === 0 && c.numAckPending === 0)
          return true;
      }
      await sleep(100);
    }
    return false;
  }

  private async activeChannel(): Promise<Channelz | null> {
    const active = await ftActive(this.input.group.members, 2000);
    return active === null ? null : active.channelz(this.input.channel);
  }

  private async atLoadStart(notes: string[]): Promise<Record<string, unknown>> {
    const active = await ftActive(this.input.group.members, 2000);
    if (active === null) {
      notes.push('no member reported FT_ACTIVE before load; the channel baseline is 0');
      return { channel_last_seq: 0 };
    }
    // A channel that does not exist yet (a fresh store) answers 404: nothing in it, baseline 0.
    const ch = await active.channelz(this.input.channel);
    this.seqBefore = ch?.last_seq ?? 0;
    this.sentBefore = durableOf(ch, this.input.durable)?.last_sent ?? 0;
    return { channel_last_seq: this.seqBefore, active: active.name };
  }

  /** Waits (bounded) until the sink's durable has everything delivered and acked. */
  private async drain(notes: string[]): Promise<Channelz | null> {
    let last: Channelz | null = null;
    let progress = -1;
    let progressAt = Date.now();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      last = await this.activeChannel();
      const d = durableOf(last, this.input.durable);
      if (last !== null && d !== null) {
        if (d.last_sent >= last.last_seq && d.pending_count === 0) return last;
        if (d.last_sent - d.pending_count !== progress) {
          progress = d.last_sent - d.pending_count;
          progressAt = Date.now();
        } else if (Date.now() - progressAt > 10_000) {
          notes.push(
            `the sink's durable made no progress for 10 s (sent ${d.last_sent} of ${last.last_seq}, ${d.pending_count} unacked); sink counts are as of then`,
          );
          return last;
        }
      }
      await sleep(250);
    }
    notes.push('the sink did not drain within 60 s; sink counts may be low');
    return last;
  }

  private async account(request: AccountingRequest): Promise<Accounting> {
    const { runTag, notes } = request;
    const drained = await this.drain(notes);
    let ch: Channelz | null = null;
    await waitFor(
      'a member reporting FT_ACTIVE with the channel',
      async () => {
        ch = await this.activeChannel();
        return ch !== null;
      },
      30_000,
      250,
    );
    const channel = ch as unknown as Channelz;
    const sc = await connectStan({
      clusterId: this.input.clusterId,
      clientId: `k6-ha-accountant-${process.pid}-${Date.now()}`,
      servers: this.input.group.clientUrls,
    });
    let read;
    try {
      read = await readChannel(sc, {
        channel: this.input.channel,
        fromSeq: this.seqBefore + 1,
        toSeq: channel.last_seq,
        idPrefix: `${runTag}-`,
        timeoutMs: 120_000,
      });
    } finally {
      await closeStan(sc);
    }
    if (read.foreign > 0) notes.push(`${read.foreign} message(s) in the channel during the run were not k6's`);
    const stats =
      this.input.publisherUrl === null
        ? null
        : await fetch(`${this.input.publisherUrl}/stats`, { signal: AbortSignal.timeout(5000) })
            .then((r) => r.json() as Promise<{ republished?: number }>)
            .catch(() => null);
    if (stats !== null && (stats.republished ?? 0) > 0)
      notes.push(
        `the publisher published ${stats.republished} event(s) again after an ack timeout (STAN has no de-duplication: a first copy that was stored after all is a duplicate in the channel); k6 saw those as slow 204s, not as failures`,
      );
    let attempted = request.attempted;
    if (attempted === null) {
      attempted = inferAttempted(runTag, read.ids, request.notAcked);
      notes.push(`k6's API was not reachable, so the number of events sent (${attempted}) is inferred from the ids`);
    }
    const durable = durableOf(drained, this.input.durable);
    return computeAccounting({
      runTag,
      attempted,
      notAcked: request.notAcked,
      streamIds: read.ids,
      streamDelta: channel.last_seq - this.seqBefore,
      consumed: durable === null ? null : durable.last_sent - durable.pending_count - this.sentBefore,
      sinkIds: this.input.sinkUrl === null ? null : await fetchSinkIds(this.input.sinkUrl, runTag, notes),
      inFlightWindow: request.inFlightWindow,
      reportsUndelivered: request.reportsUndelivered,
    });
  }

  /** Per action that took the active down: action → the first publish acked after a standby reported active. */
  async enrichRecovery(reports: RecoveryReport[], actions: ExecutedAction[]): Promise<RecoveryReport[]> {
    if (this.input.publisherUrl === null) return reports;
    return withFirstAck(reports, actions, this.observer.leaderHistory, this.input.publisherUrl);
  }
}

export const natsStreamingTarget: TargetModule<LocalNatsStreamingTarget> = {
  description:
    "local: a NATS Streaming FT group (2–3 nats-streaming-server members on one shared file store, the seed's config), an HTTP publisher with a STAN backend and a durable-subscription sink",
  preflightWorld: (target) => {
    const members = stanMemberNames(target.members);
    return { memberNames: [...members, 'publisher', 'sink'], streams: {}, ftGroups: { [STAN_FT_GROUP]: members } };
  },
  async start({ target, runDir, log }) {
    const bin = await ensureTool('nats-streaming-server', { log });
    const stack = await StanStack.start({ runDir, bin, size: target.members, republish: target.republish, log });
    return {
      kind: 'nats-streaming',
      members: () => stack.members(),
      k6Env: () => stack.k6Env(),
      bind: (timeline) =>
        new FtView(
          {
            group: stack.cluster,
            ftGroup: STAN_FT_GROUP,
            clusterId: STAN_CLUSTER_ID,
            channel: STAN_CHANNEL,
            durable: STAN_DURABLE,
            publisherUrl: stack.publisherUrl,
            sinkUrl: stack.sinkUrl,
          },
          timeline,
        ),
      stop: () => stack.stop(),
    };
  },
};
