// Watchers that put what happens after a chaos action on the timeline: JetStream's view of the
// stream and consumer (polled, one request at a time, plus JetStream's leader-elected advisories),
// member processes starting and exiting (pushed by the process itself), and whether the publisher
// answers.
import type { ConsumerSnapshot, LeaderChange, StreamSnapshot } from '../chaos/signals.ts';
import type { JetStreamProbe } from './probe.ts';
import type { Timeline } from '../chaos/timeline.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type { LeaderChange } from '../chaos/signals.ts';

/** Polls stream and consumer info; records leader changes, replica state changes and samples. */
export class JetStreamObserver {
  readonly leaderHistory: LeaderChange[] = [];
  readonly streamSamples: StreamSnapshot[] = [];
  readonly consumerSamples: ConsumerSnapshot[] = [];
  private running = false;
  private loop: Promise<void> | null = null;
  private unavailableSince: number | null = null;
  private lastReplicaState = new Map<string, boolean>();
  private lastSampleLog = 0;

  constructor(
    private readonly probe: JetStreamProbe,
    private readonly timeline: Timeline,
    private readonly intervalMs = 250,
    private readonly sampleLogEveryMs = 5000,
    /** operations a follower may trail by and still count as current on the timeline */
    private readonly lagTolerance = 100,
  ) {}

  get currentLeader(): string | null {
    return this.leaderHistory.at(-1)?.leader ?? null;
  }

  latestStream(): StreamSnapshot | null {
    return this.streamSamples.at(-1) ?? null;
  }

  latestConsumer(): ConsumerSnapshot | null {
    return this.consumerSamples.at(-1) ?? null;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.probe.watchLeaderElections((leader) => this.noteLeader(leader, Date.now(), 'advisory'));
    } catch {
      // no advisories (e.g. the connection is down right now): the poll alone times elections
    }
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** One poll now (also used before the run to learn the initial leader). */
  async poll(): Promise<void> {
    const now = Date.now();
    let stream: StreamSnapshot;
    try {
      stream = await this.probe.streamInfo(this.unavailableSince === null ? 'normal' : 'outage');
    } catch (err) {
      // An advisory that arrived while this request was out is newer news than its timeout.
      const newer = (this.leaderHistory.at(-1)?.at ?? 0) > now;
      if (this.unavailableSince === null && !newer) {
        this.unavailableSince = now;
        this.timeline.record('stream', 'stream-unavailable', this.probe.stream, { error: (err as Error).message }, now);
        this.noteLeader(null, now, 'poll');
      }
      return;
    }
    if (this.unavailableSince !== null) {
      this.timeline.record(
        'stream',
        'stream-available',
        this.probe.stream,
        { after_ms: stream.at - this.unavailableSince },
        stream.at,
      );
      this.unavailableSince = null;
    }
    this.streamSamples.push(stream);
    this.noteLeader(stream.leader, stream.at, 'poll');
    for (const r of stream.replicas) {
      // Under load a healthy follower is often a message or two behind: only a real gap counts.
      const behind = r.offline || (!r.current && (r.lag > this.lagTolerance || r.activeMs > 2000));
      const before = this.lastReplicaState.get(r.name);
      if (before !== !behind) {
        this.timeline.record(
          'stream',
          behind ? 'replica-outdated' : 'replica-current',
          r.name,
          { lag: r.lag, seen_ms_ago: r.activeMs, offline: r.offline },
          stream.at,
        );
        this.lastReplicaState.set(r.name, !behind);
      }
    }
    let consumer: ConsumerSnapshot | null = null;
    try {
      consumer = await this.probe.consumerInfo();
      if (consumer !== null) this.consumerSamples.push(consumer);
    } catch {
      // the consumer's own leader may be down; the next poll tries again
    }
    if (stream.at - this.lastSampleLog >= this.sampleLogEveryMs) {
      this.lastSampleLog = stream.at;
      this.timeline.record(
        'stream',
        'sample',
        this.probe.stream,
        {
          leader: stream.leader,
          last_seq: stream.lastSeq,
          messages: stream.messages,
          replicas: stream.replicas
            .map((r) => `${r.name}:${r.current ? 'current' : 'outdated'}:lag=${r.lag}`)
            .join(' '),
          ...(consumer === null
            ? {}
            : {
                ack_floor: consumer.ackFloorStreamSeq,
                pending: consumer.numPending,
                ack_pending: consumer.numAckPending,
                redelivered: consumer.numRedelivered,
              }),
        },
        stream.at,
      );
    }
  }

  private noteLeader(leader: string | null, at: number, via: 'poll' | 'advisory'): void {
    const prev = this.leaderHistory.at(-1);
    if (prev !== undefined && prev.leader === leader) return;
    this.leaderHistory.push({ at, leader });
    if (prev !== undefined || leader !== null) {
      this.timeline.record(
        'stream',
        leader === null ? 'leader-lost' : prev === undefined ? 'leader' : 'leader-elected',
        leader,
        { previous: prev?.leader ?? null, via },
        at,
      );
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = Date.now();
      await this.poll();
      await sleep(Math.max(0, this.intervalMs - (Date.now() - started)));
    }
  }
}

/** Polls an HTTP health URL; records transitions between reachable and unreachable. */
export class ReachabilityObserver {
  private running = false;
  private loop: Promise<void> | null = null;
  private reachable: boolean | null = null;

  constructor(
    private readonly name: string,
    private readonly url: string,
    private readonly timeline: Timeline,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        let ok = false;
        let error: string | undefined;
        try {
          ok = (await fetch(this.url, { signal: AbortSignal.timeout(1000) })).ok;
        } catch (err) {
          error = (err as Error).message;
        }
        if (ok !== this.reachable) {
          if (this.reachable !== null || !ok)
            this.timeline.record(
              'publisher',
              ok ? 'reachable' : 'unreachable',
              this.name,
              error === undefined ? {} : { error },
            );
          this.reachable = ok;
        }
        await sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
