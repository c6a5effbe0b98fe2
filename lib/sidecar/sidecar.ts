// The sidecar: owns the timeline, the chaos executor and the control calls of one run (load
// started, outcomes, finish, report, summary). What depends on the system under test — its
// members, roles, observers and accounting — comes from the target (lib/chaos/target.ts,
// implemented in lib/targets/*). See control-server.ts for the HTTP side and runner.ts for how
// `k6-ha run` wires it to a target and to k6.
import {
  type FinishRequest,
  type FinishResponse,
  type OutcomeRecord,
  type ReportResponse,
  type StartRequest,
  type StartResponse,
  type SummaryUpload,
  UNDELIVERED_METRIC,
} from '../shared/control-api.ts';
import { ControlRequestError } from '../shared/errors.ts';
import type {
  Accounting,
  AttributionSeries,
  ChaosMetricValues,
  RebalanceReport,
  RecoveryReport,
} from '../shared/types.ts';
import { SCENARIOS, type ScenarioModule } from '../shared/scenarios.ts';
import { computeRebalance, perSecond } from '../measure/rebalance.ts';
import { AttributionSampler } from './attribution-sampler.ts';
import { writeArtifacts } from './artifacts.ts';
import type { RunReportModel } from '../report/model.ts';
import type { PerSecondData } from '../report/per-second.ts';
import { ChaosExecutor, type ChaosDriver, type ChaosWorld, LocalMemberDriver } from '../chaos/chaos.ts';
import type { Experiment } from '../experiment/experiment.ts';
import { readK6Metric } from './k6-api.ts';
import { observeMembers } from './member-observer.ts';
import { computeRecovery } from '../measure/recovery.ts';
import type { BoundTarget, ClusterUnderTest, TargetUnderTest } from '../chaos/target.ts';
import { Timeline } from '../chaos/timeline.ts';
import { join } from 'node:path';
import { RunnerRoster } from './runners.ts';
import { mergeRunnerSummaries, type TrendSamples } from '../shared/summary-merge.ts';
import { normalizeSummary } from '../shared/summary.ts';

export interface SidecarOptions {
  runId: string;
  runDir: string;
  experiment: Experiment;
  /** the started target: its members, roles, observers and accountant (lib/targets/*) */
  target: TargetUnderTest;
  /** k6's REST API (k6 run --address), asked for the number of events sent */
  k6ApiUrl: string | null;
  log?: (line: string) => void;
  /** carries out the plan; defaults to the cluster's driver, else local stack members */
  driver?: ChaosDriver;
  /** k6 runners of this run (k6-operator's parallelism, `--runners N`); default 1 */
  runners?: number;
  /** with several runners: each one's k6 REST API, by index (1-based) — k6ApiUrl is then unused */
  runnerApis?: Array<string | null>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Sidecar {
  readonly timeline: Timeline;
  readonly chaos: ChaosExecutor;
  private readonly bound: BoundTarget;
  private readonly cluster: ClusterUnderTest | null;
  private readonly notAcked = new Map<number, OutcomeRecord>();
  private runTag: string | null = null;
  private rate: number | null = null;
  private loadDurationMs: number | null = null;
  private requestTimeoutMs: number | null = null;
  /** when the runner passed on a Ctrl-C or SIGTERM to k6 */
  private interruptedAt: number | null = null;
  private lastFailureAt = 0;
  accounting: Accounting | null = null;
  recovery: RecoveryReport[] = [];
  rebalance: RebalanceReport[] = [];
  attribution: AttributionSeries | null = null;
  /** per-second attribution from k6's counters, for scenarios that attribute responses */
  private readonly sampler: AttributionSampler | null;
  notes: string[] = [];
  summary: SummaryUpload | null = null;
  private finished: Promise<FinishResponse> | null = null;
  private accountingBegan = false;
  private started: StartResponse | null = null;
  private summaryWaiters: Array<() => void> = [];
  /** several runners: who registered, finished or died, and the two barriers (null with one runner) */
  readonly roster: RunnerRoster | null;
  /** several runners: each one's summary upload, merged at the end */
  private readonly runnerSummaries = new Map<number, SummaryUpload>();
  private startBarrier: Promise<StartResponse> | null = null;
  /** several runners: raw trend samples from all of them (k6's --out json), for exact merged percentiles */
  trendSamples: TrendSamples | null = null;
  /** set by writeArtifacts(): what the end-of-run write used, for a summary that arrives after it */
  private finalArtifacts: { k6ExitCode: number | null; perSecond: PerSecondData | null } | null = null;

  constructor(private readonly opts: SidecarOptions) {
    this.timeline = new Timeline(join(opts.runDir, 'timeline.jsonl'));
    this.bound = opts.target.bind(this.timeline);
    const world: ChaosWorld = { members: () => opts.target.members(), ...this.bound.roles };
    this.cluster = this.bound.cluster?.(world) ?? null;
    this.chaos = new ChaosExecutor(
      opts.experiment.plan,
      opts.driver ?? this.cluster?.driver ?? new LocalMemberDriver(world, opts.experiment.blastRadius),
      this.timeline,
    );
    const metric = (SCENARIOS[opts.experiment.scenario] as ScenarioModule).attributionMetric;
    this.sampler =
      metric === undefined || opts.k6ApiUrl === null ? null : new AttributionSampler(opts.k6ApiUrl, metric);
    const runners = opts.runners ?? 1;
    this.roster =
      runners === 1
        ? null
        : new RunnerRoster(runners, opts.runnerApis ?? Array.from({ length: runners }, () => null), (kind, detail) =>
            this.timeline.record('sidecar', kind, null, detail),
          );
  }

  /** The process that started runner `index` saw it exit (local runs): the finish barrier stops waiting for it. */
  runnerExited(index: number, exitCode: number): void {
    this.roster?.exited(index, exitCode);
  }

  get runId(): string {
    return this.opts.runId;
  }

  /** Starts watching before load starts, so the timeline shows the initial leader. */
  async prepare(): Promise<void> {
    observeMembers(this.opts.target.members(), this.timeline);
    await this.cluster?.start();
    this.timeline.record('sidecar', 'ready', null, {
      run_id: this.opts.runId,
      experiment: this.opts.experiment.name,
      target: this.opts.target.kind,
      actions: this.opts.experiment.plan.length,
    });
    await this.bound.prepare();
  }

  async start(req: StartRequest): Promise<StartResponse> {
    const scenario = this.opts.experiment.scenario;
    if (req.scenario !== scenario) {
      throw new ControlRequestError(
        `scenario: ${JSON.stringify(req.scenario)} is not allowed — expected ${JSON.stringify(scenario)}, the scenario of experiment ${this.opts.experiment.name}`,
        { status: 400 },
      );
    }
    if (this.roster !== null) return this.startRunner(req, this.roster);
    if (this.started !== null) {
      // A retried setup() (its first answer lost on the way) gets the same answer; another run does not.
      if (req.runTag === this.runTag) return this.started;
      throw new ControlRequestError(
        `load already started for this run (run tag ${this.runTag}); one sidecar serves one k6 run`,
        { status: 409 },
      );
    }
    return this.beginLoad(req);
  }

  /** Several runners: register this one, wait (bounded) for the others, start the load once for all. */
  private async startRunner(req: StartRequest, roster: RunnerRoster): Promise<StartResponse> {
    const state = roster.register(req.runner, req.runTag);
    // The first runner's tag is everyone's: event ids share one prefix, numbered per runner.
    this.startBarrier ??= roster.waitForAll().then(() => {
      roster.startedAt = Date.now();
      return this.beginLoad(req);
    });
    const started = await this.startBarrier;
    if (roster.startedAt !== null && state.registeredAt > roster.startedAt)
      this.notes.push(
        `runner ${state.slot.index} registered ${((state.registeredAt - roster.startedAt) / 1000).toFixed(1)} s after the load started for the others`,
      );
    return started;
  }

  private async beginLoad(req: StartRequest): Promise<StartResponse> {
    this.runTag = req.runTag;
    this.rate = req.rate ?? null;
    this.loadDurationMs = req.durationMs ?? null;
    this.requestTimeoutMs = req.requestTimeoutMs ?? null;
    const baseline = (await this.bound.accountant?.atLoadStart(this.notes)) ?? {};
    const zero = Date.now();
    this.timeline.zero = zero;
    this.timeline.record('k6', 'load-started', null, {
      run_tag: req.runTag,
      scenario: req.scenario,
      rate: req.rate ?? null,
      ...baseline,
    });
    this.chaos.start(zero);
    this.sampler?.start();
    this.opts.log?.(
      `load started (run tag ${req.runTag}); ${this.opts.experiment.plan.length} chaos action(s) scheduled`,
    );
    this.started = {
      runId: this.opts.runId,
      planName: this.opts.experiment.name,
      actions: this.opts.experiment.plan.length,
      runTag: req.runTag,
    };
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
    const cutShort =
      this.interruptedAt !== null || (this.loadDurationMs !== null && endedAt - zero < this.loadDurationMs - 1000);
    return cutShort ? Math.ceil(this.rate * (this.requestTimeoutMs / 1000 + 1)) : 0;
  }

  recordOutcomes(records: OutcomeRecord[]): void {
    if (this.started === null)
      throw new ControlRequestError('no load has started: outcomes come after /v1/start', { status: 409 });
    // With several runners `finished` is set at the first runner's teardown while the others'
    // VUs may still report: only once the accounting began is it too late.
    if (this.accountingBegan)
      throw new ControlRequestError('the load is finished and accounted for: outcomes come before /v1/finish', {
        status: 409,
      });
    for (const r of records) {
      if (r.t - this.lastFailureAt > 1000) {
        this.timeline.record('k6', 'errors-began', null, { status: r.status, outcome: r.outcome, seq: r.seq }, r.t);
      }
      this.lastFailureAt = Math.max(this.lastFailureAt, r.t);
      this.notAcked.set(r.seq, r);
    }
  }

  /** Every non-acked outcome k6 reported, one per id (report.html's failed/unknown per second, by status). */
  outcomeRecords(): OutcomeRecord[] {
    return [...this.notAcked.values()];
  }

  /** Idempotent: a retried teardown gets the same answer. */
  finish(req: FinishRequest): Promise<FinishResponse> {
    if (this.runTag !== null && req.runTag !== this.runTag) {
      return Promise.reject(
        new ControlRequestError(
          `runTag: ${JSON.stringify(req.runTag)} is not allowed — expected ${JSON.stringify(this.runTag)}, the run that started`,
          { status: 409 },
        ),
      );
    }
    if (this.roster !== null) return this.finishRunner(req, this.roster);
    this.finished ??= this.doFinish(req);
    return this.finished;
  }

  /** Several runners: this one finished; answer when all did (or are known dead), all with the same merged results. */
  private async finishRunner(req: FinishRequest, roster: RunnerRoster): Promise<FinishResponse> {
    if (req.runner === undefined)
      throw new ControlRequestError(`runner: missing — this run has ${roster.count} runners`, { status: 400 });
    if (this.finished === null) {
      const api = roster.apiOf(req.runner);
      const state = roster.states.get(req.runner);
      const counts = api === null || state?.finishedAt != null ? null : await this.countsFromK6(api);
      roster.finished(req.runner, counts ?? state?.counts ?? null);
    }
    this.finished ??= roster.waitForFinish().then(() => this.doFinish(req));
    return this.finished;
  }

  private async doFinish(req: FinishRequest): Promise<FinishResponse> {
    this.accountingBegan = true;
    const endedAt = Date.now();
    this.timeline.record('k6', 'load-finished', null, { not_acked_reported: this.notAcked.size });
    await this.sampler?.stop();
    this.chaos.stop('load finished');
    await this.chaos.settle();
    await this.chaos.restore('load finished: bringing back members the plan took down');
    const runTag = this.runTag ?? req.runTag;
    const accountant = this.bound.accountant;
    const roster = this.roster;
    const fromK6 = roster === null ? await this.countsFromK6(this.opts.k6ApiUrl) : this.mergedCounts(roster);
    const undelivered = fromK6.undelivered;
    const lostRunners = roster?.lost() ?? [];
    for (const l of lostRunners)
      this.notes.push(
        `${l.name} ${l.why}: its events sent are inferred from the highest id seen, those with no report and not in the stream count as unknown (runner lost), and chaos_unmeasured fails the merged verdict`,
      );
    if (undelivered === null) {
      this.notes.push(
        `k6's API was not reachable, so outcome reports lost on the way to the sidecar cannot be counted here; see ${UNDELIVERED_METRIC} in k6's summary`,
      );
    } else if (undelivered > 0) {
      this.notes.push(
        `${undelivered} outcome report(s) never reached the sidecar (${UNDELIVERED_METRIC}): events with no report are counted as unknown (report lost), not as acked, and chaos_unmeasured fails the run`,
      );
      this.timeline.record('sidecar', 'reports-undelivered', null, { count: undelivered });
    }
    if (accountant !== null) {
      try {
        this.accounting = await accountant.account({
          runTag,
          attempted: req.attempted ?? fromK6.iterations,
          notAcked: this.notAcked,
          inFlightWindow: this.inFlightWindow(endedAt),
          reportsUndelivered: undelivered ?? 0,
          notes: this.notes,
          ...(roster === null
            ? {}
            : {
                runners: roster.indexes().map((i) => {
                  const state = roster.states.get(i);
                  const finished = state !== undefined && state.finishedAt !== null;
                  return { attempted: finished ? (state.counts?.iterations ?? null) : null, finished };
                }),
              }),
        });
        const inFlight = this.accounting.inFlightAtStop ?? 0;
        if (inFlight > 0) {
          this.notes.push(
            `the load was cut short${this.interruptedAt === null ? '' : ` (interrupted at t+${((this.interruptedAt - (this.timeline.zero ?? 0)) / 1000).toFixed(1)}s)`}: ${inFlight} event(s) in flight at the stop had no outcome k6 could report; they count as unknown (${this.accounting.recovered} of all unknown were found stored), not as lost or unexpected`,
          );
        }
        this.timeline.record('sidecar', 'accounting', null, { ...this.accounting, examples: undefined });
      } catch (err) {
        this.notes.push(`final read of the stream failed: ${(err as Error).message}`);
        this.timeline.record('sidecar', 'accounting-failed', null, { error: (err as Error).message });
      }
    }
    const recovery = computeRecovery({
      actions: this.chaos.executed,
      failures: [...this.notAcked.values()],
      ...this.bound.recoverySignals(),
      rate: this.rate,
      endedAt: Date.now(),
      zero: this.timeline.zero ?? endedAt,
    });
    this.recovery = recovery.reports;
    if (this.bound.enrichRecovery !== undefined) {
      try {
        this.recovery = await this.bound.enrichRecovery(this.recovery, this.chaos.executed);
      } catch (err) {
        this.notes.push(`the target's recovery figures could not be added: ${(err as Error).message}`);
      }
    }
    if (this.cluster !== null && this.cluster.enrich !== undefined)
      this.recovery = this.cluster.enrich(this.recovery, this.cluster.report(this.chaos.executed));
    this.notes.push(...recovery.notes);
    for (const r of this.recovery) this.timeline.record('sidecar', 'recovery', r.target, { ...r });
    if (this.sampler !== null) {
      const zero = this.timeline.zero ?? endedAt;
      const { metric, pollMs, samples } = this.sampler;
      this.rebalance = computeRebalance({
        metric,
        samples,
        timeline: this.timeline.events,
        actions: this.chaos.executed,
        zero,
        endedAt,
        pollMs,
      });
      this.attribution = perSecond(metric, samples, zero, pollMs);
      if (samples.length === 0)
        this.notes.push(`k6's API gave no ${metric} counts: no per-second attribution and no rebalance figures`);
    }
    const metrics: ChaosMetricValues = {
      chaos_acked_lost: this.accounting?.lost ?? 0,
      chaos_duplicates: this.accounting?.duplicates ?? 0,
      chaos_unknown:
        this.accounting?.unknown ?? [...this.notAcked.values()].filter((r) => r.outcome === 'unknown').length,
      chaos_unexpected: this.accounting?.unexpected ?? 0,
      chaos_corrupt: this.accounting?.corrupt ?? 0,
      // The zeros above stand for "not measured" when the final read failed, and every outcome
      // report lost on the way leaves an event whose fate nobody measured: this gate says so.
      chaos_unmeasured:
        (accountant !== null && this.accounting === null ? 1 : 0) + (undelivered ?? 0) + lostRunners.length,
      chaos_unavailable_seconds: this.recovery.map((r) => r.unavailableSeconds ?? 0),
      chaos_leader_failover_seconds: this.recovery.flatMap((r) =>
        r.leaderFailoverSeconds === null ? [] : [r.leaderFailoverSeconds],
      ),
      chaos_recovery_seconds: this.recovery.flatMap((r) => (r.recoverySeconds === null ? [] : [r.recoverySeconds])),
      chaos_failover_seconds: this.recovery.flatMap((r) =>
        r.firstAckSeconds === undefined || r.firstAckSeconds === null ? [] : [r.firstAckSeconds],
      ),
    };
    return { metrics, accounting: this.accounting as Accounting, notes: this.notes };
  }

  /**
   * Asks k6's REST API for `iterations` (one publish each) and for the outcome reports that never
   * arrived (UNDELIVERED_METRIC), until two reads agree (samples arrive in batches). A metric k6
   * has no sample of is answered 404: for the undelivered count that is a measured zero (the VUs
   * add samples only when a delivery fails). Null where k6's API could not be asked.
   */
  private async countsFromK6(api: string | null): Promise<{ iterations: number | null; undelivered: number | null }> {
    if (api === null) return { iterations: null, undelivered: null };
    let previous: { iterations: number | null; undelivered: number | null } = { iterations: null, undelivered: null };
    for (let i = 0; i < 20; i++) {
      const now = {
        iterations: await readK6Metric(api, 'iterations'),
        undelivered: await readK6Metric(api, UNDELIVERED_METRIC, { missingIs: 0 }),
      };
      if (now.iterations !== null && now.iterations === previous.iterations && now.undelivered === previous.undelivered)
        return now;
      previous = now;
      await sleep(250);
    }
    return previous;
  }

  /** Several runners: events sent and reports undelivered, summed over the runners that finished. */
  private mergedCounts(roster: RunnerRoster): { iterations: number | null; undelivered: number | null } {
    let iterations: number | null = 0;
    let undelivered: number | null = 0;
    for (const state of roster.states.values()) {
      if (state.finishedAt === null) continue;
      iterations =
        iterations === null || state.counts?.iterations == null ? null : iterations + state.counts.iterations;
      undelivered =
        undelivered === null || state.counts?.undelivered == null ? null : undelivered + state.counts.undelivered;
    }
    return { iterations, undelivered };
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
      ...(this.sampler === null ? {} : { rebalance: this.rebalance, attribution: this.attribution }),
    };
  }

  /**
   * Writes the run's artifacts (summary.json, report.md, report.html, junit.xml): the sidecar's
   * owner calls this once, at the end of the run, when k6 has exited (its exit code and the
   * per-second data are known only then) — `k6-ha run` after k6 exits, `k6-ha sidecar` when it stops.
   */
  writeArtifacts(k6ExitCode: number | null, perSecond: PerSecondData | null = null): RunReportModel {
    this.finalArtifacts = { k6ExitCode, perSecond };
    const report = this.report();
    if (this.roster !== null) this.summary = this.mergedSummary(this.roster, report);
    return writeArtifacts({
      runDir: this.opts.runDir,
      experiment: this.opts.experiment,
      report,
      summary: this.summary,
      k6ExitCode,
      perSecond,
    });
  }

  /** Several runners: the trend metrics (with their tag filters) the runners' summaries hold, for readTrendSamples. */
  trendKeys(): string[] {
    const keys = new Set<string>();
    for (const upload of this.runnerSummaries.values()) {
      try {
        for (const [name, m] of Object.entries(normalizeSummary(upload.summary).metrics))
          if (m.type === 'trend' && !name.startsWith('chaos_')) keys.add(name);
      } catch {
        // an unreadable summary is named by the merge
      }
    }
    return [...keys];
  }

  /** Several runners: one summary of all of them (lib/shared/summary-merge.ts), or null before any arrived. */
  private mergedSummary(roster: RunnerRoster, report: ReportResponse): SummaryUpload | null {
    if (this.runnerSummaries.size === 0) return null;
    const scenario = SCENARIOS[this.opts.experiment.scenario] as ScenarioModule;
    return mergeRunnerSummaries({
      uploads: [...this.runnerSummaries.entries()]
        .sort(([a], [b]) => a - b)
        .map(([index, upload]) => ({ index, upload })),
      runners: roster.count,
      lost: roster.lost(),
      accounting: report.accounting,
      trendSamples: this.trendSamples,
      arrival:
        this.rate === null || this.loadDurationMs === null
          ? null
          : { rate: this.rate, durationMs: this.loadDurationMs },
      reportMetrics: scenario.reportMetrics,
    });
  }

  storeSummary(upload: SummaryUpload): void {
    if (this.roster !== null) {
      if (upload.runner === undefined)
        throw new ControlRequestError(`runner: missing — this run has ${this.roster.count} runners`, { status: 400 });
      this.runnerSummaries.set(upload.runner, upload);
      // The standalone sidecar waits until every runner that finished delivered its summary.
      const expected = this.roster.indexes().filter((i) => this.roster?.states.get(i)?.finishedAt != null);
      if (expected.some((i) => !this.runnerSummaries.has(i))) return;
      this.summary = this.mergedSummary(this.roster, this.report());
    } else this.summary = upload;
    // k6's handleSummary() runs before k6 exits, so the end-of-run write above normally comes after
    // this and includes the summary; writing here too wrote every artifact twice (three times with
    // the standalone sidecar). Only a summary arriving after that final write (the owner already
    // wrote without one) rewrites them, so the summary is never missing from summary.json.
    if (this.finalArtifacts !== null)
      this.writeArtifacts(this.finalArtifacts.k6ExitCode, this.finalArtifacts.perSecond);
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
    await this.bound.stop();
    await this.cluster?.stop();
    this.timeline.record('sidecar', 'stopped', null, { reason, restored });
    this.timeline.close();
    return restored;
  }
}
