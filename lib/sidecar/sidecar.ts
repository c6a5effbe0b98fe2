// The sidecar: owns the timeline, the chaos executor and the observers for one run, and answers
// k6's control calls (load started, outcomes, finish, report, summary). See control-server.ts
// for the HTTP side and runner.ts for how `k6-ha run` wires it to a stack and to k6.
import { ControlRequestError } from '../shared/errors.ts';
import { type FinishRequest, type FinishResponse, type OutcomeRecord, type ReportResponse, type StartRequest, type StartResponse, type SummaryUpload, UNDELIVERED_METRIC } from '../shared/control-api.ts';
import type { Accounting, ChaosMetricValues, KubernetesReport, RecoveryReport } from '../shared/types.ts';
import type { StackMember } from '../stack/stack.ts';
import { computeAccounting } from './accounting.ts';
import { writeArtifacts } from './artifacts.ts';
import { ChaosExecutor, type ChaosDriver, type ChaosWorld, type ExecutedAction, LocalMemberDriver } from './chaos.ts';
import type { Experiment } from './experiment.ts';
import type { JetStreamProbe } from './jetstream-probe.ts';
import { JetStreamObserver, observeMembers, ReachabilityObserver } from './observers.ts';
import { computeRecovery } from './recovery.ts';
import { Timeline } from './timeline.ts';
import { join } from 'node:path';

export interface SidecarOptions {
  runId: string;
  runDir: string;
  experiment: Experiment;
  members: StackMember[];
  /** JetStream's view of the stream under test; null for scenarios without one */
  probe: JetStreamProbe | null;
  /** names of the NATS members (candidates for leaderOf / notLeaderOf) */
  natsMembers: string[];
  sinkUrl: string | null;
  publisherHealthUrl: string | null;
  /** k6's REST API (k6 run --address), asked for the number of events sent */
  k6ApiUrl: string | null;
  log?: (line: string) => void;
  /** carries out the plan; defaults to the cluster's driver, else local stack members */
  driver?: ChaosDriver;
  /** a cluster under test (kubernetes targets): its driver and watches, bound to this run's timeline */
  cluster?: (timeline: Timeline, world: ChaosWorld) => ClusterUnderTest;
  /** how long finish waits for the consumer to drain */
  drainTimeoutMs?: number;
  pollIntervalMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A cluster under test: the driver of its plan, the watches that put it on the timeline, and its report section. */
export interface ClusterUnderTest {
  driver: ChaosDriver;
  start(): Promise<void>;
  stop(): Promise<void>;
  report(actions: ExecutedAction[]): KubernetesReport;
  /** adds per-action figures (time to reschedule, to Ready) to the recovery reports */
  enrich?(reports: RecoveryReport[], report: KubernetesReport): RecoveryReport[];
}

export class Sidecar {
  readonly timeline: Timeline;
  readonly chaos: ChaosExecutor;
  private readonly observer: JetStreamObserver | null;
  private readonly reachability: ReachabilityObserver | null;
  private readonly cluster: ClusterUnderTest | null;
  private readonly notAcked = new Map<number, OutcomeRecord>();
  private runTag: string | null = null;
  private rate: number | null = null;
  private loadDurationMs: number | null = null;
  private requestTimeoutMs: number | null = null;
  /** when the runner passed on a Ctrl-C or SIGTERM to k6 */
  private interruptedAt: number | null = null;
  private streamSeqBefore = 0;
  private ackFloorBefore = 0;
  private lastFailureAt = 0;
  accounting: Accounting | null = null;
  recovery: RecoveryReport[] = [];
  notes: string[] = [];
  summary: SummaryUpload | null = null;
  private finished: Promise<FinishResponse> | null = null;
  private started: StartResponse | null = null;
  private summaryWaiters: Array<() => void> = [];

  constructor(private readonly opts: SidecarOptions) {
    this.timeline = new Timeline(join(opts.runDir, 'timeline.jsonl'));
    this.observer = opts.probe === null ? null : new JetStreamObserver(opts.probe, this.timeline, opts.pollIntervalMs ?? 250);
    this.reachability = opts.publisherHealthUrl === null ? null : new ReachabilityObserver('publisher', opts.publisherHealthUrl, this.timeline);
    const world: ChaosWorld = {
      members: () => opts.members,
      streamMembers: async (stream) => this.streamMembers(stream),
      waitUntil: (condition, timeoutMs) => this.waitUntil(condition, timeoutMs),
      currentLeader: () => this.observer?.currentLeader ?? null,
    };
    this.cluster = opts.cluster?.(this.timeline, world) ?? null;
    this.chaos = new ChaosExecutor(opts.experiment.plan, opts.driver ?? this.cluster?.driver ?? new LocalMemberDriver(world, opts.experiment.blastRadius), this.timeline);
  }

  get runId(): string {
    return this.opts.runId;
  }

  /** Starts watching before load starts, so the timeline shows the initial leader. */
  async prepare(): Promise<void> {
    observeMembers(this.opts.members, this.timeline);
    await this.cluster?.start();
    this.timeline.record('sidecar', 'ready', null, { run_id: this.opts.runId, experiment: this.opts.experiment.name, actions: this.opts.experiment.plan.length });
    if (this.observer !== null) {
      await this.observer.poll();
      await this.observer.start();
    }
    this.reachability?.start();
  }

  private async streamMembers(stream: string): Promise<{ leader: string | null; members: string[] }> {
    const probe = this.opts.probe;
    if (probe === null || probe.stream !== stream) return { leader: null, members: [] };
    try {
      const info = await probe.streamInfo();
      return { leader: info.leader, members: this.opts.natsMembers };
    } catch {
      return { leader: this.observer?.currentLeader ?? null, members: this.opts.natsMembers };
    }
  }

  private async waitUntil(condition: 'leader' | 'recovered', timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const since = Date.now();
    while (Date.now() < deadline) {
      const s = this.observer?.latestStream();
      if (s !== undefined && s !== null && s.at >= since && s.leader !== null) {
        if (condition === 'leader') return true;
        if (s.replicas.every((r) => r.current && r.lag === 0)) return true;
      }
      await sleep(100);
    }
    return false;
  }

  async start(req: StartRequest): Promise<StartResponse> {
    const scenario = this.opts.experiment.scenario;
    if (req.scenario !== scenario) {
      throw new ControlRequestError(`scenario: ${JSON.stringify(req.scenario)} is not allowed — expected ${JSON.stringify(scenario)}, the scenario of experiment ${this.opts.experiment.name}`, { status: 400 });
    }
    if (this.started !== null) {
      // A retried setup() (its first answer lost on the way) gets the same answer; another run does not.
      if (req.runTag === this.runTag) return this.started;
      throw new ControlRequestError(`load already started for this run (run tag ${this.runTag}); one sidecar serves one k6 run`, { status: 409 });
    }
    this.runTag = req.runTag;
    this.rate = req.rate ?? null;
    this.loadDurationMs = req.durationMs ?? null;
    this.requestTimeoutMs = req.requestTimeoutMs ?? null;
    if (this.opts.probe !== null) {
      try {
        this.streamSeqBefore = (await this.opts.probe.streamInfo()).lastSeq;
        this.ackFloorBefore = (await this.opts.probe.consumerInfo())?.ackFloorStreamSeq ?? 0;
      } catch (err) {
        this.notes.push(`could not read the stream before load: ${(err as Error).message}`);
      }
    }
    const zero = Date.now();
    this.timeline.zero = zero;
    this.timeline.record('k6', 'load-started', null, { run_tag: req.runTag, scenario: req.scenario, rate: req.rate ?? null, stream_last_seq: this.streamSeqBefore });
    this.chaos.start(zero);
    this.opts.log?.(`load started (run tag ${req.runTag}); ${this.opts.experiment.plan.length} chaos action(s) scheduled`);
    this.started = { runId: this.opts.runId, planName: this.opts.experiment.name, actions: this.opts.experiment.plan.length };
    return this.started;
  }

  /** Outcomes k6 reported as not acked so far (failed or unknown). */
  get notAckedSoFar(): number {
    return this.notAcked.size;
  }

  /** The run is being interrupted: events in flight now will have no outcome k6 can report. */
  markInterrupted(signal: string): void {
    if (this.interruptedAt !== null || this.timeline.zero === null) return;
    this.interruptedAt = Date.now();
    this.timeline.record('sidecar', 'interrupted', null, { signal });
  }

  /**
   * How many ids around k6's final count may have been in flight when the load was cut short
   * (interrupted, or finished well before its duration): RATE × (REQUEST_TIMEOUT + 1 s). Zero
   * when the load ran its course, or when the scenario did not say its rate and timeout.
   */
  private inFlightWindow(endedAt: number): number {
    const zero = this.timeline.zero;
    if (zero === null || this.rate === null || this.requestTimeoutMs === null) return 0;
    const cutShort = this.interruptedAt !== null || (this.loadDurationMs !== null && endedAt - zero < this.loadDurationMs - 1000);
    return cutShort ? Math.ceil(this.rate * (this.requestTimeoutMs / 1000 + 1)) : 0;
  }

  recordOutcomes(records: OutcomeRecord[]): void {
    if (this.started === null) throw new ControlRequestError('no load has started: outcomes come after /v1/start', { status: 409 });
    if (this.finished !== null) throw new ControlRequestError('the load is finished and accounted for: outcomes come before /v1/finish', { status: 409 });
    for (const r of records) {
      if (r.t - this.lastFailureAt > 1000) {
        this.timeline.record('k6', 'errors-began', null, { status: r.status, outcome: r.outcome, seq: r.seq }, r.t);
      }
      this.lastFailureAt = Math.max(this.lastFailureAt, r.t);
      this.notAcked.set(r.seq, r);
    }
  }

  /** Idempotent: a retried teardown gets the same answer. */
  finish(req: FinishRequest): Promise<FinishResponse> {
    if (this.runTag !== null && req.runTag !== this.runTag) {
      return Promise.reject(new ControlRequestError(`runTag: ${JSON.stringify(req.runTag)} is not allowed — expected ${JSON.stringify(this.runTag)}, the run that started`, { status: 409 }));
    }
    this.finished ??= this.doFinish(req);
    return this.finished;
  }

  private async doFinish(req: FinishRequest): Promise<FinishResponse> {
    const endedAt = Date.now();
    this.timeline.record('k6', 'load-finished', null, { not_acked_reported: this.notAcked.size });
    this.chaos.stop('load finished');
    await this.chaos.settle();
    await this.chaos.restore('load finished: bringing back members the plan took down');
    const runTag = this.runTag ?? req.runTag;
    const probe = this.opts.probe;
    const fromK6 = await this.countsFromK6();
    let attempted = req.attempted ?? fromK6.iterations;
    const undelivered = fromK6.undelivered;
    if (undelivered === null) {
      this.notes.push(`k6's API was not reachable, so outcome reports lost on the way to the sidecar cannot be counted here; see ${UNDELIVERED_METRIC} in k6's summary`);
    } else if (undelivered > 0) {
      this.notes.push(`${undelivered} outcome report(s) never reached the sidecar (${UNDELIVERED_METRIC}): events with no report are counted as unknown (report lost), not as acked, and chaos_unmeasured fails the run`);
      this.timeline.record('sidecar', 'reports-undelivered', null, { count: undelivered });
    }
    if (probe !== null) {
      await this.drain(probe);
      try {
        const read = await probe.readRun(this.streamSeqBefore, `${runTag}-`);
        if (attempted === null) {
          attempted = inferAttempted(runTag, read.ids, this.notAcked);
          this.notes.push(`k6's API was not reachable, so the number of events sent (${attempted}) is inferred from the highest id seen; acked events lost at the very end would go unnoticed (run k6 with --address and give the sidecar --k6-api)`);
        }
        const consumer = await probe.consumerInfo().catch(() => null);
        const sinkIds = await this.sinkIds(runTag);
        this.accounting = computeAccounting({
          runTag,
          attempted,
          notAcked: this.notAcked,
          streamIds: read.ids,
          streamDelta: read.lastSeq - this.streamSeqBefore,
          consumed: consumer === null ? null : consumer.ackFloorStreamSeq - this.ackFloorBefore,
          sinkIds,
          inFlightWindow: this.inFlightWindow(endedAt),
          reportsUndelivered: undelivered ?? 0,
        });
        const inFlight = this.accounting.inFlightAtStop ?? 0;
        if (inFlight > 0) {
          this.notes.push(`the load was cut short${this.interruptedAt === null ? '' : ` (interrupted at t+${((this.interruptedAt - (this.timeline.zero ?? 0)) / 1000).toFixed(1)}s)`}: ${inFlight} event(s) in flight at the stop had no outcome k6 could report; they count as unknown (${this.accounting.recovered} of all unknown were found stored), not as lost or unexpected`);
        }
        if (read.foreign > 0) this.notes.push(`${read.foreign} message(s) in the stream during the run were not k6's (another publisher)`);
        this.timeline.record('sidecar', 'accounting', null, { ...this.accounting, examples: undefined });
      } catch (err) {
        this.notes.push(`final read of the stream failed: ${(err as Error).message}`);
        this.timeline.record('sidecar', 'accounting-failed', null, { error: (err as Error).message });
      }
    }
    const recovery = computeRecovery({
      actions: this.chaos.executed,
      failures: [...this.notAcked.values()],
      leaderHistory: this.observer?.leaderHistory ?? [],
      streamSamples: this.observer?.streamSamples ?? [],
      consumerSamples: this.observer?.consumerSamples ?? [],
      rate: this.rate,
      endedAt: Date.now(),
      zero: this.timeline.zero ?? endedAt,
      hasStreamView: this.opts.probe !== null,
    });
    this.recovery = recovery.reports;
    if (this.cluster !== null && this.cluster.enrich !== undefined) this.recovery = this.cluster.enrich(this.recovery, this.cluster.report(this.chaos.executed));
    this.notes.push(...recovery.notes);
    for (const r of this.recovery) this.timeline.record('sidecar', 'recovery', r.target, { ...r });
    const metrics: ChaosMetricValues = {
      chaos_acked_lost: this.accounting?.lost ?? 0,
      chaos_duplicates: this.accounting?.duplicates ?? 0,
      chaos_unknown: this.accounting?.unknown ?? [...this.notAcked.values()].filter((r) => r.outcome === 'unknown').length,
      chaos_unexpected: this.accounting?.unexpected ?? 0,
      // The zeros above stand for "not measured" when the final read failed, and every outcome
      // report lost on the way leaves an event whose fate nobody measured: this gate says so.
      chaos_unmeasured: (probe !== null && this.accounting === null ? 1 : 0) + (undelivered ?? 0),
      chaos_unavailable_seconds: this.recovery.map((r) => r.unavailableSeconds ?? 0),
      chaos_leader_failover_seconds: this.recovery.flatMap((r) => (r.leaderFailoverSeconds === null ? [] : [r.leaderFailoverSeconds])),
      chaos_recovery_seconds: this.recovery.flatMap((r) => (r.recoverySeconds === null ? [] : [r.recoverySeconds])),
    };
    return { metrics, accounting: this.accounting as Accounting, notes: this.notes };
  }

  /**
   * Asks k6's REST API for `iterations` (one publish each) and for the outcome reports that never
   * arrived (UNDELIVERED_METRIC), until two reads agree (samples arrive in batches). A metric k6
   * has no sample of is answered 404: for the undelivered count that is a measured zero (the VUs
   * add samples only when a delivery fails). Null where k6's API could not be asked.
   */
  private async countsFromK6(): Promise<{ iterations: number | null; undelivered: number | null }> {
    if (this.opts.k6ApiUrl === null) return { iterations: null, undelivered: null };
    const read = async (metric: string): Promise<number | null> => {
      const res = await fetch(`${this.opts.k6ApiUrl}/v1/metrics/${metric}`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 404) {
        await res.body?.cancel();
        return 0;
      }
      const body = (await res.json()) as { data?: { attributes?: { sample?: { count?: number } } } };
      const count = body.data?.attributes?.sample?.count;
      return typeof count === 'number' ? count : null;
    };
    let previous: { iterations: number | null; undelivered: number | null } = { iterations: null, undelivered: null };
    for (let i = 0; i < 20; i++) {
      try {
        const now = { iterations: await read('iterations'), undelivered: await read(UNDELIVERED_METRIC) };
        if (now.iterations !== null && now.iterations === previous.iterations && now.undelivered === previous.undelivered) return now;
        previous = now;
      } catch {
        // k6 may be busy finishing; try again
      }
      await sleep(250);
    }
    return previous;
  }

  /** Waits (bounded) until the consumer has nothing pending, so "consumed" and "sink" are final. */
  private async drain(probe: JetStreamProbe): Promise<void> {
    const deadline = Date.now() + (this.opts.drainTimeoutMs ?? 60_000);
    let last: string = 'not asked';
    let floor = -1;
    let floorSince = Date.now();
    while (Date.now() < deadline) {
      try {
        const c = await probe.consumerInfo();
        if (c === null) return;
        last = `pending ${c.numPending}, ack pending ${c.numAckPending}`;
        if (c.numPending === 0 && c.numAckPending === 0) return;
        if (c.ackFloorStreamSeq !== floor) {
          floor = c.ackFloorStreamSeq;
          floorSince = Date.now();
        } else if (Date.now() - floorSince > 10_000) {
          // Nothing acked for 10 s: the sink is gone or stuck; waiting longer changes nothing.
          this.notes.push(`the consumer made no progress for 10 s (${last}); consumed and sink counts are as of then`);
          return;
        }
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(250);
    }
    this.notes.push(`the consumer did not drain within ${(this.opts.drainTimeoutMs ?? 60_000) / 1000}s (${last}); consumed and sink counts may be low`);
  }

  private async sinkIds(runTag: string): Promise<Map<string, number> | null> {
    if (this.opts.sinkUrl === null) return null;
    try {
      const res = await fetch(`${this.opts.sinkUrl}/ids?prefix=${encodeURIComponent(`${runTag}-`)}`, { signal: AbortSignal.timeout(10_000) });
      const ids = new Map<string, number>();
      for (const line of (await res.text()).split('\n')) {
        const [id, n] = line.split('\t');
        if (id) ids.set(id, Number(n ?? 1));
      }
      return ids;
    } catch (err) {
      this.notes.push(`the sink could not be asked for its ids: ${(err as Error).message}`);
      return null;
    }
  }

  report(): ReportResponse {
    return {
      runId: this.opts.runId,
      runDir: this.opts.runDir,
      planName: this.opts.experiment.name,
      timeline: this.timeline.events,
      accounting: this.accounting,
      recovery: this.recovery,
      notes: this.notes,
      ...(this.cluster === null ? {} : { kubernetes: this.cluster.report(this.chaos.executed) }),
    };
  }

  storeSummary(upload: SummaryUpload): void {
    this.summary = upload;
    writeArtifacts({ runDir: this.opts.runDir, experiment: this.opts.experiment, report: this.report(), summary: upload, k6ExitCode: null });
    const waiters = this.summaryWaiters;
    this.summaryWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when k6's handleSummary() delivered its summary (standalone mode waits on this). */
  waitForSummary(): Promise<void> {
    if (this.summary !== null) return Promise.resolve();
    return new Promise((resolve) => this.summaryWaiters.push(resolve));
  }

  /** Stops the schedule and observers and restores members; safe to call more than once. */
  async shutdown(reason: string): Promise<string[]> {
    this.chaos.stop(reason);
    await this.chaos.settle();
    const restored = await this.chaos.restore(reason);
    await this.observer?.stop();
    await this.reachability?.stop();
    await this.cluster?.stop();
    await this.opts.probe?.close();
    this.timeline.record('sidecar', 'stopped', null, { reason, restored });
    this.timeline.close();
    return restored;
  }
}

/** The highest event id seen (stored or reported) + 1: a lower bound for the events sent. */
export function inferAttempted(runTag: string, streamIds: Map<string, number>, notAcked: Map<number, OutcomeRecord>): number {
  let max = -1;
  const prefix = `${runTag}-`;
  for (const id of streamIds.keys()) {
    const seq = Number(id.slice(prefix.length));
    if (Number.isInteger(seq) && seq > max) max = seq;
  }
  for (const seq of notAcked.keys()) if (seq > max) max = seq;
  return max + 1;
}
