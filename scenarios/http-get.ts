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
 * value (UNATTRIBUTED when the field is missing), anything else in http_get_errors tagged with the
 * phase and status class, and reported to the sidecar (OutcomeReporter) for the error windows.
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
import {
  ERROR_METRIC,
  OK_METRIC,
  OTHER,
  phaseRows,
  phaseSubmetrics,
  renderPhaseTable,
  UNATTRIBUTED,
} from '../lib/shared/http-phases.ts';
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
const checkStatus = check;
const statusChecks = { 'is status 2xx': (r: { status: number }) => r.status >= 200 && r.status < 300 };
const params = {
  timeout: config.requestTimeout,
  tags: { name: 'get' },
  responseCallback: http.expectedStatuses({ min: 200, max: 299 }),
};
const attributes = config.attributes;
const bodyAttributes = attributes.filter((a) => a.from === 'body');
const expected = attributes.map((a) => (config.expect[a.name] === undefined ? null : new Set(config.expect[a.name])));
const phases = config.phases;
/** One tags object per phase, reused: the attribute fields are overwritten per response. */
const tagsByPhase: Array<Record<string, string>> = (phases.length === 0 ? [null] : phases.map((p) => p.name)).map(
  (p): Record<string, string> => (p === null ? {} : { phase: p }),
);
const errorTagsByPhase: Array<Record<string, string>> = tagsByPhase.map((t) => ({ ...t, status: '' }));
let warnedOther = false;

function phaseIndex(offsetMs: number): number {
  let i = 0;
  while (i + 1 < phases.length && (phases[i + 1] as { atMs: number }).atMs <= offsetMs) i++;
  return i;
}

function errorClass(status: number, errorCode: number): string {
  if (status === 0) return errorCode === 1050 ? 'timeout' : 'conn';
  return String(status);
}

export default function get(data: SetupData): void {
  scenarioInfo ??= exec.scenario;
  if (reporter === null && data.sidecar !== null) reporter = new OutcomeReporter(data.sidecar);
  if (reporter !== null && reporter.needsWork) reporter.beforeIteration();
  const seq = scenarioInfo.iterationInTest;
  const sentAt = Date.now();
  const res = http.get(config.targetUrl, params);
  const status = res.status;
  checkStatus(res, statusChecks);
  const p = phaseIndex(sentAt - data.startedAt);
  if (status >= 200 && status < 300) {
    const tags = tagsByPhase[p] as Record<string, string>;
    let body: Record<string, unknown> | null = null;
    if (bodyAttributes.length > 0) {
      try {
        const parsed: unknown = JSON.parse(res.body as string);
        body = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : null;
      } catch {
        body = null;
      }
    }
    for (let i = 0; i < attributes.length; i++) {
      const a = attributes[i] as (typeof attributes)[number];
      const raw = a.from === 'body' ? body?.[a.key] : res.headers[a.key];
      let value = typeof raw === 'string' && raw !== '' ? raw : typeof raw === 'number' ? String(raw) : UNATTRIBUTED;
      const known = expected[i];
      if (value !== UNATTRIBUTED && known !== null && known !== undefined && !known.has(value)) {
        if (!warnedOther)
          console.warn(
            `k6-ha: ${a.name}=${JSON.stringify(value)} is not one of ${[...known].join(', ')}; counted as ${OTHER}`,
          );
        warnedOther = true;
        value = OTHER;
      }
      tags[a.name] = value;
    }
    okCounter.add(1, tags);
    return;
  }
  const tags = errorTagsByPhase[p] as Record<string, string>;
  tags['status'] = errorClass(status, res.error_code);
  errorCounter.add(1, tags);
  if (reporter !== null)
    reporter.report({
      seq,
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
      const ok = metricCount(s, OK_METRIC);
      const unattributed =
        attributes.length === 0
          ? 0
          : Math.max(
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
