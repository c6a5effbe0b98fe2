// Steady state for an S3 endpoint (s3-objects): no fault injected, so every operation succeeds,
// every object reads back with its checksum, and the final read-back finds every acked PUT.
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';

export const s3Steady: ThresholdProfile = {
  description: 'No chaos: every PUT, GET and LIST answers 2xx, every object reads back intact',
  gates: {
    s3_failed: [{ threshold: 'count==0', reason: 'with no fault injected, a refused operation (4xx) is a defect' }],
    s3_unknown: [
      { threshold: 'count==0', reason: 'with no fault injected, a timeout or a 5xx is a defect (outcome unknown)' },
    ],
    s3_read_corrupt: [
      { threshold: 'count==0', reason: 'a GET returned bytes whose sha256 is not the one the PUT wrote' },
    ],
    s3_read_missing: [{ threshold: 'count==0', reason: 'a GET of an object whose PUT was acked answered 404' }],
    dropped_iterations: [
      {
        threshold: 'count==0',
        reason: 'a dropped iteration is an operation never sent: the harness fell behind (coordinated omission)',
      },
    ],
    'http_req_duration{name:put}': [
      {
        threshold: 'p(95)<1000',
        reason: 'a healthy local gateway stores a small object in milliseconds; a p95 near a second is saturation',
      },
    ],
    chaos_acked_lost: [
      { threshold: 'count==0', reason: 'the final read-back must find every object whose PUT was acked' },
    ],
    chaos_corrupt: [
      {
        threshold: 'count==0',
        reason: 'the final read-back must find every stored object with the checksum it was written with',
      },
    ],
    chaos_unmeasured: [
      {
        threshold: 'count==0',
        reason:
          'the loss and corruption gates judge the final read-back; if it failed they would pass on zeros nobody measured',
      },
    ],
  },
};
