// The scenario registry: what the rest of the project needs to know about each scenarios/<name>.ts,
// one entry per scenario, in the style of THRESHOLD_PROFILES (thresholds/index.ts). Code that used
// to branch on a scenario's name asks its entry instead, so a new scenario is a new file in
// scenarios/ plus one entry here.
//
// It lives in lib/shared, not lib/sidecar or lib/k6, because both sides import it: the Node side
// (the experiment schema, the env check before a run, the runner's flags) and the k6 bundles (their
// handleSummary). lib/shared is type-checked under tsconfig.k6.json too, where no Node module
// resolves, and bundled for k6 with platform 'neutral'; the Node side runs it in plain Node, where
// no k6 module exists. So it imports neither, only the pure parsers of lib/shared/scenario-config.ts.
import {
  ES_DEFAULT_THRESHOLDS,
  eventstoreConfigFrom,
  HTTP_GET_DEFAULT_THRESHOLDS,
  httpGetConfigFrom,
  PUBLISH_DEFAULT_THRESHOLDS,
  publishConfigFrom,
  S3_DEFAULT_THRESHOLDS,
  s3ObjectsConfigFrom,
  type ScenarioEnv,
} from './scenario-config.ts';
import { UNDELIVERED_METRIC } from './control-api.ts';

/** How a scenario's load is sized, and by which -e variable. */
export const SIZINGS = {
  /** A fixed arrival rate, whatever the target's latency; `k6-ha run --rate` sets it. */
  rate: { variable: 'RATE', what: 'a fixed arrival rate' },
  /** A fixed number of users, each waiting for its answers (closed loop). */
  vus: { variable: 'VUS', what: 'concurrent users' },
} as const;
export type Sizing = keyof typeof SIZINGS;

export interface ScenarioModule<Config = unknown> {
  /** Its k6 environment, checked exactly as at k6 init; throws naming the variable and what is allowed. */
  parse(env: ScenarioEnv): Config;
  sizing: Sizing;
  /** The gate profile when THRESHOLDS is not set: a plain `k6 run` (`k6-ha run` always sets one). */
  defaultThresholds: string;
  /** The metrics its handleSummary prints, in this order; the rest stay in the summary JSON. */
  reportMetrics: readonly string[];
  /** k6 counters whose sum is the non-acked outcomes k6 saw, cross-checked with what the sidecar heard. */
  notAckedCounters: readonly string[];
  /** Variables `k6-ha run` sets itself: an experiment's env need not, and the env check does not list them as known. */
  setByRunner: readonly string[];
  /** A counter tagged {phase, <attribute>: <value>} per response: the sidecar samples it per second for the rebalance figures. */
  attributionMetric?: string;
  /** The request name (k6 tag `name`) its outcome reports describe: that per-second series gets exact failures by status. */
  reportedRequest: string;
  /** Tags the per-second recording splits `attributionMetric` by (http-get: its attribute names). */
  perSecondTags?(env: ScenarioEnv): string[];
}

/** The gate profile (from the experiment) and the sidecar's control URL (with its per-run token). */
const SET_BY_RUNNER: readonly string[] = ['SIDECAR_URL', 'THRESHOLDS'];

export const SCENARIOS = {
  'jetstream-publish': {
    parse: publishConfigFrom,
    sizing: 'rate',
    defaultThresholds: PUBLISH_DEFAULT_THRESHOLDS,
    reportMetrics: [
      'iterations',
      'checks',
      'publish_failed',
      'publish_unknown',
      'http_req_duration{name:publish}',
      'http_reqs{name:publish}',
      'http_req_failed{name:publish}',
      'http_reqs',
      'dropped_iterations',
      'vus_max',
      'chaos_acked_lost',
      'chaos_duplicates',
      'chaos_unknown',
      'chaos_unexpected',
      'chaos_unmeasured',
      UNDELIVERED_METRIC,
      'chaos_unavailable_seconds',
      'chaos_leader_failover_seconds',
      'chaos_failover_seconds',
      'chaos_recovery_seconds',
    ],
    notAckedCounters: ['publish_failed', 'publish_unknown'],
    setByRunner: SET_BY_RUNNER,
    reportedRequest: 'publish',
  },
  'eventstore-streams': {
    parse: eventstoreConfigFrom,
    sizing: 'vus',
    defaultThresholds: ES_DEFAULT_THRESHOLDS,
    reportMetrics: [
      'checks',
      'http_reqs',
      'http_req_duration',
      'http_req_failed',
      'iterations',
      'vus_max',
      'es_appends_attempted',
      'es_appends_acked',
      'es_appends_failed',
      'es_appends_unknown',
      'es_appends_retried',
      'es_wrong_version',
      'es_events_verified',
      'es_verified',
      'es_acked_missing',
      'es_lost_after_verify',
      'es_streams_reverified',
      'es_unverified',
      'es_stale_reads',
      'es_read_mismatches',
      'es_duplicates',
      'es_unknown_stored',
      'es_unexpected_events',
      'chaos_unavailable_seconds',
      'chaos_recovery_seconds',
      'chaos_unmeasured',
      UNDELIVERED_METRIC,
    ],
    notAckedCounters: ['es_appends_failed', 'es_appends_unknown'],
    setByRunner: SET_BY_RUNNER,
    reportedRequest: 'append',
  },
  'http-get': {
    parse: httpGetConfigFrom,
    sizing: 'rate',
    defaultThresholds: HTTP_GET_DEFAULT_THRESHOLDS,
    reportMetrics: [
      'iterations',
      'http_get_ok',
      'http_get_errors',
      'http_req_duration{name:get}',
      'http_reqs{name:get}',
      'http_req_failed{name:get}',
      'http_reqs',
      'dropped_iterations',
      'vus_max',
      'chaos_unmeasured',
      UNDELIVERED_METRIC,
      'chaos_unavailable_seconds',
    ],
    notAckedCounters: ['http_get_errors'],
    // The target names its members' values and the plan's phases (lib/targets/postgres-haproxy.ts).
    setByRunner: [...SET_BY_RUNNER, 'PHASES', 'ATTRIBUTE_EXPECT'],
    attributionMetric: 'http_get_ok',
    reportedRequest: 'get',
    perSecondTags: (env: ScenarioEnv) => httpGetConfigFrom(env).attributes.map((a) => a.name),
  },
  's3-objects': {
    parse: s3ObjectsConfigFrom,
    sizing: 'rate',
    defaultThresholds: S3_DEFAULT_THRESHOLDS,
    reportMetrics: [
      'iterations',
      's3_failed',
      's3_unknown',
      's3_read_corrupt',
      's3_read_missing',
      'http_req_duration{name:put}',
      'http_req_duration{name:get}',
      'http_req_duration{name:list}',
      'dropped_iterations',
      'vus_max',
      'chaos_acked_lost',
      'chaos_corrupt',
      'chaos_unknown',
      'chaos_unexpected',
      'chaos_unmeasured',
      UNDELIVERED_METRIC,
      'chaos_unavailable_seconds',
    ],
    // The accounting counts objects, so the PUTs' share of the non-acked outcomes is what it must match.
    notAckedCounters: ['s3_failed{op:put}', 's3_unknown{op:put}'],
    // The target sets S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and S3_REGION (lib/targets/s3-gateway.ts); an experiment may override them.
    setByRunner: SET_BY_RUNNER,
    // Outcome reports are sent for PUTs only (the objects the accounting follows).
    reportedRequest: 'put',
  },
} satisfies Record<string, ScenarioModule>;

export type ScenarioName = keyof typeof SCENARIOS;

/** Every scenario name, in the registry's order (the experiment schema's enum). */
export const SCENARIO_NAMES = Object.keys(SCENARIOS) as [ScenarioName, ...ScenarioName[]];

/** Why `k6-ha run --rate` cannot size this scenario, naming what does; null when it can. */
export function rateFlagRefusal(name: ScenarioName): string | null {
  const sizing: Sizing = SCENARIOS[name].sizing;
  if (sizing === 'rate') return null;
  const rated = SCENARIO_NAMES.filter((n) => SCENARIOS[n].sizing === 'rate');
  return `--rate applies to ${rated.join(', ')} (${SIZINGS.rate.what}); ${name} is sized by -e ${SIZINGS[sizing].variable}=…`;
}
