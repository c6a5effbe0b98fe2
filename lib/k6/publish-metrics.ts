// Custom metrics of the publishing scenario. Created in the init context so thresholds may name them.
import { Counter, Rate, Trend } from 'k6/metrics';

export const publishAttempted = new Counter('publish_attempted');
export const publishAcked = new Counter('publish_acked');
/** Definitely refused (4xx): the event is not in the stream. */
export const publishFailed = new Counter('publish_failed');
/** Timeouts and 5xx: the outcome is not known until the stream is read back. */
export const publishUnknown = new Counter('publish_unknown');
export const publishSuccess = new Rate('publish_success');
export const publishLatency = new Trend('publish_latency', true);
