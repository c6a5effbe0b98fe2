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
//             same body, name tag, timeout) and nothing else: the workload, without the harness
//   scenario  build/jetstream-publish.js as shipped (custom metrics, check, default gates)
// The result is the median over rounds of scenario / bare from the same round. Goal ≥ 0.9.
// Because other load on a 2-core machine steals k6's CPU unevenly, the same ratio is also given
// per k6 CPU-second (iterations / CPU time k6 used): the cost of one iteration, independent of
// how much CPU k6 happened to get; when k6 is the bottleneck that is what bounds its rate.
//
//   node --import tsx bench/jetstream-overhead.ts [--vus 10] [--duration 10s] [--rounds 3]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { metricCount } from '../lib/k6/summary.ts';
import { parseDurationMs } from '../lib/shared/env-parse.ts';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';
import { buildScenarios, CpuMeter, loadNow, machineInfo, mean, median, out, runK6, saveResult, startK6, startNoContentServer, intArg } from './support.ts';

const GOAL = 0.9;

const BARE = `
import http from 'k6/http';
const url = __ENV.PUBLISH_URL;
export default function () {
  http.post(url, JSON.stringify({ seq: __ITER, sentAt: Date.now() }), { headers: { 'content-type': 'application/json' } });
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;

const BARE_CE = `
import http from 'k6/http';
import exec from 'k6/execution';
const url = __ENV.PUBLISH_URL;
const tag = 'r' + Date.now().toString(36);
let scenario = null;
export default function () {
  if (scenario === null) scenario = exec.scenario;
  const seq = scenario.iterationInTest;
  http.post(url, JSON.stringify({ seq, vu: __VU, sentAt: Date.now() }), {
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': tag + '-' + seq,
      'ce-type': 'order.created.v1', 'ce-source': 'k6-ha', 'ce-time': new Date().toISOString() },
    timeout: '5s', tags: { name: 'publish' } });
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;

const opts = new Command('bench/jetstream-overhead.ts')
  .description('iterations/s of jetstream-publish vs a bare one-http.post k6 script against a local 204 server')
  .option('--vus <n>', 'VUs (closed loop, no sleep)', intArg('--vus', 1000), 10)
  .option('--duration <d>', 'length of each k6 run', (v) => (parseDurationMs('--duration', v), v), '10s')
  .option('--rounds <n>', 'rounds of the three variants', intArg('--rounds', 20), 3)
  .parse()
  .opts<{ vus: number; duration: string; rounds: number }>();

const command = `node --import tsx bench/jetstream-overhead.ts --vus ${opts.vus} --duration ${opts.duration} --rounds ${opts.rounds}`;
const machine = await machineInfo();
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-overhead-'));
const scripts = {
  bare: join(dir, 'bare.js'),
  'bare-ce': join(dir, 'bare-ce.js'),
  scenario: join(PROJECT_ROOT, 'build', 'jetstream-publish.js'),
} as const;
type Variant = keyof typeof scripts;
writeFileSync(scripts.bare, BARE);
writeFileSync(scripts['bare-ce'], BARE_CE);
const variants: Variant[] = ['bare', 'bare-ce', 'scenario'];

const server = await startNoContentServer();
out(`overhead: ${opts.vus} VUs × ${opts.duration}, ${opts.rounds} rounds, against a ${server.kind} 204 server at ${server.url} (load average ${loadNow()})`);
const perVariant: Record<Variant, number[]> = { bare: [], 'bare-ce': [], scenario: [] };
const roundRatios: number[] = [];
const roundRatiosCe: number[] = [];
/** iterations per CPU-second of k6: robust against other load stealing k6's CPU mid-run */
const perCpuSecond: Record<Variant, number[]> = { bare: [], 'bare-ce': [], scenario: [] };
const roundCpuRatios: number[] = [];
const cpu: Record<Variant, Array<Record<string, number>>> = { bare: [], 'bare-ce': [], scenario: [] };
let n = 0;
try {
  // A short warm-up so the first measured run does not pay for cold caches.
  await runK6(['--vus', String(opts.vus), '--duration', '2s', scripts.bare], { PUBLISH_URL: `${server.url}/publish` }, join(dir, 'warmup.json'));
  for (let round = 1; round <= opts.rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round - 1) % variants.length] as Variant);
    const got: Partial<Record<Variant, number>> = {};
    for (const v of order) {
      const started = await startK6(['--vus', String(opts.vus), '--duration', opts.duration, scripts[v]], { PUBLISH_URL: `${server.url}/publish` }, join(dir, `summary-${n++}.json`));
      const meter = new CpuMeter(() => ({ k6: started.child.pid, server: server.pid }));
      meter.begin();
      const r = await started.done;
      const used = meter.end();
      if (r.code !== 0 && r.code !== 99) throw new Error(`k6 (${v}) exited ${r.code}:\n${r.stderr.slice(-2000)}`);
      const seconds = parseDurationMs('duration', opts.duration) / 1000;
      const iterations = metricCount(r.summary, 'iterations');
      const ips = iterations / seconds;
      got[v] = ips;
      perVariant[v].push(ips);
      cpu[v].push(used);
      const k6Cores = used['k6'];
      const efficiency = k6Cores === undefined || k6Cores <= 0 ? NaN : ips / k6Cores;
      perCpuSecond[v].push(efficiency);
      out(`round ${round} ${v.padEnd(9)} ${ips.toFixed(0).padStart(6)} iterations/s ${efficiency.toFixed(0).padStart(6)} per k6 CPU-second  (cores: k6 ${used['k6'] ?? '?'}, server ${used['server'] ?? '?'}, machine ${used['machine']} of ${machine.nproc})`);
    }
    roundRatios.push((got.scenario ?? 0) / (got.bare ?? 1));
    roundRatiosCe.push((got.scenario ?? 0) / (got['bare-ce'] ?? 1));
    roundCpuRatios.push((perCpuSecond.scenario.at(-1) ?? NaN) / (perCpuSecond.bare.at(-1) ?? NaN));
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

const ratio = median(roundRatios);
const ratioCe = median(roundRatiosCe);
const cpuRatio = median(roundCpuRatios);
const met = ratio >= GOAL;
out('');
for (const v of variants) out(`${v.padEnd(9)} ${mean(perVariant[v]).toFixed(0).padStart(6)} iterations/s (mean of ${perVariant[v].length}: ${perVariant[v].map((x) => x.toFixed(0)).join(' ')})`);
out(`scenario/bare per round:    ${roundRatios.map((r) => r.toFixed(3)).join(' ')}`);
out(`scenario/bare-ce per round: ${roundRatiosCe.map((r) => r.toFixed(3)).join(' ')}`);
out(`scenario/bare per k6 CPU-second, per round: ${roundCpuRatios.map((r) => r.toFixed(3)).join(' ')} (median ${cpuRatio.toFixed(3)})`);
out(`RESULT overhead: scenario/bare = ${ratio.toFixed(3)} (median; goal ≥ ${GOAL}: ${met ? 'met' : 'NOT met'}); scenario/bare-ce = ${ratioCe.toFixed(3)}`);
out(`load average after: ${loadNow()}`);
out(`command: ${command}`);
saveResult('overhead', { command, machine, loadAfter: loadNow(), goal: `scenario/bare ≥ ${GOAL}`, met, ratio, ratioCe, cpuRatio, roundRatios, roundRatiosCe, roundCpuRatios, perVariant, perCpuSecond, cpu, server: server.kind, vus: opts.vus, duration: opts.duration });
process.exitCode = met ? 0 : 1;
