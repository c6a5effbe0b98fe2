// HA gate for a one-active S3 gateway (seed 003, the s3gw "One Active pipeline"): its crash or
// restart may cost an outage — there is no second pipeline to take the requests — but never an
// acked object, and never a corrupt one (the seed's "PV data corruption due to an anomalous exit").
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';

export const s3Ha: ThresholdProfile = {
  description: 'One active gateway restarted or killed: zero acked objects lost, zero corrupt, a bounded outage',
  gates: {
    chaos_unmeasured: [
      {
        threshold: 'count==0',
        reason:
          'the loss and corruption gates judge the final read-back; if it failed they would pass on zeros nobody measured',
      },
    ],
    chaos_acked_lost: [
      {
        threshold: 'count==0',
        reason: 'an acked PUT is on the volume: the gateway restarting on the same directory must serve it again',
      },
    ],
    chaos_corrupt: [
      {
        threshold: 'count==0',
        reason: 'an anomalous exit mid-write must not leave an object readable with bytes it was never written with',
      },
    ],
    s3_read_corrupt: [
      {
        threshold: 'count==0',
        reason: 'a GET during the run returned bytes whose sha256 is not the one the PUT wrote',
      },
    ],
    s3_read_missing: [
      {
        threshold: 'count==0',
        reason: 'a GET of an object whose PUT was acked answered 404: an acked object vanished',
      },
    ],
    chaos_unavailable_seconds: [
      {
        threshold: 'max<15',
        reason:
          "one active pipeline: the outage is the restart (the plan's delay plus the gateway's start); 15 s means it did not come back on its volume",
      },
    ],
    dropped_iterations: [
      {
        threshold: 'count==0',
        reason: 'operations the harness never sent would hide the outage (coordinated omission)',
      },
    ],
  },
};
