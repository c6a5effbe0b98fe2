// Every scenario's public interface: its environment, parsed by pure functions of an env object
// (…From(env)). Inside k6 they validate at init time (lib/k6/env.ts hands them __ENV): a bad value
// stops k6 before any load with a message naming the variable, the value and what is allowed. The
// Node side runs the very same checks on an experiment's env before anything starts (the
// registry's parse, lib/shared/scenarios.ts, called by lib/experiment/scenario-env.ts).
import {
  CE_MODES,
  type CeMode,
  DEFAULT_DURATION,
  DEFAULT_EVENT_SOURCE,
  DEFAULT_EVENT_TYPE,
  DEFAULT_PUBLISH_URL,
  DEFAULT_RATE,
  DEFAULT_REQUEST_TIMEOUT,
} from './defaults.ts';
import {
  InvalidSettingError,
  parseChoice,
  parseDurationMs,
  parseEventType,
  parseHttpUrl,
  parsePositiveInt,
  parseRunDurationMs,
} from './env-parse.ts';
import { MAX_PUBLISH_VUS, publishVus } from './publish-load.ts';
import { parseSize, S3_OPS, type S3Mix } from './s3-objects.ts';
import { THRESHOLD_PROFILES } from '../../thresholds/index.ts';

/** k6's -e variables by name (or an experiment's env, checked in Node). */
export type ScenarioEnv = Readonly<Record<string, string | undefined>>;

/** Unset and empty read the same: `-e RATE=` falls back to the default like no -e at all. */
function raw(env: ScenarioEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** Runs the parsers and turns their errors into one clear init-time failure. */
function validated<T>(scenario: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof InvalidSettingError) {
      throw new Error(`${scenario}: ${err.message} (set it with -e ${err.setting}=...)`, { cause: err });
    }
    throw err;
  }
}

export function thresholdProfileNameFrom(env: ScenarioEnv, fallback: string): string {
  const name = raw(env, 'THRESHOLDS') ?? fallback;
  if (!Object.hasOwn(THRESHOLD_PROFILES, name)) {
    throw new InvalidSettingError('THRESHOLDS', name, `one of ${Object.keys(THRESHOLD_PROFILES).join(', ')}`);
  }
  return name;
}

/** Optional: the chaos sidecar's control URL (with its token as ?token=...). */
export function sidecarUrlFrom(env: ScenarioEnv): string | undefined {
  const value = raw(env, 'SIDECAR_URL');
  return value === undefined
    ? undefined
    : parseHttpUrl('SIDECAR_URL', value, 'http://127.0.0.1:41234/<token> (k6-ha run sets it)');
}

export interface PublishConfig {
  publishUrl: string;
  /** True for the legacy `/{app}/v1/events` route (200 + JSON) instead of CloudEvents (204). */
  legacy: boolean;
  rate: number;
  duration: string;
  durationMs: number;
  requestTimeout: string;
  requestTimeoutMs: number;
  ceMode: CeMode;
  eventType: string;
  eventSource: string;
  thresholds: string;
  sidecarUrl: string | undefined;
  /** Distinguishes this run's event ids from earlier runs into the same stream; when unset,
   * setup() makes one (init code runs once per VU, so a default here would differ per VU). */
  runTag: string | undefined;
}

/** The gate profile jetstream-publish applies when THRESHOLDS is not set (a plain `k6 run`). */
export const PUBLISH_DEFAULT_THRESHOLDS = 'steady';

export function publishConfigFrom(env: ScenarioEnv): PublishConfig {
  return validated('jetstream-publish', () => {
    const publishUrl = parseHttpUrl('PUBLISH_URL', raw(env, 'PUBLISH_URL') ?? DEFAULT_PUBLISH_URL);
    const duration = raw(env, 'DURATION') ?? DEFAULT_DURATION;
    const requestTimeout = raw(env, 'REQUEST_TIMEOUT') ?? DEFAULT_REQUEST_TIMEOUT;
    const runTag = raw(env, 'RUN_TAG');
    if (runTag !== undefined && !/^[A-Za-z0-9_-]{1,40}$/.test(runTag)) {
      throw new InvalidSettingError('RUN_TAG', runTag, 'up to 40 letters, digits, - or _');
    }
    const rate = parsePositiveInt('RATE', raw(env, 'RATE') ?? String(DEFAULT_RATE), 100_000);
    const requestTimeoutMs = parseDurationMs('REQUEST_TIMEOUT', requestTimeout);
    const vus = publishVus(rate, requestTimeoutMs);
    if (vus > MAX_PUBLISH_VUS) {
      const why = `riding out an outage takes a VU per event in flight for a whole timeout, ${vus} VUs here, and k6 holds at most ${MAX_PUBLISH_VUS} (≈ 350 KB each)`;
      const maxRate = Math.floor((MAX_PUBLISH_VUS - 5) / 1.1 / (requestTimeoutMs / 1000 + 1));
      if (maxRate >= 1)
        throw new InvalidSettingError(
          'RATE',
          String(rate),
          `at most ${maxRate} with REQUEST_TIMEOUT=${requestTimeout}: ${why}; lower RATE or REQUEST_TIMEOUT`,
        );
      const maxTimeoutS = Math.floor((MAX_PUBLISH_VUS - 5) / 1.1 / rate - 1);
      throw new InvalidSettingError(
        'REQUEST_TIMEOUT',
        requestTimeout,
        `at most ${maxTimeoutS}s at RATE=${rate}: ${why}`,
      );
    }
    return {
      publishUrl,
      legacy: /\/v1\/events$/.test(publishUrl),
      rate,
      duration,
      durationMs: parseRunDurationMs('DURATION', duration),
      requestTimeout,
      requestTimeoutMs,
      ceMode: parseChoice('CE_MODE', raw(env, 'CE_MODE') ?? 'binary', CE_MODES),
      eventType: parseEventType('EVENT_TYPE', raw(env, 'EVENT_TYPE') ?? DEFAULT_EVENT_TYPE),
      eventSource: (raw(env, 'EVENT_SOURCE') ?? DEFAULT_EVENT_SOURCE).trim(),
      thresholds: thresholdProfileNameFrom(env, PUBLISH_DEFAULT_THRESHOLDS),
      sidecarUrl: sidecarUrlFrom(env),
      runTag,
    };
  });
}

/** Optional: where handleSummary() writes the merged summary JSON when no sidecar collects it. */
export function summaryJsonPathFrom(env: ScenarioEnv): string | undefined {
  return raw(env, 'SUMMARY_JSON');
}

// ---- eventstore-streams (scenarios/eventstore-streams.ts) ----

export const ES_DEFAULT_URL = 'http://127.0.0.1:2113';
const ES_BOOLEANS = ['true', 'false'] as const;
const ES_DIALECT_CHOICES = ['eventstore', 'kurrent'] as const;

export interface EventStoreConfig {
  /** Base URL of the server (no /streams): EventStoreDB/KurrentDB with AtomPub enabled, or the fixture. */
  esUrl: string;
  vus: number;
  duration: string;
  durationMs: number;
  /** Events appended to each new stream (the seed: 10). */
  eventsPerStream: number;
  /** One request with all events (application/vnd.*.events+json) instead of one request per event. */
  batch: boolean;
  dialect: (typeof ES_DIALECT_CHOICES)[number];
  /** Basic auth; a fresh EventStore has admin:changeit. */
  user: string;
  password: string;
  /** How GET /streams/{s}/{n} is read: json (bare body, cheap) or atom (the entry: id and number too). */
  eventRead: 'json' | 'atom';
  /** Send ES-ExpectedVersion (-1 for the first append, then the last acked number) instead of "any". */
  expectedVersion: boolean;
  /** Re-sends of an append whose outcome is unknown, with the same event id (idempotent). */
  retries: number;
  /** Every Nth iteration also re-reads one of this VU's earlier, verified streams (0: never):
   * finds acked events lost after their own iteration ended, e.g. by a node that restarted empty. */
  reverifyEvery: number;
  /** Seconds a VU waits after a request got no answer at all (refused, reset, timed out): without
   * it a dead node is hammered by instantly failing requests and the failure counts measure the
   * client's loop speed rather than the outage. 0 disables it. */
  errorPauseSeconds: number;
  requestTimeout: string;
  requestTimeoutMs: number;
  thresholds: string;
  sidecarUrl: string | undefined;
}

/** The gate profile eventstore-streams applies when THRESHOLDS is not set (a plain `k6 run`). */
export const ES_DEFAULT_THRESHOLDS = 'es-steady';

export function eventstoreConfigFrom(env: ScenarioEnv): EventStoreConfig {
  return validated('eventstore-streams', () => {
    const duration = raw(env, 'DURATION') ?? DEFAULT_DURATION;
    const requestTimeout = raw(env, 'REQUEST_TIMEOUT') ?? '60s';
    const retriesRaw = raw(env, 'ES_RETRIES') ?? '0';
    if (!/^[0-5]$/.test(retriesRaw.trim()))
      throw new InvalidSettingError('ES_RETRIES', retriesRaw, 'a whole number from 0 to 5');
    const reverifyRaw = raw(env, 'ES_REVERIFY_EVERY') ?? '0';
    const pauseRaw = raw(env, 'ES_ERROR_PAUSE') ?? '1s';
    return {
      esUrl: parseHttpUrl('ES_URL', raw(env, 'ES_URL') ?? ES_DEFAULT_URL, ES_DEFAULT_URL),
      vus: parsePositiveInt('VUS', raw(env, 'VUS') ?? '10', 10_000),
      duration,
      durationMs: parseRunDurationMs('DURATION', duration),
      eventsPerStream: parsePositiveInt('EVENTS_PER_STREAM', raw(env, 'EVENTS_PER_STREAM') ?? '10', 1000),
      batch: parseChoice('ES_BATCH', raw(env, 'ES_BATCH') ?? 'false', ES_BOOLEANS) === 'true',
      dialect: parseChoice('ES_DIALECT', raw(env, 'ES_DIALECT') ?? 'eventstore', ES_DIALECT_CHOICES),
      user: raw(env, 'ES_USER') ?? 'admin',
      password: raw(env, 'ES_PASSWORD') ?? 'changeit',
      eventRead: parseChoice('ES_EVENT_READ', raw(env, 'ES_EVENT_READ') ?? 'json', ['json', 'atom'] as const),
      expectedVersion:
        parseChoice('ES_EXPECTED_VERSION', raw(env, 'ES_EXPECTED_VERSION') ?? 'false', ES_BOOLEANS) === 'true',
      retries: Number(retriesRaw.trim()),
      // 0 turns each off, however it is written (0, 00, 0s, 0ms).
      reverifyEvery: /^0+$/.test(reverifyRaw.trim()) ? 0 : parsePositiveInt('ES_REVERIFY_EVERY', reverifyRaw, 1000),
      errorPauseSeconds: /^0+(?:\.0+)?(?:ms|s|m|h)?$/.test(pauseRaw.trim())
        ? 0
        : parseDurationMs('ES_ERROR_PAUSE', pauseRaw) / 1000,
      requestTimeout,
      requestTimeoutMs: parseDurationMs('REQUEST_TIMEOUT', requestTimeout),
      thresholds: thresholdProfileNameFrom(env, ES_DEFAULT_THRESHOLDS),
      sidecarUrl: sidecarUrlFrom(env),
    };
  });
}

// ---- http-get (scenarios/http-get.ts) ----

/** The seed's port-forwarded nginx (`kubectl -n highload-dns port-forward svc/nginx 8081:80`). */
export const HTTP_GET_DEFAULT_URL = 'http://127.0.0.1:8081/users';
export const HTTP_GET_DEFAULT_THRESHOLDS = 'http-steady';
/** The error classes the per-phase table has a column for (anything else is in the total). */
export const HTTP_ERROR_CLASSES = ['502', '503', '504', '500', 'timeout', 'conn'] as const;

/** One attribution source: a JSON field of the body (`pod`) or a response header (`header:x-pod`). */
export interface AttributeSpec {
  /** the tag name, and the column in the report */
  name: string;
  from: 'body' | 'header';
  /** the header's canonical name (k6 canonicalises: X-Pod) or the field */
  key: string;
}

export interface Phase {
  name: string;
  /** ms from load start */
  atMs: number;
}

export interface HttpGetConfig {
  targetUrl: string;
  rate: number;
  duration: string;
  durationMs: number;
  requestTimeout: string;
  requestTimeoutMs: number;
  attributes: AttributeSpec[];
  /** attribute name → the values expected (the target's members); others count as "other" */
  expect: Record<string, string[]>;
  phases: Phase[];
  thresholds: string;
  sidecarUrl: string | undefined;
}

const TAG_VALUE = /^[A-Za-z0-9_.:-]{1,64}$/;

function canonicalHeader(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((p) => (p === '' ? p : p[0]?.toUpperCase() + p.slice(1)))
    .join('-');
}

function parseAttributes(text: string): AttributeSpec[] {
  if (text.trim() === '' || text.trim() === 'none') return [];
  return text.split(',').map((part) => {
    const p = part.trim();
    const header = /^header:([A-Za-z0-9-]{1,64})$/.exec(p);
    if (header !== null) {
      const key = canonicalHeader(header[1] as string);
      return { name: key.toLowerCase(), from: 'header' as const, key };
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(p) || p === 'phase' || p === 'status' || p === 'name') {
      throw new InvalidSettingError(
        'ATTRIBUTE',
        text,
        'comma-separated JSON field names (pod,db) or header:<name>, not phase, status or name; "none" for no attribution',
      );
    }
    return { name: p, from: 'body' as const, key: p };
  });
}

function parseExpect(text: string | undefined, attributes: AttributeSpec[]): Record<string, string[]> {
  if (text === undefined) return {};
  const out: Record<string, string[]> = {};
  for (const part of text.split(';')) {
    const m = /^([A-Za-z0-9_-]+)=(.+)$/.exec(part.trim());
    const values = m?.[2]?.split('|').map((v) => v.trim()) ?? [];
    if (m === null || values.length === 0 || values.some((v) => !TAG_VALUE.test(v))) {
      throw new InvalidSettingError(
        'ATTRIBUTE_EXPECT',
        text,
        'attribute=value|value;… e.g. pod=backend-0|backend-1;db=pg-replica-0|pg-replica-1',
      );
    }
    out[m[1] as string] = values;
  }
  for (const name of Object.keys(out)) {
    if (!attributes.some((a) => a.name === name))
      throw new InvalidSettingError(
        'ATTRIBUTE_EXPECT',
        text,
        `only attributes named in ATTRIBUTE (${attributes.map((a) => a.name).join(',') || 'none'})`,
      );
  }
  return out;
}

function parsePhases(text: string | undefined): Phase[] {
  if (text === undefined) return [];
  const phases = text.split(',').map((part) => {
    const m = /^([A-Za-z0-9_.-]{1,40})@(\d{1,9})$/.exec(part.trim());
    if (m === null)
      throw new InvalidSettingError(
        'PHASES',
        text,
        "name@ms,… in increasing order, e.g. 0@0,A@10000 (k6-ha run derives it from the plan's action ids)",
      );
    return { name: m[1] as string, atMs: Number(m[2]) };
  });
  if (phases.some((p, i) => i > 0 && p.atMs <= (phases[i - 1] as Phase).atMs))
    throw new InvalidSettingError('PHASES', text, 'phases in increasing order of their offsets');
  return phases;
}

export function httpGetConfigFrom(env: ScenarioEnv): HttpGetConfig {
  return validated('http-get', () => {
    const duration = raw(env, 'DURATION') ?? DEFAULT_DURATION;
    const requestTimeout = raw(env, 'REQUEST_TIMEOUT') ?? DEFAULT_REQUEST_TIMEOUT;
    const rate = parsePositiveInt('RATE', raw(env, 'RATE') ?? '20', 100_000);
    const requestTimeoutMs = parseDurationMs('REQUEST_TIMEOUT', requestTimeout);
    const vus = publishVus(rate, requestTimeoutMs);
    if (vus > MAX_PUBLISH_VUS)
      throw new InvalidSettingError(
        'RATE',
        String(rate),
        `at most ${Math.floor((MAX_PUBLISH_VUS - 5) / 1.1 / (requestTimeoutMs / 1000 + 1))} with REQUEST_TIMEOUT=${requestTimeout} (a VU per request in flight for a whole timeout)`,
      );
    const attributes = parseAttributes(raw(env, 'ATTRIBUTE') ?? 'pod,db');
    return {
      targetUrl: parseHttpUrl('TARGET_URL', raw(env, 'TARGET_URL') ?? HTTP_GET_DEFAULT_URL),
      rate,
      duration,
      durationMs: parseRunDurationMs('DURATION', duration),
      requestTimeout,
      requestTimeoutMs,
      attributes,
      expect: parseExpect(raw(env, 'ATTRIBUTE_EXPECT'), attributes),
      phases: parsePhases(raw(env, 'PHASES')),
      thresholds: thresholdProfileNameFrom(env, HTTP_GET_DEFAULT_THRESHOLDS),
      sidecarUrl: sidecarUrlFrom(env),
    };
  });
}

// ---- s3-objects (scenarios/s3-objects.ts) ----

/** versitygw's port in the embedded s3-gateway target; any S3 endpoint works. */
export const S3_DEFAULT_ENDPOINT = 'http://127.0.0.1:7070';
export const S3_DEFAULT_THRESHOLDS = 's3-steady';
/** The fixed credentials of the embedded gateway (lib/targets/s3-gateway.ts): a local test root, not a secret. */
export const S3_DEFAULT_ACCESS_KEY = 'k6ha-access';
export const S3_DEFAULT_SECRET_KEY = 'k6ha-secret-0123456789';
/** The largest object one PUT carries here: k6 holds each body in memory per VU. */
export const S3_MAX_OBJECT_BYTES = 16 * 1024 * 1024;

export interface S3ObjectsConfig {
  endpoint: string;
  /** host[:port] of the endpoint: the signed Host header */
  host: string;
  bucket: string;
  region: string;
  accessKey: string;
  secretKey: string;
  rate: number;
  duration: string;
  durationMs: number;
  requestTimeout: string;
  requestTimeoutMs: number;
  mix: S3Mix;
  /** object sizes in bytes; each PUT takes one, spread evenly by its seq */
  sizes: number[];
  /** LIST's max-keys */
  listMaxKeys: number;
  thresholds: string;
  sidecarUrl: string | undefined;
}

function parseMix(text: string): S3Mix {
  const allowed = 'weights per operation, e.g. put=60,get=30,list=10 (whole numbers, put above 0)';
  const mix: S3Mix = { put: 0, get: 0, list: 0 };
  for (const part of text.split(',')) {
    const m = /^\s*(put|get|list)\s*=\s*(\d{1,6})\s*$/.exec(part);
    if (m === null) throw InvalidSettingError.format('S3_MIX', text, allowed);
    mix[m[1] as (typeof S3_OPS)[number]] = Number(m[2]);
  }
  if (mix.put === 0) throw InvalidSettingError.format('S3_MIX', text, allowed);
  return mix;
}

function parseSizes(text: string): number[] {
  const sizes = text.split(',').map((p) => parseSize(p));
  if (sizes.some((s) => s === null || s < 1 || s > S3_MAX_OBJECT_BYTES))
    throw InvalidSettingError.format(
      'S3_SIZES',
      text,
      `comma-separated sizes from 1B to 16MiB, e.g. 1KiB,64KiB (units B, KiB, MiB, KB, MB)`,
    );
  return sizes as number[];
}

export function s3ObjectsConfigFrom(env: ScenarioEnv): S3ObjectsConfig {
  return validated('s3-objects', () => {
    const duration = raw(env, 'DURATION') ?? DEFAULT_DURATION;
    const requestTimeout = raw(env, 'REQUEST_TIMEOUT') ?? DEFAULT_REQUEST_TIMEOUT;
    const rate = parsePositiveInt('RATE', raw(env, 'RATE') ?? '50', 100_000);
    const requestTimeoutMs = parseDurationMs('REQUEST_TIMEOUT', requestTimeout);
    if (publishVus(rate, requestTimeoutMs) > MAX_PUBLISH_VUS)
      throw InvalidSettingError.format(
        'RATE',
        String(rate),
        `at most ${Math.floor((MAX_PUBLISH_VUS - 5) / 1.1 / (requestTimeoutMs / 1000 + 1))} with REQUEST_TIMEOUT=${requestTimeout} (a VU per request in flight for a whole timeout)`,
      );
    const endpoint = parseHttpUrl('S3_ENDPOINT', raw(env, 'S3_ENDPOINT') ?? S3_DEFAULT_ENDPOINT, S3_DEFAULT_ENDPOINT);
    const hostMatch = /^https?:\/\/([^/]+)(\/.*)?$/.exec(endpoint);
    if (hostMatch === null || (hostMatch[2] ?? '') !== '')
      throw InvalidSettingError.format(
        'S3_ENDPOINT',
        endpoint,
        `the endpoint alone, without a path, e.g. ${S3_DEFAULT_ENDPOINT}`,
      );
    const bucket = raw(env, 'S3_BUCKET') ?? 'k6ha';
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
      throw InvalidSettingError.format(
        'S3_BUCKET',
        bucket,
        'an S3 bucket name: 3–63 lower-case letters, digits, . and -',
      );
    const accessKey = raw(env, 'S3_ACCESS_KEY') ?? S3_DEFAULT_ACCESS_KEY;
    if (!/^[A-Za-z0-9_.-]{3,128}$/.test(accessKey))
      throw InvalidSettingError.format('S3_ACCESS_KEY', accessKey, '3–128 letters, digits, _ . -');
    const secretKey = raw(env, 'S3_SECRET_KEY') ?? S3_DEFAULT_SECRET_KEY;
    if (secretKey.length < 8 || /\s/.test(secretKey))
      throw InvalidSettingError.format('S3_SECRET_KEY', '(hidden)', 'at least 8 characters, no spaces');
    const region = raw(env, 'S3_REGION') ?? 'us-east-1';
    if (!/^[a-z0-9-]{2,32}$/.test(region))
      throw InvalidSettingError.format('S3_REGION', region, 'a region name such as us-east-1');
    return {
      endpoint,
      host: hostMatch[1] as string,
      bucket,
      region,
      accessKey,
      secretKey,
      rate,
      duration,
      durationMs: parseRunDurationMs('DURATION', duration),
      requestTimeout,
      requestTimeoutMs,
      mix: parseMix(raw(env, 'S3_MIX') ?? 'put=60,get=30,list=10'),
      sizes: parseSizes(raw(env, 'S3_SIZES') ?? '1KiB,16KiB'),
      listMaxKeys: parsePositiveInt('S3_LIST_MAX_KEYS', raw(env, 'S3_LIST_MAX_KEYS') ?? '20', 1000),
      thresholds: thresholdProfileNameFrom(env, S3_DEFAULT_THRESHOLDS),
      sidecarUrl: sidecarUrlFrom(env),
    };
  });
}
