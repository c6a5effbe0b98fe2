// Benchmark: what does k6-ha's read-back verification cost? Iterations/s of
// scenarios/eventstore-streams.ts against the EventStore FIXTURE versus a bare k6 script making
// the same 21 requests per iteration (10 appends, the stream, 10 events) with the same checks and
// no verification. Both run in one invocation against one fixture, alternating, same VUs and
// duration; the reported ratio is the median of back-to-back pairs, robust against other load on
// the machine. Goal: scenario / bare ≥ 0.9.
//
//   node --import tsx bench/eventstore.ts [--vus 10] [--duration 20s] [--rounds 2] [--storage fsync]
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { startEventStoreStack } from '../lib/fixtures/eventstore-stack.ts';
import { STORAGE_MODES, type StorageMode } from '../lib/fixtures/eventstore-store.ts';
import { metricCount, normalizeSummary } from '../lib/shared/summary.ts';
import { parseDurationMs } from '../lib/shared/env-parse.ts';
import { buildScenarios, scenarioScript, startK6 } from '../lib/run/k6-process.ts';
import { ensureTool } from '../lib/tools/toolchain.ts';
import { intArg } from './support.ts';

const GOAL = 0.9;

/**
 * The seed's workflow with nothing but checks: what a hand-written k6 script would do. The same
 * 21 requests as the scenario with its defaults: the same headers on each append (no expected
 * version: ES_EXPECTED_VERSION defaults to false), the feed as Atom JSON with embedded bodies,
 * single events as application/json (ES_EVENT_READ=json).
 */
const BARE_SCRIPT = `
import http from 'k6/http';
import { check } from 'k6';
import encoding from 'k6/encoding';
const url = __ENV.ES_URL;
const auth = 'Basic ' + encoding.b64encode(__ENV.ES_USER + ':' + __ENV.ES_PASSWORD);
export const options = { scenarios: { streams: { executor: 'constant-vus', vus: Number(__ENV.VUS), duration: __ENV.DURATION } } };
export default function () {
  const stream = url + '/streams/bare-' + crypto.randomUUID();
  for (let seq = 0; seq < 10; seq++) {
    const res = http.post(stream, JSON.stringify({ seq, sentAt: Date.now() }), { tags: { name: 'append' }, headers: {
      Authorization: auth, 'Content-Type': 'application/json', 'ES-EventId': crypto.randomUUID(), 'ES-EventType': 'bare' } });
    check(res, { 'is status 201': (r) => r.status === 201 });
  }
  const feed = { tags: { name: 'read' }, headers: { Authorization: auth, Accept: 'application/vnd.eventstore.atom+json' } };
  check(http.get(stream + '?embed=body', feed), { 'is status 200': (r) => r.status === 200 });
  const event = { tags: { name: 'read event' }, headers: { Authorization: auth, Accept: 'application/json' } };
  for (let n = 0; n < 10; n++) check(http.get(stream + '/' + n, event), { 'is status 200': (r) => r.status === 200 });
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;

const opts = new Command('bench/eventstore.ts')
  .description(
    'iterations/s of eventstore-streams vs a bare k6 script with the same 21 requests, against the EventStore fixture',
  )
  .option('--vus <n>', 'concurrent users', intArg('--vus', 1000), 10)
  .option('--duration <d>', 'length of each k6 run', (v) => (parseDurationMs('--duration', v), v), '15s')
  .option('--rounds <n>', 'bare/scenario pairs, alternating', intArg('--rounds', 20), 4)
  .addOption(new Option('--storage <mode>', 'fixture storage').choices(STORAGE_MODES).default('fsync'))
  .parse()
  .opts<{ vus: number; duration: string; rounds: number; storage: StorageMode }>();

const k6 = await ensureTool('k6', { install: false });
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-eventstore-'));
const bareScript = join(dir, 'bare.js');
writeFileSync(bareScript, BARE_SCRIPT);
const eventstoreScript = scenarioScript('eventstore-streams');

/** GNU time reports k6's own CPU seconds: a cost per iteration that other load on the machine barely moves. */
const GNU_TIME = '/usr/bin/time';

interface RunResult {
  iterationsPerSecond: number;
  requestsPerSecond: number;
  checkFails: number;
  /** k6 CPU milliseconds (user + system) per iteration, when GNU time is installed. */
  cpuMsPerIteration: number | null;
}

async function k6Run(script: string, env: Record<string, string>): Promise<RunResult> {
  const summaryPath = join(dir, `summary-${Date.now()}.json`);
  const timePath = `${summaryPath}.time`;
  const timed = existsSync(GNU_TIME);
  const { exitCode, lastLines } = await startK6({
    k6,
    script,
    env,
    args: ['--quiet'],
    summaryPath,
    // k6's log on the terminal, as a hand-run k6 would show it.
    onLine: (line) => process.stderr.write(`${line}\n`),
    ...(timed ? { prefix: [GNU_TIME, '-f', '%U %S', '-o', timePath] } : {}),
  }).done;
  if (exitCode !== 0) throw new Error(`k6 run ${script} exited ${exitCode}:\n${lastLines.join('\n')}`);
  const s = normalizeSummary(JSON.parse(readFileSync(summaryPath, 'utf8')));
  const seconds = (s.durationMs ?? parseDurationMs('duration', opts.duration)) / 1000;
  const iterations = metricCount(s, 'iterations');
  const cpuSeconds = timed
    ? readFileSync(timePath, 'utf8')
        .trim()
        .split(/\s+/)
        .map(Number)
        .reduce((a, b) => a + b, 0)
    : null;
  return {
    iterationsPerSecond: iterations / seconds,
    requestsPerSecond: metricCount(s, 'http_reqs') / seconds,
    checkFails: s.checks.reduce((n, c) => n + c.fails, 0),
    cpuMsPerIteration: cpuSeconds === null || iterations === 0 ? null : (cpuSeconds * 1000) / iterations,
  };
}

const stack = await startEventStoreStack({ runDir: join(dir, 'fixture'), storage: opts.storage });
const bare: number[] = [];
const scenario: number[] = [];
const cpu: { bare: number[]; scenario: number[] } = { bare: [], scenario: [] };
/** scenario / bare per round: a pair runs back to back, so load from elsewhere hits both alike. */
const pairRatios: number[] = [];
try {
  const env = { ...stack.k6Env(), VUS: String(opts.vus), DURATION: opts.duration, THRESHOLDS: 'es-observe' };
  for (let round = 1; round <= opts.rounds; round++) {
    // Alternate which goes first, so drift (a growing log, a warming page cache) hits both alike.
    const order = round % 2 === 1 ? (['bare', 'scenario'] as const) : (['scenario', 'bare'] as const);
    for (const which of order) {
      const r = await k6Run(which === 'bare' ? bareScript : eventstoreScript, env);
      (which === 'bare' ? bare : scenario).push(r.iterationsPerSecond);
      if (r.cpuMsPerIteration !== null) cpu[which].push(r.cpuMsPerIteration);
      if (which === order[1]) pairRatios.push((scenario.at(-1) ?? 0) / (bare.at(-1) ?? 1));
      process.stdout.write(
        `round ${round} ${which.padEnd(8)} ${r.iterationsPerSecond.toFixed(1).padStart(7)} iterations/s  ${r.requestsPerSecond.toFixed(0).padStart(6)} req/s  ${r.checkFails} failed checks${r.cpuMsPerIteration === null ? '' : `  k6 CPU ${r.cpuMsPerIteration.toFixed(2)} ms/iteration`}\n`,
      );
    }
  }
} finally {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const ratio = median(pairRatios);
process.stdout.write(
  `\nbare k6 script:      ${mean(bare).toFixed(1)} iterations/s (mean of ${bare.length})\n` +
    `eventstore-streams:  ${mean(scenario).toFixed(1)} iterations/s (mean of ${scenario.length})\n` +
    `per-round ratios:    ${pairRatios.map((r) => r.toFixed(3)).join(' ')}\n` +
    `ratio scenario/bare: ${ratio.toFixed(3)} (median of the per-round ratios; goal ≥ ${GOAL}: ${ratio >= GOAL ? 'met' : 'NOT met'})\n` +
    (cpu.bare.length > 0 && cpu.scenario.length > 0
      ? `k6 CPU per iteration: bare ${median(cpu.bare).toFixed(2)} ms, scenario ${median(cpu.scenario).toFixed(2)} ms (medians; includes k6 start-up)\n`
      : '') +
    `command: node --import tsx bench/eventstore.ts --vus ${opts.vus} --duration ${opts.duration} --rounds ${opts.rounds} --storage ${opts.storage}\n`,
);
process.exitCode = ratio >= GOAL ? 0 : 1;
