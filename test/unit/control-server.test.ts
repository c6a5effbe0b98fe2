// The sidecar's control API as k6 (or anyone holding the token) talks to it: every body is checked
// against its endpoint's schema before it can reach the accounting, a run starts once, and the
// server keeps k6's reused connections open (a closed one lost outcome reports under load).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONTROL_PATHS, OUTCOME_BATCH_MAX } from '../../lib/shared/control-api.ts';
import { ControlServer, KEEP_ALIVE_TIMEOUT_MS } from '../../lib/sidecar/control-server.ts';
import type { Sidecar } from '../../lib/sidecar/sidecar.ts';
import { bareSidecar } from '../support/bare-sidecar.ts';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function call(url: string, method: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { 'content-type': 'application/json' }, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

const post = (base: string, path: string, body: unknown): Promise<Answer> =>
  call(`${base}${path}`, 'POST', typeof body === 'string' ? body : JSON.stringify(body));
const errorOf = (a: Answer): string => (JSON.parse(a.body) as { error: string }).error;

describe('control API: bodies are input', () => {
  let dir: string;
  let sidecar: Sidecar;
  let server: ControlServer;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'k6ha-control-'));
    // A target with nothing to observe or account: these tests are about the control API alone.
    sidecar = bareSidecar({ name: 't-control', runDir: dir });
    server = new ControlServer(sidecar);
    base = await server.listen();
  });

  after(async () => {
    await server.close();
    await sidecar.shutdown('test over');
    rmSync(dir, { recursive: true, force: true });
  });

  it('without the token, or with a wrong one, every path is 404', async () => {
    const port = new URL(base).port;
    assert.equal(
      (await post(`http://127.0.0.1:${port}`, CONTROL_PATHS.start, { runTag: 'x', scenario: 'jetstream-publish' }))
        .status,
      404,
    );
    assert.equal((await post(`http://127.0.0.1:${port}/wrong-token`, CONTROL_PATHS.outcomes, [])).status, 404);
    assert.equal((await call(`http://127.0.0.1:${port}/wrong-token${CONTROL_PATHS.report}`, 'GET')).status, 404);
  });

  it('outcomes before the load started are refused (409)', async () => {
    const res = await post(base, CONTROL_PATHS.outcomes, [{ seq: 0, outcome: 'failed', status: 503, sentAt: 1, t: 2 }]);
    assert.equal(res.status, 409);
    assert.match(errorOf(res), /no load has started/);
  });

  it('refuses an invalid start, naming the field, the value and what is allowed; nothing starts', async () => {
    let res = await post(base, CONTROL_PATHS.start, { runTag: 'x', scenario: 'nope', rate: -1, durationMs: 'a' });
    assert.equal(res.status, 400);
    assert.match(errorOf(res), /^rate: -1 is not allowed — expected/);
    assert.match(errorOf(res), /and 1 more problem/);
    res = await post(base, CONTROL_PATHS.start, { runTag: 'x', scenario: 'jetstream-publish', durationMs: 'a' });
    assert.equal(res.status, 400);
    assert.match(errorOf(res), /^durationMs: "a" is not allowed — expected number/);
    res = await post(base, CONTROL_PATHS.start, { runTag: 'x', scenario: 'nope' });
    assert.equal(res.status, 400);
    assert.equal(
      errorOf(res),
      'scenario: "nope" is not allowed — expected "jetstream-publish", the scenario of experiment t-control',
    );
    res = await post(base, CONTROL_PATHS.start, { runTag: 'has space', scenario: 'jetstream-publish' });
    assert.equal(res.status, 400);
    assert.match(errorOf(res), /^runTag: "has space" is not allowed — expected 1–64 letters/);
    res = await post(base, CONTROL_PATHS.start, { scenario: 'jetstream-publish' });
    assert.match(errorOf(res), /^runTag: missing — expected/);
    res = await post(base, CONTROL_PATHS.start, { runTag: 'x', scenario: 'jetstream-publish', extra: 1 });
    assert.match(errorOf(res), /unknown field\(s\) "extra"/);
    res = await post(base, CONTROL_PATHS.start, 'not json');
    assert.equal(res.status, 400);
    assert.equal(errorOf(res), 'body is not JSON');
    assert.equal(sidecar.timeline.zero, null, 'no invalid start started the load');
  });

  it('starts once: a retried start with the same run tag gets the same answer, another run tag 409', async () => {
    const first = await post(base, CONTROL_PATHS.start, {
      runTag: 'run-a',
      scenario: 'jetstream-publish',
      rate: 100,
      durationMs: 10_000,
      requestTimeoutMs: 5000,
    });
    assert.equal(first.status, 200, first.body);
    const again = await post(base, CONTROL_PATHS.start, { runTag: 'run-a', scenario: 'jetstream-publish', rate: 100 });
    assert.equal(again.status, 200);
    assert.deepEqual(JSON.parse(again.body), JSON.parse(first.body));
    const other = await post(base, CONTROL_PATHS.start, { runTag: 'run-b', scenario: 'jetstream-publish' });
    assert.equal(other.status, 409);
    assert.match(errorOf(other), /load already started for this run \(run tag run-a\)/);
  });

  it('refuses invalid outcome records with 400 and records none of the batch', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [[{ seq: 'a' }], /^\[0\]\.seq: "a" is not allowed — expected number/],
      [[{ seq: -1, outcome: 'lost', status: 503, sentAt: 1, t: 2 }], /^\[0\]\.seq: -1 is not allowed/],
      [
        [{ seq: 1, outcome: 'lost', status: 503, sentAt: 1, t: 2 }],
        /^\[0\]\.outcome: "lost" is not allowed — expected one of "failed"\|"unknown"|^\[0\]\.outcome: "lost" is not allowed — expected/,
      ],
      [
        [
          { seq: 1, outcome: 'failed', status: 503, sentAt: 1, t: 2 },
          { seq: 2, outcome: 'failed', status: 1e6, sentAt: 1, t: 2 },
        ],
        /^\[1\]\.status: 1000000 is not allowed/,
      ],
      [{ seq: 1 }, /^\(body\): .* is not allowed — expected array/],
      [[{ seq: 1, outcome: 'failed', status: 503, sentAt: 1, t: 2, extra: true }], /unknown field\(s\) "extra"/],
    ];
    for (const [body, message] of cases) {
      const res = await post(base, CONTROL_PATHS.outcomes, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(errorOf(res), message);
    }
    const tooMany = Array.from({ length: OUTCOME_BATCH_MAX + 1 }, (_, i) => ({
      seq: i,
      outcome: 'failed',
      status: 503,
      sentAt: 1,
      t: 2,
    }));
    const res = await post(base, CONTROL_PATHS.outcomes, tooMany);
    assert.equal(res.status, 400);
    assert.match(errorOf(res), /\(body\): .* is not allowed — expected .*1000/);
    assert.equal(sidecar.notAckedSoFar, 0, 'nothing of a refused batch was recorded');
  });

  it('takes valid outcomes idempotently by seq (a retried batch counts once)', async () => {
    const batch = [
      { seq: 7, outcome: 'failed', status: 503, sentAt: 1, t: 2 },
      { seq: 8, outcome: 'unknown', status: 0, sentAt: 1, t: 2 },
    ];
    assert.equal((await post(base, CONTROL_PATHS.outcomes, batch)).status, 204);
    assert.equal((await post(base, CONTROL_PATHS.outcomes, batch)).status, 204);
    assert.equal(sidecar.notAckedSoFar, 2);
  });

  it('bounds the body size per endpoint (413)', async () => {
    const big = JSON.stringify({ runTag: 'run-a', scenario: 'jetstream-publish', pad: 'x'.repeat(64 * 1024) });
    const res = await post(base, CONTROL_PATHS.start, big);
    assert.equal(res.status, 413);
    assert.match(errorOf(res), /body larger than 16384 bytes/);
  });

  it('refuses a finish for another run tag and a summary that is not one', async () => {
    let res = await post(base, CONTROL_PATHS.finish, { runTag: 'run-b', attempted: null });
    assert.equal(res.status, 409);
    assert.match(errorOf(res), /runTag: "run-b" is not allowed — expected "run-a"/);
    res = await post(base, CONTROL_PATHS.finish, { runTag: 'run-a', attempted: -3 });
    assert.equal(res.status, 400);
    assert.match(errorOf(res), /^attempted: -3 is not allowed/);
    res = await post(base, CONTROL_PATHS.summary, { summary: 'text', text: 1 });
    assert.equal(res.status, 400);
    assert.match(
      errorOf(res),
      /^summary: "text" is not allowed — expected record|^summary: "text" is not allowed — expected object/,
    );
  });

  it('wrong methods and unknown routes', async () => {
    assert.equal((await call(`${base}${CONTROL_PATHS.start}`, 'GET')).status, 405);
    assert.equal((await post(base, '/v1/nothing', {})).status, 404);
  });

  it("keeps idle connections open far longer than a VU's gap between reports", async () => {
    assert.ok(KEEP_ALIVE_TIMEOUT_MS >= 60_000, `keep-alive ${KEEP_ALIVE_TIMEOUT_MS} ms`);
    const res = await post(base, CONTROL_PATHS.outcomes, []);
    assert.equal(res.status, 204);
    assert.match(String(res.headers['keep-alive']), new RegExp(`timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`));
  });
});
