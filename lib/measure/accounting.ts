// Jepsen-style accounting by event id: what k6 sent and heard back, against what a final full
// read of the stream and the sink hold. Pure, so every rule is unit-tested on small inputs.
import type { OutcomeRecord } from '../shared/control-api.ts';
import type { Accounting } from '../shared/types.ts';

export interface AccountingInput {
  runTag: string;
  /** events sent: ids runTag-0 … runTag-(attempted-1) */
  attempted: number;
  /** the non-acked outcomes k6 reported, by seq (latest report wins) */
  notAcked: Map<number, OutcomeRecord>;
  /** ce-id → copies found in the final full read of the stream */
  streamIds: Map<string, number>;
  streamDelta: number;
  /** ack-floor delta of the durable consumer; null when there is no consumer to ask */
  consumed: number | null;
  /** ce-id → times received by the sink; null when the sink cannot be asked (e.g. a remote cluster) */
  sinkIds: Map<string, number> | null;
  /**
   * When the load was cut short: how many ids either side of `attempted` may have been in flight
   * at the stop. k6 could not report their outcomes (the VUs' requests were cancelled), and ids
   * are numbered at start while `attempted` counts finished iterations.
   */
  inFlightWindow?: number;
  /**
   * Outcome reports k6 sent that never reached the sidecar (k6's outcome_reports_undelivered).
   * Each stands for an event that was not acked but has no report here: without it that event
   * would read as acked and, missing from the stream, as LOST.
   */
  reportsUndelivered?: number;
  /**
   * Several k6 runners: runner i (1-based) sent ids `k × N + i − 1` for k < its count
   * (lib/shared/runners.ts); `attempted` is then their sum. `finished: false` — the runner died:
   * its events with no report and not in the stream are unknown (runner lost), never lost.
   * Left out: one runner, ids 0 … attempted − 1.
   */
  runners?: Array<{ attempted: number; finished: boolean }>;
}

const EXAMPLES = 20;

export function idFor(runTag: string, seq: number): string {
  return `${runTag}-${seq}`;
}

export function computeAccounting(input: AccountingInput): Accounting {
  const { runTag, attempted, notAcked, streamIds, sinkIds } = input;
  let failed = 0;
  let unknown = 0;
  let lost = 0;
  let recovered = 0;
  const examples: Accounting['examples'] = { lost: [], duplicates: [], unexpected: [], missingAtSink: [] };
  const window = input.inFlightWindow ?? 0;
  const runners = input.runners ?? [{ attempted, finished: true }];
  const stride = runners.length;
  const sentTotal = runners.reduce((sum, span) => sum + span.attempted, 0);
  // The in-flight window is the whole run's; each runner had its share of it in flight.
  const runnerWindow = Math.ceil(window / stride);
  let inFlightAtStop = 0;
  const runnerLost = runners.map(() => 0);
  for (let r = 0; r < stride; r++) {
    const span = runners[r] as { attempted: number; finished: boolean };
    const inFlightFrom = Math.max(0, span.attempted - runnerWindow);
    for (let k = 0; k < span.attempted; k++) {
      const seq = k * stride + r;
      const id = idFor(runTag, seq);
      const report = notAcked.get(seq);
      const inStream = (streamIds.get(id) ?? 0) > 0;
      if (report === undefined && !inStream && !span.finished) {
        // The runner died: its queued reports died with it, so this may be a failure nobody heard of.
        unknown++;
        runnerLost[r] = (runnerLost[r] ?? 0) + 1;
      } else if (report === undefined && !inStream && k >= inFlightFrom) {
        // Cancelled mid-request at the stop: its outcome is unknown, not an acked event lost.
        unknown++;
        inFlightAtStop++;
      } else if (report === undefined) {
        if (!inStream) {
          // Acked, or failed with its report lost on the way: told apart below by the count of lost reports.
          lost++;
          if (examples.lost.length < EXAMPLES) examples.lost.push(id);
        }
      } else if (report.outcome === 'failed') {
        failed++;
      } else {
        unknown++;
        if (inStream) recovered++;
      }
    }
  }
  // Fail closed: each lost report may belong to any of the events counted lost above, so up to that
  // many of them are unknown (report lost); only the rest are provably acked and missing.
  const reportsUndelivered = input.reportsUndelivered ?? 0;
  const unknownReportLost = Math.min(reportsUndelivered, lost);
  lost -= unknownReportLost;
  unknown += unknownReportLost;
  if (unknownReportLost > 0) {
    // Which of these ids had the lost reports cannot be told: all of them are listed as such.
    examples.noReport = examples.lost;
    examples.lost = [];
  }
  let duplicates = 0;
  let unexpected = 0;
  let sentUncounted = 0;
  const prefix = `${runTag}-`;
  for (const [id, copies] of streamIds) {
    if (copies > 1) {
      duplicates += copies - 1;
      if (examples.duplicates.length < EXAMPLES) examples.duplicates.push(id);
    }
    const seq = id.startsWith(prefix) ? Number(id.slice(prefix.length)) : Number.NaN;
    const r = Number.isInteger(seq) && seq >= 0 ? seq % stride : -1;
    const k = Math.floor(seq / stride);
    const sent = runners[r]?.attempted ?? -1;
    if (r >= 0 && k >= sent && k < sent + runnerWindow && sent >= 0) {
      // Started just before the stop and stored, but its iteration never finished, so k6 did not
      // count it: sent, outcome unknown to k6, found in the stream.
      sentUncounted++;
    } else if (r < 0 || k >= sent) {
      unexpected++;
      if (examples.unexpected.length < EXAMPLES) examples.unexpected.push(id);
    }
  }
  let sinkReceived: number | null = null;
  let sinkDuplicates: number | null = null;
  let missingAtSink: number | null = null;
  if (sinkIds !== null) {
    sinkReceived = 0;
    sinkDuplicates = 0;
    for (const [id, n] of sinkIds) {
      if (!id.startsWith(prefix)) continue;
      sinkReceived++;
      sinkDuplicates += Math.max(0, n - 1);
    }
    missingAtSink = 0;
    for (const id of streamIds.keys()) {
      if (!sinkIds.has(id)) {
        missingAtSink++;
        if (examples.missingAtSink.length < EXAMPLES) examples.missingAtSink.push(id);
      }
    }
  }
  return {
    scheduled: null,
    dropped: null,
    notStarted: null,
    attempted: sentTotal + sentUncounted,
    acked: sentTotal - failed - unknown,
    failed,
    unknown: unknown + sentUncounted,
    streamDelta: input.streamDelta,
    inStream: streamIds.size,
    consumed: input.consumed,
    sinkReceived,
    sinkDuplicates,
    lost,
    recovered: recovered + sentUncounted,
    inFlightAtStop: window > 0 ? inFlightAtStop + sentUncounted : null,
    reportsUndelivered: input.reportsUndelivered ?? null,
    unknownReportLost,
    duplicates,
    unexpected,
    missingAtSink,
    examples,
    ...(input.runners === undefined
      ? {}
      : {
          runners: runners.map((span, r) => ({
            index: r + 1,
            attempted: span.attempted,
            finished: span.finished,
            unknownRunnerLost: runnerLost[r] ?? 0,
          })),
        }),
  };
}

/** The highest event id seen (stored or reported) + 1: a lower bound for the events sent. */
export function inferAttempted(
  runTag: string,
  streamIds: Map<string, number>,
  notAcked: Map<number, OutcomeRecord>,
): number {
  let max = -1;
  const prefix = `${runTag}-`;
  for (const id of streamIds.keys()) {
    const seq = Number(id.slice(prefix.length));
    if (Number.isInteger(seq) && seq > max) max = seq;
  }
  for (const seq of notAcked.keys()) if (seq > max) max = seq;
  return max + 1;
}

/**
 * A runner's events sent when it cannot say (it died): its highest iteration seen, stored or
 * reported, + 1 — a lower bound, as inferAttempted is for one runner.
 */
export function inferRunnerAttempted(
  runTag: string,
  streamIds: Map<string, number>,
  notAcked: Map<number, OutcomeRecord>,
  index: number,
  count: number,
): number {
  let max = -1;
  const prefix = `${runTag}-`;
  const consider = (seq: number): void => {
    if (!Number.isInteger(seq) || seq < 0 || seq % count !== index - 1) return;
    max = Math.max(max, Math.floor(seq / count));
  };
  for (const id of streamIds.keys()) if (id.startsWith(prefix)) consider(Number(id.slice(prefix.length)));
  for (const seq of notAcked.keys()) consider(seq);
  return max + 1;
}
