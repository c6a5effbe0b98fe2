// Custom metrics of the eventstore-streams scenario, created in the init context so thresholds
// (thresholds/es-*.ts) may name them. Counted per event, not per request: a batch of 10 is 10.
// Latency per kind of request is http_req_duration{name:append|read stream|read event}: no extra
// Trends here, since every sample costs k6 time on each of the 21 requests of an iteration.
import { Counter, Rate } from 'k6/metrics';

export const esAppendsAttempted = new Counter('es_appends_attempted');
export const esAppendsAcked = new Counter('es_appends_acked');
/** Definitely refused (4xx, e.g. a wrong expected version): not written. */
export const esAppendsFailed = new Counter('es_appends_failed');
/** No answer or a 5xx: written or not, only the read-back can tell. */
export const esAppendsUnknown = new Counter('es_appends_unknown');
/** Appends sent again with the same event id after an unknown outcome (ES_RETRIES). */
export const esAppendsRetried = new Counter('es_appends_retried');
/** 400 "Wrong expected EventNumber" answers (ES_EXPECTED_VERSION=true). */
export const esWrongVersion = new Counter('es_wrong_version');

/** Acked events a read returned with the same id, number and body. */
export const esEventsVerified = new Counter('es_events_verified');
/** Acked events that no read returned although a read succeeded: acknowledged data loss. */
export const esAckedMissing = new Counter('es_acked_missing');
/** Acked events verified once, then missing when ES_REVERIFY_EVERY re-read their stream later
 * (also counted in es_acked_missing): loss that a per-iteration check alone cannot see. */
export const esLostAfterVerify = new Counter('es_lost_after_verify');
/** Earlier streams re-read by ES_REVERIFY_EVERY. */
export const esStreamsReverified = new Counter('es_streams_reverified');
/** Acked events that could not be checked because every read of them failed. */
export const esUnverified = new Counter('es_unverified');
/** Reads that answered without an event acked before them (404 after 201, or a feed lacking it). */
export const esStaleReads = new Counter('es_stale_reads');
/** Reads that returned another id or body at an acked event's number. */
export const esReadMismatches = new Counter('es_read_mismatches');
/** Copies of one event id beyond the first in a stream (idempotency broken). */
export const esDuplicates = new Counter('es_duplicates');
/** Events whose append had no answer but that the read-back found stored. */
export const esUnknownStored = new Counter('es_unknown_stored');
/** Events in a fresh stream that this iteration never sent. */
export const esUnexpectedEvents = new Counter('es_unexpected_events');
/** Per stream with acked events: did every one of them read back intact? */
export const esVerified = new Rate('es_verified');

/** Every counter a gate may say `count==0` about: a zero sample makes the zero a measured one. */
export const ES_GATED_COUNTERS = [
  esAckedMissing,
  esLostAfterVerify,
  esUnverified,
  esStaleReads,
  esReadMismatches,
  esDuplicates,
  esUnexpectedEvents,
  esAppendsFailed,
  esAppendsUnknown,
  esWrongVersion,
];
