// Benchmark 1 — overhead: the highest sustained iterations/s of build/jetstream-publish.js versus
// a bare k6 script doing one http.post, both against the same trivial local 204 server.
//
// Method: closed loop. Each script runs with the same `k6 run --vus N --duration D` (the CLI
// flags replace the scenario's constant-arrival-rate with constant-vus; k6 says so), no sleep, so
// every VU sends its next request the moment the last one returned: iterations/s is then the most
// this k6 process can push through with that script on this machine. The server is a Go binary
// that does nothing but answer 204, in its own process, and its CPU is measured to show it is
// not the limit. Variants, alternating order per round so drift hits all alike:
//   bare      one http.post with a small JSON body (the brief's baseline)
//   bare-ce   the scenario's exact request (CloudEvents binary headers, id from iterationInTest,
//             same body, name tag, timeout), built as the scenario builds it, and nothing else:
//             the workload without the harness (check, outcome handling, thresholds)
//   bare-ce-check  bare-ce plus the check "is status 204" the brief asks for: everything k6 is
//             asked to do per event, written bare, so scenario / bare-ce-check is the cost of
//             the harness itself (outcome handling, failure counters, thresholds)
//   scenario  build/jetstream-publish.js as shipped (custom metrics, check, default gates)
// The result is the median over rounds of scenario / bare from the same round. Goal ≥ 0.9.
// Last, a call-cost probe times one check() and two trivial calls inside k6 (CALL_COSTS below),
// to show how much of a bare iteration's CPU the brief's check takes by itself.
// Because other load on a 2-core machine steals k6's CPU unevenly, the same ratio is also given
// per k6 CPU-second (iterations / CPU time k6 used): the cost of one iteration, independent of
// how much CPU k6 happened to get; when k6 is the bottleneck that is what bounds its rate.
//
//   node --import tsx bench/jetstream-overhead.ts [--vus 10] [--duration 10s] [--rounds 3]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { metricCount } from '../lib/shared/summary.ts';
import { parseDurationMs } from '../lib/shared/env-parse.ts';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';
import { buildScenarios } from '../lib/run/k6-process.ts';
import {
  CpuMeter,
  loadNow,
  machineInfo,
  mean,
  median,
  out,
  runK6WithSummary,
  saveResult,
  startK6WithSummary,
  startNoContentServer,
  intArg,
  PUBLISH_EVENT_JS,
} from './support.ts';

const GOAL = 0.9;

const BARE = `
import http from 'k6/http';
const url = __ENV.PUBLISH_URL;
export default function () {
  http.post(url, JSON.stringify({ seq: __ITER, sentAt: Date.now() }), { headers: { 'content-type': 'application/json' } });
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;

// The scenario's request, built the way the scenario builds it, and nothing else.
const BARE_CE = `
import http from 'k6/http';
import exec from 'k6/execution';
const url = __ENV.PUBLISH_URL;
const tag = 'r' + Date.now().toString(36);
${PUBLISH_EVENT_JS}
export default function () {
  publishEvent(url, tag);
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;

// The same, plus the brief's check.
const BARE_CE_CHECK = `
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
const url = __ENV.PUBLISH_URL;
const tag = 'r' + Date.now().toString(36);
const statusChecks = { 'is status 204': (r) => r.status === 204 };
${PUBLISH_EVENT_JS}
export default function () {
  check(publishEvent(url, tag), statusChecks);
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;

// What one call costs inside k6, timed in a loop within a single iteration (1 VU): k6's check()
// as the scenario calls it (binding and callbacks object made once), the same callback called as
// a plain JS function, and Date.now() as a yardstick for a trivial Go-backed call. Most of a
// check() is sobek converting its two arguments to Go through reflection (reflect.implements per
// argument), then the sample it emits; nothing a script can avoid while it calls check().
const CALL_COSTS = `
import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 1, iterations: 1 };
const N = 100000;
const checkStatus = check;
const statusChecks = { 'is status 204': (r) => r.status === 204 };
export default function () {
  const res = http.post(__ENV.PUBLISH_URL, 'x');
  const isStatus = statusChecks['is status 204'];
  const calls = {
    'check(res, checks)': () => { for (let i = 0; i < N; i++) checkStatus(res, statusChecks); },
    'the check callback as a plain JS call': () => { for (let i = 0; i < N; i++) isStatus(res); },
    'Date.now()': () => { for (let i = 0; i < N; i++) Date.now(); },
  };
  const best = {};
  for (let round = 0; round < 3; round++) {
    for (const [name, fn] of Object.entries(calls)) {
      const t = Date.now();
      fn();
      const us = ((Date.now() - t) * 1000) / N;
      best[name] = Math.min(best[name] ?? Infinity, us);
    }
  }
  for (const [name, us] of Object.entries(best)) console.log('CALLCOST ' + JSON.stringify({ name, us }));
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;

const opts = new Command('bench/jetstream-overhead.ts')
  .description('iterations/s of jetstream-publish vs a bare one-http.post k6 script against a local 204 server')
  .option('--vus <n>', 'VUs (closed loop, no sleep)', intArg('--vus', 1000), 10)
  .option('--duration <d>', 'length of each k6 run', (v) => (parseDurationMs('--duration', v), v), '10s')
  .option('--rounds <n>', 'rounds of the three variants', intArg('--rounds', 20), 3)
  .option('--together <n>', 'rounds with bare and scenario running at the same time', intArg('--together', 20), 3)
  .parse()
  .opts<{ vus: number; duration: string; rounds: number; together: number }>();

const command = `node --import tsx bench/jetstream-overhead.ts --vus ${opts.vus} --duration ${opts.duration} --rounds ${opts.rounds} --together ${opts.together}`;
const machine = await machineInfo();
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-overhead-'));
const scripts = {
  bare: join(dir, 'bare.js'),
  'bare-ce': join(dir, 'bare-ce.js'),
  'bare-ce-check': join(dir, 'bare-ce-check.js'),
  scenario: join(PROJECT_ROOT, 'build', 'jetstream-publish.js'),
} as const;
type Variant = keyof typeof scripts;
writeFileSync(scripts.bare, BARE);
writeFileSync(scripts['bare-ce'], BARE_CE);
writeFileSync(scripts['bare-ce-check'], BARE_CE_CHECK);
const callCostsScript = join(dir, 'call-costs.js');
writeFileSync(callCostsScript, CALL_COSTS);
const variants: Variant[] = ['bare', 'bare-ce', 'bare-ce-check', 'scenario'];

const server = await startNoContentServer();
out(
  `overhead: ${opts.vus} VUs × ${opts.duration}, ${opts.rounds} rounds, against a ${server.kind} 204 server at ${server.url} (load average ${loadNow()})`,
);
const perVariant: Record<Variant, number[]> = { bare: [], 'bare-ce': [], 'bare-ce-check': [], scenario: [] };
const roundRatios: number[] = [];
const roundRatiosCe: number[] = [];
const roundRatiosCeCheck: number[] = [];
/** iterations per CPU-second of k6: robust against other load stealing k6's CPU mid-run */
const perCpuSecond: Record<Variant, number[]> = { bare: [], 'bare-ce': [], 'bare-ce-check': [], scenario: [] };
const roundCpuRatios: number[] = [];
const togetherRatios: number[] = [];
/** µs per call inside k6 (best of 3 loops of 100,000) */
const callCosts: Record<string, number> = {};
const cpu: Record<Variant, Array<Record<string, number>>> = {
  bare: [],
  'bare-ce': [],
  'bare-ce-check': [],
  scenario: [],
};
let n = 0;
try {
  // A short warm-up so the first measured run does not pay for cold caches.
  await runK6WithSummary({
    script: scripts.bare,
    args: ['--vus', String(opts.vus), '--duration', '2s'],
    env: { PUBLISH_URL: `${server.url}/publish` },
    summaryPath: join(dir, 'warmup.json'),
  });
  for (let round = 1; round <= opts.rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round - 1) % variants.length] as Variant);
    const got: Partial<Record<Variant, number>> = {};
    for (const v of order) {
      const started = await startK6WithSummary({
        script: scripts[v],
        args: ['--vus', String(opts.vus), '--duration', opts.duration],
        env: { PUBLISH_URL: `${server.url}/publish` },
        summaryPath: join(dir, `summary-${n++}.json`),
      });
      const meter = new CpuMeter(() => ({ k6: started.child.pid, server: server.pid }));
      meter.begin();
      const r = await started.done;
      const used = meter.end();
      if (r.code !== 0 && r.code !== 99) throw new Error(`k6 (${v}) exited ${r.code}:\n${r.output.slice(-2000)}`);
      const seconds = parseDurationMs('duration', opts.duration) / 1000;
      const iterations = metricCount(r.summary, 'iterations');
      const ips = iterations / seconds;
      got[v] = ips;
      perVariant[v].push(ips);
      cpu[v].push(used);
      const k6Cores = used['k6'];
      const efficiency = k6Cores === undefined || k6Cores <= 0 ? NaN : ips / k6Cores;
      perCpuSecond[v].push(efficiency);
      out(
        `round ${round} ${v.padEnd(13)} ${ips.toFixed(0).padStart(6)} iterations/s ${efficiency.toFixed(0).padStart(6)} per k6 CPU-second  (cores: k6 ${used['k6'] ?? '?'}, server ${used['server'] ?? '?'}, machine ${used['machine']} of ${machine.nproc})`,
      );
    }
    roundRatios.push((got.scenario ?? 0) / (got.bare ?? 1));
    roundRatiosCe.push((got.scenario ?? 0) / (got['bare-ce'] ?? 1));
    roundRatiosCeCheck.push((got.scenario ?? 0) / (got['bare-ce-check'] ?? 1));
    roundCpuRatios.push((perCpuSecond.scenario.at(-1) ?? NaN) / (perCpuSecond.bare.at(-1) ?? NaN));
  }
  // Back-to-back runs on this VM see its speed change by ±30 % between them. Run together, both
  // k6 processes meet the same slowdowns and share the cores fairly, so the ratio of their
  // iterations/s is the ratio of what an iteration costs each — the same question, less noise.
  for (let round = 1; round <= opts.together; round++) {
    const env = { PUBLISH_URL: `${server.url}/publish` };
    const [b, s] = await Promise.all([
      runK6WithSummary({
        script: scripts.bare,
        args: ['--vus', String(opts.vus), '--duration', opts.duration],
        env,
        summaryPath: join(dir, `together-bare-${round}.json`),
      }),
      runK6WithSummary({
        script: scripts.scenario,
        args: ['--vus', String(opts.vus), '--duration', opts.duration],
        env,
        summaryPath: join(dir, `together-scenario-${round}.json`),
      }),
    ]);
    for (const [v, r] of [
      ['bare', b],
      ['scenario', s],
    ] as const) {
      if (r.code !== 0 && r.code !== 99)
        throw new Error(`k6 (${v}, together) exited ${r.code}:\n${r.output.slice(-2000)}`);
    }
    const seconds = parseDurationMs('duration', opts.duration) / 1000;
    const bareIps = metricCount(b.summary, 'iterations') / seconds;
    const scenarioIps = metricCount(s.summary, 'iterations') / seconds;
    togetherRatios.push(scenarioIps / bareIps);
    out(
      `together ${round}: bare ${bareIps.toFixed(0)} iterations/s, scenario ${scenarioIps.toFixed(0)} iterations/s, ratio ${(scenarioIps / bareIps).toFixed(3)}`,
    );
  }
  const costs = await runK6WithSummary({
    script: callCostsScript,
    env: { PUBLISH_URL: `${server.url}/publish` },
    summaryPath: join(dir, 'call-costs.json'),
  });
  if (costs.code !== 0) throw new Error(`k6 (call costs) exited ${costs.code}:\n${costs.output.slice(-2000)}`);
  for (const m of costs.output.matchAll(/CALLCOST (\{.*?\})(?:"|$)/gm)) {
    const c = JSON.parse((m[1] ?? '{}').replaceAll('\\"', '"')) as { name: string; us: number };
    callCosts[c.name] = c.us;
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

const ratio = median(roundRatios);
const ratioCe = median(roundRatiosCe);
const ratioCeCheck = median(roundRatiosCeCheck);
const cpuRatio = median(roundCpuRatios);
const met = ratio >= GOAL;
out('');
for (const v of variants)
  out(
    `${v.padEnd(13)} ${mean(perVariant[v]).toFixed(0).padStart(6)} iterations/s (mean of ${perVariant[v].length}: ${perVariant[v].map((x) => x.toFixed(0)).join(' ')})`,
  );
out(`scenario/bare per round:    ${roundRatios.map((r) => r.toFixed(3)).join(' ')}`);
out(`scenario/bare-ce per round: ${roundRatiosCe.map((r) => r.toFixed(3)).join(' ')}`);
out(`scenario/bare-ce-check per round: ${roundRatiosCeCheck.map((r) => r.toFixed(3)).join(' ')}`);
out(
  `scenario/bare per k6 CPU-second, per round: ${roundCpuRatios.map((r) => r.toFixed(3)).join(' ')} (median ${cpuRatio.toFixed(3)})`,
);
const together = togetherRatios.length > 0 ? median(togetherRatios) : NaN;
out(
  `scenario/bare run together, per round: ${togetherRatios.map((r) => r.toFixed(3)).join(' ')} (median ${together.toFixed(3)})`,
);
const bareIterationUs = 1e6 / median(perCpuSecond.bare);
const checkUs = callCosts['check(res, checks)'];
out(`k6 CPU per bare iteration: ${bareIterationUs.toFixed(0)} µs (median over rounds)`);
for (const [name, us] of Object.entries(callCosts)) out(`one call of ${name}: ${us.toFixed(2)} µs`);
if (checkUs !== undefined)
  out(
    `so the brief's one check() per event alone is ≈ ${((100 * checkUs) / bareIterationUs).toFixed(0)} % of a bare iteration's k6 CPU (wall time of the call, the emitted sample's processing not included)`,
  );
out(
  `RESULT overhead: scenario/bare = ${ratio.toFixed(3)} back to back, ${together.toFixed(3)} run together (medians; goal ≥ ${GOAL}: ${met ? 'met' : 'NOT met'}); scenario/bare-ce = ${ratioCe.toFixed(3)}, scenario/bare-ce-check = ${ratioCeCheck.toFixed(3)}`,
);
out(`load average after: ${loadNow()}`);
out(`command: ${command}`);
saveResult('overhead', {
  command,
  machine,
  loadAfter: loadNow(),
  goal: `scenario/bare ≥ ${GOAL}`,
  met,
  ratio,
  together,
  togetherRatios,
  ratioCe,
  ratioCeCheck,
  cpuRatio,
  roundRatios,
  roundRatiosCe,
  roundRatiosCeCheck,
  roundCpuRatios,
  callCosts,
  bareIterationUs,
  perVariant,
  perCpuSecond,
  cpu,
  server: server.kind,
  vus: opts.vus,
  duration: opts.duration,
});
process.exitCode = met ? 0 : 1;
