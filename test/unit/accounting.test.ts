import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeAccounting } from '../../lib/measure/accounting.ts';
import { inferAttempted } from '../../lib/measure/accounting.ts';
import type { OutcomeRecord } from '../../lib/shared/control-api.ts';

const rec = (seq: number, outcome: 'failed' | 'unknown', status = outcome === 'failed' ? 400 : 504): OutcomeRecord => ({
  seq,
  outcome,
  status,
  sentAt: seq,
  t: seq + 1,
});
const ids = (...pairs: Array<[number, number]>): Map<string, number> =>
  new Map(pairs.map(([seq, n]) => [`r-${seq}`, n]));

describe('accounting by event id', () => {
  it('reconciles a clean run exactly', () => {
    const stream = ids([0, 1], [1, 1], [2, 1]);
    const a = computeAccounting({
      runTag: 'r',
      attempted: 3,
      notAcked: new Map(),
      streamIds: stream,
      streamDelta: 3,
      consumed: 3,
      sinkIds: stream,
    });
    assert.deepEqual(
      [a.acked, a.failed, a.unknown, a.lost, a.duplicates, a.unexpected, a.inStream, a.sinkReceived, a.missingAtSink],
      [3, 0, 0, 0, 0, 0, 3, 3, 0],
    );
  });

  it('counts acked events missing from the stream as lost, with examples', () => {
    const a = computeAccounting({
      runTag: 'r',
      attempted: 4,
      notAcked: new Map(),
      streamIds: ids([0, 1], [2, 1]),
      streamDelta: 2,
      consumed: 2,
      sinkIds: null,
    });
    assert.equal(a.lost, 2);
    assert.deepEqual(a.examples.lost, ['r-1', 'r-3']);
    assert.equal(a.sinkReceived, null);
  });

  it('lost outcome reports: events with no report and not in the stream are unknown (report lost), never acked and lost', () => {
    // 6 sent: 0, 1 stored; 2 reported failed; 3, 4, 5 neither reported nor stored; 2 reports were lost.
    const notAcked = new Map([[2, rec(2, 'failed')]]);
    const a = computeAccounting({
      runTag: 'r',
      attempted: 6,
      notAcked,
      streamIds: ids([0, 1], [1, 1]),
      streamDelta: 2,
      consumed: 2,
      sinkIds: null,
      reportsUndelivered: 2,
    });
    // At most 2 of the 3 may be failures whose report was lost; the third is provably lost.
    assert.deepEqual(
      [a.acked, a.failed, a.unknown, a.lost, a.unknownReportLost, a.reportsUndelivered],
      [3, 1, 2, 1, 2, 2],
    );
    assert.deepEqual(a.examples.lost, [], 'which id is the lost one cannot be told');
    assert.deepEqual(a.examples.noReport, ['r-3', 'r-4', 'r-5']);
    assert.equal(a.acked + a.failed + a.unknown, a.attempted);
    assert.equal(a.inStream, a.acked - a.lost + a.recovered);
  });

  it('more lost reports than unexplained events: nothing is lost', () => {
    const a = computeAccounting({
      runTag: 'r',
      attempted: 3,
      notAcked: new Map(),
      streamIds: ids([0, 1]),
      streamDelta: 1,
      consumed: 1,
      sinkIds: null,
      reportsUndelivered: 10,
    });
    assert.deepEqual([a.acked, a.unknown, a.lost, a.unknownReportLost], [1, 2, 0, 2]);
  });

  it('no lost reports: the accounting is as before and says it measured zero', () => {
    const a = computeAccounting({
      runTag: 'r',
      attempted: 2,
      notAcked: new Map(),
      streamIds: ids([0, 1]),
      streamDelta: 1,
      consumed: 1,
      sinkIds: null,
      reportsUndelivered: 0,
    });
    assert.deepEqual([a.lost, a.unknownReportLost, a.reportsUndelivered], [1, 0, 0]);
    assert.deepEqual(a.examples.lost, ['r-1']);
    assert.equal(a.examples.noReport, undefined);
  });

  it('separates definite failures from unknown outcomes and finds recovered ones', () => {
    const notAcked = new Map([
      [1, rec(1, 'failed')],
      [2, rec(2, 'unknown')],
      [3, rec(3, 'unknown')],
    ]);
    const a = computeAccounting({
      runTag: 'r',
      attempted: 4,
      notAcked,
      streamIds: ids([0, 1], [3, 1]),
      streamDelta: 2,
      consumed: 2,
      sinkIds: null,
    });
    assert.deepEqual([a.acked, a.failed, a.unknown, a.recovered, a.lost], [1, 1, 2, 1, 0]);
  });

  it('a cut-short load: unreported events near the stop are unknown, not lost, and stored ones past the count are not unexpected', () => {
    // 10 finished iterations; 8 and 9 were cancelled mid-request (not stored), 10 and 11 started
    // before the stop and were stored but never finished; 2 is an acked event really lost, far
    // from the stop; 40 is outside any window: not this run's.
    const stream = ids([0, 1], [1, 1], [3, 1], [4, 1], [5, 1], [6, 1], [7, 1], [10, 1], [11, 1], [40, 1]);
    const input = {
      runTag: 'r',
      attempted: 10,
      notAcked: new Map<number, OutcomeRecord>(),
      streamIds: stream,
      streamDelta: 10,
      consumed: null,
      sinkIds: null,
    };
    const cut = computeAccounting({ ...input, inFlightWindow: 5 });
    assert.deepEqual(
      [cut.attempted, cut.acked, cut.unknown, cut.recovered, cut.lost, cut.unexpected, cut.inFlightAtStop],
      [12, 8, 4, 2, 1, 1, 4],
    );
    assert.deepEqual(cut.examples.lost, ['r-2']);
    assert.equal(cut.acked + cut.failed + cut.unknown, cut.attempted, 'every event sent has exactly one outcome');
    assert.equal(
      cut.inStream,
      cut.acked - cut.lost + cut.recovered + cut.unexpected,
      'the stream holds the acked events not lost, recovered unknowns and the foreign one',
    );
    // The same read of a run that went its full length: those are losses and a foreign writer.
    const full = computeAccounting(input);
    assert.deepEqual([full.lost, full.unexpected, full.inFlightAtStop], [3, 3, null]);
  });

  it('counts duplicates, unexpected ids and events missing at the sink', () => {
    const stream = new Map([
      ['r-0', 2],
      ['r-1', 1],
      ['r-9', 1],
      ['other-1', 1],
    ]);
    const sink = new Map([
      ['r-0', 3],
      ['r-9', 1],
    ]);
    const a = computeAccounting({
      runTag: 'r',
      attempted: 2,
      notAcked: new Map(),
      streamIds: stream,
      streamDelta: 5,
      consumed: 5,
      sinkIds: sink,
    });
    assert.equal(a.duplicates, 1);
    assert.equal(a.unexpected, 2);
    assert.deepEqual(a.examples.unexpected.sort(), ['other-1', 'r-9']);
    assert.equal(a.sinkDuplicates, 2);
    assert.equal(a.missingAtSink, 2);
  });

  it('infers the events sent from the highest id seen when k6 cannot be asked', () => {
    assert.equal(inferAttempted('r', ids([0, 1], [7, 1]), new Map([[9, rec(9, 'unknown')]])), 10);
    assert.equal(inferAttempted('r', new Map(), new Map()), 0);
  });
});
