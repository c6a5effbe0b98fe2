// Data shapes that cross the k6 ↔ sidecar boundary and end up in results/<run-id>/.

/** Pod lifecycle transitions seen by the Kubernetes watches (lib/kube/lifecycle.ts). */
export type PodEventKind =
  | 'pod-created'
  | 'pod-scheduled'
  | 'pod-running'
  | 'pod-ready'
  | 'pod-not-ready'
  | 'pod-terminating'
  | 'pod-deleted'
  | 'container-waiting'
  | 'container-running'
  | 'container-terminated'
  | 'container-restarted';

/** Node transitions seen by the Kubernetes watches. */
export type NodeEventKind =
  | 'node-added'
  | 'node-ready'
  | 'node-not-ready'
  | 'node-cordoned'
  | 'node-uncordoned'
  | 'node-tainted'
  | 'node-untainted'
  | 'node-deleted';

/**
 * Every kind of timeline entry, by its source: what the plan did, what followed (members, the
 * stream, the publisher, the cluster), what k6 said, what the sidecar concluded. A typo in a
 * recorder or a reader of the timeline is a compile error.
 */
export interface TimelineKinds {
  plan:
    | 'scheduled'
    | 'executed'
    | 'failed'
    | 'cancelled'
    | 'restarting'
    | 'restarted'
    | 'restored'
    | 'restore-failed'
    | 'wiped'
    | 'wait-done'
    | 'wait-timeout'
    | 'command-finished'
    | 'already-gone'
    | 'already-cordoned'
    | 'pods-gone'
    | 'pods-not-gone'
    | 'node-deleted'
    | 'uncordoned'
    | 'drained'
    | 'drain-skipped'
    | 'drain-timeout'
    | 'evicted'
    | 'eviction-blocked'
    | 'scaled-back'
    | 'rollout-complete'
    | 'exec-kill'
    | 'container-back'
    /** a local deletePod: the member's pod is gone (how: preStop, stop signal, SIGKILL); grace-expired: SIGKILL was needed */
    | 'terminated'
    | 'grace-expired';
  /** backend-address: a restarted member came back on a new address (as a new pod gets a new IP) */
  member: 'member-started' | 'member-stopped' | 'member-exited' | 'backend-address';
  /** a load balancer's view of its servers (HAProxy's stats): each state change */
  balancer: 'haproxy-up' | 'haproxy-down' | 'haproxy-maint' | 'haproxy-nolb' | 'haproxy-other';
  stream:
    | 'sample'
    | 'stream-available'
    | 'stream-unavailable'
    | 'leader'
    | 'leader-elected'
    | 'leader-lost'
    | 'replica-current'
    | 'replica-outdated';
  consumer: 'sample';
  /**
   * A fault-tolerance group's members as their /streaming/serverz reports them: ft-active (this
   * member reports FT_ACTIVE), ft-standby, ft-unreachable (no answer), ft-no-active (no member
   * reports FT_ACTIVE: the group is failing over)
   */
  ft: 'ft-active' | 'ft-standby' | 'ft-unreachable' | 'ft-no-active' | 'ft-other';
  publisher: 'reachable' | 'unreachable';
  k6: 'load-started' | 'errors-began' | 'load-finished';
  sidecar:
    | 'ready'
    | 'interrupted'
    | 'accounting'
    | 'accounting-failed'
    | 'recovery'
    | 'reports-undelivered'
    | 'control-api'
    | 'stopped'
    | RunnerEventKind;
  kubernetes: PodEventKind | NodeEventKind | 'event' | 'watching' | 'watch-skipped' | 'watch-relist' | 'watch-error';
}

/** Several k6 runners (lib/sidecar/runners.ts): registered in setup(), missing, finished, lost, merged. */
export type RunnerEventKind =
  'runner-registered' | 'runner-missing' | 'runner-finished' | 'runner-lost' | 'runners-merged';

export type TimelineSource = keyof TimelineKinds;
export type TimelineKind<S extends TimelineSource = TimelineSource> = TimelineKinds[S];

/** One line of timeline.jsonl: a source and one of its kinds. */
export type TimelineEvent = {
  [S in TimelineSource]: {
    /** ISO-8601 wall-clock time. */
    ts: string;
    /** Milliseconds since load start (the schedule's zero); null before load starts. */
    offset_ms: number | null;
    source: S;
    kind: TimelineKinds[S];
    target: string | null;
    detail: Record<string, unknown>;
  };
}[TimelineSource];

/** Jepsen-style accounting by event id; the seed's "sent / stream / consumed / sink" table falls out of it. */
export interface Accounting {
  /** attempted + dropped_iterations (filled in from k6's summary; null until then). */
  scheduled: number | null;
  dropped: number | null;
  /**
   * Events the arrival rate owed (RATE × DURATION) that k6 neither sent nor counted as dropped:
   * a k6 short of CPU falls behind its schedule, and what is still unstarted when the duration
   * ends is never sent and never counted. The load was then lighter than asked. Null when the
   * scenario does not say what it owed (closed-loop scenarios) or before k6's summary.
   */
  notStarted: number | null;
  attempted: number;
  acked: number;
  /** Definite refusals (4xx): not stored. */
  failed: number;
  /** Timeouts and 5xx: outcome unknown until read back. */
  unknown: number;
  /** Stream last_seq after the run minus before it. */
  streamDelta: number;
  /** Distinct events of this run found by a final full read of the stream. */
  inStream: number;
  /** Stream sequence numbers the consumer acked during the run (ack-floor delta); null without a consumer. */
  consumed: number | null;
  /** Distinct events of this run the sink received; null when the sink cannot be asked. */
  sinkReceived: number | null;
  /** Deliveries to the sink beyond the first per event. */
  sinkDuplicates: number | null;
  /** Acked but never read in the final full read: data loss. */
  lost: number;
  /** Unknown outcome, but found in the stream. */
  recovered: number;
  /**
   * The load was cut short (Ctrl-C, k6 stopped early): events in flight at the stop whose outcome
   * k6 could not report. Counted in `unknown` (and in `recovered` when stored), never as lost or
   * unexpected. Null when the load ran its full duration.
   */
  inFlightAtStop?: number | null;
  /**
   * Outcome reports k6 sent that never reached the sidecar; null when k6's API could not be asked.
   * Above zero the run is unmeasured (chaos_unmeasured), and as many events as were lost to the
   * eye are counted as `unknownReportLost` instead of lost.
   */
  reportsUndelivered?: number | null;
  /** Events with no report and not in the stream that a lost report may explain: in `unknown`, not in `lost`. */
  unknownReportLost?: number;
  /** Objects (s3-objects): readable in the final read-back with a checksum other than the one written. */
  corrupt?: number;
  /**
   * Objects (s3-objects): per second of load (by send time), operations not acked (failed +
   * unknown) — a second with none was fully available. From the outcome reports.
   */
  notAckedPerSecond?: Array<{ offsetS: number; notAcked: number }>;
  /**
   * Several k6 runners (`--runners N`, k6-operator's parallelism): each runner's events sent (null:
   * the runner died or never said; its count is then inferred from the highest id seen) and, per
   * runner, the events with no report and not in the stream of a runner that did not finish —
   * counted as unknown (runner lost), never as lost: its queued reports died with it.
   */
  runners?: Array<{ index: number; attempted: number; finished: boolean; unknownRunnerLost: number }>;
  /** Stream copies beyond the first per event. */
  duplicates: number;
  /** Events of this run in the stream that k6 never attempted. */
  unexpected: number;
  /** In the stream but never reached the sink. */
  missingAtSink: number | null;
  /** Up to 20 example ids per problem class, for the report. */
  examples: {
    lost: string[];
    duplicates: string[];
    unexpected: string[];
    missingAtSink: string[];
    /** With lost reports: ids with no report and not in the stream (lost, or failed with the report lost). */
    noReport?: string[];
    /** Objects read back with the wrong checksum: key, expected and found sha256. */
    corrupt?: Array<{ key: string; expected: string; found: string }>;
  };
}

/** Recovery measured around one chaos action. Times in seconds; null when not observed. */
/**
 * A member started again during the run (a scale up, a start, a restartAfter): when it answered
 * first and when the split of its attribute (pod, db) was back within 60/40, from k6's per-phase
 * counters sampled every pollMs (lib/measure/rebalance.ts).
 */
export interface RebalanceReport {
  /** the plan action that brought it back (its id is the phase) */
  actionId: string | null;
  member: string;
  /** the attribute whose value the member is (pod, db) */
  attribute: string;
  startedOffsetMs: number;
  /** from its start to the first sample that counts a response from it (resolution: pollMs); null: none */
  firstResponseSeconds: number | null;
  /** from its start to the end of the first 1 s window whose split among the running members is within 60/40; null: none */
  balancedSeconds: number | null;
  /** why a figure is missing, or what bounds it */
  note: string | null;
}

/** The responses per second by attribute value, as the sidecar sampled them from k6. */
export interface AttributionSeries {
  metric: string;
  pollMs: number;
  /** one entry per second since load start: attribute → value → responses in that second */
  seconds: Array<{ offsetS: number; counts: Record<string, Record<string, number>> }>;
}

export interface RecoveryReport {
  actionId: string;
  kind: string;
  target: string | null;
  scheduledOffsetMs: number;
  executedOffsetMs: number | null;
  leaderBefore: string | null;
  leaderAfter: string | null;
  /** Action → first failed publish. */
  timeToFirstErrorSeconds: number | null;
  /** First failure → first sustained success (no failure for 1 s afterwards). */
  unavailableSeconds: number | null;
  /** That burst by send time: its first and last failed request, ms from load start (absent without failures). */
  unavailableFromOffsetMs?: number;
  unavailableToOffsetMs?: number;
  /** Action → a different leader seen (or the same one back). */
  leaderFailoverSeconds: number | null;
  /** Action → every replica current with lag 0 and the consumer drained. */
  recoverySeconds: number | null;
  /**
   * Action → the first publish acked after the new leader (a standby that reports active) took
   * over: the failover as a client sees it. Absent where the target's publisher does not record acks.
   */
  firstAckSeconds?: number | null;
  /** Kubernetes targets: action → the last replacement pod scheduled (the slowest pod of the action). */
  rescheduleSeconds?: number | null;
  /** Kubernetes targets: action → the last replacement pod Ready. */
  readySeconds?: number | null;
  /** Kubernetes targets: the longest wait of a replacement for its volume (FailedAttachVolume / Multi-Attach / FailedMount). */
  volumeAttachSeconds?: number | null;
}

/** min / median / p95 / max over a series (nearest-rank percentiles), in seconds. */
export interface SeriesStats {
  count: number;
  min: number;
  median: number;
  p95: number;
  max: number;
}

/** One pod hit by a chaos action (deleted, evicted, or gone with its node) and its replacement. */
export interface PodRecovery {
  actionId: string;
  namespace: string;
  pod: string;
  node: string | null;
  /** the replacement: the same name (StatefulSet) or a new pod of the same owner (ReplicaSet) */
  replacement: string | null;
  replacementNode: string | null;
  /** action → the old pod object gone */
  goneSeconds: number | null;
  /** action → the replacement bound to a node */
  rescheduleSeconds: number | null;
  /** action → the replacement Ready */
  readySeconds: number | null;
  /** replacement scheduled → its volume attached (or its containers running), when volume events were seen */
  volumeAttachSeconds: number | null;
  /** FailedScheduling events of the replacement */
  failedScheduling: number;
  /** reasons of the volume events seen for the replacement, in order */
  volumeEvents: string[];
}

/** Restarts of one container: durations (container finished → running again) and the kubelet's back-off. */
export interface RestartSeries {
  namespace: string;
  pod: string;
  container: string;
  restarts: number;
  durationsSeconds: number[];
  stats: SeriesStats | null;
  /** back-off announced in CrashLoopBackOff messages ("back-off 40s restarting failed container") */
  backoffSeconds: number[];
  /** each duration divided by the previous one: ~2 while the back-off doubles, ~1 at its 5-minute cap */
  growth: number[];
  exitCodes: number[];
}

/** What the cluster did during a run on a kubernetes target (summary.json `kubernetes`). */
export interface KubernetesReport {
  context: string;
  namespaces: string[];
  pods: PodRecovery[];
  rescheduleSeconds: SeriesStats | null;
  readySeconds: SeriesStats | null;
  restarts: RestartSeries[];
  /** event reasons seen during the run and how often (FailedAttachVolume, BackOff, FailedScheduling, …) */
  eventReasons: Record<string, number>;
  notes: string[];
}

/** Values teardown() records as k6 metrics; arrays become one sample per action. */
export interface ChaosMetricValues {
  chaos_acked_lost: number;
  chaos_duplicates: number;
  chaos_unknown: number;
  chaos_unexpected: number;
  /** objects read back with the wrong checksum (s3-objects; 0 elsewhere) */
  chaos_corrupt: number;
  /** 1 when the sidecar could not take the measurement the gates above judge (the final stream read failed) */
  chaos_unmeasured: number;
  chaos_unavailable_seconds: number[];
  chaos_leader_failover_seconds: number[];
  /** action → the first acked publish after the new leader (absent: the target has no ack record) */
  chaos_failover_seconds?: number[];
  chaos_recovery_seconds: number[];
}
