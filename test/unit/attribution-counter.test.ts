// http-get's attribution counted in VU memory: every 2xx lands in exactly one combination, the
// batches reach k6 before a phase changes, a VU that is not busy flushes each response, and
// nothing is left in a VU once the load's tail begins.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AttributionCounter,
  type AttributionCounterOptions,
  FLUSH_MS,
  OTHER,
  UNATTRIBUTED,
} from '../../lib/shared/attribution-counter.ts';

function counter(over: Partial<AttributionCounterOptions> = {}) {
  const emitted: Array<{ n: number; tags: Record<string, string> }> = [];
  const warnings: string[] = [];
  const c = new AttributionCounter({
    attributes: [
      { name: 'pod', from: 'body', key: 'pod' },
      { name: 'db', from: 'body', key: 'db' },
    ],
    expect: { pod: ['backend-0', 'backend-1'], db: ['pg-replica-0', 'pg-replica-1'] },
    phases: [
      { name: '0', atMs: 0 },
      { name: 'A', atMs: 10_000 },
    ],
    startedAt: 1_000_000,
    flushEveryFrom: 1_000_000 + 60_000,
    emit: (n, tags) => emitted.push({ n, tags }),
    warn: (m) => warnings.push(m),
    ...over,
  });
  const total = (pred: (tags: Record<string, string>) => boolean = () => true): number =>
    emitted.filter((e) => pred(e.tags)).reduce((a, e) => a + e.n, 0);
  return { c, emitted, warnings, total };
}
const body = (pod: string, db: string): { body: string; headers: Record<string, string> } => ({
  body: JSON.stringify({ users: 3, pod, db }),
  headers: {},
});
const at = (ms: number): number => 1_000_000 + ms;

describe('attribution counter', () => {
  it('batches a busy VU, flushes before the phase changes, and loses nothing', () => {
    const { c, emitted, total } = counter();
    // a busy VU: a response every 1 ms in phase 0, then into phase A
    for (let t = 5000; t < 10_000; t++) {
      if (at(t) >= c.nextPhaseAt) c.advance(at(t));
      c.count(body(t % 2 === 0 ? 'backend-0' : 'backend-1', 'pg-replica-0'), at(t));
    }
    const beforeA = total();
    assert.ok(emitted.length < 100, `batched: ${emitted.length} emits for 5000 responses`);
    c.advance(at(10_000));
    assert.equal(total(), 5000, 'everything of phase 0 went out when phase A began');
    assert.ok(beforeA < 5000 && beforeA >= 5000 - FLUSH_MS - 1);
    assert.equal(c.phaseName, 'A');
    c.count(body('backend-1', 'pg-replica-1'), at(10_000));
    c.flush();
    assert.equal(
      total((t) => t['phase'] === '0'),
      5000,
    );
    assert.equal(
      total((t) => t['phase'] === '0' && t['pod'] === 'backend-0'),
      2500,
    );
    assert.equal(
      total((t) => t['phase'] === 'A' && t['db'] === 'pg-replica-1'),
      1,
    );
  });

  it('flushes every response of a VU that is not busy, and every response in the tail of the load', () => {
    const { c, total } = counter({ flushEveryFrom: at(50_000) });
    c.count(body('backend-0', 'pg-replica-0'), at(1000));
    assert.equal(total(), 1, 'the first response of a VU goes out at once');
    c.count(body('backend-0', 'pg-replica-0'), at(1000 + FLUSH_MS));
    assert.equal(total(), 2, 'a VU whose previous response was FLUSH_MS ago flushes');
    c.count(body('backend-0', 'pg-replica-0'), at(1000 + FLUSH_MS + 1));
    assert.equal(total(), 2, 'a busy VU batches');
    for (let t = 49_990; t < 50_010; t++) c.count(body('backend-1', 'pg-replica-1'), at(t));
    assert.equal(total(), 23, 'in the tail nothing stays in the VU');
  });

  it('counts a missing field as (none), an unexpected value as other (warned once), a non-JSON body as (none)', () => {
    const { c, warnings, total } = counter();
    c.count({ body: '{"pod":"backend-9","db":"pg-replica-0"}', headers: {} }, at(0));
    c.count({ body: '{"pod":"backend-7"}', headers: {} }, at(500));
    c.count({ body: '<html>502</html>', headers: {} }, at(1000));
    c.count({ body: null, headers: {} }, at(1500));
    assert.equal(
      total((t) => t['pod'] === OTHER),
      2,
    );
    assert.equal(
      total((t) => t['db'] === UNATTRIBUTED),
      3,
    );
    assert.equal(
      total((t) => t['pod'] === UNATTRIBUTED),
      2,
    );
    assert.equal(warnings.length, 1);
  });

  it('reads header attributes, and without phases emits no phase tag', () => {
    const { c, emitted } = counter({
      attributes: [
        { name: 'pod', from: 'body', key: 'pod' },
        { name: 'x-pod', from: 'header', key: 'x-pod' },
      ],
      expect: {},
      phases: [],
    });
    c.count({ body: '{"pod":"b0"}', headers: { 'x-pod': 'h0' } }, at(0));
    c.count({ body: '{"pod":"b0"}', headers: { 'x-pod': 'h1' } }, at(1000));
    assert.deepEqual(emitted, [
      { n: 1, tags: { pod: 'b0', 'x-pod': 'h0' } },
      { n: 1, tags: { pod: 'b0', 'x-pod': 'h1' } },
    ]);
  });
});
