// Real k6 running the built scenario: exact reconciliation with no faults, plain `k6 run`
// without a sidecar, the legacy route, and a bad environment value.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Accounting } from '../../lib/shared/types.ts';
import { LocalStack } from '../../lib/stack/local-stack.ts';
import {
  onlyRunDir,
  readJson,
  readTimeline,
  requireK6,
  requireNatsServer,
  runCli,
  scratchDir,
  startProcess,
} from '../support/cli.ts';

const SCRIPT = 'build/jetstream-publish.js';

describe('k6-ha run steady-state (real k6, real 3-node cluster)', { timeout: 240_000 }, () => {
  it('reconciles sent = acked = stream delta = consumed = sink, with no duplicates', async () => {
    await requireK6();
    const outDir = scratchDir('steady');
    const res = await runCli([
      'run',
      'experiments/steady-state.json',
      '--duration',
      '6s',
      '--rate',
      '100',
      '--out-dir',
      outDir,
    ]);
    assert.equal(res.code, 0, `k6-ha run failed:\n${res.stdout}\n${res.stderr}`);
    const runDir = onlyRunDir(outDir);
    const summary = readJson<{
      accounting: Accounting;
      metrics: Record<string, { values: Record<string, number> }>;
      timeline: unknown[];
    }>(join(runDir, 'summary.json'));
    const a = summary.accounting;
    // Every event the rate owed (6 s × 100/s) is sent, dropped or reported as not started (a k6
    // short of CPU on a busy CI machine falls behind and leaves the last ones unstarted).
    const owed = a.attempted + (a.dropped ?? NaN) + (a.notStarted ?? NaN);
    assert.ok(
      owed >= 600 && owed <= 601,
      `sent ${a.attempted} + dropped ${a.dropped} + not started ${a.notStarted} = ${owed}, owed 600`,
    );
    assert.ok(a.attempted >= 540, `about 6 s × 100/s sent, got ${a.attempted}`);
    assert.equal(a.scheduled, a.attempted, 'no dropped iterations');
    for (const [name, value] of Object.entries({
      acked: a.acked,
      streamDelta: a.streamDelta,
      inStream: a.inStream,
      consumed: a.consumed,
      sinkReceived: a.sinkReceived,
    })) {
      assert.equal(value, a.attempted, `${name} equals the events sent`);
    }
    assert.deepEqual(
      [a.lost, a.duplicates, a.sinkDuplicates, a.unexpected, a.missingAtSink, a.failed, a.unknown],
      [0, 0, 0, 0, 0, 0, 0],
    );
    assert.equal(summary.metrics['iterations']?.values['count'], a.attempted, "k6's own count agrees");
    const derived = (summary as unknown as { k6ha: { derived: Record<string, number> } }).k6ha.derived;
    assert.equal(derived['publish_attempted'], a.attempted);
    assert.equal(derived['publish_acked'], a.acked);
    assert.equal(derived['publish_failed'], 0);
    assert.ok((derived['publish_latency_p95_ms'] ?? 0) > 0, 'publish latency measured');
    assert.match(res.stdout, /accounting \(by event id\)/);
    assert.ok(existsSync(join(runDir, 'report.md')) && existsSync(join(runDir, 'junit.xml')));
    assert.match(readFileSync(join(runDir, 'junit.xml'), 'utf8'), /failures="0"/);
    const timeline = readTimeline(runDir);
    assert.ok(timeline.some((e) => e.kind === 'load-started') && timeline.some((e) => e.kind === 'accounting'));
    assert.ok(existsSync(join(outDir, 'latest', 'summary.json')), 'results/latest points at the newest run');
  });
});

describe('plain k6 run against the local stack (no sidecar)', { timeout: 180_000 }, () => {
  let stack: LocalStack;
  let k6: string;

  before(async () => {
    k6 = await requireK6();
    stack = await LocalStack.start({
      runDir: scratchDir('plain'),
      natsServerBin: await requireNatsServer(),
      replicas: 1,
    });
  });
  after(async () => stack?.stop());

  it('publishes structured CloudEvents exactly once each and writes SUMMARY_JSON', async () => {
    const out = join(scratchDir('plain-summary'), 'summary.json');
    const before = (await (await stack.jsm()).streams.info(stack.stream)).state.last_seq;
    const res = await startProcess(k6, [
      'run',
      '--quiet',
      '-e',
      `PUBLISH_URL=${stack.publishUrl}`,
      '-e',
      'RATE=50',
      '-e',
      'DURATION=4s',
      '-e',
      'CE_MODE=structured',
      '-e',
      `SUMMARY_JSON=${out}`,
      SCRIPT,
    ]).result;
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout + res.stderr, /no SIDECAR_URL/);
    const summary = readJson<{ metrics: Record<string, { values: Record<string, number> }> }>(out);
    const sent = summary.metrics['iterations']?.values['count'] ?? -1;
    assert.equal(summary.metrics['checks']?.values['passes'], sent, 'every publish acked');
    const after = (await (await stack.jsm()).streams.info(stack.stream)).state.last_seq;
    assert.equal(after - before, sent, 'stream delta equals events sent');
  });

  it('speaks the legacy /{app}/v1/events route (200 + JSON)', async () => {
    const res = await startProcess(k6, [
      'run',
      '--quiet',
      '-e',
      `PUBLISH_URL=${stack.publisherUrl}/myapp/v1/events`,
      '-e',
      'RATE=20',
      '-e',
      'DURATION=2s',
      SCRIPT,
    ]).result;
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /✓ is status 200/);
  });

  it("handles k6 v2's machine-readable summary as well as the classic one", async () => {
    const out = join(scratchDir('mr-summary'), 'summary.json');
    const res = await startProcess(k6, [
      'run',
      '--quiet',
      '--new-machine-readable-summary',
      '-e',
      `PUBLISH_URL=${stack.publishUrl}`,
      '-e',
      'RATE=20',
      '-e',
      'DURATION=2s',
      '-e',
      `SUMMARY_JSON=${out}`,
      SCRIPT,
    ]).result;
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /machine-readable summary/);
    assert.match(res.stdout, /http_req_duration\{name:publish\}\.+ avg=[\d.]+ms/);
    const summary = readJson<{
      results: { metrics: Array<{ name: string; values: Record<string, number> }> };
      accounting: unknown;
    }>(out);
    const attempted = summary.results.metrics.find((m) => m.name === 'iterations')?.values['count'];
    const notStarted = (summary as unknown as { k6ha: { derived: Record<string, number | null> } }).k6ha.derived[
      'publish_not_started'
    ];
    // 2 s × 20/s owed 40: sent, or reported as not started when k6 fell behind.
    assert.ok(
      attempted !== undefined && notStarted !== undefined && notStarted !== null && attempted + notStarted >= 40,
      `sent ${attempted}, not started ${notStarted}`,
    );
    assert.ok(attempted >= 30, `sent ${attempted}`);
    assert.ok('accounting' in summary, 'the k6-ha sections are merged into the same document');
  });

  it('stops before any load on a bad environment value, naming the variable', async () => {
    const res = await startProcess(k6, ['run', '--quiet', '-e', 'RATE=fast', SCRIPT]).result;
    assert.notEqual(res.code, 0);
    assert.match(res.stdout + res.stderr, /invalid RATE=\\?"fast\\?": a whole number from 1 to 100000/);
    const mode = await startProcess(k6, ['run', '--quiet', '-e', 'CE_MODE=xml', SCRIPT]).result;
    assert.notEqual(mode.code, 0);
    assert.match(mode.stdout + mode.stderr, /invalid CE_MODE=\\?"xml\\?": one of binary, structured/);
  });
});
