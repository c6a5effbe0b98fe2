// HA gate for a replicated stream (R3): a member loss may cost a short outage, never data.
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';

export const haStrict: ThresholdProfile = {
  description: 'Replicated stream under member loss: zero acked loss, zero duplicates, a short failover',
  gates: {
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
        reason: 'an acked event must survive the loss of any one member: losing one breaks the publisher contract',
      },
    ],
    chaos_duplicates: [
      {
        threshold: 'count==0',
        reason: 'Nats-Msg-Id deduplication must hold across a leader change; a duplicate reaches the sink twice',
      },
    ],
    chaos_unavailable_seconds: [
      {
        threshold: 'max<15',
        reason:
          'with 3 replicas a new leader is elected in seconds; 15 s of failed publishes means no failover happened',
      },
    ],
    chaos_leader_failover_seconds: [
      {
        threshold: 'max<12',
        reason:
          'a nats-server follower campaigns after a random 4–9 s election timeout (server/raft.go), then within 0.8 s: a healthy R3 stream has a new leader within ~10 s, timed from the leader-elected advisory',
      },
    ],
    dropped_iterations: [
      { threshold: 'count==0', reason: 'events the harness never sent would hide the outage (coordinated omission)' },
    ],
  },
};
