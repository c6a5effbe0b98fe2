/**
 * http-get — Does an HTTP service keep answering at a fixed rate while its pieces are scaled down
 * and up, and WHICH backend and replica answered each request, per phase?
 * (Seed 002: k3d-postgres-haproxy-failover — nginx → backends → HAProxy → PostgreSQL replicas.)
 *
 * With the embedded stack and the seed's phases: npx k6-ha run experiments/postgres-haproxy-phases.json
 * Plain, against the seed's port-forwarded nginx:  npm run build && k6 run -e TARGET_URL=http://127.0.0.1:8081/users build/http-get.js
 *
 * Environment (parsed by lib/shared/scenario-config.ts, read from __ENV in lib/k6/env.ts):
 * TARGET_URL, RATE (20), DURATION, REQUEST_TIMEOUT (5s), THRESHOLDS (http-steady|http-observe),
 * ATTRIBUTE (pod,db: JSON fields of the body, or header:<name>; "none"), ATTRIBUTE_EXPECT
 * (pod=a|b;db=c|d, set by the target), PHASES (name@ms,…, derived from the plan by k6-ha run),
 * SIDECAR_URL, SUMMARY_JSON.
 *
 * Every response is counted once: 2xx in http_get_ok tagged with the phase and each attribute's
 * value (UNATTRIBUTED when the field is missing) — counted in VU memory and added to k6 in batches
 * (lib/shared/attribution-counter.ts: a tagged sample per response cost k6 a third of its
 * throughput), checked against k6's own count of 2xx — anything else in http_get_errors tagged
 * with the phase and status class, and reported to the sidecar (OutcomeReporter) for the error
 * windows.
 */
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { classifyStatus } from '../lib/k6/cloudevents.ts';
import { httpGetConfig, summaryJsonPath } from '../lib/k6/env.ts';
import { OutcomeReporter } from '../lib/k6/outcome-reporter.ts';
import { finishWithSidecar, newRunTag, type SidecarSetupData, startWithSidecar } from '../lib/k6/sidecar-lifecycle.ts';
import { arrivalRateScenario } from '../lib/k6/load-shape.ts';
import { handleK6HaSummary } from '../lib/k6/summary-handler.ts';
import { AttributionCounter, type AttributionResponse } from '../lib/shared/attribution-counter.ts';
import {
  ERROR_METRIC,
  OK_METRIC,
  OK_TOTAL_METRIC,
  phaseRows,
  phaseSubmetrics,
  renderPhaseTable,
  UNATTRIBUTED,
} from '../lib/shared/http-phases.ts';
import { publishVus } from '../lib/shared/publish-load.ts';
import { SCENARIOS, type ScenarioName } from '../lib/shared/scenarios.ts';
import { metricCount } from '../lib/shared/summary.ts';
import { toK6Thresholds } from '../lib/shared/thresholds.ts';
import { THRESHOLD_PROFILES } from '../thresholds/index.ts';

const SCENARIO = 'http-get' satisfies ScenarioName;
const config = httpGetConfig();
const okCounter = new Counter(OK_METRIC);
const errorCounter = new Counter(ERROR_METRIC);

export const options = {
  scenarios: {
    get: arrivalRateScenario(config),
  },
  thresholds: {
    'http_req_duration{name:get}': [],
    // The scenario's own requests apart from its calls to the sidecar (tagged name: 'sidecar …'):
    // a user gates on these, e.g. 'http_req_failed{name:get}': ['rate<0.01'] (README).
    'http_reqs{name:get}': [],
    'http_req_failed{name:get}': [],
    // The per-phase split's tag combinations (empty: they gate nothing, k6 keeps them in the summary).
    ...Object.fromEntries(phaseSubmetrics(config).map((m) => [m, []])),
    ...toK6Thresholds(THRESHOLD_PROFILES[config.thresholds] ?? { description: '', gates: {} }, {
      withChaos: config.sidecarUrl !== undefined,
    }),
  },
  setupTimeout: '60s',
  teardownTimeout: '60s',
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

interface SetupData extends SidecarSetupData {
  /** epoch ms of load start: the zero of PHASES (the sidecar's schedule starts at the same call) */
  startedAt: number;
}

export function setup(): SetupData {
  const started = startWithSidecar(
    config.sidecarUrl,
    {
      runTag: newRunTag(),
      scenario: SCENARIO,
      rate: config.rate,
      durationMs: config.durationMs,
      requestTimeoutMs: config.requestTimeoutMs,
    },
    'plain load: no chaos plan, no error windows, no chaos_* metrics',
  );
  return { ...started, startedAt: Date.now() };
}

// Made once per VU (see jetstream-publish: every access to exec.scenario or an imported function allocates).
let scenarioInfo: typeof exec.scenario | null = null;
let reporter: OutcomeReporter | null = null;
let counter: AttributionCounter | null = null;
const checkStatus = check;
const statusChecks = { 'is status 2xx': (r: { status: number }) => r.status >= 200 && r.status < 300 };
// 2xx is the expected response (http_req_failed, expected_response): set once, not parsed per request.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }));
// The timeout as a number of ms: k6 parses a duration string per request.
const params = { timeout: config.requestTimeoutMs, tags: { name: 'get' } };
const attributes = config.attributes;
const phases = config.phases;
/** One tags object per phase for the errors, reused: the status is overwritten per response. */
const errorTagsByPhase: Array<Record<string, string>> = (phases.length === 0 ? [null] : phases.map((p) => p.name)).map(
  (p): Record<string, string> => (p === null ? { status: '' } : { phase: p, status: '' }),
);
/** Longer than the longest a busy VU waits for its next iteration (k6 hands them out first in, first out). */
const tailMs = (publishVus(config.rate, config.requestTimeoutMs) / config.rate) * 1000 + 1000;
const emit = (n: number, tags: Record<string, string>): void => okCounter.add(n, tags);
const warn = (message: string): void => console.warn(message);

function errorClass(status: number, errorCode: number): string {
  if (status === 0) return errorCode === 1050 ? 'timeout' : 'conn';
  return String(status);
}

export default function get(data: SetupData): void {
  if (counter === null) {
    scenarioInfo = exec.scenario;
    if (data.sidecar !== null) reporter = new OutcomeReporter(data.sidecar);
    counter = new AttributionCounter({
      attributes,
      expect: config.expect,
      phases,
      startedAt: data.startedAt,
      flushEveryFrom: data.startedAt + config.durationMs - tailMs,
      emit,
      warn,
    });
  }
  if (reporter !== null && reporter.needsWork) reporter.beforeIteration();
  const sentAt = Date.now();
  if (sentAt >= counter.nextPhaseAt) counter.advance(sentAt);
  const res = http.get(config.targetUrl, params);
  const status = res.status;
  checkStatus(res, statusChecks);
  if (status >= 200 && status < 300) {
    counter.count(res as unknown as AttributionResponse, sentAt);
    return;
  }
  const tags = errorTagsByPhase[counter.phase] as Record<string, string>;
  tags['status'] = errorClass(status, res.error_code);
  errorCounter.add(1, tags);
  if (reporter !== null)
    reporter.report({
      seq: (scenarioInfo as typeof exec.scenario).iterationInTest,
      outcome: classifyStatus(status) === 'failed' ? 'failed' : 'unknown',
      status,
      sentAt,
      t: Date.now(),
    });
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
    arrival: { rate: config.rate, durationMs: config.durationMs },
    derived: (s, notStarted) => {
      // ok as k6 counted the 2xx responses; what the VUs' batches did not bring (a run cut short
      // before a busy VU flushed, see attribution-counter.ts) is unattributed, never dropped.
      const ok = metricCount(s, OK_TOTAL_METRIC);
      const unflushed = Math.max(0, ok - metricCount(s, OK_METRIC));
      const unattributed =
        attributes.length === 0
          ? 0
          : unflushed +
            Math.max(
              ...attributes.map((a) =>
                phaseRows(s, config).reduce((n, r) => n + (r.split[a.name]?.[UNATTRIBUTED] ?? 0), 0),
              ),
            );
      return {
        get_sent: metricCount(s, 'iterations'),
        get_not_started: notStarted,
        get_ok: ok,
        get_errors: metricCount(s, ERROR_METRIC),
        get_attributed: attributes.length === 0 ? null : ok - unattributed,
        get_unattributed: attributes.length === 0 ? null : unattributed,
        get_unflushed: unflushed,
        get_latency_p95_ms: s.metrics['http_req_duration{name:get}']?.values['p(95)'] ?? null,
      };
    },
    tables: (s) => {
      const rows = phaseRows(s, config);
      return {
        title: config.phases.length === 0 ? 'split (all requests)' : 'per phase',
        text: renderPhaseTable(rows, config),
        data: rows,
      };
    },
    metrics: SCENARIOS[SCENARIO].reportMetrics,
  });
}
