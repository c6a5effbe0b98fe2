// Benchmark — s3-objects overhead: iterations/s of build/s3-objects.js (PUT only: S3_MIX=put=1,
// 1 KiB objects) against a hand-written k6 script doing the same signed PUT and the same check —
// the object's bytes, their sha256, a SigV4 signature with k6/crypto, http.put, check 2xx — both
// against one real versitygw (the s3-gateway target's, posix backend). Goal ≥ 0.95.
//
// Method (as bench/http-get-overhead.ts and bench/jetstream-overhead.ts --together): closed loop,
// `k6 run --vus N --duration D` for both scripts AT THE SAME TIME, so both k6 processes (and the
// gateway they share) meet the same slowdowns of the shared 2 cores; the ratio of their
// iterations/s is the ratio of what an iteration costs each. The median over rounds is the result.
//
//   node --import tsx bench/s3-objects-overhead.ts [--vus 10] [--duration 10s] [--together 3]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { metricCount } from '../lib/shared/summary.ts';
import { parseDurationMs } from '../lib/shared/env-parse.ts';
import { S3_DEFAULT_ACCESS_KEY, S3_DEFAULT_SECRET_KEY } from '../lib/shared/scenario-config.ts';
import { ensureTool, PROJECT_ROOT } from '../lib/tools/toolchain.ts';
import { buildScenarios } from '../lib/run/k6-process.ts';
import { startS3Gateway } from '../lib/stack/s3-gateway/gateway.ts';
import { freePort } from '../lib/stack/free-port.ts';
import { intArg, loadNow, machineInfo, median, out, runK6WithSummary, saveResult } from './support.ts';

const GOAL = 0.95;
const BUCKET = 'bench';

// What anyone would write by hand for "a signed 1 KiB PUT and a check": SigV4 inline on k6/crypto,
// the signing key made once a day, a 1 KiB body per object, the same request as the scenario's
// (its sha256 as x-amz-content-sha256 and as x-amz-meta-sha256, which the gateway stores), check 2xx.
const BARE = `
import http from 'k6/http';
import crypto from 'k6/crypto';
import exec from 'k6/execution';
import { check } from 'k6';
const endpoint = __ENV.S3_ENDPOINT;
const host = endpoint.replace(/^https?:\\/\\//, '');
const access = __ENV.S3_ACCESS_KEY;
const secret = __ENV.S3_SECRET_KEY;
const region = 'us-east-1';
const tag = 'bare' + Date.now().toString(36) + __VU;
let day = '';
let key = null;
function signingKey(date) {
  const k1 = crypto.hmac('sha256', 'AWS4' + secret, date, 'binary');
  const k2 = crypto.hmac('sha256', k1, region, 'binary');
  const k3 = crypto.hmac('sha256', k2, 's3', 'binary');
  return crypto.hmac('sha256', k3, 'aws4_request', 'binary');
}
const checks = { 'is status 2xx': (r) => r.status >= 200 && r.status < 300 };
export default function () {
  const path = '/${BUCKET}/' + tag + '/' + exec.scenario.iterationInTest;
  const unit = path + ';';
  const body = unit.repeat(Math.ceil(1024 / unit.length)).slice(0, 1024);
  const hash = crypto.sha256(body, 'hex');
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\\.\\d{3}/, '');
  const date = amzDate.slice(0, 8);
  if (date !== day) { key = signingKey(date); day = date; }
  const signed = 'content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-sha256';
  const canonical = ['PUT', path, '', 'content-type:application/octet-stream', 'host:' + host,
    'x-amz-content-sha256:' + hash, 'x-amz-date:' + amzDate, 'x-amz-meta-sha256:' + hash, '', signed, hash].join('\\n');
  const scope = date + '/' + region + '/s3/aws4_request';
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, crypto.sha256(canonical, 'hex')].join('\\n');
  const sig = crypto.hmac('sha256', key, sts, 'hex');
  const res = http.put(endpoint + path, body, { headers: {
    'content-type': 'application/octet-stream', 'x-amz-content-sha256': hash, 'x-amz-date': amzDate, 'x-amz-meta-sha256': hash,
    authorization: 'AWS4-HMAC-SHA256 Credential=' + access + '/' + scope + ', SignedHeaders=' + signed + ', Signature=' + sig,
  } });
  check(res, checks);
}
export function handleSummary(data) { return { [__ENV.SUMMARY_JSON]: JSON.stringify(data) }; }
`;

const opts = new Command('bench/s3-objects-overhead.ts')
  .description('iterations/s of s3-objects (PUT only) vs a hand-written signed PUT + check script, run together')
  .option('--vus <n>', 'VUs of each (closed loop, no sleep)', intArg('--vus', 1000), 10)
  .option('--duration <d>', 'length of each k6 run', (v) => (parseDurationMs('--duration', v), v), '10s')
  .option('--together <n>', 'rounds of each comparison', intArg('--together', 20), 3)
  .parse()
  .opts<{ vus: number; duration: string; together: number }>();

const command = `node --import tsx bench/s3-objects-overhead.ts --vus ${opts.vus} --duration ${opts.duration} --together ${opts.together}`;
const machine = await machineInfo();
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-s3-'));
const bare = join(dir, 'bare.js');
writeFileSync(bare, BARE);
const scenario = join(PROJECT_ROOT, 'build', 's3-objects.js');
const gateway = await startS3Gateway({
  runDir: join(dir, 'gateway'),
  bin: await ensureTool('versitygw', { install: false }),
  accessKey: S3_DEFAULT_ACCESS_KEY,
  secretKey: S3_DEFAULT_SECRET_KEY,
  region: 'us-east-1',
});
const created = await gateway.client.createBucket(BUCKET);
if (created.status !== 200 && created.status !== 409) throw new Error(`creating bucket ${BUCKET}: ${created.status}`);
const env = { ...gateway.k6Env(), S3_BUCKET: BUCKET };
const scenarioEnv = { ...env, S3_MIX: 'put=1', S3_SIZES: '1KiB', THRESHOLDS: 's3-steady', REQUEST_TIMEOUT: '3s' };
out(
  `s3-objects overhead: ${opts.vus} VUs each × ${opts.duration}, ${opts.together} rounds, run together, against versitygw at ${gateway.endpoint} (load average ${loadNow()})`,
);
const seconds = parseDurationMs('duration', opts.duration) / 1000;

async function together(round: number): Promise<number> {
  const [b, s] = await Promise.all([
    runK6WithSummary({
      script: bare,
      args: ['--vus', String(opts.vus), '--duration', opts.duration, '--address', `127.0.0.1:${await freePort()}`],
      env,
      summaryPath: join(dir, `bare-${round}.json`),
    }),
    runK6WithSummary({
      script: scenario,
      args: ['--vus', String(opts.vus), '--duration', opts.duration, '--address', `127.0.0.1:${await freePort()}`],
      env: scenarioEnv,
      summaryPath: join(dir, `scenario-${round}.json`),
    }),
  ]);
  for (const [v, r] of [
    ['bare', b],
    ['scenario', s],
  ] as const) {
    if (r.code !== 0 && r.code !== 99) throw new Error(`k6 (${v}) exited ${r.code}:\n${r.output.slice(-2000)}`);
    const failed = r.summary.checks.reduce((n, c) => n + c.fails, 0);
    if (failed > 0) throw new Error(`k6 (${v}): ${failed} PUT(s) not 2xx — the comparison would not be like for like`);
  }
  const bareIps = metricCount(b.summary, 'iterations') / seconds;
  const scenarioIps = metricCount(s.summary, 'iterations') / seconds;
  out(
    `round ${round}: bare ${bareIps.toFixed(0)} PUTs/s, s3-objects ${scenarioIps.toFixed(0)} PUTs/s, ratio ${(scenarioIps / bareIps).toFixed(3)}`,
  );
  return scenarioIps / bareIps;
}

const ratios: number[] = [];
try {
  await runK6WithSummary({
    script: bare,
    args: ['--vus', String(opts.vus), '--duration', '2s'],
    env,
    summaryPath: join(dir, 'warmup.json'),
  });
  for (let round = 1; round <= opts.together; round++) ratios.push(await together(round));
} finally {
  await gateway.stop();
  rmSync(dir, { recursive: true, force: true });
}
const ratio = median(ratios);
const met = ratio >= GOAL;
out('');
out(`s3-objects / bare, per round: ${ratios.map((r) => r.toFixed(3)).join(' ')} (median ${ratio.toFixed(3)})`);
out(
  `RESULT s3-objects-overhead: s3-objects/bare = ${ratio.toFixed(3)} run together (median; goal ≥ ${GOAL}: ${met ? 'met' : 'NOT met'})`,
);
out(`load average after: ${loadNow()}`);
out(`command: ${command}`);
saveResult('s3-objects-overhead', {
  command,
  machine,
  loadAfter: loadNow(),
  goal: `s3-objects/bare ≥ ${GOAL}`,
  met,
  ratio,
  rounds: ratios,
  vus: opts.vus,
  duration: opts.duration,
});
process.exitCode = met ? 0 : 1;
