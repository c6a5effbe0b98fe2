import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecutedAction } from '../../lib/chaos/chaos.ts';
import { computeRecovery } from '../../lib/measure/recovery.ts';
import type { StreamSnapshot } from '../../lib/chaos/signals.ts';

const action = (over: Partial<ExecutedAction> = {}): ExecutedAction => ({
  id: 'kill-leader',
  action: 'kill',
  scheduledAt: 10_000,
  executedAt: 10_000,
  targets: ['n0'],
  leaderBefore: 'n0',
  restartedAt: 20_000,
  error: null,
  ...over,
});
const snap = (at: number, leader: string | null, current = true): StreamSnapshot => ({
  at,
  leader,
  lastSeq: 0,
  firstSeq: 0,
  messages: 0,
  replicas: [{ name: 'n1', current, lag: current ? 0 : 50, activeMs: 0, offline: false }],
});
const fail = (sentAt: number, t = sentAt + 100) => ({
  seq: sentAt,
  outcome: 'unknown' as const,
  status: 504,
  sentAt,
  t,
});

describe('recovery per action', () => {
  it('measures first error, unavailability, failover and full recovery', () => {
    // An outage: every publish sent between 10.05 s and 15.9 s fails.
    const failures = Array.from({ length: 60 }, (_, i) => Math.min(10_050 + i * 100, 15_900)).map((s) => fail(s));
    const { reports, notes } = computeRecovery({
      actions: [action()],
      failures,
      leaderHistory: [
        { at: 0, leader: 'n0' },
        { at: 10_200, leader: null },
        { at: 16_000, leader: 'n2' },
      ],
      streamSamples: [snap(16_000, 'n2', false), snap(21_000, 'n2', true)],
      consumerSamples: [
        { at: 21_500, ackFloorStreamSeq: 0, deliveredStreamSeq: 0, numPending: 0, numAckPending: 0, numRedelivered: 0 },
      ],
      rate: 150,
      endedAt: 40_000,
      zero: 0,
    });
    const r = reports[0];
    assert.ok(r);
    assert.equal(r.timeToFirstErrorSeconds, 0.15);
    assert.equal(r.unavailableSeconds, 5.85);
    assert.equal(r.leaderFailoverSeconds, 6);
    assert.equal(r.leaderAfter, 'n2');
    assert.equal(r.recoverySeconds, 11.5);
    assert.deepEqual(notes, []);
  });

  it("counts failures seen between the action's start and its executed stamp (a kill waits for the exit)", () => {
    // Scheduled at 10 s, stamped executed at 10.003 s; the publisher refused at once at 10.001 s.
    const failures = Array.from({ length: 30 }, (_, i) => fail(10_000 + i * 100, 10_001 + i * 100));
    const { reports } = computeRecovery({
      actions: [action({ scheduledAt: 10_000, executedAt: 10_003 })],
      failures,
      leaderHistory: [
        { at: 0, leader: 'n0' },
        { at: 14_000, leader: 'n2' },
      ],
      streamSamples: [snap(15_000, 'n2', true)],
      consumerSamples: [
        { at: 15_500, ackFloorStreamSeq: 0, deliveredStreamSeq: 0, numPending: 0, numAckPending: 0, numRedelivered: 0 },
      ],
      rate: 150,
      endedAt: 40_000,
      zero: 0,
    });
    const r = reports[0];
    assert.ok(r);
    assert.equal(r.timeToFirstErrorSeconds, 0, 'the first error is the one right after the kill, not one 5 s later');
    assert.equal(r.unavailableSeconds, 2.9, 'the whole burst, from its first failure');
  });

  it('an action in rounds (execKill times: the restart series) has one outage per round; the longest counts', () => {
    // Three exits under CrashLoopBackOff: down 1 s, then 10 s, then 20 s, the gateway serving in between.
    const burst = (from: number, seconds: number) =>
      Array.from({ length: seconds * 10 + 1 }, (_, i) => fail(from + i * 100, from + i * 100 + 5));
    const failures = [...burst(10_100, 1), ...burst(13_100, 10), ...burst(26_100, 20)];
    const { reports, notes } = computeRecovery({
      actions: [
        action({
          id: 'exit-series',
          action: 'execKill',
          leaderBefore: null,
          executedAt: 10_000,
          restartedAt: 46_500,
          rounds: [10_000, 13_000, 26_000],
        }),
      ],
      failures,
      leaderHistory: [],
      streamSamples: [],
      consumerSamples: [],
      rate: 20,
      endedAt: 60_000,
      zero: 0,
      hasStreamView: false,
    });
    const r = reports[0];
    assert.ok(r);
    assert.equal(r.unavailableSeconds, 20, 'the longest round, not only the first');
    assert.equal(r.unavailableFromOffsetMs, 26_100);
    assert.equal(r.timeToFirstErrorSeconds, 0.105);
    assert.deepEqual(notes, [
      'exit-series: 3 rounds, outages 1, 10, 20 s (one per round that saw failures); unavailability is the longest',
    ]);
    // Without rounds the same failures give the first burst only (what a single kill causes).
    const single = computeRecovery({
      actions: [action({ id: 'kill', leaderBefore: null, executedAt: 10_000, restartedAt: 11_500 })],
      failures,
      leaderHistory: [],
      streamSamples: [],
      consumerSamples: [],
      rate: 20,
      endedAt: 60_000,
      zero: 0,
      hasStreamView: false,
    });
    assert.equal(single.reports[0]?.unavailableSeconds, 1);
  });

  it('ends a burst at a gap where publishes got through', () => {
    const failures = [fail(10_000), fail(10_500), fail(14_000)];
    const { reports } = computeRecovery({
      actions: [action()],
      failures,
      leaderHistory: [],
      streamSamples: [],
      consumerSamples: [],
      rate: 150,
      endedAt: 30_000,
      zero: 0,
    });
    assert.equal(reports[0]?.unavailableSeconds, 0.5);
  });

  it('reports lower bounds, with a note, when nothing recovered before the end', () => {
    const { reports, notes } = computeRecovery({
      actions: [action({ restartedAt: null })],
      failures: [fail(10_100), fail(29_900, 29_950)],
      leaderHistory: [
        { at: 0, leader: 'n0' },
        { at: 10_200, leader: null },
      ],
      streamSamples: [],
      consumerSamples: [],
      rate: 150,
      endedAt: 30_000,
      zero: 0,
    });
    assert.equal(reports[0]?.leaderFailoverSeconds, 20);
    assert.equal(reports[0]?.recoverySeconds, 20);
    assert.ok(notes.some((n) => /no new stream leader/.test(n)));
    assert.ok(notes.some((n) => /did not fully recover/.test(n)));
  });

  it('counts zero unavailability when no publish failed', () => {
    const { reports } = computeRecovery({
      actions: [action({ targets: ['n1'] })],
      failures: [],
      leaderHistory: [{ at: 0, leader: 'n0' }],
      streamSamples: [snap(12_000, 'n0')],
      consumerSamples: [],
      rate: 150,
      endedAt: 30_000,
      zero: 0,
    });
    assert.equal(reports[0]?.unavailableSeconds, 0);
    assert.equal(reports[0]?.timeToFirstErrorSeconds, null);
    assert.equal(reports[0]?.leaderFailoverSeconds, null);
  });
});

describe('recovery without a stream to watch (EventStore fixture)', () => {
  it('measures the member coming back, with no leader and no JetStream notes', () => {
    const { reports, notes } = computeRecovery({
      actions: [action({ leaderBefore: null, targets: ['eventstore-0'], restartedAt: 13_500 })],
      failures: [fail(10_100), fail(10_600), fail(11_200)],
      leaderHistory: [],
      streamSamples: [],
      consumerSamples: [],
      rate: null,
      endedAt: 30_000,
      zero: 0,
      hasStreamView: false,
    });
    assert.equal(reports[0]?.recoverySeconds, 3.5);
    assert.equal(reports[0]?.leaderFailoverSeconds, null);
    assert.equal(reports[0]?.unavailableSeconds, 1.1);
    assert.deepEqual(notes, []);
  });

  it('counts a member stopped by a scale down as back when a later scale up or start had it running', () => {
    const scale = (id: string, at: number, targets: string[], restartedAt: number | null): ExecutedAction =>
      action({ id, action: 'scale', scheduledAt: at, executedAt: at, targets, leaderBefore: null, restartedAt });
    const { reports, notes } = computeRecovery({
      actions: [
        scale('A', 10_000, ['pg-replica-1'], null),
        scale('A.restore', 20_000, ['pg-replica-1'], 20_800),
        scale('B', 35_000, ['backend-1'], null),
        action({
          id: 'B.start',
          action: 'start',
          scheduledAt: 45_000,
          executedAt: 45_000,
          targets: ['backend-1'],
          leaderBefore: null,
          restartedAt: 45_400,
        }),
        // never brought back: the only one that gets the note
        scale('C', 55_000, ['backend-0'], null),
        // a later scale that started someone else does not bring backend-0 back
        scale('D', 60_000, ['pg-replica-0'], 60_500),
      ],
      failures: [],
      leaderHistory: [],
      streamSamples: [],
      consumerSamples: [],
      rate: 20,
      endedAt: 90_000,
      zero: 0,
      hasStreamView: false,
    });
    const by = Object.fromEntries(reports.map((r) => [r.actionId, r.recoverySeconds]));
    // start actions are not faults: no report of their own
    assert.deepEqual(by, { A: 10.8, 'A.restore': 0.8, B: 10.4, C: null, D: 0.5 });
    assert.deepEqual(notes, ['C: backend-0 did not come back during the run']);
  });
});
