// Data shapes that cross the k6 ↔ sidecar boundary and end up in results/<run-id>/.

export type TimelineSource = 'plan' | 'member' | 'stream' | 'consumer' | 'publisher' | 'k6' | 'sidecar' | 'kubernetes';

/** One line of timeline.jsonl. */
export interface TimelineEvent {
  /** ISO-8601 wall-clock time. */
  ts: string;
  /** Milliseconds since load start (the schedule's zero); null before load starts. */
  offset_ms: number | null;
  source: TimelineSource;
  kind: string;
  target: string | null;
  detail: Record<string, unknown>;
}

/** Jepsen-style accounting by event id; the seed's "sent / stream / consumed / sink" table falls out of it. */
export interface Accounting {
  /** attempted + dropped_iterations (filled in from k6's summary; null until then). */
  scheduled: number | null;
  dropped: number | null;
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
  /** Stream copies beyond the first per event. */
  duplicates: number;
  /** Events of this run in the stream that k6 never attempted. */
  unexpected: number;
  /** In the stream but never reached the sink. */
  missingAtSink: number | null;
  /** Up to 20 example ids per problem class, for the report. */
  examples: { lost: string[]; duplicates: string[]; unexpected: string[]; missingAtSink: string[] };
}

/** Recovery measured around one chaos action. Times in seconds; null when not observed. */
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
  /** Action → a different leader seen (or the same one back). */
  leaderFailoverSeconds: number | null;
  /** Action → every replica current with lag 0 and the consumer drained. */
  recoverySeconds: number | null;
}

/** Values teardown() records as k6 metrics; arrays become one sample per action. */
export interface ChaosMetricValues {
  chaos_acked_lost: number;
  chaos_duplicates: number;
  chaos_unknown: number;
  chaos_unexpected: number;
  chaos_unavailable_seconds: number[];
  chaos_leader_failover_seconds: number[];
  chaos_recovery_seconds: number[];
}
