// HA gate for a fault-tolerance pair on a shared store (NATS Streaming FT): the active's loss may
// cost a short failover, never an acked event. Duplicates are measured, not gated: STAN has no
// de-duplication, and a publisher that publishes again after an ack lost with the old active
// stores a second copy by design (at-least-once).
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';

export const ftAtLeastOnce: ThresholdProfile = {
  description:
    'FT group on a shared store under loss of the active: zero acked loss, a short failover; duplicates allowed',
  gates: {
    chaos_unmeasured: [
      {
        threshold: 'count==0',
        reason:
          'the loss gate judges the final read of the channel; if that read failed it would pass on a zero nobody measured',
      },
    ],
    chaos_acked_lost: [
      {
        threshold: 'count==0',
        reason:
          'an acked publish is in the shared file store before the ack goes out: the standby that takes the store over must have it',
      },
    ],
    chaos_unexpected: [
      {
        threshold: 'count==0',
        reason: 'a message in the channel that k6 never sent means another writer: the count is not ours',
      },
    ],
    chaos_unavailable_seconds: [
      {
        threshold: 'max<15',
        reason:
          'a standby tries the store lock 1.25 s ± 10 % after the last heartbeat it heard (server/ft.go); 15 s of failed publishes means no standby took over',
      },
    ],
    chaos_leader_failover_seconds: [
      {
        threshold: 'max<5',
        reason:
          'action → a standby reports FT_ACTIVE: at most one heartbeat interval (1 s) plus the missed-heartbeat wait (1.25 s + 10 %), with room for a loaded machine',
      },
    ],
    dropped_iterations: [
      { threshold: 'count==0', reason: 'events the harness never sent would hide the outage (coordinated omission)' },
    ],
  },
};
