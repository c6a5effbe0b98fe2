// Benchmark 3 — headroom: the highest publish rate the embedded local stack (3 nats-server
// members, stream R3, the HTTP publisher and the sink, lib/stack/local-stack.ts) acks on this
// machine. Goal ≥ 2,000 events/s.
//
// Method: one LocalStack (replicas 3) for the whole benchmark; k6 drives its publisher with a
// constant-arrival-rate at rising rates, DURATION each. A step passes when ≥ 99.9 % of the
// events due (rate × DURATION, whether or not k6 managed to start them) were acked (204) and
// dropped_iterations is 0 (all VUs pre-allocated, 2 s of latency worth: a rate the stack cannot
// answer within 2 s shows up as dropped iterations). The search stops at the first failing step.
// The driver is a lean k6 script sending the scenario's exact
// request (CloudEvents binary mode) without the scenario's metrics, so that on 2 cores as much
// CPU as possible is left to the stack; CPU per process (k6, publisher, each nats-server, sink)
// is measured per step to show where the time goes.
//
// Each step starts with a warm-up (--warmup, default 5 s) that ramps from 0 to the step's rate and
// is not judged: a fresh k6 opening hundreds of connections at once is a start-up transient, not
// the stack's sustained rate.
//
// --vu-seconds sets the pool: k6 hands each arrival to the VU idle longest, so every pre-allocated
// VU is used in turn and a larger pool costs k6 more CPU and latency per event (thousands of JS
// runtimes and connections), while a smaller one turns any stall longer than the pool into
// dropped events. The default, 2 s, is the one every recorded result used.
//
//   node --import tsx bench/jetstream-headroom.ts [--rates 150,300,500,750,1000,1500,2000,2500,3000,4000] [--duration 10s] [--warmup 5s] [--vu-seconds 2]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { metricCount } from '../lib/shared/summary.ts';
import { LocalStack } from '../lib/stack/local-stack.ts';
import { ensureTool } from '../lib/tools/toolchain.ts';
import {
  CpuMeter,
  loadNow,
  machineInfo,
  out,
  PUBLISH_EVENT_JS,
  rateStepOptions,
  saveResult,
  startK6WithSummary,
  withRateSteps,
} from './support.ts';

const GOAL = 2000;
const ACK_GOAL = 0.999;

// The request is built the way scenarios/jetstream-publish.ts builds it (PUBLISH_EVENT_JS), so
// k6 leaves as much of the 2 cores to the stack as the shipped scenario would.
const DRIVER = `
import http from 'k6/http';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
const acked = new Counter('acked');
const url = __ENV.PUBLISH_URL;
const rate = Number(__ENV.RATE);
const vus = Number(__ENV.VUS);
const tag = __ENV.RUN_TAG;
const warmup = __ENV.WARMUP;
// Only the publish scenario is judged; these "thresholds" never fail, they make k6 report the
// publish scenario's own figures (submetrics) in the summary.
const judged = ['iterations', 'dropped_iterations', 'acked'];
export const options = {
  scenarios: {
    // New connections, the publisher's JIT and nats-server's buffers settle while the rate ramps up.
    warmup: { executor: 'ramping-arrival-rate', startRate: 0, timeUnit: '1s', stages: [{ target: rate, duration: warmup }],
      preAllocatedVUs: vus, maxVUs: vus, gracefulStop: '0s' },
    publish: { executor: 'constant-arrival-rate', rate, timeUnit: '1s', duration: __ENV.DURATION, startTime: warmup,
      preAllocatedVUs: vus, maxVUs: vus, gracefulStop: '10s' },
  },
  thresholds: Object.fromEntries([...judged.map((m) => [m + '{scenario:publish}', ['count>=0']]),
    ['http_req_duration{scenario:publish}', ['p(99)>=0']]]),
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
};
${PUBLISH_EVENT_JS}
export default function () {
  if (publishEvent(url, tag).status === 204) acked.add(1);
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;

const opts = withRateSteps(
  new Command('bench/jetstream-headroom.ts').description(
    'highest publish rate the local stack (R3) acks: rising constant-arrival-rate steps',
  ),
  { rates: '150,300,500,750,1000,1500,2000,2500,3000,4000', duration: '10s', warmup: '5s' },
)
  .option(
    '--vu-seconds <s>',
    "VUs pre-allocated per step: this many seconds of latency at the step's rate",
    (v) => {
      if (!(Number(v) > 0))
        throw new Error(`--vu-seconds must be a positive number of seconds, got ${JSON.stringify(v)}`);
      return v;
    },
    '2',
  )
  .parse()
  .opts<{ rates: string; duration: string; warmup: string; vuSeconds: string }>();
const { rates, durationMs, warmupMs } = rateStepOptions(opts);
const command = `node --import tsx bench/jetstream-headroom.ts --rates ${rates.join(',')} --duration ${opts.duration} --warmup ${opts.warmup} --vu-seconds ${opts.vuSeconds}`;

const machine = await machineInfo();
const natsServerBin = await ensureTool('nats-server', { install: false });
const dir = mkdtempSync(join(tmpdir(), 'bench-headroom-'));
const driver = join(dir, 'driver.js');
writeFileSync(driver, DRIVER);
const seconds = durationMs / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Step {
  rate: number;
  vus: number;
  scheduled: number;
  attempted: number;
  acked: number;
  dropped: number;
  ackedFraction: number;
  achievedPerSecond: number;
  p99Ms: number;
  passed: boolean;
  cores: Record<string, number>;
}
const steps: Step[] = [];

/** Resolves when the publisher has answered its first request (k6's VUs are initialised and the
 * warm-up has begun), or when k6 ends without sending any. */
async function firstPublish(publisherUrl: string, k6Done: Promise<unknown>): Promise<void> {
  const accepted = async (): Promise<number> => {
    try {
      const res = await fetch(`${publisherUrl}/stats`);
      return ((await res.json()) as { accepted: number }).accepted;
    } catch (err) {
      throw new Error(`the local stack's publisher at ${publisherUrl} stopped answering: ${(err as Error).message}`, {
        cause: err,
      });
    }
  };
  const before = await accepted();
  let ended = false;
  void k6Done.finally(() => (ended = true));
  while (!ended && (await accepted()) === before) await sleep(100);
}

/** CPU milliseconds per acked event for each process, and what the stack alone would reach on all cores. */
function cpuPerEvent(cores: Record<string, number>, ackedPerSecond: number): string {
  if (ackedPerSecond <= 0) return '-';
  const ours = Object.entries(cores).filter(([k]) => k !== 'machine');
  const parts = ours.map(([k, v]) => `${k} ${((v / ackedPerSecond) * 1000).toFixed(2)} ms`);
  const stackCores = ours.filter(([k]) => k !== 'k6').reduce((a, [, v]) => a + v, 0);
  const allCores = ours.reduce((a, [, v]) => a + v, 0);
  return `${parts.join(', ')}; CPU-bound ceiling with all ${machine.nproc} cores free: ≈ ${Math.round((machine.nproc / allCores) * ackedPerSecond)}/s with k6, ≈ ${Math.round((machine.nproc / stackCores) * ackedPerSecond)}/s stack alone`;
}
out(
  `headroom: local stack with replicas 3, steps of ${opts.duration} at ${rates.join(', ')} events/s (load average ${loadNow()})`,
);
mkdirSync(join(dir, 'stack'));
const stack = await LocalStack.start({ runDir: join(dir, 'stack'), natsServerBin, replicas: 3 });
try {
  for (const rate of rates) {
    // Pre-allocated, never initialised mid-step: enough for --vu-seconds (2 s) of latency, so a
    // short stall (a raft snapshot, a GC pause) is absorbed as latency, as the scenario (sized
    // for its whole request timeout) would, instead of dropping events the stack could still ack.
    const vus = Math.max(50, Math.ceil(rate * Number(opts.vuSeconds)));
    const started = await startK6WithSummary({
      script: driver,
      env: {
        PUBLISH_URL: stack.publishUrl,
        RATE: String(rate),
        VUS: String(vus),
        DURATION: opts.duration,
        WARMUP: opts.warmup,
        RUN_TAG: `h${rate}-${Date.now().toString(36)}`,
      },
      summaryPath: join(dir, `summary-${rate}.json`),
    });
    const meter = new CpuMeter(() => ({
      k6: started.child.pid,
      publisher: stack.publisher.pid,
      sink: stack.sink.pid,
      ...Object.fromEntries(stack.cluster.members.map((m) => [m.name.replace('eventing-', ''), m.process.pid])),
    }));
    // CPU of the measured part only: from the end of the warm-up (VU initialisation takes 2–6 ms
    // per VU on this machine, so it is watched for, not guessed: the publisher's first request),
    // for the step's duration less a second of margin (in-flight requests, k6's summary).
    await firstPublish(stack.publisherUrl, started.done);
    await sleep(warmupMs);
    meter.begin();
    await sleep(seconds * 1000 - 1000);
    const cores = meter.end();
    const r = await started.done;
    const attempted = metricCount(r.summary, 'iterations{scenario:publish}');
    const dropped = metricCount(r.summary, 'dropped_iterations{scenario:publish}');
    const acked = metricCount(r.summary, 'acked{scenario:publish}');
    // What the step owed: constant-arrival-rate starts rate × duration iterations. A k6 too
    // starved of CPU to start them in time neither sends them nor counts them as dropped, so the
    // count of what was due, not attempted + dropped, is what the acks are judged against.
    const scheduled = Math.max(rate * seconds, attempted + dropped);
    const ackedFraction = scheduled === 0 ? 0 : acked / scheduled;
    const p99Ms = r.summary.metrics['http_req_duration{scenario:publish}']?.values['p(99)'] ?? NaN;
    const passed = dropped === 0 && ackedFraction >= ACK_GOAL && attempted > 0;
    const step: Step = {
      rate,
      vus,
      scheduled,
      attempted,
      acked,
      dropped,
      ackedFraction,
      achievedPerSecond: acked / seconds,
      p99Ms,
      passed,
      cores,
    };
    steps.push(step);
    out(
      `rate ${String(rate).padStart(5)}/s: ${acked}/${scheduled} acked (${(ackedFraction * 100).toFixed(2)} %), sent ${attempted}, dropped ${dropped}, p99 ${p99Ms.toFixed(0)} ms — ${passed ? 'sustained' : 'NOT sustained'}`,
    );
    out(
      `             cores: ${Object.entries(cores)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')} (of ${machine.nproc})`,
    );
    out(`             CPU per acked event: ${cpuPerEvent(cores, acked / seconds)}`);
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
  `RESULT headroom: highest sustained rate ${best}/s${firstFail === null ? ` (every step passed; try higher --rates)` : `, first failing step ${firstFail}/s`} (goal ≥ ${GOAL}/s: ${met ? 'met' : 'NOT met'})`,
);
out(`load average after: ${loadNow()}`);
out(`command: ${command}`);
saveResult('headroom', {
  command,
  machine,
  loadAfter: loadNow(),
  goal: `≥ ${GOAL}/s with ≥ 99.9 % acked and 0 dropped`,
  met,
  best,
  firstFail,
  steps,
});
process.exitCode = met ? 0 : 1;
