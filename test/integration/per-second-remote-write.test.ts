// The per-second source, end to end with real k6: the built jetstream-publish scenario pushes
// through k6's `experimental-prometheus-rw` output (native histograms, every 1 s) to k6-ha's
// receiver, against a real HTTP server that answers some publishes 503 or 429 and delays some.
// The per-second series folded from the receiver's file must add up EXACTLY to k6's own
// end-of-run counts (its summary) and to what the server counted, and each second's latency
// figures must be that second's (the whole run's max within a bucket of k6's own max).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildScenarios, scenarioScript, startK6 } from '../../lib/run/k6-process.ts';
import { K6_REMOTE_WRITE_FILE, startPerSecondSource } from '../../lib/run/per-second-source.ts';
import { foldPerSecond } from '../../lib/report/per-second.ts';
import { readRemoteWriteRecording } from '../../lib/report/remote-write.ts';
import { normalizeSummary, metricCount } from '../../lib/shared/summary.ts';
import { requireK6, scratchDir } from '../support/cli.ts';

describe('per-second data from k6 prometheus remote write (real k6)', { timeout: 120_000 }, () => {
  it("adds up exactly to k6's own end-of-run counts and to the server's", async () => {
    const k6 = await requireK6();
    await buildScenarios();
    const dir = scratchDir('per-second-rw');
    // The target: every 7th publish 503, every 11th 429, every 13th 60 ms late.
    const served = { total: 0, ok: 0, failed: 0 };
    let n = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        n++;
        served.total++;
        const status = n % 7 === 0 ? 503 : n % 11 === 0 ? 429 : 204;
        if (status === 204) served.ok++;
        else served.failed++;
        const answer = (): void => void res.writeHead(status).end();
        if (n % 13 === 0) setTimeout(answer, 60);
        else answer();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    const source = await startPerSecondSource(dir, null);
    try {
      const summaryPath = join(dir, 'summary.json');
      const run = startK6({
        k6,
        script: scenarioScript('jetstream-publish'),
        env: {
          PUBLISH_URL: `http://127.0.0.1:${port}/publish`,
          RATE: '200',
          DURATION: '6s',
          REQUEST_TIMEOUT: '2s',
          THRESHOLDS: 'ha-observe',
        },
        args: ['--quiet', ...source.args],
        processEnv: source.processEnv,
        summaryPath,
        logFile: join(dir, 'k6.log'),
      });
      const exit = await run.done;
      await source.receiver.close();
      assert.ok(existsSync(summaryPath), `k6 exited ${exit.exitCode} without a summary: ${exit.lastLines.join('\n')}`);
      assert.equal(source.receiver.refused, 0, `pushes refused: ${source.receiver.lastError ?? ''}`);
      assert.ok(source.receiver.pushes >= 6, `about one push a second, got ${source.receiver.pushes}`);
      const summary = normalizeSummary(JSON.parse(readFileSync(summaryPath, 'utf8')) as Record<string, unknown>);
      const rec = await readRemoteWriteRecording(join(dir, K6_REMOTE_WRITE_FILE));
      const data = foldPerSecond(rec, { zeroMs: null, outcomes: [], reportedRequest: null, source: 'remote-write' });
      const s = data.series['publish'];
      assert.ok(s !== undefined, `a publish series: ${JSON.stringify(Object.keys(data.series))}`);
      const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);
      const k6Requests = metricCount(summary, 'http_reqs{name:publish}');
      const k6Failed = metricCount(summary, 'http_req_failed{name:publish}');
      assert.ok(k6Requests >= 1000, `about 6 s × 200/s publishes, k6 counted ${k6Requests}`);
      // exact: every publish in exactly one second, as k6 and the server counted them
      assert.equal(sum(s.sent), k6Requests, "the seconds' publishes add up to k6's http_reqs{name:publish}");
      assert.equal(sum(s.failed), k6Failed, "the seconds' failures add up to k6's http_req_failed{name:publish}");
      assert.equal(sum(s.acked), k6Requests - k6Failed);
      assert.equal(sum(s.sent), served.total, 'and to what the server answered');
      assert.equal(sum(s.failed), served.failed);
      assert.ok(s.t.length >= 5, `one row a second: ${s.t.length} rows`);
      // each second's latency: ordered figures, and the whole run's max within a bucket (≤ 9.05 %) of k6's
      s.t.forEach((t, i) => {
        const [p50, p95, p99, max] = [s.p50[i], s.p95[i], s.p99[i], s.max[i]];
        if ((s.sent[i] ?? 0) === 0) return;
        assert.ok(p50 != null && p95 != null && p99 != null && max != null, `second ${t} has latency figures`);
        assert.ok(p50 > 0 && p50 <= p95 && p95 <= p99 && p99 <= max, `second ${t}: ${p50} ${p95} ${p99} ${max}`);
      });
      const k6Max = summary.metrics['http_req_duration{name:publish}']?.values['max'] ?? NaN;
      const ourMax = Math.max(...s.max.map((m) => m ?? 0));
      assert.ok(k6Max >= 60, `the late answers show in k6's max: ${k6Max}`);
      assert.ok(ourMax >= k6Max && ourMax <= k6Max * 1.0906, `per-second max ${ourMax} vs k6's ${k6Max}`);
    } finally {
      await source.receiver.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
