// The A/B table (lib/compare/table.ts) from both k6 summary shapes: the classic handleSummary
// object and k6 v2's machine-readable summary (--new-machine-readable-summary).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readSummaryFile, writeComparison } from '../../lib/compare/run.ts';
import {
  buildComparison,
  CompareInputError,
  type Comparison,
  formatDelta,
  renderComparisonMarkdown,
  sideFromSummaryJson,
} from '../../lib/compare/table.ts';

/** The seed's "PodVersion, 10 users" numbers in the classic shape, plus k6-ha's verification. */
const classic = {
  root_group: {
    name: '',
    groups: [],
    checks: [
      { name: 'is status 201', passes: 36017, fails: 0 },
      { name: 'is status 200', passes: 43220, fails: 0 },
    ],
  },
  state: { testRunDurationMs: 300_000 },
  metrics: {
    http_reqs: { type: 'counter', values: { count: 79237, rate: 264.12333333333333 } },
    http_req_failed: { type: 'rate', values: { rate: 0, passes: 0, fails: 79237 } },
    http_req_duration: {
      type: 'trend',
      values: { avg: 37.31, med: 25.25, 'p(90)': 64.17, 'p(95)': 70.53, max: 384.74, min: 11.02 },
    },
    iterations: { type: 'counter', values: { count: 3601, rate: 12 } },
    es_appends_acked: { type: 'counter', values: { count: 36017, rate: 120 } },
    es_acked_missing: { type: 'counter', values: { count: 0, rate: 0 } },
  },
  k6ha: { scenario: 'eventstore-streams', timeline: [], accounting: null, recovery: [], notes: [] },
};

/** The seed's "Persistent Disk, 10 users" numbers in the machine-readable shape. */
const machineReadable = {
  config: { duration: 300 },
  metadata: { k6_version: '2.2.0' },
  results: {
    checks: {
      results: [
        { name: 'is status 201', passes: 30053, fails: 0 },
        { name: 'is status 200', passes: 33052, fails: 6 },
      ],
    },
    metrics: [
      { name: 'http_reqs', type: 'counter', values: { count: 63163 } },
      { name: 'http_req_failed', type: 'rate', values: { matches: 6, rate: 6 / 63163, total: 63163 } },
      {
        name: 'http_req_duration',
        type: 'trend',
        values: { avg: 47.04, med: 30.07, p90: 83.87, p95: 99.23, max: 4570, min: 11.01 },
      },
      { name: 'es_acked_missing', type: 'counter', values: { count: 2 } },
    ],
  },
};

function compare(): Comparison {
  return buildComparison(
    sideFromSummaryJson('PodVersion (local pod storage)', 'a.json', classic),
    sideFromSummaryJson('Persistent Disk', 'b.json', machineReadable),
  );
}

function row(c: Comparison, label: string): { a: number | null; b: number | null } {
  const r = c.rows.find((x) => x.label === label);
  assert.ok(r !== undefined, `no row ${label}`);
  return { a: r.a, b: r.b };
}

describe('compare table', () => {
  test('reads requests, requests/s and latency from both shapes', () => {
    const c = compare();
    assert.deepEqual(row(c, 'http_reqs'), { a: 79237, b: 63163 });
    const rps = row(c, 'http_reqs per second');
    assert.equal(rps.a?.toFixed(2), '264.12');
    assert.equal(rps.b?.toFixed(2), '210.54', 'machine-readable: count / duration, as the seed printed it');
    assert.deepEqual(row(c, 'http_req_duration p(90)'), { a: 64.17, b: 83.87 });
    assert.deepEqual(row(c, 'http_req_duration p(95)'), { a: 70.53, b: 99.23 });
    assert.deepEqual(row(c, 'failed requests (http_req_failed)'), { a: 0, b: 6 });
    assert.equal(c.a.scenario, 'eventstore-streams');
    assert.equal(c.b.durationSeconds, 300);
  });

  test("checks per check and overall, like the seed's ✓/✗ lines", () => {
    const c = compare();
    assert.deepEqual(
      c.checks.find((x) => x.name === 'is status 200'),
      { name: 'is status 200', a: { passes: 43220, fails: 0 }, b: { passes: 33052, fails: 6 } },
    );
    const overall = row(c, 'checks passed');
    assert.equal(overall.a, 1);
    assert.equal(((overall.b ?? 0) * 100).toFixed(2), '99.99');
    const md = renderComparisonMarkdown(c);
    assert.match(md, /\| check "is status 200" \| ✓ 43220 passed \| ✗ 0\.02% failed \(6\/33058\) \| \|/);
  });

  test('verification rows appear, ACKED BUT MISSING stands out, and deltas say which way is worse', () => {
    const c = compare();
    assert.deepEqual(row(c, 'ACKED BUT MISSING'), { a: 0, b: 2 });
    const md = renderComparisonMarkdown(c, 'seed, 10 users');
    assert.match(md, /^# seed, 10 users$/m);
    assert.match(md, /\| \*\*ACKED BUT MISSING\*\* \| 0 \| 2 \| \+2 \|/);
    assert.match(md, /Acked but missing: A 0, B 2/);
    const rps = c.rows.find((r) => r.label === 'http_reqs per second');
    assert.ok(rps !== undefined);
    assert.equal(formatDelta(rps), '-20.3% (worse)');
  });

  test('files: a broken summary names the file; a good pair writes comparison.md and comparison.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'compare-'));
    try {
      writeFileSync(join(dir, 'a.json'), JSON.stringify(classic));
      writeFileSync(join(dir, 'b.json'), JSON.stringify(machineReadable));
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ hello: 1 }));
      assert.throws(
        () => readSummaryFile('X', join(dir, 'bad.json')),
        (err: unknown) => err instanceof CompareInputError && err.message.includes('bad.json'),
      );
      assert.throws(() => readSummaryFile('X', join(dir, 'missing.json')), CompareInputError);
      writeComparison(dir, readSummaryFile('A', join(dir, 'a.json')), readSummaryFile('B', join(dir, 'b.json')));
      const json = JSON.parse(readFileSync(join(dir, 'comparison.json'), 'utf8')) as Comparison;
      assert.equal(json.rows.find((r) => r.label === 'http_reqs')?.b, 63163);
      assert.match(
        readFileSync(join(dir, 'comparison.md'), 'utf8'),
        /\| http_reqs \| 79237 \| 63163 \| -20\.3% \(worse\) \|/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
