// Steady state: no faults are injected, so every scheduled event must be sent, acked and delivered.
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';

export const steady: ThresholdProfile = {
  description: 'No chaos: exact delivery, no coordinated omission, latency well inside the request timeout',
  gates: {
    checks: [
      {
        threshold: 'rate==1',
        reason: 'with no fault injected, any publish that is not acked (is status 204) is a defect',
      },
    ],
    dropped_iterations: [
      {
        threshold: 'count==0',
        reason: 'a dropped iteration is an event never sent: the harness fell behind (coordinated omission)',
      },
    ],
    'http_req_duration{name:publish}': [
      {
        threshold: 'p(95)<1000',
        reason: 'a healthy publisher acks in milliseconds; a p95 near a second means saturation, not HA behaviour',
      },
    ],
    chaos_unmeasured: [
      {
        threshold: 'count==0',
        reason:
          'the gates on loss and duplicates judge the final read of the stream; if that read failed they would pass on zeros nobody measured',
      },
    ],
    chaos_acked_lost: [
      {
        threshold: 'count==0',
        reason: 'an acked event missing from the stream is data loss (only measured when the sidecar runs)',
      },
    ],
    chaos_duplicates: [
      {
        threshold: 'count==0',
        reason: 'without retries or failover nothing may be stored twice (only measured with the sidecar)',
      },
    ],
  },
};
