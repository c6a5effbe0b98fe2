// http-get's config (the same parser k6 runs at init), the phases a plan gives it, and the
// per-phase split read back from k6's submetrics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExperiment } from '../../lib/experiment/experiment.ts';
import { phaseRows, phaseSubmetrics } from '../../lib/shared/http-phases.ts';
import { httpGetConfigFrom } from '../../lib/shared/scenario-config.ts';
import type { NormalizedSummary } from '../../lib/shared/summary.ts';
import { phasesOf } from '../../lib/targets/postgres-haproxy.ts';

describe('http-get', () => {
  it('parses attribution, expectations and phases, and names the variable of a bad value', () => {
    const c = httpGetConfigFrom({
      ATTRIBUTE: 'pod,header:X-Pod',
      ATTRIBUTE_EXPECT: 'pod=backend-0|backend-1',
      PHASES: '0@0,A@10000',
    });
    assert.deepEqual(c.attributes, [
      { name: 'pod', from: 'body', key: 'pod' },
      { name: 'x-pod', from: 'header', key: 'X-Pod' },
    ]);
    assert.deepEqual(c.expect, { pod: ['backend-0', 'backend-1'] });
    assert.deepEqual(c.phases, [
      { name: '0', atMs: 0 },
      { name: 'A', atMs: 10_000 },
    ]);
    assert.equal(c.targetUrl, 'http://127.0.0.1:8081/users');
    assert.throws(() => httpGetConfigFrom({ ATTRIBUTE: 'phase' }), /ATTRIBUTE/);
    assert.throws(() => httpGetConfigFrom({ PHASES: 'A@10,B@5' }), /PHASES/);
    assert.throws(() => httpGetConfigFrom({ ATTRIBUTE: 'pod', ATTRIBUTE_EXPECT: 'db=x' }), /ATTRIBUTE_EXPECT/);
  });

  it('takes its phases from the plan: one per action id, same-offset actions one phase', () => {
    const exp = parseExperiment(
      {
        name: 'p',
        scenario: 'http-get',
        target: { kind: 'local', stack: 'postgres-haproxy' },
        thresholds: 'http-observe',
        blastRadius: 2,
        plan: [
          { id: 'A', at: '10s', action: 'stop', target: { name: 'pg-replica-1' } },
          { id: 'C', at: '20s', action: 'stop', target: { name: 'backend-1' } },
          { id: 'C.replica', at: '20s', action: 'stop', target: { name: 'pg-replica-0' } },
          { at: '25s', action: 'start', target: { name: 'backend-1' } },
        ],
      },
      'p.json',
    );
    assert.equal(phasesOf(exp), '0@0,A@10000,C@20000');
    assert.equal(
      exp.target.kind === 'local' && exp.target.stack === 'postgres-haproxy' ? exp.target.nginx : null,
      'resolve-once',
    );
  });

  it('reads the per-phase split from the submetrics it asked k6 to keep', () => {
    const c = httpGetConfigFrom({ ATTRIBUTE: 'pod', ATTRIBUTE_EXPECT: 'pod=b0|b1', PHASES: '0@0,A@1000' });
    const names = phaseSubmetrics(c);
    assert.ok(names.includes('http_get_ok{phase:A,pod:b1}'));
    assert.ok(names.includes('http_get_errors{phase:A,status:502}'));
    const counts: Record<string, number> = {
      'http_get_ok{phase:0}': 4,
      'http_get_ok{phase:0,pod:b0}': 2,
      'http_get_ok{phase:0,pod:b1}': 2,
      'http_get_errors{phase:A}': 3,
      'http_get_errors{phase:A,status:502}': 3,
    };
    const summary: NormalizedSummary = {
      shape: 'classic',
      checks: [],
      durationMs: 2000,
      metrics: Object.fromEntries(
        Object.entries(counts).map(([k, v]) => [k, { type: 'counter', contains: 'default', values: { count: v } }]),
      ),
    } as unknown as NormalizedSummary;
    const rows = phaseRows(summary, c);
    assert.deepEqual(
      rows.map((r) => [r.phase, r.requests, r.ok, r.errors]),
      [
        ['0', 4, 4, 0],
        ['A', 3, 0, 3],
      ],
    );
    assert.equal(rows[0]?.split['pod']?.['b1'], 2);
    assert.equal(rows[1]?.errorsByClass['502'], 3);
  });
});
