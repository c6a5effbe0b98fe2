// EventStore streams, no faults: every request answers as the seed's happy path did (100 % checks)
// and every acknowledged event reads back exactly.
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';

export const esSteady: ThresholdProfile = {
  description: 'EventStore streams without chaos: 100 % checks, every acked event read back intact',
  gates: {
    checks: [
      {
        threshold: 'rate==1',
        reason:
          'the seed\'s 10- and 100-user happy paths passed 100 % of "is status 201/200"; with no fault injected any failure is a defect',
      },
    ],
    es_acked_missing: [
      {
        threshold: 'count==0',
        reason: 'an event answered 201 that no read returns is lost data, the one thing an event store must never do',
      },
    ],
    es_stale_reads: [
      {
        threshold: 'count==0',
        reason:
          'a single node read right after its own 201 must see the write; a 404 or a shorter stream means reads are not consistent with acks',
      },
    ],
    es_read_mismatches: [
      { threshold: 'count==0', reason: 'an acked event number that reads back with another id or body is corruption' },
    ],
    es_duplicates: [
      {
        threshold: 'count==0',
        reason: 'event ids are idempotent: one id may occupy one position in a stream, even when retried',
      },
    ],
    es_unverified: [
      {
        threshold: 'count==0',
        reason: 'without faults every read answers, so every acked event must actually be checked',
      },
    ],
    es_unexpected_events: [
      {
        threshold: 'count==0',
        reason: 'each iteration writes a fresh stream; foreign events in it mean the run is polluted',
      },
    ],
    http_req_duration: [
      {
        threshold: 'p(95)<1000',
        reason:
          "the seed's 100-user p95 was 184–282 ms; a p95 past a second is saturation, not the behaviour under test",
      },
    ],
  },
};
