// Steady state for an HTTP service (http-get): no fault injected, so every GET must succeed.
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';

export const httpSteady: ThresholdProfile = {
  description: 'No chaos: every GET answers 2xx, no coordinated omission, latency well inside the timeout',
  gates: {
    http_get_errors: [
      { threshold: 'count==0', reason: 'with no fault injected, any non-2xx answer (or none) is a defect' },
    ],
    dropped_iterations: [
      {
        threshold: 'count==0',
        reason: 'a dropped iteration is a request never sent: the harness fell behind (coordinated omission)',
      },
    ],
    'http_req_duration{name:get}': [
      {
        threshold: 'p(95)<1000',
        reason: 'a healthy service answers in milliseconds; a p95 near a second means saturation, not HA behaviour',
      },
    ],
    chaos_unmeasured: [
      {
        threshold: 'count==0',
        reason:
          'the error window is timed from the failures k6 reports to the sidecar; a lost report leaves it measured short',
      },
    ],
  },
};
