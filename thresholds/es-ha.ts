// EventStore streams while a node is killed (the seed's 500 users, pods deleted at 1m and 3m18s):
// failed requests during the outage are expected and measured; losing acknowledged events is not.
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';

export const esHa: ThresholdProfile = {
  description: 'EventStore under node loss: failures allowed while it is down, zero acked loss, no corruption',
  gates: {
    chaos_unmeasured: [
      {
        threshold: 'count==0',
        reason:
          'unavailability is timed from the failed appends k6 reports to the sidecar; a report lost on the way leaves the outage measured short',
      },
    ],
    es_acked_missing: [
      {
        threshold: 'count==0',
        reason: 'a 201 is a durability promise: an acked event must survive the loss of the node that acked it',
      },
    ],
    es_read_mismatches: [
      {
        threshold: 'count==0',
        reason: 'a restarted node must not serve another event at an acked position (a replayed or rewritten log)',
      },
    ],
    es_duplicates: [
      {
        threshold: 'count==0',
        reason: 'retrying with the same event id across a restart must not store the event twice',
      },
    ],
    es_unexpected_events: [
      {
        threshold: 'count==0',
        reason: 'events nobody sent in a fresh stream mean the log was mixed up during recovery',
      },
    ],
    checks: [
      {
        threshold: 'rate>0.99',
        reason:
          'the seed lost 0.13–0.19 % of checks to two pod deletions in 5 minutes; more than 1 % means recovery took far longer',
      },
    ],
    es_verified: [
      {
        threshold: 'rate>0.95',
        reason:
          'a stream touched by the outage may go unread; below 95 % fully verified streams the zero-loss verdict rests on too little evidence',
      },
    ],
  },
};
