// Benchmark — postgres-haproxy headroom: the highest GET/s the local stack of seed 002 serves
// through nginx → backend → HAProxy → replica with p99 < 100 ms, every response 2xx and nothing
// dropped. Goal: at least 10× the experiment's rate (experiments/postgres-haproxy-phases.json,
// RATE 20 → 200/s).
//
// Method (as bench/jetstream-headroom.ts): one stack (resolve-once, the seed's health check, a new
// PostgreSQL connection per request as the seed's backend), k6 with a lean driver doing the
// scenario's GET at rising constant-arrival-rate steps, each after an unjudged ramp. A step passes
// when p99 < 100 ms, ≥ 99.9 % of the requests due were 2xx and dropped_iterations is 0; the search
// stops at the first failing step. CPU per process is measured per step to show where time goes.
//
// With the seed's backend (a new PostgreSQL connection per request) every request forks a
// PostgreSQL backend process behind HAProxy; --connection pool measures the same path with pooled
// connections, to show how much of the limit that fork is.
//
//   node --import tsx bench/postgres-headroom.ts [--rates 50,100,200,300,400,600,800] [--duration 10s] [--warmup 3s] [--connection per-request|pool]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { metricCount } from '../lib/shared/summary.ts';
import { loadExperiment } from '../lib/experiment/experiment.ts';
import { startPostgresHaproxyStack } from '../lib/stack/postgres-haproxy/stack.ts';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';
import {
  CpuMeter,
  loadNow,
  machineInfo,
  out,
  rateStepOptions,
  saveResult,
  startK6WithSummary,
  withRateSteps,
} from './support.ts';

const P99_MS = 100;
const OK_GOAL = 0.999;
const experimentRate = Number(
  loadExperiment(join(PROJECT_ROOT, 'experiments', 'postgres-haproxy-phases.json')).env['RATE'] ?? '20',
);
const GOAL = 10 * experimentRate;

const DRIVER = `
import http from 'k6/http';
import { Counter } from 'k6/metrics';
const ok = new Counter('ok');
const url = __ENV.TARGET_URL;
const rate = Number(__ENV.RATE);
const vus = Number(__ENV.VUS);
export const options = {
  scenarios: {
    warmup: { executor: 'ramping-arrival-rate', startRate: 0, timeUnit: '1s', stages: [{ target: rate, duration: __ENV.WARMUP }],
      preAllocatedVUs: vus, maxVUs: vus, gracefulStop: '0s' },
    get: { executor: 'constant-arrival-rate', rate, timeUnit: '1s', duration: __ENV.DURATION, startTime: __ENV.WARMUP,
      preAllocatedVUs: vus, maxVUs: vus, gracefulStop: '5s' },
  },
  thresholds: { 'iterations{scenario:get}': ['count>=0'], 'dropped_iterations{scenario:get}': ['count>=0'], 'ok{scenario:get}': ['count>=0'], 'http_req_duration{scenario:get}': ['p(99)>=0'] },
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
};
export default function () {
  const res = http.get(url, { timeout: '3s' });
  if (res.status >= 200 && res.status < 300) ok.add(1);
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;

const opts = withRateSteps(
  new Command('bench/postgres-headroom.ts').description(
    'highest GET/s the postgres-haproxy stack serves at p99 < 100 ms: rising constant-arrival-rate steps',
  ),
  { rates: '50,100,200,300,400,600,800,1000', duration: '10s', warmup: '3s' },
)
  .option(
    '--connection <mode>',
    "the backends' PostgreSQL connections: per-request (the seed's, default) or pool",
    'per-request',
  )
  .parse()
  .opts<{ rates: string; duration: string; warmup: string; connection: string }>();
if (opts.connection !== 'per-request' && opts.connection !== 'pool')
  throw new Error(`--connection must be per-request or pool, got ${JSON.stringify(opts.connection)}`);
const connection = opts.connection;
const { rates, durationMs, warmupMs } = rateStepOptions(opts);
const command = `node --import tsx bench/postgres-headroom.ts --rates ${rates.join(',')} --duration ${opts.duration} --warmup ${opts.warmup} --connection ${connection}`;
const machine = await machineInfo();
const dir = mkdtempSync(join(tmpdir(), 'bench-pg-headroom-'));
const driver = join(dir, 'driver.js');
writeFileSync(driver, DRIVER);
const seconds = durationMs / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Step {
  rate: number;
  scheduled: number;
  ok: number;
  dropped: number;
  okFraction: number;
  p99Ms: number;
  passed: boolean;
  cores: Record<string, number>;
}
const steps: Step[] = [];
out(
  `postgres-haproxy headroom (${connection} connections): steps of ${opts.duration} at ${rates.join(', ')} GET/s, goal ≥ ${GOAL}/s (10 × the experiment's RATE ${experimentRate}) at p99 < ${P99_MS} ms (load average ${loadNow()})`,
);
mkdirSync(join(dir, 'stack'));
const stack = await startPostgresHaproxyStack({
  runDir: join(dir, 'stack'),
  nginx: 'resolve-once',
  backendConnection: connection,
});
try {
  for (const rate of rates) {
    const vus = Math.max(50, Math.ceil(rate * 2));
    const started = await startK6WithSummary({
      script: driver,
      env: {
        TARGET_URL: stack.url,
        RATE: String(rate),
        VUS: String(vus),
        DURATION: opts.duration,
        WARMUP: opts.warmup,
      },
      summaryPath: join(dir, `summary-${rate}.json`),
    });
    const meter = new CpuMeter(
      () => ({
        k6: started.child.pid,
        nginx: stack.nginx.pid,
        'backend-0': stack.backends[0]?.pid,
        'backend-1': stack.backends[1]?.pid,
        haproxy: stack.haproxy.pid,
        // the postmaster with the backend processes it forked per connection and reaped
        'pg-replica-0': stack.replicas[0]?.pid,
        'pg-replica-1': stack.replicas[1]?.pid,
      }),
      250,
      new Set(['pg-replica-0', 'pg-replica-1']),
    );
    await sleep(warmupMs + 1000);
    meter.begin();
    await sleep(seconds * 1000 - 1500);
    const cores = meter.end();
    const r = await started.done;
    const attempted = metricCount(r.summary, 'iterations{scenario:get}');
    const dropped = metricCount(r.summary, 'dropped_iterations{scenario:get}');
    const ok = metricCount(r.summary, 'ok{scenario:get}');
    const scheduled = Math.max(rate * seconds, attempted + dropped);
    const okFraction = scheduled === 0 ? 0 : ok / scheduled;
    const p99Ms = r.summary.metrics['http_req_duration{scenario:get}']?.values['p(99)'] ?? NaN;
    const passed = dropped === 0 && okFraction >= OK_GOAL && p99Ms < P99_MS;
    steps.push({ rate, scheduled, ok, dropped, okFraction, p99Ms, passed, cores });
    out(
      `rate ${String(rate).padStart(5)}/s: ${ok}/${scheduled} 2xx (${(okFraction * 100).toFixed(2)} %), dropped ${dropped}, p99 ${p99Ms.toFixed(1)} ms — ${passed ? 'sustained' : 'NOT sustained'}`,
    );
    out(
      `             cores: ${Object.entries(cores)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')} (of ${machine.nproc})`,
    );
    if (!passed) break;
    await sleep(2000);
  }
} finally {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
const best = steps.filter((s) => s.passed).at(-1)?.rate ?? 0;
const firstFail = steps.find((s) => !s.passed)?.rate ?? null;
const met = best >= GOAL;
out('');
out(
  `RESULT postgres-headroom: highest rate at p99 < ${P99_MS} ms ${best}/s${firstFail === null ? ' (every step passed; try higher --rates)' : `, first failing step ${firstFail}/s`} = ${(best / experimentRate).toFixed(0)}× the experiment's ${experimentRate}/s (goal ≥ 10×: ${met ? 'met' : 'NOT met'})`,
);
out(`load average after: ${loadNow()}`);
out(`command: ${command}`);
saveResult(`postgres-headroom-${connection}`, {
  command,
  connection,
  machine,
  loadAfter: loadNow(),
  goal: `≥ ${GOAL}/s at p99 < ${P99_MS} ms`,
  met,
  best,
  firstFail,
  experimentRate,
  steps,
});
process.exitCode = met ? 0 : 1;
