// Talks to the chaos sidecar from inside k6. Every call is optional: without SIDECAR_URL the
// scenario runs plain; if the sidecar dies mid-run, load goes on and the summary says so.
import http from 'k6/http';
import { CONTROL_PATHS, type FinishRequest, type FinishResponse, type OutcomeRecord, type ReportResponse, type StartRequest, type StartResponse } from '../shared/control-api.ts';

const CONTROL_TIMEOUT = '10s';
/** finish reads the whole stream back and waits for the consumer to drain. */
const FINISH_TIMEOUT = '120s';

let unreachableNoted = false;

function post<T>(base: string, path: string, body: unknown, timeout = CONTROL_TIMEOUT): T | null {
  const res = http.post(`${base}${path}`, JSON.stringify(body), {
    headers: { 'content-type': 'application/json' },
    timeout,
    tags: { name: `sidecar ${path}`, k6ha: 'control' },
    responseCallback: http.expectedStatuses({ min: 200, max: 299 }),
  });
  if (res.status < 200 || res.status >= 300) {
    if (!unreachableNoted) {
      unreachableNoted = true;
      console.warn(`k6-ha: sidecar at ${base.replace(/\/[^/]+$/, '/…')} did not answer ${path} (status ${res.status}${res.error ? `, ${res.error}` : ''}); load continues without it`);
    }
    return null;
  }
  const text = typeof res.body === 'string' ? res.body : '';
  return (text === '' ? {} : JSON.parse(text)) as T;
}

export function sidecarStart(base: string, body: StartRequest): StartResponse | null {
  return post<StartResponse>(base, CONTROL_PATHS.start, body);
}

export function sidecarReportOutcome(base: string, record: OutcomeRecord): boolean {
  return post<unknown>(base, CONTROL_PATHS.outcomes, [record], '2s') !== null;
}

export function sidecarFinish(base: string, body: FinishRequest): FinishResponse | null {
  return post<FinishResponse>(base, CONTROL_PATHS.finish, body, FINISH_TIMEOUT);
}

export function sidecarReport(base: string): ReportResponse | null {
  const res = http.get(`${base}${CONTROL_PATHS.report}`, { timeout: CONTROL_TIMEOUT, tags: { k6ha: 'control' } });
  if (res.status !== 200 || typeof res.body !== 'string') return null;
  return JSON.parse(res.body) as ReportResponse;
}

export function sidecarUploadSummary(base: string, summary: unknown, text: string): boolean {
  return post<unknown>(base, CONTROL_PATHS.summary, { summary, text }) !== null;
}
