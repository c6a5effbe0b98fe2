// Custom metrics of the publishing scenario, created in the init context so thresholds may name them.
// Deliberately few, and only sampled on failure: events sent are k6's own `iterations`, acks are
// the passes of the check "is status 204", latency is `http_req_duration{name:publish}` — every
// extra sample per iteration costs k6 CPU that the arrival rate needs.
import { Counter } from 'k6/metrics';

/** Definitely refused (4xx): the event is not in the stream. */
export const publishFailed = new Counter('publish_failed');
/** Timeouts and 5xx: the outcome is not known until the stream is read back. */
export const publishUnknown = new Counter('publish_unknown');
