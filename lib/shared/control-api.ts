// The sidecar's control API, shared by the k6 client (lib/k6/sidecar-client.ts) and the server
// (lib/sidecar/control-server.ts). The base URL carries the per-run token as its first path segment:
// http://127.0.0.1:<port>/<token>.
import type {
  Accounting,
  AttributionSeries,
  ChaosMetricValues,
  KubernetesReport,
  RebalanceReport,
  RecoveryReport,
  TimelineEvent,
} from './types.ts';

export const CONTROL_PATHS = {
  start: '/v1/start',
  outcomes: '/v1/outcomes',
  finish: '/v1/finish',
  report: '/v1/report',
  summary: '/v1/summary',
} as const;

/** setup(): load starts now; this is the zero of the chaos schedule. */
export interface StartRequest {
  runTag: string;
  scenario: string;
  /** events per second, when the scenario has a fixed arrival rate */
  rate?: number;
  /** the load's scheduled length: a finish well before it means the run was cut short */
  durationMs?: number;
  /** how long one publish may stay in flight (bounds what a cut-short run leaves unreported) */
  requestTimeoutMs?: number;
  /**
   * Which of the run's k6 runners this is (k6-operator's parallelism, `k6-ha run --runners N`): its
   * execution segment and sequence as k6 has them, and its `instance_id` tag. Left out by one runner.
   */
  runner?: RunnerIdentity;
}
export interface RunnerIdentity {
  segment: string | null;
  sequence: string | null;
  instanceId: string | null;
}
export interface StartResponse {
  runId: string;
  planName: string;
  actions: number;
  /** the run tag every runner uses (the first runner's), so event ids share one prefix */
  runTag?: string;
}

/** A publish that was not acked. Acks are implied: every id from 0 to attempted-1 that is not
 * reported here was acked, which keeps the happy path free of extra requests. That makes a lost
 * report look like an acked event: lib/k6/outcome-reporter.ts retries and counts what never
 * arrives (UNDELIVERED_METRIC), and the accounting counts those as unknown, never as lost. */
export interface OutcomeRecord {
  seq: number;
  outcome: 'failed' | 'unknown';
  status: number;
  /** epoch ms when the request was sent */
  sentAt: number;
  /** epoch ms when the response (or timeout) arrived */
  t: number;
  /** s3-objects: the object a PUT wrote (`k6ha/<runTag>/<seq>`) and its body's sha256 (hex) */
  key?: string;
  sha256?: string;
  /** s3-objects: which operation it was (put, get, list) */
  op?: 'put' | 'get' | 'list';
}

/** The most records one POST /v1/outcomes may carry (a VU sends what it queued in batches). */
export const OUTCOME_BATCH_MAX = 1000;

/**
 * The k6 Counter that holds how many outcome reports have not reached the sidecar (+n when a
 * delivery fails, −n when the same records arrive later): its final value is the number lost.
 * The sidecar reads it from k6's REST API when the load is over.
 */
export const UNDELIVERED_METRIC = 'outcome_reports_undelivered';

/** teardown(): load is over; settle the accounting. */
export interface FinishRequest {
  runTag: string;
  /** Events sent (ids 0..attempted-1) when the caller knows; teardown() cannot (k6 gives it no
   * iteration counts), so the sidecar asks k6's REST API (`k6 run --address`) instead. */
  attempted: number | null;
  /** the runner's index (1-based) when the run has more than one */
  runner?: number;
}
export interface FinishResponse {
  metrics: ChaosMetricValues;
  accounting: Accounting;
  notes: string[];
}

export interface ReportResponse {
  runId: string;
  runDir: string;
  planName: string;
  timeline: TimelineEvent[];
  accounting: Accounting | null;
  recovery: RecoveryReport[];
  notes: string[];
  /** kubernetes targets only: pods rescheduled, restarts, events */
  kubernetes?: KubernetesReport | null;
  /** scenarios that attribute responses (http-get): each returning member's first response and time to 60/40 */
  rebalance?: RebalanceReport[];
  attribution?: AttributionSeries | null;
}

/** handleSummary(): the summary JSON that k6 produced, with our sections merged in. */
export interface SummaryUpload {
  summary: unknown;
  text: string;
  /** the runner's index (1-based) when the run has more than one: the sidecar merges their summaries */
  runner?: number;
}
