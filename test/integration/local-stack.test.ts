// The embedded stack against real nats-server members: the publisher's eventing-publisher-proxy
// status codes, delivery to the sink, and clean shutdown.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LocalStack } from '../../lib/stack/local-stack.ts';
import { memberGoMaxProcs } from '../../lib/stack/nats-cluster.ts';
import { leftoverProcesses, markChildrenOfThisProcess, requireNatsServer, scratchDir } from '../support/cli.ts';

const ce = (id: string, extra: Record<string, string> = {}): Record<string, string> => ({
  'content-type': 'application/json',
  'ce-specversion': '1.0',
  'ce-id': id,
  'ce-type': 'order.created.v1',
  'ce-source': 'test',
  ...extra,
});

describe('local JetStream stack (3 real nats-server members, R3)', { timeout: 120_000 }, () => {
  let stack: LocalStack;
  let marker: string;

  before(async () => {
    const runDir = scratchDir('stack');
    marker = markChildrenOfThisProcess();
    stack = await LocalStack.start({ runDir, natsServerBin: await requireNatsServer(), replicas: 3 });
  });

  after(async () => {
    await stack?.stop();
  });

  it('acks a binary CloudEvent with 204 and stores it once under kyma.<type>', async () => {
    const res = await fetch(stack.publishUrl, { method: 'POST', headers: ce('it-1'), body: '{"n":1}' });
    assert.equal(res.status, 204);
    const jsm = await stack.jsm();
    const msg = await jsm.streams.getMessage(stack.stream, { last_by_subj: 'kyma.order.created.v1' });
    assert.equal(msg?.header.get('ce-id'), 'it-1');
    assert.equal(msg?.header.get('Nats-Msg-Id'), 'it-1');
  });

  it('acks a structured CloudEvent and deduplicates a retried ce-id', async () => {
    const body = JSON.stringify({
      specversion: '1.0',
      id: 'it-2',
      type: 'order.created.v1',
      source: 'test',
      data: { n: 2 },
    });
    const headers = { 'content-type': 'application/cloudevents+json' };
    assert.equal((await fetch(stack.publishUrl, { method: 'POST', headers, body })).status, 204);
    const before = (await (await stack.jsm()).streams.info(stack.stream)).state.last_seq;
    assert.equal((await fetch(stack.publishUrl, { method: 'POST', headers, body })).status, 204);
    assert.equal(
      (await (await stack.jsm()).streams.info(stack.stream)).state.last_seq,
      before,
      'a retry inside the duplicate window is not stored again',
    );
  });

  it('answers 400 with the reason for a malformed CloudEvent', async () => {
    const res = await fetch(stack.publishUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-type': 't' },
      body: '{}',
    });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /missing required header\(s\) ce-id, ce-source/);
    const bad = await fetch(stack.publishUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: '{oops',
    });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /not valid JSON/);
  });

  it('refuses bodies over 64 KiB with 413, unknown routes with 404, other methods with 405', async () => {
    assert.equal(
      (await fetch(stack.publishUrl, { method: 'POST', headers: ce('big'), body: 'x'.repeat(64 * 1024 + 1) })).status,
      413,
    );
    assert.equal((await fetch(`${stack.publisherUrl}/nope`, { method: 'POST' })).status, 404);
    assert.equal((await fetch(stack.publishUrl, { method: 'GET' })).status, 405);
  });

  it('serves the legacy /{app}/v1/events route with 200 and JSON', async () => {
    const res = await fetch(`${stack.publisherUrl}/myapp/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        'event-id': 'legacy-1',
        'event-type': 'order.created',
        'event-type-version': 'v1',
        'event-time': '2026-01-01T00:00:00Z',
        data: {},
      }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      'event-id': 'legacy-1',
      status: 200,
      reason: 'Message successfully published to the channel',
    });
    const missing = await fetch(`${stack.publisherUrl}/myapp/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(missing.status, 400);
    assert.match(JSON.stringify(await missing.json()), /event-type/);
  });

  it('delivers to the sink, which records every ce-id once', async () => {
    // Its own events (not the earlier tests'), one of them published twice: stored once.
    for (const id of ['sink-1', 'sink-2', 'sink-2']) {
      assert.equal((await fetch(stack.publishUrl, { method: 'POST', headers: ce(id), body: '{}' })).status, 204);
    }
    const deadline = Date.now() + 10_000;
    let ids = '';
    while (Date.now() < deadline) {
      ids = await (await fetch(`${stack.sinkUrl}/ids?prefix=sink-`)).text();
      if (ids.includes('sink-1') && ids.includes('sink-2')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(ids, /^sink-1\t1$/m);
    assert.match(ids, /^sink-2\t1$/m);
  });

  it('runs each member with its share of the cores as GOMAXPROCS', async () => {
    const want = Number(memberGoMaxProcs(3));
    for (const m of stack.cluster.members) {
      const varz = (await (await fetch(`${m.info.monitorUrl}/varz`)).json()) as { gomaxprocs?: number };
      assert.equal(varz.gomaxprocs, want, `${m.name}: /varz gomaxprocs`);
    }
  });

  it('answers 5xx (502 not connected, 503, 504 no stream response) while the stream has no leader, and recovers', async () => {
    const members = stack.members().filter((m) => m.name.startsWith('eventing-nats-'));
    // Two of three down: no quorum, so the stream cannot accept writes.
    await members[0]?.kill();
    await members[1]?.kill();
    try {
      const started = Date.now();
      const res = await fetch(stack.publishUrl, { method: 'POST', headers: ce('during-outage'), body: '{}' });
      assert.ok([502, 503, 504].includes(res.status), `status ${res.status}`);
      // The publisher's own timeout is 5 s; the margin is for a busy 2-core CI machine.
      assert.ok(Date.now() - started < 15_000, 'the publisher gives up after its 5 s timeout, not later');
    } finally {
      await members[0]?.start();
      await members[1]?.start();
    }
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (Date.now() < deadline && status !== 204) {
      status = (await fetch(stack.publishUrl, { method: 'POST', headers: ce(`after-${Date.now()}`), body: '{}' }))
        .status;
      if (status !== 204) await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(status, 204);
  });

  it('leaves no process behind when stopped', async () => {
    await stack.stop();
    assert.deepEqual(await leftoverProcesses(marker), [], 'members, publisher, sink and the reaper are all gone');
  });
});
