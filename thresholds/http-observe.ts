// Observe only (http-get): measure what a phase plan costs an HTTP service without failing the
// run on the outage itself; gate only what keeps the numbers trustworthy.
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';

export const httpObserve: ThresholdProfile = {
  description: 'Measure only: gates only the harness, so errors are reported per phase, not failed',
  gates: {
    dropped_iterations: [
      {
        threshold: 'count==0',
        reason: 'requests the harness never sent would make every per-phase count wrong (coordinated omission)',
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
