// The read-back verification that decides "acked but missing", "stale read" and "mismatch"
// (lib/k6/eventstore-protocol.ts, pure, used by scenarios/eventstore-streams.ts inside k6).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkEventRead,
  checkFeed,
  classifyAppend,
  currentVersionFromHeaders,
  dialectNames,
  eventNumberFromLocation,
  jsonEqual,
  feedFromSelection,
  isExactFeed,
  parseFeed,
  type SentEvent,
  sentEvent,
  streamVerdict,
} from '../../lib/k6/eventstore-protocol.ts';

function acked(id: string, number: number, data: unknown): SentEvent {
  return { ...sentEvent(id, data), outcome: 'acked', number };
}

function feedBody(entries: Array<{ eventId: string; eventNumber: number; data: unknown }>, next?: string): string {
  return JSON.stringify({
    title: "Event stream 's'",
    headOfStream: true,
    links: [{ uri: 'http://x/streams/s', relation: 'self' }, ...(next ? [{ uri: next, relation: 'next' }] : [])],
    entries: entries.map((e) => ({
      eventId: e.eventId,
      eventType: 'T',
      eventNumber: e.eventNumber,
      data: JSON.stringify(e.data),
      isJson: true,
    })),
  });
}

describe('eventstore protocol', () => {
  test('both header dialects', () => {
    assert.equal(dialectNames('eventstore').expectedVersion, 'ES-ExpectedVersion');
    assert.equal(dialectNames('eventstore').eventsMediaType, 'application/vnd.eventstore.events+json');
    assert.equal(dialectNames('kurrent').eventId, 'Kurrent-EventId');
    assert.equal(dialectNames('kurrent').atomMediaType, 'application/vnd.kurrent.atom+json');
  });

  test('201 is acked, 4xx a definite failure, no answer or 5xx unknown', () => {
    assert.equal(classifyAppend(201), 'acked');
    assert.equal(classifyAppend(400), 'failed');
    assert.equal(classifyAppend(0), 'unknown');
    assert.equal(classifyAppend(503), 'unknown');
  });

  test('Location and current-version headers', () => {
    assert.equal(eventNumberFromLocation('http://127.0.0.1:2113/streams/abc-1/12'), 12);
    assert.equal(eventNumberFromLocation(undefined), null);
    assert.equal(eventNumberFromLocation('http://127.0.0.1:2113/streams/abc-1/0/'), 0);
    assert.equal(eventNumberFromLocation('/streams/s/107'), 107);
    for (const bad of [
      '',
      '12',
      'http://x/streams/s/',
      'http://x/streams/s/1a',
      'http://x/streams/s/a1',
      'http://x/streams/s//',
    ]) {
      assert.equal(eventNumberFromLocation(bad), null, bad);
    }
    assert.equal(currentVersionFromHeaders({ 'Es-Currentversion': '4' }, dialectNames('eventstore')), 4);
    assert.equal(currentVersionFromHeaders({ 'Kurrent-Currentversion': '-1' }, dialectNames('kurrent')), -1);
    assert.equal(currentVersionFromHeaders({}, dialectNames('kurrent')), null);
  });

  test('JSON bodies compare by value, not by text', () => {
    assert.ok(jsonEqual({ a: 1, b: [1, { c: 'x' }] }, JSON.parse('{ "b": [1, {"c":"x"}], "a": 1 }')));
    assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: undefined }));
    assert.ok(!jsonEqual({ a: 1 }, { a: '1' }));
  });

  test('a complete feed verifies every acked event and finds what an unknown append stored', () => {
    const sent = [
      acked('a', 0, { i: 0 }),
      acked('b', 1, { i: 1 }),
      { ...sentEvent('c', { i: 2 }), outcome: 'unknown' as const },
    ];
    const page = parseFeed(
      feedBody([
        { eventId: 'c', eventNumber: 2, data: { i: 2 } },
        { eventId: 'b', eventNumber: 1, data: { i: 1 } },
        { eventId: 'a', eventNumber: 0, data: { i: 0 } },
      ]),
    );
    assert.ok(page !== null);
    const result = checkFeed(sent, page.entries);
    assert.deepEqual(result, { stale: false, duplicates: 0, unknownStored: 1, unexpected: 0, mismatches: 0 });
    assert.deepEqual(streamVerdict(sent), { acked: 2, verified: 2, ackedMissing: 0, unverified: 0 });
  });

  test('an acked event absent from a feed is a stale read and, unread elsewhere, acked-but-missing', () => {
    const sent = [acked('a', 0, { i: 0 }), acked('b', 1, { i: 1 })];
    const page = parseFeed(feedBody([{ eventId: 'a', eventNumber: 0, data: { i: 0 } }]));
    assert.ok(page !== null);
    assert.equal(checkFeed(sent, page.entries).stale, true);
    assert.deepEqual(streamVerdict(sent), { acked: 2, verified: 1, ackedMissing: 1, unverified: 0 });
  });

  test('a later read that finds the event clears it: stale, but not lost', () => {
    const sent = [acked('a', 0, { i: 0 })];
    assert.equal(checkFeed(sent, []).stale, true);
    const body = JSON.stringify({ content: { eventId: 'a', eventNumber: 0, data: { i: 0 } } });
    assert.equal(checkEventRead(sent[0]!, 200, body), 'verified');
    assert.deepEqual(streamVerdict(sent), { acked: 1, verified: 1, ackedMissing: 0, unverified: 0 });
  });

  test('another body at an acked number is a mismatch; a 404 is stale; no answer proves nothing', () => {
    const a = acked('a', 0, { i: 0 });
    assert.equal(
      checkEventRead(a, 200, JSON.stringify({ content: { eventId: 'a', eventNumber: 0, data: { i: 9 } } })),
      'mismatch',
    );
    const b = acked('b', 1, { i: 1 });
    assert.equal(checkEventRead(b, 404, ''), 'stale');
    const c = acked('c', 2, { i: 2 });
    assert.equal(checkEventRead(c, 0, null), 'no-answer');
    assert.deepEqual(streamVerdict([a, b, c]), { acked: 3, verified: 0, ackedMissing: 2, unverified: 1 });
  });

  test('duplicates and foreign events in a fresh stream are counted', () => {
    const sent = [acked('a', 0, { i: 0 })];
    const result = checkFeed(sent, [
      { eventId: 'a', eventNumber: 0, data: { i: 0 } },
      { eventId: 'a', eventNumber: 1, data: { i: 0 } },
      { eventId: 'zz', eventNumber: 2, data: {} },
    ]);
    assert.equal(result.duplicates, 1);
    assert.equal(result.unexpected, 1);
  });

  test('a feed page exposes its "next" link; non-feeds parse to null', () => {
    const page = parseFeed(feedBody([], 'http://x/streams/s/4/backward/20'));
    assert.equal(page?.nextUrl, 'http://x/streams/s/4/backward/20');
    assert.equal(parseFeed('<feed/>'), null);
    assert.equal(parseFeed(''), null);
  });

  test('the exact-feed fast path agrees with checkFeed, and declines anything unusual', () => {
    const make = (): SentEvent[] => [acked('a', 0, { i: 0 }), acked('b', 1, { i: 1 }), acked('c', 2, { i: 2 })];
    const newestFirst = (sent: SentEvent[]) => ({
      ids: sent.map((s) => s.eventId).reverse(),
      nums: sent.map((s) => s.number).reverse(),
      data: sent.map((s) => s.text).reverse(),
    });
    const exact = make();
    assert.ok(isExactFeed(newestFirst(exact), exact));
    // Whatever the fast path accepts, the full path verifies every event and finds nothing else.
    const page = feedFromSelection(newestFirst(exact));
    assert.ok(page !== null);
    assert.deepEqual(checkFeed(exact, page.entries), {
      stale: false,
      duplicates: 0,
      unknownStored: 0,
      unexpected: 0,
      mismatches: 0,
    });
    assert.ok(exact.every((s) => s.verified));

    const declines: Array<[string, (sent: SentEvent[]) => unknown]> = [
      [
        'oldest first',
        (sent) => ({ ids: sent.map((s) => s.eventId), nums: sent.map((s) => s.number), data: sent.map((s) => s.text) }),
      ],
      ['a second page', (sent) => ({ ...newestFirst(sent), next: 'http://x/streams/s/0/backward/20' })],
      [
        'one missing',
        (sent) => {
          const f = newestFirst(sent);
          return { ids: f.ids.slice(1), nums: f.nums.slice(1), data: f.data.slice(1) };
        },
      ],
      [
        'a re-serialised body',
        (sent) => {
          const f = newestFirst(sent);
          f.data[0] = '{ "i": 2 }';
          return f;
        },
      ],
      [
        'another number',
        (sent) => {
          const f = newestFirst(sent);
          f.nums[0] = 7;
          return f;
        },
      ],
      ['not a selection', () => null],
    ];
    for (const [what, selection] of declines) {
      const sent = make();
      assert.equal(isExactFeed(selection(sent) as never, sent), false, what);
    }
    const unknown = make();
    (unknown[1] as SentEvent).outcome = 'unknown';
    assert.equal(isExactFeed(newestFirst(unknown), unknown), false, 'an append with no answer');
    assert.equal(isExactFeed({ ids: [], nums: [], data: [] }, []), false, 'nothing sent');
  });
});
