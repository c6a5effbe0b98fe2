// Benchmark — http-get overhead: iterations/s of build/http-get.js with attribution (ATTRIBUTE=pod,db,
// the postgres-haproxy experiment's phases and expected values, so k6 matches the same per-phase
// submetrics as in the experiment) against a hand-written k6 script doing the same GET and the same
// check, both against one trivial local server answering the backend's JSON body
// ({"users":3,"pod":"backend-N","db":"pg-replica-N"}, alternating). Goal ≥ 0.95.
//
// Method (as bench/jetstream-overhead.ts --together): closed loop, `k6 run --vus N --duration D` for
// both scripts AT THE SAME TIME, so both k6 processes meet the same slowdowns of the shared 2 cores;
// the ratio of their iterations/s is the ratio of what an iteration costs each. The median over
// rounds is the result. While the scenario runs, this process reads the scenario's k6 REST API
// (/v1/metrics) every 500 ms, as the sidecar's per-second attribution does (lib/sidecar/
// attribution-sampler.ts), so the ratio includes what per-second attribution costs k6.
// With --csv, a second set of rounds measures the alternative that was not chosen: per-second
// attribution from k6's output (`--out csv=…`, every sample written for Node to bucket afterwards).
// Each poll round also checks that the VUs' batches add up to k6's own count of 2xx responses.
//
//   node --import tsx bench/http-get-overhead.ts [--vus 10] [--duration 30s] [--together 3] [--bare same-get|minimal|by-hand] [--csv]
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { metricCount } from '../lib/shared/summary.ts';
import { parseDurationMs } from '../lib/shared/env-parse.ts';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';
import { buildScenarios } from '../lib/run/k6-process.ts';
import { freePort } from '../lib/stack/free-port.ts';
import { loadExperiment } from '../lib/experiment/experiment.ts';
import { phasesOf } from '../lib/targets/postgres-haproxy.ts';
import { BACKENDS, REPLICAS } from '../lib/stack/postgres-haproxy/stack.ts';
import { AttributionSampler } from '../lib/sidecar/attribution-sampler.ts';
import { intArg, loadNow, machineInfo, median, out, runK6WithSummary, saveResult } from './support.ts';

const GOAL = 0.95;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// The same GET and the same check as scenarios/http-get.ts, nothing else. --bare minimal: no
// request params at all (k6's default 60 s timeout, the URL as name), the eighth round's baseline;
// --bare same-get (default): the request http-get sends, its timeout (REQUEST_TIMEOUT) and name tag,
// with the same response callback — what any hand-written script for this load would send.
const BARE_MINIMAL = `
import http from 'k6/http';
import { check } from 'k6';
const url = __ENV.TARGET_URL;
const statusChecks = { 'is status 2xx': (r) => r.status >= 200 && r.status < 300 };
export default function () {
  check(http.get(url), statusChecks);
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;
const BARE_SAME_GET = `
import http from 'k6/http';
import { check } from 'k6';
const url = __ENV.TARGET_URL;
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }));
const params = { timeout: 3000, tags: { name: 'get' } };
const statusChecks = { 'is status 2xx': (r) => r.status >= 200 && r.status < 300 };
export default function () {
  check(http.get(url, params), statusChecks);
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;

// --bare by-hand: the same job written by hand the way k6's docs show it — the same GET and check,
// then each 2xx body parsed and counted by the backend and replica that answered, one tagged
// sample per response (no phases: less than http-get does, so the ratio is not flattered).
const BARE_BY_HAND = `
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
const url = __ENV.TARGET_URL;
const answered = new Counter('answered');
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }));
const params = { timeout: 3000, tags: { name: 'get' } };
const statusChecks = { 'is status 2xx': (r) => r.status >= 200 && r.status < 300 };
export default function () {
  const res = http.get(url, params);
  if (check(res, statusChecks)) {
    const body = res.json();
    answered.add(1, { pod: String(body.pod), db: String(body.db) });
  }
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;
const BARE_SCRIPTS: Record<string, string> = {
  'same-get': BARE_SAME_GET,
  minimal: BARE_MINIMAL,
  'by-hand': BARE_BY_HAND,
};

const GO_USERS = `package main

import (
	"net/http"
	"os"
	"sync/atomic"
)

var n atomic.Uint64

func main() {
	bodies := [][]byte{
		[]byte(\`{"users":3,"pod":"backend-0","db":"pg-replica-0"}\`),
		[]byte(\`{"users":3,"pod":"backend-1","db":"pg-replica-1"}\`),
		[]byte(\`{"users":3,"pod":"backend-0","db":"pg-replica-1"}\`),
		[]byte(\`{"users":3,"pod":"backend-1","db":"pg-replica-0"}\`),
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		_, _ = w.Write(bodies[n.Add(1)%4])
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], h); err != nil {
		panic(err)
	}
}
`;

async function startUsersServer(): Promise<{ url: string; stop: () => void }> {
  const dir = join(tmpdir(), 'k6-ha-bench-users');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, 'server-users');
  if (!existsSync(bin)) {
    writeFileSync(join(dir, 'main.go'), GO_USERS);
    writeFileSync(join(dir, 'go.mod'), 'module users\n\ngo 1.22\n');
    await promisify(execFile)('go', ['build', '-o', bin, '.'], { cwd: dir, timeout: 300_000 });
  }
  const port = await freePort();
  const child = spawn(bin, [String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/users`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(500) })).status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return { url, stop: () => child.kill('SIGKILL') };
}

const opts = new Command('bench/http-get-overhead.ts')
  .description('iterations/s of http-get with attribution vs a hand-written GET + check script, run together')
  .option('--vus <n>', 'VUs of each (closed loop, no sleep)', intArg('--vus', 1000), 10)
  .option('--duration <d>', 'length of each k6 run', (v) => (parseDurationMs('--duration', v), v), '30s')
  .option('--together <n>', 'rounds of each comparison', intArg('--together', 20), 3)
  .option(
    '--bare <kind>',
    'the hand-written script: same-get (the same request params), minimal (none) or by-hand (same-get plus attribution written by hand: res.json() and a tagged Counter.add per response)',
    'same-get',
  )
  .option('--csv', 'also measure per-second attribution from `--out csv` (the alternative not chosen)', false)
  .parse()
  .opts<{ vus: number; duration: string; together: number; csv: boolean; bare: string }>();
const bareScript = BARE_SCRIPTS[opts.bare];
if (bareScript === undefined)
  throw new Error(`--bare must be one of ${Object.keys(BARE_SCRIPTS).join(', ')}, got ${JSON.stringify(opts.bare)}`);

const command = `node --import tsx bench/http-get-overhead.ts --vus ${opts.vus} --duration ${opts.duration} --together ${opts.together} --bare ${opts.bare}${opts.csv ? ' --csv' : ''}`;
const machine = await machineInfo();
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-http-get-'));
const bare = join(dir, 'bare.js');
writeFileSync(bare, bareScript);
const scenario = join(PROJECT_ROOT, 'build', 'http-get.js');
const experiment = loadExperiment(join(PROJECT_ROOT, 'experiments', 'postgres-haproxy-phases.json'));
const server = await startUsersServer();
const scenarioEnv = {
  TARGET_URL: server.url,
  ATTRIBUTE: 'pod,db',
  ATTRIBUTE_EXPECT: `pod=${BACKENDS.join('|')};db=${REPLICAS.join('|')}`,
  PHASES: phasesOf(experiment),
  THRESHOLDS: 'http-observe',
  REQUEST_TIMEOUT: '3s',
  // The end of the load, as in a real run: the scenario flushes every response from the last
  // few seconds on (attribution-counter.ts), and that is part of what it costs.
  DURATION: opts.duration,
};
out(
  `http-get overhead: ${opts.vus} VUs each × ${opts.duration}, ${opts.together} rounds per comparison, run together (bare: ${opts.bare}), against a Go server at ${server.url} (load average ${loadNow()})`,
);
const seconds = parseDurationMs('duration', opts.duration) / 1000;

async function together(round: number, variant: 'poll' | 'csv'): Promise<number> {
  const address = `127.0.0.1:${await freePort()}`;
  const csv = join(dir, `out-${round}.csv`);
  const extra = variant === 'csv' ? ['--out', `csv=${csv}`] : [];
  const sampler = variant === 'poll' ? new AttributionSampler(`http://${address}`, 'http_get_ok') : null;
  const pending = Promise.all([
    runK6WithSummary({
      script: bare,
      args: ['--vus', String(opts.vus), '--duration', opts.duration, '--address', `127.0.0.1:${await freePort()}`],
      env: { TARGET_URL: server.url },
      summaryPath: join(dir, `bare-${variant}-${round}.json`),
    }),
    runK6WithSummary({
      script: scenario,
      args: ['--vus', String(opts.vus), '--duration', opts.duration, '--address', address, ...extra],
      env: scenarioEnv,
      summaryPath: join(dir, `scenario-${variant}-${round}.json`),
    }),
  ]);
  sampler?.start();
  const [b, s] = await pending;
  await sampler?.stop();
  for (const [v, r] of [
    ['bare', b],
    ['scenario', s],
  ] as const) {
    if (r.code !== 0 && r.code !== 99)
      throw new Error(`k6 (${v}, ${variant}) exited ${r.code}:\n${r.output.slice(-2000)}`);
  }
  const bareIps = metricCount(b.summary, 'iterations') / seconds;
  const scenarioIps = metricCount(s.summary, 'iterations') / seconds;
  const attributed = metricCount(s.summary, 'http_get_ok');
  const okTotal = metricCount(s.summary, 'http_reqs{name:get,expected_response:true}');
  if (variant === 'poll' && attributed !== okTotal)
    throw new Error(`http-get attributed ${attributed} of ${okTotal} 2xx responses: a VU's batch went missing`);
  const csvMb = variant === 'csv' && existsSync(csv) ? statSync(csv).size / 1e6 : 0;
  out(
    `${variant} round ${round}: bare ${bareIps.toFixed(0)} iterations/s, http-get ${scenarioIps.toFixed(0)} iterations/s (${attributed} attributed${sampler === null ? '' : `, ${sampler.samples.length} reads of /v1/metrics`}${variant === 'csv' ? `, ${csvMb.toFixed(0)} MB of csv` : ''}), ratio ${(scenarioIps / bareIps).toFixed(3)}`,
  );
  rmSync(csv, { force: true });
  return scenarioIps / bareIps;
}

const polled: number[] = [];
const csvRatios: number[] = [];
try {
  await runK6WithSummary({
    script: bare,
    args: ['--vus', String(opts.vus), '--duration', '2s'],
    env: { TARGET_URL: server.url },
    summaryPath: join(dir, 'warmup.json'),
  });
  for (let round = 1; round <= opts.together; round++) polled.push(await together(round, 'poll'));
  if (opts.csv) for (let round = 1; round <= opts.together; round++) csvRatios.push(await together(round, 'csv'));
} finally {
  server.stop();
  rmSync(dir, { recursive: true, force: true });
}
const ratio = median(polled);
const csvRatio = median(csvRatios);
const met = ratio >= GOAL;
out('');
out(
  `http-get (per-second attribution from k6's REST API every 500 ms) / bare, per round: ${polled.map((r) => r.toFixed(3)).join(' ')} (median ${ratio.toFixed(3)})`,
);
if (opts.csv)
  out(
    `http-get with --out csv (the alternative) / bare, per round: ${csvRatios.map((r) => r.toFixed(3)).join(' ')} (median ${csvRatio.toFixed(3)})`,
  );
out(
  `RESULT http-get-overhead: http-get/bare = ${ratio.toFixed(3)} run together (median; goal ≥ ${GOAL}: ${met ? 'met' : 'NOT met'})${opts.csv ? `; with --out csv instead: ${csvRatio.toFixed(3)}` : ''}`,
);
out(`load average after: ${loadNow()}`);
out(`command: ${command}`);
saveResult('http-get-overhead', {
  command,
  machine,
  loadAfter: loadNow(),
  goal: `http-get/bare ≥ ${GOAL}`,
  met,
  ratio,
  rounds: polled,
  csvRatio,
  csvRounds: csvRatios,
  vus: opts.vus,
  bare: opts.bare,
  duration: opts.duration,
});
process.exitCode = met ? 0 : 1;
