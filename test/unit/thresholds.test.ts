import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toK6Thresholds } from '../../lib/shared/thresholds.ts';
import { THRESHOLD_PROFILES } from '../../thresholds/index.ts';

describe('gate profiles', () => {
  it('give every line a reason', () => {
    for (const [name, profile] of Object.entries(THRESHOLD_PROFILES)) {
      for (const [metric, lines] of Object.entries(profile.gates)) {
        for (const line of lines)
          assert.ok(line.reason.length > 20, `${name}: ${metric} ${line.threshold} has no real reason`);
      }
    }
  });

  it('fail closed: a profile that gates on the stream read also gates on that read having happened', () => {
    const readBased = ['chaos_acked_lost', 'chaos_duplicates', 'chaos_unexpected'];
    for (const [name, profile] of Object.entries(THRESHOLD_PROFILES)) {
      if (Object.keys(profile.gates).some((m) => readBased.includes(m))) {
        assert.deepEqual(
          profile.gates['chaos_unmeasured']?.map((l) => l.threshold),
          ['count==0'],
          name,
        );
      }
    }
  });

  it('leave the chaos_* gates out when there is no sidecar to fill them, and keep the rest', () => {
    const steady = THRESHOLD_PROFILES['steady'];
    assert.ok(steady);
    const plain = toK6Thresholds(steady, { withChaos: false });
    assert.deepEqual(
      Object.keys(plain).filter((m) => m.startsWith('chaos_')),
      [],
    );
    assert.deepEqual(plain['dropped_iterations'], ['count==0']);
    const withSidecar = toK6Thresholds(steady);
    assert.deepEqual(withSidecar['chaos_acked_lost'], ['count==0']);
    assert.deepEqual(withSidecar['chaos_unmeasured'], ['count==0']);
  });
});
