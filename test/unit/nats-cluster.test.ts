// How many Go scheduler threads each local nats-server member gets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memberGoMaxProcs } from '../../lib/stack/nats-cluster.ts';

describe('memberGoMaxProcs', () => {
  it('gives each member its share of the cores, at least one', () => {
    assert.equal(memberGoMaxProcs(3, 2, {}), '1');
    assert.equal(memberGoMaxProcs(3, 1, {}), '1');
    assert.equal(memberGoMaxProcs(3, 8, {}), '2');
    assert.equal(memberGoMaxProcs(1, 4, {}), '4');
  });

  it('keeps a GOMAXPROCS the user set', () => {
    assert.equal(memberGoMaxProcs(3, 2, { GOMAXPROCS: '2' }), '2');
    assert.equal(memberGoMaxProcs(3, 8, { GOMAXPROCS: '' }), '2');
  });
});
