// Rebalance figures from per-second attribution: k6's cumulative per-phase counters, sampled.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeRebalance, parseAttributed, perSecond, type CounterSample } from '../../lib/measure/rebalance.ts';
import type { TimelineEvent } from '../../lib/shared/types.ts';

const zero = 1_000_000;
const ev = (offsetMs: number, kind: 'member-started' | 'member-stopped', target: string): TimelineEvent =>
  ({
    ts: new Date(zero + offsetMs).toISOString(),
    offset_ms: offsetMs,
    source: 'member',
    kind,
    target,
    detail: {},
  }) as TimelineEvent;

/** 20 responses a second split by `share(t)` between pg-replica-0 and pg-replica-1, sampled every 500 ms. */
function samples(untilMs: number, share: (t: number) => number): CounterSample[] {
  const out: CounterSample[] = [];
  let a = 0;
  let b = 0;
  for (let t = 500; t <= untilMs; t += 500) {
    const f = share(t);
    b += Math.round(10 * f);
    a += 10 - Math.round(10 * f);
    out.push({
      t: zero + t,
      counts: {
        'http_get_ok{phase:0,db:pg-replica-0}': a,
        'http_get_ok{phase:0,db:pg-replica-1}': b,
        'http_get_ok{phase:0}': a + b,
      },
    });
  }
  return out;
}

describe('rebalance', () => {
  it('parses submetric ids with one attribute', () => {
    assert.deepEqual(parseAttributed('http_get_ok', 'http_get_ok{phase:A,pod:backend-0}'), {
      attribute: 'pod',
      value: 'backend-0',
    });
    assert.equal(parseAttributed('http_get_ok', 'http_get_ok{phase:A}'), null);
    assert.equal(parseAttributed('http_get_ok', 'http_get_errors{phase:A,status:502}'), null);
  });

  it('first response and time to 60/40 after a replica returns', () => {
    // pg-replica-1 down 5–10 s, started at 10 s, first served at 12.5 s, half the traffic from 13.5 s
    const share = (t: number): number => (t <= 5000 ? 0.5 : t <= 12_000 ? 0 : t <= 13_000 ? 0.2 : 0.5);
    const timeline = [ev(5000, 'member-stopped', 'pg-replica-1'), ev(10_000, 'member-started', 'pg-replica-1')];
    const [r, ...rest] = computeRebalance({
      metric: 'http_get_ok',
      samples: samples(20_000, share),
      timeline,
      actions: [{ id: 'A.restore', executedAt: zero + 10_000, restartedAt: null, targets: ['pg-replica-1'] }],
      zero,
      endedAt: zero + 20_000,
      pollMs: 500,
    });
    assert.equal(rest.length, 0);
    assert.equal(r?.actionId, 'A.restore');
    assert.equal(r?.attribute, 'db');
    assert.equal(r?.firstResponseSeconds, 2.5);
    assert.equal(r?.balancedSeconds, 4);
    assert.equal(r?.note, null);
  });

  it('a member that never serves again: no figures, and the note says why', () => {
    const timeline = [
      ev(5000, 'member-stopped', 'pg-replica-1'),
      ev(10_000, 'member-started', 'pg-replica-1'),
      ev(15_000, 'member-stopped', 'pg-replica-1'),
    ];
    const [r] = computeRebalance({
      metric: 'http_get_ok',
      samples: samples(20_000, (t) => (t <= 5000 ? 0.5 : 0)),
      timeline,
      actions: [],
      zero,
      endedAt: zero + 20_000,
      pollMs: 500,
    });
    assert.equal(r?.firstResponseSeconds, null);
    assert.equal(r?.balancedSeconds, null);
    assert.match(r?.note ?? '', /no response from pg-replica-1 before it stopped again at 15\.0 s; not within 60\/40/);
  });

  it('per-second series: the responses of each second by value', () => {
    const series = perSecond(
      'http_get_ok',
      samples(3000, () => 0.5),
      zero,
      500,
    );
    assert.deepEqual(
      series.seconds.map((s) => s.counts['db']),
      [
        { 'pg-replica-0': 10, 'pg-replica-1': 10 },
        { 'pg-replica-0': 10, 'pg-replica-1': 10 },
        { 'pg-replica-0': 10, 'pg-replica-1': 10 },
      ],
    );
  });
});
