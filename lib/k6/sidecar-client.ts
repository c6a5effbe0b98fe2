// Talks to the chaos sidecar from inside k6. Every call is optional: without SIDECAR_URL the
// scenario runs plain; if the sidecar dies mid-run, load goes on and the summary says so.
// Outcome reports go through outcome-reporter.ts (queued, retried, counted when lost).
import http from 'k6/http';
import {
  CONTROL_PATHS,
  type FinishRequest,
  type FinishResponse,
  type ReportResponse,
  type StartRequest,
  type StartResponse,
} from '../shared/control-api.ts';

const CONTROL_TIMEOUT = '10s';
/** k6's error_code for a request that hit its timeout: waiting that long again is not a quick retry. */
const K6_REQUEST_TIMEOUT = 1050;
/** start waits until every runner of the run registered (the sidecar bounds that wait at 30 s). */
const START_TIMEOUT = '45s';
/** finish reads the whole stream back and waits for the consumer to drain. */
const FINISH_TIMEOUT = '120s';

/** Tries per call on a connection error (reset, EOF): every control call is idempotent, so a retry is safe. */
const CONNECTION_TRIES = 3;

let unreachableNoted = false;

/**
 * No responseCallback on the calls to the sidecar: k6 then records no `http_req_failed` sample for
 * them, so that rate is the scenario's own requests only (a user's `http_req_failed: ['rate<0.01']`
 * gate is not diluted by control calls that succeed). k6 takes null for "none"; @types/k6 does not say so.
 */
export const CONTROL_RESPONSE_CALLBACK = null as unknown as ReturnType<typeof http.expectedStatuses>;

function post<T>(base: string, path: string, body: unknown, timeout = CONTROL_TIMEOUT): T | null {
  const params = {
    headers: { 'content-type': 'application/json' },
    timeout,
    tags: { name: `sidecar ${path}`, k6ha: 'control' },
    responseCallback: CONTROL_RESPONSE_CALLBACK,
  };
  const payload = JSON.stringify(body);
  let res = http.post(`${base}${path}`, payload, params);
  for (
    let attempt = 1;
    attempt < CONNECTION_TRIES && res.status === 0 && res.error_code !== K6_REQUEST_TIMEOUT;
    attempt++
  ) {
    res = http.post(`${base}${path}`, payload, params);
  }
  if (res.status < 200 || res.status >= 300) {
    if (!unreachableNoted) {
      unreachableNoted = true;
      console.warn(
        `k6-ha: sidecar at ${base.replace(/\/[^/]+$/, '/…')} did not answer ${path} (status ${res.status}${res.error ? `, ${res.error}` : ''}); load continues without it`,
      );
    }
    return null;
  }
  const text = typeof res.body === 'string' ? res.body : '';
  return (text === '' ? {} : JSON.parse(text)) as T;
}

export function sidecarStart(base: string, body: StartRequest): StartResponse | null {
  return post<StartResponse>(base, CONTROL_PATHS.start, body, START_TIMEOUT);
}

export function sidecarFinish(base: string, body: FinishRequest): FinishResponse | null {
  return post<FinishResponse>(base, CONTROL_PATHS.finish, body, FINISH_TIMEOUT);
}

export function sidecarReport(base: string): ReportResponse | null {
  const params = {
    timeout: CONTROL_TIMEOUT,
    tags: { name: `sidecar ${CONTROL_PATHS.report}`, k6ha: 'control' },
    responseCallback: CONTROL_RESPONSE_CALLBACK,
  };
  let res = http.get(`${base}${CONTROL_PATHS.report}`, params);
  for (
    let attempt = 1;
    attempt < CONNECTION_TRIES && res.status === 0 && res.error_code !== K6_REQUEST_TIMEOUT;
    attempt++
  ) {
    res = http.get(`${base}${CONTROL_PATHS.report}`, params);
  }
  if (res.status !== 200 || typeof res.body !== 'string') return null;
  return JSON.parse(res.body) as ReportResponse;
}

export function sidecarUploadSummary(base: string, summary: unknown, text: string, runner?: number): boolean {
  return (
    post<unknown>(base, CONTROL_PATHS.summary, runner === undefined ? { summary, text } : { summary, text, runner }) !==
    null
  );
}
