// HTTP semantics of the EventStore FIXTURE: the status codes, headers and JSON shapes the real
// EventStoreDB/KurrentDB AtomPub API answers with, idempotency, expected version, auth, and
// durability across a restart and a kill -9.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EventStoreFixture } from '../../lib/fixtures/eventstore-fixture.ts';
import { startEventStoreStack } from '../../lib/fixtures/eventstore-stack.ts';
import { EventStoreStore } from '../../lib/fixtures/eventstore-store.ts';

const AUTH = `Basic ${Buffer.from('admin:changeit').toString('base64')}`;
const ATOM = 'application/vnd.eventstore.atom+json';

interface Fixture {
  fixture: EventStoreFixture;
  url: string;
  dir: string;
}

async function startFixture(dir = mkdtempSync(join(tmpdir(), 'es-fixture-'))): Promise<Fixture> {
  const fixture = await EventStoreFixture.start({ port: 0, dataDir: dir, storage: 'fsync' });
  return { fixture, url: fixture.url, dir };
}

function appendOne(
  url: string,
  stream: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${url}/streams/${stream}`, {
    method: 'POST',
    headers: {
      authorization: AUTH,
      'content-type': 'application/json',
      'es-eventtype': 'T',
      'es-eventid': randomUUID(),
      ...headers,
    },
    body: JSON.stringify(body),
    redirect: 'manual',
  });
}

function read(url: string, path: string, accept = ATOM): Promise<Response> {
  return fetch(`${url}${path}`, { headers: { authorization: AUTH, accept } });
}

describe('EventStore fixture HTTP API', () => {
  let fx: Fixture;
  before(async () => {
    fx = await startFixture();
  });
  after(async () => {
    await fx.fixture.stop();
    rmSync(fx.dir, { recursive: true, force: true });
  });

  test('an append answers 201 with the Location of the new event', async () => {
    const s = `s-${randomUUID()}`;
    const first = await appendOne(fx.url, s, { a: 1 });
    const second = await appendOne(fx.url, s, { a: 2 });
    assert.equal(first.status, 201);
    assert.equal(first.headers.get('location'), `${fx.url}/streams/${s}/0`);
    assert.equal(second.headers.get('location'), `${fx.url}/streams/${s}/1`);
  });

  test('the same event id appended again answers 201 with the original position and stores no second copy', async () => {
    const s = `s-${randomUUID()}`;
    const id = randomUUID();
    const a = await appendOne(fx.url, s, { a: 1 }, { 'es-eventid': id });
    const b = await appendOne(fx.url, s, { a: 1 }, { 'es-eventid': id });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.equal(b.headers.get('location'), `${fx.url}/streams/${s}/0`);
    const feed = (await (await read(fx.url, `/streams/${s}?embed=body`)).json()) as { entries: unknown[] };
    assert.equal(feed.entries.length, 1);
  });

  test('a wrong expected version answers 400 with the current version in both header dialects', async () => {
    const s = `s-${randomUUID()}`;
    assert.equal((await appendOne(fx.url, s, { a: 1 }, { 'es-expectedversion': '-1' })).status, 201);
    const wrong = await appendOne(fx.url, s, { a: 2 }, { 'es-expectedversion': '5' });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.statusText, 'Wrong expected EventNumber');
    assert.equal(wrong.headers.get('es-currentversion'), '0');
    assert.equal(wrong.headers.get('kurrent-currentversion'), '0');
    const noStream = await appendOne(fx.url, s, { a: 2 }, { 'kurrent-expectedversion': '-1' });
    assert.equal(noStream.status, 400, 'expected version -1 (no stream) on an existing stream is refused');
    assert.equal((await appendOne(fx.url, s, { a: 2 }, { 'kurrent-expectedversion': '0' })).status, 201);
    assert.equal((await appendOne(fx.url, s, { a: 3 }, { 'es-expectedversion': 'x' })).status, 400);
  });

  test('a batch in application/vnd.kurrent.events+json is written atomically and numbered in order', async () => {
    const s = `s-${randomUUID()}`;
    const events = [0, 1, 2].map((i) => ({ eventId: randomUUID(), eventType: 'T', data: { i } }));
    const res = await fetch(`${fx.url}/streams/${s}`, {
      method: 'POST',
      headers: {
        authorization: AUTH,
        'content-type': 'application/vnd.kurrent.events+json',
        'kurrent-expectedversion': '-1',
      },
      body: JSON.stringify(events),
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('location'), `${fx.url}/streams/${s}/0`);
    const retry = await fetch(`${fx.url}/streams/${s}`, {
      method: 'POST',
      headers: {
        authorization: AUTH,
        'content-type': 'application/vnd.eventstore.events+json',
        'es-expectedversion': '-1',
      },
      body: JSON.stringify(events),
    });
    assert.equal(retry.status, 201, 'the same batch retried with its original expected version is idempotent');
    const feed = (await (await read(fx.url, `/streams/${s}?embed=body`)).json()) as {
      entries: Array<{ eventNumber: number; eventId: string; data: string }>;
    };
    assert.deepEqual(
      feed.entries.map((e) => e.eventNumber),
      [2, 1, 0],
      'newest first, like EventStore',
    );
    assert.deepEqual(
      feed.entries.map((e) => JSON.parse(e.data) as unknown),
      [{ i: 2 }, { i: 1 }, { i: 0 }],
    );
    assert.equal(feed.entries[2]?.eventId, events[0]?.eventId);
  });

  test('the stream feed has the Atom JSON shape of GET /streams/{s}?embed=body', async () => {
    const s = `s-${randomUUID()}`;
    await appendOne(fx.url, s, { hello: 'world' });
    const res = await read(fx.url, `/streams/${s}?embed=body`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/vnd\.eventstore\.atom\+json/);
    assert.equal(res.headers.get('etag'), '"0;248368668"');
    const feed = (await res.json()) as Record<string, unknown>;
    assert.equal(feed['title'], `Event stream '${s}'`);
    assert.equal(feed['streamId'], s);
    assert.equal(feed['headOfStream'], true);
    assert.equal(feed['eTag'], '0;248368668');
    const relations = (feed['links'] as Array<{ relation: string }>).map((l) => l.relation);
    assert.deepEqual(relations, ['self', 'first', 'previous', 'metadata']);
    const entry = (feed['entries'] as Array<Record<string, unknown>>)[0];
    assert.ok(entry !== undefined);
    assert.equal(entry['title'], `0@${s}`);
    assert.equal(entry['data'], '{"hello":"world"}', 'embed=body carries JSON data as text');
    assert.equal(entry['isJson'], true);
    assert.equal(entry['summary'], 'T');
  });

  test('a stream longer than a page links to the older events with "next"', async () => {
    const s = `s-${randomUUID()}`;
    for (let i = 0; i < 25; i++) await appendOne(fx.url, s, { i });
    const head = (await (await read(fx.url, `/streams/${s}`)).json()) as {
      entries: Array<{ title: string }>;
      links: Array<{ uri: string; relation: string }>;
    };
    assert.equal(head.entries.length, 20);
    assert.equal(head.entries[0]?.title, `24@${s}`);
    const next = head.links.find((l) => l.relation === 'next');
    assert.equal(next?.uri, `${fx.url}/streams/${s}/4/backward/20`);
    const older = (await (await read(fx.url, `/streams/${s}/4/backward/20`)).json()) as {
      entries: Array<{ title: string }>;
      links: Array<{ relation: string }>;
    };
    assert.deepEqual(
      older.entries.map((e) => e.title),
      [4, 3, 2, 1, 0].map((n) => `${n}@${s}`),
    );
    assert.equal(
      older.links.some((l) => l.relation === 'next'),
      false,
      'no next link past the first event',
    );
  });

  test('GET /streams/{s}/{n} answers the Atom entry or the bare data, and 404 for a missing event or stream', async () => {
    const s = `s-${randomUUID()}`;
    const id = randomUUID();
    await appendOne(fx.url, s, { n: 7 }, { 'es-eventid': id });
    const atom = (await (await read(fx.url, `/streams/${s}/0`, 'application/vnd.kurrent.atom+json')).json()) as {
      content: Record<string, unknown>;
    };
    assert.deepEqual(atom.content, {
      eventStreamId: s,
      eventNumber: 0,
      eventType: 'T',
      eventId: id,
      data: { n: 7 },
      metadata: '',
    });
    const bare = await read(fx.url, `/streams/${s}/0`, 'application/json');
    assert.deepEqual(await bare.json(), { n: 7 });
    assert.equal((await read(fx.url, `/streams/${s}/1`)).status, 404);
    assert.equal((await read(fx.url, `/streams/nope-${randomUUID()}`)).status, 404);
    assert.equal(
      (await read(fx.url, `/streams/${s}`, 'application/atom+xml')).status,
      406,
      'the fixture speaks JSON only',
    );
  });

  test('a hard-deleted stream answers 410 to reads and appends; a soft-deleted one 404', async () => {
    const hard = `s-${randomUUID()}`;
    await appendOne(fx.url, hard, { a: 1 });
    const del = await fetch(`${fx.url}/streams/${hard}`, {
      method: 'DELETE',
      headers: { authorization: AUTH, 'es-harddelete': 'true' },
    });
    assert.equal(del.status, 204);
    assert.equal((await read(fx.url, `/streams/${hard}`)).status, 410);
    assert.equal((await appendOne(fx.url, hard, { a: 2 })).status, 410);
    const soft = `s-${randomUUID()}`;
    await appendOne(fx.url, soft, { a: 1 });
    await fetch(`${fx.url}/streams/${soft}`, { method: 'DELETE', headers: { authorization: AUTH } });
    assert.equal((await read(fx.url, `/streams/${soft}`)).status, 404);
  });

  test('basic auth: admin:changeit is accepted, anything else answers 401 with a challenge', async () => {
    const s = `s-${randomUUID()}`;
    const none = await fetch(`${fx.url}/streams/${s}`, { headers: { accept: ATOM } });
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    const wrong = await fetch(`${fx.url}/streams/${s}`, {
      headers: { accept: ATOM, authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` },
    });
    assert.equal(wrong.status, 401);
    assert.equal((await fetch(`${fx.url}/health/live`)).status, 204, 'the health probe needs no credentials');
  });

  test('a single event without an id is redirected (307) to /incoming/{id}; without a type it is refused', async () => {
    const s = `s-${randomUUID()}`;
    const res = await fetch(`${fx.url}/streams/${s}`, {
      method: 'POST',
      headers: { authorization: AUTH, 'content-type': 'application/json', 'es-eventtype': 'T' },
      body: '{}',
      redirect: 'manual',
    });
    assert.equal(res.status, 307);
    const location = res.headers.get('location') ?? '';
    assert.match(location, new RegExp(`/streams/${s}/incoming/[0-9a-f-]{36}$`));
    const posted = await fetch(location, {
      method: 'POST',
      headers: { authorization: AUTH, 'content-type': 'application/json', 'es-eventtype': 'T' },
      body: '{}',
    });
    assert.equal(posted.status, 201);
    const noType = await fetch(`${fx.url}/streams/${s}`, {
      method: 'POST',
      headers: { authorization: AUTH, 'content-type': 'application/json', 'es-eventid': randomUUID() },
      body: '{}',
    });
    assert.equal(noType.status, 400);
  });

  test('concurrent appends share fsyncs (group commit) and each answers only after its commit', async () => {
    const before = { ...fx.fixture.store.stats };
    const streams = Array.from({ length: 50 }, () => `s-${randomUUID()}`);
    const answers = await Promise.all(streams.map((s) => appendOne(fx.url, s, { s })));
    assert.ok(answers.every((r) => r.status === 201));
    const commits = fx.fixture.store.stats.commits - before.commits;
    assert.equal(fx.fixture.store.stats.appendedEvents - before.appendedEvents, 50);
    assert.ok(commits < 50, `50 concurrent appends took ${commits} fsyncs; group commit should share them`);
    const log = readFileSync(EventStoreStore.logFile(fx.dir), 'utf8');
    for (const s of streams) assert.ok(log.includes(`"s":"${s}"`), `${s} acknowledged but not in the log file`);
  });
});

describe('EventStore fixture durability', () => {
  test('a stopped and restarted fixture serves every event it acknowledged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'es-restart-'));
    let fx = await startFixture(dir);
    try {
      const s = `s-${randomUUID()}`;
      for (let i = 0; i < 5; i++) assert.equal((await appendOne(fx.url, s, { i })).status, 201);
      await fx.fixture.stop();
      fx = await startFixture(dir);
      const feed = (await (await read(fx.url, `/streams/${s}?embed=body`)).json()) as {
        entries: Array<{ data: string }>;
      };
      assert.deepEqual(
        feed.entries.map((e) => JSON.parse(e.data) as unknown),
        [4, 3, 2, 1, 0].map((i) => ({ i })),
      );
      assert.equal(
        (await appendOne(fx.url, s, { i: 5 })).headers.get('location'),
        `${fx.url}/streams/${s}/5`,
        'numbering continues',
      );
    } finally {
      await fx.fixture.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a torn last line (a write cut by kill -9 before its fsync) is cut off on start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'es-torn-'));
    let fx = await startFixture(dir);
    try {
      const s = `s-${randomUUID()}`;
      assert.equal((await appendOne(fx.url, s, { i: 0 })).status, 201);
      await fx.fixture.stop();
      appendFileSync(EventStoreStore.logFile(dir), '{"t":"e","s":"half-writ');
      fx = await startFixture(dir);
      assert.ok(fx.fixture.store.stats.truncatedBytes > 0);
      assert.equal((await appendOne(fx.url, s, { i: 1 })).status, 201);
      await fx.fixture.stop();
      fx = await startFixture(dir);
      const feed = (await (await read(fx.url, `/streams/${s}`)).json()) as { entries: unknown[] };
      assert.equal(feed.entries.length, 2, 'the append after the torn line is readable after another restart');
    } finally {
      await fx.fixture.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('kill -9 of the fixture process under concurrent appends loses no acknowledged event', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'es-kill-'));
    const stack = await startEventStoreStack({ runDir });
    try {
      const url = stack.url;
      const member = stack.members()[0];
      assert.ok(member !== undefined);
      assert.equal(member.name, 'eventstore-0');
      const acked: Array<{ stream: string; id: string }> = [];
      let stop = false;
      const writer = async (w: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          const stream = `w${w}-${i}`;
          const id = randomUUID();
          try {
            const res = await appendOne(url, stream, { w, i }, { 'es-eventid': id });
            if (res.status === 201) acked.push({ stream, id });
          } catch {
            return; // the connection died with the process: outcome unknown, not counted as acked
          }
        }
      };
      const writers = Array.from({ length: 8 }, (_, w) => writer(w));
      await new Promise((r) => setTimeout(r, 1500));
      await member.kill();
      stop = true;
      await Promise.all(writers);
      assert.ok(acked.length > 50, `only ${acked.length} appends were acked before the kill`);
      await member.start();
      const missing: string[] = [];
      for (const { stream, id } of acked) {
        const res = await read(url, `/streams/${stream}/0`);
        const body = res.status === 200 ? ((await res.json()) as { content: { eventId: string } }) : null;
        if (body?.content.eventId !== id) missing.push(`${stream} (${res.status})`);
      }
      assert.deepEqual(
        missing,
        [],
        `acked before kill -9 but missing after restart: ${missing.slice(0, 5).join(', ')}`,
      );
    } finally {
      await stack.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
