/**
 * jetstream-publish — Does every event sent at a fixed rate reach the JetStream stream and the
 * sink exactly once, and what does losing a NATS member cost while it runs?
 * (Seed: kyma-jetstream-ha-evaluation — 150 events/s into eventing-publisher-proxy.)
 *
 * Run with the embedded local stack and a verdict:   npm start            (or: npx k6-ha run experiments/steady-state.json)
 * Run plain against any publisher:                   npm run build && k6 run -e PUBLISH_URL=http://127.0.0.1:18080/publish build/jetstream-publish.js
 * Against Kyma (publisher proxy port-forwarded to 18080, as in README): k6 run -e PUBLISH_URL=http://127.0.0.1:18080/publish -e RATE=150 -e DURATION=5m build/jetstream-publish.js
 *
 * Environment (parsed by lib/shared/scenario-config.ts, read from __ENV in lib/k6/env.ts): PUBLISH_URL, RATE, DURATION, REQUEST_TIMEOUT, CE_MODE
 * (binary|structured), EVENT_TYPE, EVENT_SOURCE, THRESHOLDS (steady|ha-strict|ha-observe),
 * SIDECAR_URL, RUN_TAG, SUMMARY_JSON. A PUBLISH_URL ending in /{app}/v1/events uses the legacy route.
 * Chaos from inside k6 (no sidecar): CHAOS_PLAN=<experiment.json with a kubernetes target>, KUBE_API,
 * KUBE_TOKEN or KUBE_TOKEN_FILE, NATS_MONITOR_URL (leaderOf), CHAOS_DRY_RUN, CHAOS_READY_TIMEOUT
 * (docs/kubernetes.md, "Chaos from inside k6"); build/xk6-kubernetes/jetstream-publish.js does the
 * same through k6/x/kubernetes (a k6 built by `k6-ha setup --xk6-kubernetes`).
 */
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { classifyStatus, EventRequestTemplate } from '../lib/k6/cloudevents.ts';
import { inK6Chaos, publishConfig, summaryJsonPath } from '../lib/k6/env.ts';
import { kubeBackend } from '../lib/k6/kube-backend.ts';
import { chaosScenario, runChaosPlan } from '../lib/k6/kube-chaos.ts';
import { publishFailed, publishUnknown } from '../lib/k6/publish-metrics.ts';
import { OutcomeReporter } from '../lib/k6/outcome-reporter.ts';
import { finishWithSidecar, newRunTag, type SidecarSetupData, startWithSidecar } from '../lib/k6/sidecar-lifecycle.ts';
import { arrivalRateScenario } from '../lib/k6/load-shape.ts';
import { handleK6HaSummary } from '../lib/k6/summary-handler.ts';
import { metricCount } from '../lib/shared/summary.ts';
import { SCENARIOS, type ScenarioName } from '../lib/shared/scenarios.ts';
import { toK6Thresholds } from '../lib/shared/thresholds.ts';
import { THRESHOLD_PROFILES } from '../thresholds/index.ts';

const SCENARIO = 'jetstream-publish' satisfies ScenarioName;
const config = publishConfig();
/** CHAOS_PLAN: the experiment's Kubernetes plan runs inside k6 (no sidecar needed), in a `chaos` scenario of one iteration. */
const inK6 = inK6Chaos();
const expectedStatus = config.legacy ? 200 : 204;
const statusCheck = `is status ${expectedStatus}`;
/** What the arrival rate owes: RATE events a second for DURATION (the summary checks k6 kept up). */
const arrival = { rate: config.rate, durationMs: config.durationMs };

export const options = {
  scenarios: {
    publish: arrivalRateScenario(config),
    ...(inK6 === null ? {} : { chaos: chaosScenario(inK6.plan, inK6.config) }),
  },
  thresholds: {
    // k6 keeps a tag's submetric only when a threshold names it; an empty list gates nothing but
    // keeps the publish latency in the summary under every profile (ha-* have no latency gate).
    'http_req_duration{name:publish}': [],
    // The scenario's own requests apart from its calls to the sidecar (tagged name: 'sidecar …'):
    // a user gates on these, e.g. 'http_req_failed{name:publish}': ['rate<0.01'] (README).
    'http_reqs{name:publish}': [],
    'http_req_failed{name:publish}': [],
    ...toK6Thresholds(THRESHOLD_PROFILES[config.thresholds] ?? { description: '', gates: {} }, {
      withChaos: config.sidecarUrl !== undefined,
    }),
  },
  setupTimeout: '60s',
  // finish() reads the stream back and waits for the consumer to drain.
  teardownTimeout: '180s',
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

type SetupData = SidecarSetupData;

export function setup(): SetupData {
  return startWithSidecar(
    config.sidecarUrl,
    {
      runTag: config.runTag ?? newRunTag(),
      scenario: SCENARIO,
      rate: config.rate,
      durationMs: config.durationMs,
      requestTimeoutMs: config.requestTimeoutMs,
    },
    'plain load: no chaos plan, no accounting, no chaos_* metrics',
  );
}

// Per-VU state, made on the first iteration (module scope is per VU in k6). exec.scenario builds
// a fresh object of Go accessors on every access (~70 µs), but its getters read the VU's live
// state, so one object serves every iteration; the request template is reused the same way.
let scenarioInfo: typeof exec.scenario | null = null;
let request: EventRequestTemplate | null = null;
/** This VU's channel for non-acked outcomes (queued and retried when the sidecar misses one). */
let reporter: OutcomeReporter | null = null;
/** Event numbers under several runners: iterationInInstance × stride + offset (lib/shared/runners.ts). */
let stride = 0;
let offset = 0;
// Every reference to an imported k6 function looks its binding up again and wraps it anew; the
// check's callbacks object would be a new object per call. Both made once here.
const checkStatus = check;
const statusChecks = { [statusCheck]: (r: { status: number }) => r.status === expectedStatus };

export default function publish(data: SetupData): void {
  scenarioInfo ??= exec.scenario;
  request ??= new EventRequestTemplate(
    config.legacy ? 'legacy' : config.ceMode,
    config.eventType,
    config.eventSource,
    config.requestTimeoutMs,
  );
  if (reporter === null && data.sidecar !== null) reporter = new OutcomeReporter(data.sidecar);
  // Reports an earlier try could not deliver go out first (one field read when there are none).
  if (reporter !== null && reporter.needsWork) reporter.beforeIteration();
  // Sequential across this runner's VUs (no gaps: dropped iterations take no number), so the
  // sidecar knows every id that was sent from each runner's count alone and only the failures need
  // reporting. With N runners, runner i owns i−1, i−1+N, i−1+2N, … (one runner: iterationInTest).
  if (stride === 0) {
    stride = data.runner.count;
    offset = data.runner.index - 1;
  }
  const seq = scenarioInfo.iterationInInstance * stride + offset;
  const sentAt = Date.now();
  const body = request.next(`${data.runTag}-${seq}`, seq, __VU, sentAt);
  const res = http.post(config.publishUrl, body, request.params);
  const status = res.status;
  const outcome = classifyStatus(status);
  // One sample on the happy path (every sample costs k6 CPU): the check. Events sent are k6's
  // `iterations`, acks the check's passes, latency `http_req_duration{name:publish}`.
  checkStatus(res, statusChecks);
  if (outcome === 'failed') publishFailed.add(1, { status: String(status) });
  else if (outcome === 'unknown') publishUnknown.add(1, { status: String(status) });
  if (outcome !== 'acked' && reporter !== null) reporter.report({ seq, outcome, status, sentAt, t: Date.now() });
}

/** The `chaos` scenario's one iteration: the plan at its offsets from the load start (both scenarios start together). */
export function chaos(): void {
  if (inK6 === null) return;
  runChaosPlan(
    inK6.plan,
    inK6.config,
    kubeBackend(inK6.config.apiServer, inK6.token, inK6.config.inCluster),
    exec.scenario.startTime,
  );
}

export function teardown(data: SetupData): void {
  finishWithSidecar(data);
}

export function handleSummary(data: unknown): Record<string, string> {
  return handleK6HaSummary(data, {
    scenario: SCENARIO,
    sidecarUrl: config.sidecarUrl,
    summaryJsonPath: summaryJsonPath(),
    notAckedCounters: SCENARIOS[SCENARIO].notAckedCounters,
    arrival,
    // The publishing figures, from k6's own metrics: one publish per iteration, acks = check passes.
    derived: (s, notStarted) => ({
      publish_attempted: metricCount(s, 'iterations'),
      publish_not_started: notStarted,
      publish_acked: s.checks.find((c) => c.name === statusCheck)?.passes ?? 0,
      publish_failed: metricCount(s, 'publish_failed'),
      publish_unknown: metricCount(s, 'publish_unknown'),
      publish_latency_p95_ms: s.metrics['http_req_duration{name:publish}']?.values['p(95)'] ?? null,
    }),
    metrics: SCENARIOS[SCENARIO].reportMetrics,
  });
}
