/**
 * s3-objects — When the one S3 gateway that owns the volume crashes or restarts (seed 003, the
 * s3gw "One Active pipeline"), how long are PUT / GET / LIST unavailable, and is every object
 * whose PUT was acked still there afterwards, with the bytes it was written with?
 *
 * With the embedded gateway (versitygw, posix backend):  npx k6-ha run experiments/s3-gateway-crash.json
 * Plain, against any S3 endpoint (path-style):  npm run build && k6 run -e S3_ENDPOINT=http://127.0.0.1:7070 \
 *   -e S3_ACCESS_KEY=… -e S3_SECRET_KEY=… build/s3-objects.js
 *
 * Environment (parsed by lib/shared/scenario-config.ts, read from __ENV in lib/k6/env.ts):
 * S3_ENDPOINT, S3_BUCKET (k6ha), S3_REGION (us-east-1), S3_ACCESS_KEY, S3_SECRET_KEY, RATE (50),
 * DURATION, REQUEST_TIMEOUT (5s), S3_MIX (put=60,get=30,list=10), S3_SIZES (1KiB,16KiB),
 * S3_LIST_MAX_KEYS (20), THRESHOLDS (s3-steady|s3-ha), SIDECAR_URL, SUMMARY_JSON.
 *
 * Every iteration is one operation at a constant arrival rate, chosen by its number
 * (lib/shared/s3-objects.ts): a PUT writes object k6ha/<runTag>/<seq> whose bytes and sha256 follow
 * from the key and size alone, signed with SigV4 (x-amz-content-sha256 = that sha256, also stored as
 * x-amz-meta-sha256); a GET reads back one of this VU's acked objects and checks its sha256; a LIST
 * lists the run's prefix. Every non-2xx is reported to the sidecar (PUTs with key and sha256); after
 * the run the sidecar reads every PUT's key back: lost, corrupt, recovered.
 */
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { classifyStatus } from '../lib/k6/cloudevents.ts';
import { s3ObjectsConfig, summaryJsonPath } from '../lib/k6/env.ts';
import { arrivalRateScenario } from '../lib/k6/load-shape.ts';
import { OutcomeReporter } from '../lib/k6/outcome-reporter.ts';
import { K6S3Client } from '../lib/k6/s3-client.ts';
import { finishWithSidecar, newRunTag, type SidecarSetupData, startWithSidecar } from '../lib/k6/sidecar-lifecycle.ts';
import { handleK6HaSummary } from '../lib/k6/summary-handler.ts';
import { objectBody, objectKey, opOf, runPrefix, type S3Op, sizeOf } from '../lib/shared/s3-objects.ts';
import { SCENARIOS, type ScenarioName } from '../lib/shared/scenarios.ts';
import { EMPTY_SHA256 } from '../lib/shared/sigv4.ts';
import { metricCount } from '../lib/shared/summary.ts';
import { toK6Thresholds } from '../lib/shared/thresholds.ts';
import { THRESHOLD_PROFILES } from '../thresholds/index.ts';

const SCENARIO = 's3-objects' satisfies ScenarioName;
const config = s3ObjectsConfig();
const failedCounter = new Counter('s3_failed');
const unknownCounter = new Counter('s3_unknown');
const corruptCounter = new Counter('s3_read_corrupt');
const missingCounter = new Counter('s3_read_missing');

export const options = {
  scenarios: {
    objects: arrivalRateScenario(config),
  },
  thresholds: {
    'http_req_duration{name:put}': [],
    'http_req_duration{name:get}': [],
    'http_req_duration{name:list}': [],
    // The PUTs' share, cross-checked with what the sidecar heard (the accounting counts objects).
    's3_failed{op:put}': [],
    's3_unknown{op:put}': [],
    ...toK6Thresholds(THRESHOLD_PROFILES[config.thresholds] ?? { description: '', gates: {} }, {
      withChaos: config.sidecarUrl !== undefined,
    }),
  },
  setupTimeout: '60s',
  teardownTimeout: '120s',
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

/** The bucket exists before load starts (201/200 created, 409 already ours); refused credentials stop the test here. */
function ensureBucket(client: K6S3Client): void {
  const req = client.sign('PUT', `/${config.bucket}`, EMPTY_SHA256);
  const res = http.put(req.url, null, { headers: req.headers, tags: { name: 'setup' }, timeout: '30s' });
  if (res.status === 200 || res.status === 409) return;
  const body = typeof res.body === 'string' ? res.body : '';
  const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? `status ${res.status}${res.error ? ` (${res.error})` : ''}`;
  const field =
    code === 'InvalidAccessKeyId'
      ? 'S3_ACCESS_KEY'
      : code === 'SignatureDoesNotMatch'
        ? 'S3_SECRET_KEY'
        : code.startsWith('status 0')
          ? 'S3_ENDPOINT'
          : 'S3_BUCKET';
  throw new Error(
    `s3-objects: creating bucket ${config.bucket} at ${config.endpoint} failed with ${code}: check ${field} (set it with -e ${field}=...)`,
  );
}

export function setup(): SidecarSetupData {
  ensureBucket(new K6S3Client(config));
  return startWithSidecar(
    config.sidecarUrl,
    {
      runTag: newRunTag(),
      scenario: SCENARIO,
      rate: config.rate,
      durationMs: config.durationMs,
      requestTimeoutMs: config.requestTimeoutMs,
    },
    'plain load: no chaos plan, no read-back accounting, no chaos_* metrics',
  );
}

// Per-VU state, made on the first iteration (module scope is per VU in k6).
let scenarioInfo: typeof exec.scenario | null = null;
let client: K6S3Client | null = null;
let reporter: OutcomeReporter | null = null;
/** This VU's acked objects (the latest 64): what its GETs read back. */
const written: Array<{ key: string; sha256: string }> = [];
let writtenNext = 0;
const WRITTEN_KEPT = 64;
const checkStatus = check;
const okChecks = { 'is status 2xx': (r: { status: number }) => r.status >= 200 && r.status < 300 };
const opTags: Record<S3Op, { op: S3Op }> = { put: { op: 'put' }, get: { op: 'get' }, list: { op: 'list' } };
const timeout = config.requestTimeout;
const putParams = { headers: {}, timeout, tags: { name: 'put' }, responseType: 'none' as const };
const getParams = { headers: {}, timeout, tags: { name: 'get' }, responseType: 'text' as const };
const listParams = { headers: {}, timeout, tags: { name: 'list' }, responseType: 'none' as const };
const bucketPath = `/${config.bucket}`;

function notAcked(
  op: S3Op,
  seq: number,
  status: number,
  sentAt: number,
  extra: { key?: string; sha256?: string } = {},
): void {
  const outcome = classifyStatus(status) === 'failed' ? 'failed' : 'unknown';
  (outcome === 'failed' ? failedCounter : unknownCounter).add(1, opTags[op]);
  if (reporter !== null) reporter.report({ seq, outcome, status, sentAt, t: Date.now(), op, ...extra });
}

export default function objects(data: SidecarSetupData): void {
  scenarioInfo ??= exec.scenario;
  client ??= new K6S3Client(config);
  if (reporter === null && data.sidecar !== null) reporter = new OutcomeReporter(data.sidecar);
  if (reporter !== null && reporter.needsWork) reporter.beforeIteration();
  // Sequential across all VUs with no gaps: the sidecar knows every PUT from the count alone.
  const seq = scenarioInfo.iterationInTest;
  let op = opOf(seq, config.mix);
  // A GET reads what this VU wrote; before its first acked PUT it lists instead.
  if (op === 'get' && written.length === 0) op = 'list';
  const sentAt = Date.now();
  if (op === 'put') {
    const key = objectKey(data.runTag, seq);
    const body = objectBody(key, sizeOf(seq, config.sizes));
    const sha256 = client.sha256Hex(body);
    const req = client.sign('PUT', `${bucketPath}/${key}`, sha256, {
      'content-type': 'application/octet-stream',
      'x-amz-meta-sha256': sha256,
    });
    putParams.headers = req.headers;
    const res = http.put(req.url, body, putParams);
    checkStatus(res, okChecks);
    if (res.status >= 200 && res.status < 300) {
      written[writtenNext] = { key, sha256 };
      writtenNext = (writtenNext + 1) % WRITTEN_KEPT;
    } else notAcked('put', seq, res.status, sentAt, { key, sha256 });
    return;
  }
  if (op === 'get') {
    const obj = written[Math.floor(Math.random() * written.length)] as { key: string; sha256: string };
    const req = client.sign('GET', `${bucketPath}/${obj.key}`, EMPTY_SHA256);
    getParams.headers = req.headers;
    const res = http.get(req.url, getParams);
    checkStatus(res, okChecks);
    if (res.status >= 200 && res.status < 300) {
      const body = typeof res.body === 'string' ? res.body : '';
      if (client.sha256Hex(body) !== obj.sha256) corruptCounter.add(1);
      return;
    }
    if (res.status === 404) missingCounter.add(1);
    notAcked('get', seq, res.status, sentAt);
    return;
  }
  const req = client.sign('GET', bucketPath, EMPTY_SHA256, {}, [
    ['list-type', '2'],
    ['max-keys', String(config.listMaxKeys)],
    ['prefix', runPrefix(data.runTag)],
  ]);
  listParams.headers = req.headers;
  const res = http.get(req.url, listParams);
  checkStatus(res, okChecks);
  if (res.status < 200 || res.status >= 300) notAcked('list', seq, res.status, sentAt);
}

export function teardown(data: SidecarSetupData): void {
  finishWithSidecar(data);
}

export function handleSummary(data: unknown): Record<string, string> {
  return handleK6HaSummary(data, {
    scenario: SCENARIO,
    sidecarUrl: config.sidecarUrl,
    summaryJsonPath: summaryJsonPath(),
    notAckedCounters: SCENARIOS[SCENARIO].notAckedCounters,
    arrival: { rate: config.rate, durationMs: config.durationMs },
    derived: (s, notStarted) => ({
      ops_sent: metricCount(s, 'iterations'),
      ops_not_started: notStarted,
      ops_failed: metricCount(s, 's3_failed'),
      ops_unknown: metricCount(s, 's3_unknown'),
      puts_not_acked: metricCount(s, 's3_failed{op:put}') + metricCount(s, 's3_unknown{op:put}'),
      reads_corrupt: metricCount(s, 's3_read_corrupt'),
      reads_missing: metricCount(s, 's3_read_missing'),
      put_latency_p95_ms: s.metrics['http_req_duration{name:put}']?.values['p(95)'] ?? null,
      get_latency_p95_ms: s.metrics['http_req_duration{name:get}']?.values['p(95)'] ?? null,
    }),
    metrics: SCENARIOS[SCENARIO].reportMetrics,
  });
}
