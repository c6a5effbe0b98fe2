// Delivers a VU's non-acked outcomes to the sidecar, and counts the ones that never arrive.
//
// The accounting implies an ack for every id that has no report, so a report that is lost turns a
// failed publish into "acked, LOST" — a data loss that never happened. Two defences:
//  - delivery: a report that fails on a reset or EOF (a kept-alive connection the server closed
//    just as k6 reused it) is sent again at once on a new connection; one that still fails stays
//    queued in this VU and goes with the VU's next report or iteration (reports are idempotent by
//    seq, so a copy that did arrive does no harm);
//  - fail closed: `outcome_reports_undelivered` holds, at every moment, how many of this run's
//    reports have not reached the sidecar: +n when a delivery fails, −n when the same records get
//    through later. Its final value reaches the sidecar through k6's REST API (teardown() cannot
//    see VU state) and the summary through k6 itself; above zero, chaos_unmeasured fails the run
//    and the events with no report count as unknown, never as lost.
// The happy path adds no sample: the counter moves only when a delivery fails.
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { CONTROL_PATHS, type OutcomeRecord, OUTCOME_BATCH_MAX, UNDELIVERED_METRIC } from '../shared/control-api.ts';
import { CONTROL_RESPONSE_CALLBACK } from './sidecar-client.ts';

const undelivered = new Counter(UNDELIVERED_METRIC);

/**
 * A report waits this long for the sidecar. A live one answers in a millisecond (p99 1 ms at
 * 1,000 reports/s, BENCHMARKS.md), but on a machine short of CPU k6 itself may take seconds to
 * get a request out and its answer in; a report given up on then is sent again only with the
 * VU's next iteration, and near the end of the load there may be none. A hung sidecar costs a VU
 * this long at most once per RETRY_PAUSE_MS.
 */
const REPORT_TIMEOUT = '5s';
/** After a failed delivery, later reports queue without trying for this long (a dead sidecar must not cost every iteration a timeout). */
const RETRY_PAUSE_MS = 1000;
/** What one VU keeps for a later try; older records beyond it stay counted as undelivered. */
const MAX_QUEUED = 10_000;
/** Immediate tries on a connection error (reset, EOF, refused): the second goes out on a new connection. */
const CONNECTION_TRIES = 3;
/** k6's error_code for a request that hit its timeout: not retried at once (it would block the VU again). */
const K6_REQUEST_TIMEOUT = 1050;

type Delivery = 'delivered' | 'later' | 'refused';

const params = {
  headers: { 'content-type': 'application/json' },
  timeout: REPORT_TIMEOUT,
  tags: { name: `sidecar ${CONTROL_PATHS.outcomes}`, k6ha: 'control' },
  // no http_req_failed sample for a report (sidecar-client.ts)
  responseCallback: CONTROL_RESPONSE_CALLBACK,
};

export class OutcomeReporter {
  /**
   * True while this VU has reports an earlier try left queued. A field, so the scenario's
   * per-iteration check is one property read. (VUs do not open their sidecar connection ahead of
   * need: each would then hold two connections in steady state, and at 2,000/s that is more files
   * than k6 may open; the sidecar's accept backlog and the retries take the burst of an outage.)
   */
  needsWork = false;
  /** Records not yet delivered, oldest first. */
  readonly queue: OutcomeRecord[] = [];
  /** How many of the oldest queued records are already counted in the metric. */
  private counted = 0;
  private pausedUntil = 0;
  private warned = false;
  private readonly url: string;

  constructor(base: string) {
    this.url = `${base}${CONTROL_PATHS.outcomes}`;
  }

  /** Reports one non-acked outcome (with whatever is still queued from earlier tries). */
  report(record: OutcomeRecord): void {
    this.queue.push(record);
    if (Date.now() >= this.pausedUntil) this.flush();
    else this.countQueued();
    this.needsWork = this.queue.length > 0;
  }

  /** Call at the start of an iteration when `needsWork` is set: sends what an earlier try left queued. */
  beforeIteration(): void {
    if (this.queue.length > 0 && Date.now() >= this.pausedUntil) this.flush();
    this.needsWork = this.queue.length > 0;
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, OUTCOME_BATCH_MAX);
      const result = this.deliver(batch);
      if (result === 'later') {
        this.countQueued();
        this.pausedUntil = Date.now() + RETRY_PAUSE_MS;
        this.trim();
        return;
      }
      // Delivered, or refused for good (a 4xx will not change on a retry): off the queue either way,
      // but a refused batch stays counted as undelivered.
      const countedInBatch = Math.min(this.counted, batch.length);
      if (result === 'delivered') {
        if (countedInBatch > 0) undelivered.add(-countedInBatch);
      } else {
        undelivered.add(batch.length - countedInBatch);
      }
      this.counted -= countedInBatch;
      this.queue.splice(0, batch.length);
    }
    this.pausedUntil = 0;
  }

  private deliver(batch: OutcomeRecord[]): Delivery {
    const body = JSON.stringify(batch);
    let status = 0;
    let error = '';
    for (let attempt = 0; attempt < CONNECTION_TRIES; attempt++) {
      const res = http.post(this.url, body, params);
      status = res.status;
      error = res.error;
      if (status >= 200 && status < 300) return 'delivered';
      if (status !== 0 || res.error_code === K6_REQUEST_TIMEOUT) break;
    }
    const refused = status >= 400 && status < 500;
    // A refusal is a defect worth a line (once per VU); a busy or unreachable sidecar is not:
    // thousands of VUs would each say so. What never arrives is in the summary and its notes.
    if (refused && !this.warned) {
      this.warned = true;
      console.warn(
        `k6-ha: the sidecar refused ${batch.length} outcome report(s) (status ${status}${error ? `, ${error}` : ''}); they count as undelivered (${UNDELIVERED_METRIC})`,
      );
    }
    return refused ? 'refused' : 'later';
  }

  /** Counts the records queued since the last count. */
  private countQueued(): void {
    const fresh = this.queue.length - this.counted;
    if (fresh > 0) undelivered.add(fresh);
    this.counted = this.queue.length;
  }

  /** Drops the oldest records beyond MAX_QUEUED: they were counted and stay counted. */
  private trim(): void {
    const excess = this.queue.length - MAX_QUEUED;
    if (excess <= 0) return;
    this.queue.splice(0, excess);
    this.counted -= excess;
  }
}
