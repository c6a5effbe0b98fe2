// Observe only: measure an experiment whose outcome is not yet known (e.g. R1, where a leader loss
// is expected to stop publishing) without failing the run on the outage itself.
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';

export const haObserve: ThresholdProfile = {
  description: 'Measure only: gates only the harness itself, so the numbers are trustworthy',
  gates: {
    dropped_iterations: [
      {
        threshold: 'count==0',
        reason: 'events the harness never sent would make every other number wrong (coordinated omission)',
      },
    ],
    chaos_unmeasured: [
      {
        threshold: 'count==0',
        reason:
          'the numbers this profile reports come from the final read of the stream; if it failed there is nothing to trust',
      },
    ],
    chaos_unexpected: [
      {
        threshold: 'count==0',
        reason: 'an event in the stream that k6 never sent means the run was polluted by another writer',
      },
    ],
  },
};
