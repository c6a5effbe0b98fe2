// JetStream's own view of the stream under test: leader, replicas, sequence numbers, the
// consumer's progress, and a full read-back of one run's events. Used for leaderOf targets, the
// observers and the final accounting — locally and against a port-forwarded cluster alike.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { ConsumerSnapshot, StreamSnapshot } from '../chaos/signals.ts';
import { ProbeError } from '../shared/errors.ts';

export type { ConsumerSnapshot, ReplicaState, StreamSnapshot } from '../chaos/signals.ts';

/** How long a stream info request may take while the stream is already known to be down: short,
 * so the first answer after an election is not held back by a request that went to nobody. */
const OUTAGE_REQUEST_TIMEOUT_MS = 500;

export class JetStreamProbe {
  private nc: NatsConnection | null = null;
  private jsm: JetStreamManager | null = null;
  private outageJsm: JetStreamManager | null = null;

  constructor(
    readonly servers: string[],
    readonly stream: string,
    readonly consumer: string | null,
    private readonly requestTimeoutMs = 2000,
  ) {}

  private async manager(): Promise<JetStreamManager> {
    if (this.jsm !== null && this.nc !== null && !this.nc.isClosed()) return this.jsm;
    try {
      this.nc = await connect({
        servers: this.servers,
        name: 'k6-ha-probe',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: this.requestTimeoutMs,
      });
    } catch (err) {
      throw new ProbeError(`cannot connect to NATS at ${this.servers.join(', ')}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.jsm = await jetstreamManager(this.nc, { timeout: this.requestTimeoutMs, checkAPI: false });
    this.outageJsm = await jetstreamManager(this.nc, {
      timeout: Math.min(OUTAGE_REQUEST_TIMEOUT_MS, this.requestTimeoutMs),
      checkAPI: false,
    });
    return this.jsm;
  }

  /** `during: 'outage'` asks with a short timeout: no leader answers until one is elected. */
  async streamInfo(during: 'normal' | 'outage' = 'normal'): Promise<StreamSnapshot> {
    const jsm = await this.manager();
    const info = await (during === 'outage' ? (this.outageJsm ?? jsm) : jsm).streams.info(this.stream);
    return {
      at: Date.now(),
      leader: info.cluster?.leader ?? null,
      replicas: (info.cluster?.replicas ?? []).map((r) => ({
        name: r.name,
        current: r.current,
        lag: r.lag ?? 0,
        activeMs: Math.round((r.active ?? 0) / 1e6),
        offline: r.offline ?? false,
      })),
      lastSeq: info.state.last_seq,
      firstSeq: info.state.first_seq,
      messages: info.state.messages,
    };
  }

  /**
   * Calls `onElected` with the new leader's server name each time the stream elects a leader. This
   * is JetStream's own advisory, sent at the election, so failover is timed to the election itself
   * rather than to whenever the next poll gets an answer. The subscription lives as long as the
   * connection, across reconnects; without permission for `$JS.EVENT.>` polling still works.
   */
  async watchLeaderElections(onElected: (leader: string) => void): Promise<void> {
    await this.manager();
    const nc = this.nc as NatsConnection;
    nc.subscribe(`$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.${this.stream}`, {
      callback: (err, msg) => {
        if (err !== null) return;
        let leader: unknown;
        try {
          leader = msg.json<{ leader?: unknown }>().leader;
        } catch {
          return; // not an advisory we understand: the poll still sees the leader
        }
        if (typeof leader === 'string' && leader !== '') onElected(leader);
      },
    });
  }

  async consumerInfo(): Promise<ConsumerSnapshot | null> {
    if (this.consumer === null) return null;
    const jsm = await this.manager();
    const info = await jsm.consumers.info(this.stream, this.consumer);
    return {
      at: Date.now(),
      ackFloorStreamSeq: info.ack_floor.stream_seq,
      deliveredStreamSeq: info.delivered.stream_seq,
      numPending: info.num_pending,
      numAckPending: info.num_ack_pending,
      numRedelivered: info.num_redelivered,
    };
  }

  /**
   * Reads every message after `afterSeq` and counts the ce-ids that start with `idPrefix`
   * (one run's events); others are counted separately. An ordered consumer reads from whichever
   * replica is reachable, so this works while a member is still down.
   */
  async readRun(
    afterSeq: number,
    idPrefix: string,
  ): Promise<{ ids: Map<string, number>; foreign: number; lastSeq: number }> {
    const { lastSeq } = await this.streamInfo();
    const ids = new Map<string, number>();
    let foreign = 0;
    if (lastSeq <= afterSeq) return { ids, foreign, lastSeq };
    const js = jetstream(this.nc as NatsConnection);
    const reader = await js.consumers.get(this.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: afterSeq + 1,
    });
    const batch = await reader.consume({ max_messages: 1000 });
    for await (const m of batch) {
      const id = m.headers?.get('ce-id') ?? '';
      if (id.startsWith(idPrefix)) ids.set(id, (ids.get(id) ?? 0) + 1);
      else foreign++;
      if (m.seq >= lastSeq) break;
    }
    await batch.close();
    return { ids, foreign, lastSeq };
  }

  async close(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    this.jsm = null;
    this.outageJsm = null;
    await nc?.close().catch(() => undefined);
  }
}
