// "k6's own numbers stay the user's": a real R1 leader kill through `k6-ha run` (real k6, real
// nats-server, the sidecar receiving an outcome report per failed publish). k6's built-in
// http_reqs counts those reports and the other calls to the sidecar too; the summary's
// publish-only submetrics must not: http_reqs{name:publish} equals the events k6 sent, and
// http_req_failed — whole or {name:publish} — judges the publishes alone (the control calls
// record no http_req_failed sample), so a user's `http_req_failed: ['rate<0.01']` gate sees the
// scenario's requests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { normalizeSummary } from '../../lib/shared/summary.ts';
import { onlyRunDir, requireK6, requireNatsServer, runCli, scratchDir, writeExperiment } from '../support/cli.ts';

describe("k6's request metrics are the scenario's", () => {
  it('an R1 leader kill: http_reqs{name:publish} = events sent, http_req_failed counts publishes only', async () => {
    await requireK6();
    await requireNatsServer();
    const dir = scratchDir('k6-request-metrics');
    const experiment = writeExperiment(dir, {
      name: 'request-metrics-r1-kill',
      description: 'R1 leader killed at 2 s, back 2 s later: publishes fail, their reports go to the sidecar',
      scenario: 'jetstream-publish',
      target: { kind: 'local', stack: 'jetstream', replicas: 1 },
      env: { RATE: '60', DURATION: '7s', REQUEST_TIMEOUT: '2s' },
      thresholds: 'ha-observe',
      plan: [{ id: 'kill-leader', at: '2s', action: 'kill', target: { leaderOf: 'sap' }, restartAfter: '2s' }],
    });
    const run = await runCli(['run', experiment, '--out-dir', dir, '--no-per-second'], { timeoutMs: 240_000 });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const runDir = onlyRunDir(dir);
    const raw = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as {
      accounting: { attempted: number; failed: number; unknown: number };
    };
    const s = normalizeSummary(raw);
    const v = (metric: string, key: string): number => {
      const x = s.metrics[metric]?.values[key];
      assert.ok(x !== undefined, `${metric} ${key} in the summary: ${JSON.stringify(Object.keys(s.metrics))}`);
      return x;
    };
    const sent = v('iterations', 'count');
    const notAcked = raw.accounting.failed + raw.accounting.unknown;
    assert.ok(notAcked > 0, `the kill made publishes fail: ${JSON.stringify(raw.accounting)}`);
    assert.equal(raw.accounting.attempted, sent);
    // The publish-only submetrics: exactly the events sent, and their failures.
    assert.equal(v('http_reqs{name:publish}', 'count'), sent);
    const failedOf = (metric: string): number => v(metric, 'passes');
    assert.equal(failedOf('http_req_failed{name:publish}'), notAcked);
    assert.equal(failedOf('http_req_failed{name:publish}') + v('http_req_failed{name:publish}', 'fails'), sent);
    // The whole http_reqs has the control calls in it (an outcome report per failure at least)…
    assert.ok(
      v('http_reqs', 'count') >= sent + notAcked,
      `http_reqs ${v('http_reqs', 'count')} counts the calls to the sidecar too`,
    );
    // …but the whole http_req_failed does not: the control calls record no sample of it.
    assert.equal(failedOf('http_req_failed') + v('http_req_failed', 'fails'), sent);
    assert.equal(failedOf('http_req_failed'), notAcked);
    // k6's printed summary shows the publish-only lines.
    assert.match(run.stdout, /http_reqs\{name:publish\}\.* count=\d+/);
    assert.match(
      run.stdout,
      new RegExp(`http_req_failed\\{name:publish\\}\\.* rate=[\\d.]+% \\(${notAcked} of ${sent}\\)`),
    );
  });
});
