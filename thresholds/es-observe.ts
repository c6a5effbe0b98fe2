// Observe only: run an EventStore experiment whose outcome is not known yet (e.g. pod-local
// storage that is wiped with its pod) and gate only what keeps the numbers trustworthy.
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';

export const esObserve: ThresholdProfile = {
  description: 'Measure only: gates only the integrity of the harness, so losses are reported, not failed',
  gates: {
    chaos_unmeasured: [
      {
        threshold: 'count==0',
        reason:
          'unavailability is timed from the failed appends k6 reports to the sidecar; a report lost on the way leaves the outage measured short',
      },
    ],
    es_unexpected_events: [
      {
        threshold: 'count==0',
        reason:
          'each iteration writes a fresh uuid stream; foreign events mean another writer polluted the run and every count is suspect',
      },
    ],
  },
};
