// Real k6 running scenarios/eventstore-streams.ts against the EventStore FIXTURE: exact
// verification without faults, no acked loss across a kill -9 and restart, the A/B table from two
// runs, and bad environment values refused by name. Needs k6 v2 (fails with install help if absent).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { runComparison } from '../../lib/compare/run.ts';
import { startEventStoreStack } from '../../lib/fixtures/eventstore-stack.ts';
import { metricCount, type NormalizedSummary, normalizeSummary } from '../../lib/shared/summary.ts';
import { buildScenarios, scenarioScript, startK6 } from '../../lib/run/k6-process.ts';
import { ensureTool } from '../../lib/tools/toolchain.ts';

const SCRIPT = scenarioScript('eventstore-streams');

let k6 = '';

/** Runs k6 to completion; returns its exit code and everything it printed. */
async function runK6(env: Record<string, string>, timeoutMs = 120_000): Promise<{ code: number; output: string }> {
  let output = '';
  const { child, done } = startK6({
    k6,
    script: SCRIPT,
    env,
    args: ['--quiet'],
    onLine: (line) => (output += `${line}\n`),
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    return { code: (await done).exitCode, output };
  } finally {
    clearTimeout(timer);
  }
}

function readSummary(path: string): NormalizedSummary {
  assert.ok(existsSync(path), `k6 wrote no summary at ${path}`);
  return normalizeSummary(JSON.parse(readFileSync(path, 'utf8')));
}

function checkTotals(s: NormalizedSummary): { passes: number; fails: number } {
  return s.checks.reduce((t, c) => ({ passes: t.passes + c.passes, fails: t.fails + c.fails }), {
    passes: 0,
    fails: 0,
  });
}

describe('eventstore-streams with real k6 against the fixture', { timeout: 300_000 }, () => {
  before(async () => {
    // ensureTool throws ToolMissingError with install instructions: the suite fails, never skips.
    k6 = await ensureTool('k6', { install: false });
    await buildScenarios();
  });

  test('no faults: every acked event reads back, checks 100 %, gates pass', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'es-steady-'));
    const stack = await startEventStoreStack({ runDir });
    try {
      const summaryPath = join(runDir, 'summary.json');
      const { code, output } = await runK6({
        ...stack.k6Env(),
        VUS: '10',
        DURATION: '8s',
        THRESHOLDS: 'es-steady',
        SUMMARY_JSON: summaryPath,
      });
      assert.equal(code, 0, `k6 exited ${code}:\n${output.slice(-3000)}`);
      const s = readSummary(summaryPath);
      const acked = metricCount(s, 'es_appends_acked');
      assert.ok(acked > 100, `only ${acked} events acked in 8 s`);
      assert.equal(metricCount(s, 'es_appends_attempted'), acked);
      assert.equal(metricCount(s, 'es_events_verified'), acked, 'every acked event verified by a read');
      assert.equal(metricCount(s, 'es_acked_missing'), 0);
      assert.equal(metricCount(s, 'es_stale_reads'), 0);
      assert.equal(metricCount(s, 'es_read_mismatches'), 0);
      assert.equal(metricCount(s, 'es_duplicates'), 0);
      const checks = checkTotals(s);
      assert.equal(checks.fails, 0);
      assert.deepEqual(s.checks.map((c) => c.name).sort(), ['is status 200', 'is status 201']);
      // The seed's 21 requests per stream: 10 appends, 1 stream read, 10 event reads (+1 preflight).
      assert.equal(metricCount(s, 'http_reqs'), metricCount(s, 'iterations') * 21 + 1);
    } finally {
      await stack.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  test('batch appends, Atom event reads and the Kurrent header dialect verify exactly too', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'es-modes-'));
    const stack = await startEventStoreStack({ runDir });
    try {
      const summaryPath = join(runDir, 'summary.json');
      const env = {
        ...stack.k6Env(),
        VUS: '4',
        DURATION: '4s',
        THRESHOLDS: 'es-steady',
        ES_BATCH: 'true',
        ES_EVENT_READ: 'atom',
        ES_DIALECT: 'kurrent',
        SUMMARY_JSON: summaryPath,
      };
      const { code, output } = await runK6(env);
      assert.equal(code, 0, `k6 exited ${code}:\n${output.slice(-3000)}`);
      const s = readSummary(summaryPath);
      const acked = metricCount(s, 'es_appends_acked');
      assert.ok(acked >= 40, `only ${acked} events acked in 4 s`);
      assert.equal(metricCount(s, 'es_appends_attempted'), acked);
      assert.equal(metricCount(s, 'es_events_verified'), acked, 'every acked event verified by a read');
      assert.equal(metricCount(s, 'es_read_mismatches'), 0);
      assert.equal(metricCount(s, 'es_acked_missing'), 0);
      assert.equal(checkTotals(s).fails, 0);
      // One batch append, 1 stream read and 10 event reads per stream (+1 preflight).
      assert.equal(metricCount(s, 'http_reqs'), metricCount(s, 'iterations') * 12 + 1);
    } finally {
      await stack.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  test('kill -9 and restart mid-run: failures, but no acked event missing', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'es-kill-'));
    const stack = await startEventStoreStack({ runDir, storage: 'fsync' });
    try {
      const summaryPath = join(runDir, 'summary.json');
      const member = stack.members()[0];
      assert.ok(member !== undefined);
      const run = runK6({
        ...stack.k6Env(),
        VUS: '20',
        DURATION: '15s',
        THRESHOLDS: 'es-ha',
        ES_REVERIFY_EVERY: '3',
        SUMMARY_JSON: summaryPath,
      });
      await new Promise((r) => setTimeout(r, 6000));
      const killedPid = member.pid;
      await member.kill();
      assert.equal(member.running, false);
      await new Promise((r) => setTimeout(r, 1000));
      await member.start();
      assert.notEqual(member.pid, killedPid, 'a new process serves after the restart');
      const { code, output } = await run;
      assert.ok(code === 0 || code === 99, `k6 exited ${code}:\n${output.slice(-3000)}`);
      const s = readSummary(summaryPath);
      const failures = checkTotals(s).fails + metricCount(s, 'es_appends_unknown');
      assert.ok(failures > 0, 'the kill cost no failed request: it did not happen during the load');
      assert.ok(metricCount(s, 'es_appends_acked') > 100);
      assert.equal(metricCount(s, 'es_acked_missing'), 0, "an fsync'd append survives kill -9");
      assert.equal(metricCount(s, 'es_lost_after_verify'), 0);
      assert.ok(metricCount(s, 'es_streams_reverified') > 0, 're-verification of earlier streams ran');
      assert.equal(s.metrics['es_acked_missing']?.thresholds['count==0'], true, 'the es-ha zero-loss gate passed');
    } finally {
      await stack.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  test("A/B from two runs: memory storage loses acked events across a restart, the fsync'd log does not", async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'es-compare-'));
    try {
      const result = await runComparison({
        a: { label: 'memory (pod-local)', local: { storage: 'memory' } },
        b: { label: 'fsync (persistent disk)', local: { storage: 'fsync' } },
        vus: 10,
        duration: '10s',
        env: { ES_REVERIFY_EVERY: '2', THRESHOLDS: 'es-observe' },
        killAt: '5s',
        restartAfter: '1s',
        outDir,
        log: () => undefined,
      });
      for (const f of ['a.summary.json', 'b.summary.json', 'comparison.md', 'comparison.json'])
        assert.ok(existsSync(join(outDir, f)), `${f} missing`);
      const missing = result.comparison.rows.find((r) => r.label === 'ACKED BUT MISSING');
      assert.ok(missing !== undefined);
      assert.ok(
        (missing.a ?? 0) > 0,
        'memory storage restarted empty, so events acked before the kill must be missing',
      );
      assert.equal(missing.b, 0);
      const md = readFileSync(join(outDir, 'comparison.md'), 'utf8');
      assert.match(md, /\| http_req_duration p\(95\) \|/);
      assert.match(md, /\| check "is status 201" \|/);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });

  test('bad environment values stop k6 before any load, naming the variable', async () => {
    for (const [name, value] of [
      ['VUS', 'lots'],
      ['ES_DIALECT', 'mongo'],
      ['ES_URL', 'localhost:2113'],
      ['EVENTS_PER_STREAM', '0'],
      ['ES_BATCH', 'yes'],
      ['THRESHOLDS', 'nope'],
    ] as const) {
      const { code, output } = await runK6({ [name]: value, DURATION: '1s' }, 30_000);
      assert.notEqual(code, 0, `${name}=${value} was accepted`);
      assert.match(
        output,
        new RegExp(`invalid ${name}=`),
        `the error for ${name}=${value} does not name it:\n${output.slice(-800)}`,
      );
    }
  });
});
