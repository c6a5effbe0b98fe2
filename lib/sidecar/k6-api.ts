// k6's REST API, read from Node: the counts the runner shows as progress and the sidecar settles with.
import { get as httpGet, request as httpRequest } from 'node:http';

/**
 * The sample count of one of k6's metrics (`iterations`: events sent) from its REST API (`k6 run
 * --address`), or null while it cannot answer. Through node:http, already loaded for the control server: fetch() would
 * load undici mid-run (≈ 10 MB in the sidecar's process).
 */
export function readK6Metric(apiUrl: string, name: string, opts: { missingIs?: number } = {}): Promise<number | null> {
  return new Promise((resolveCount) => {
    const req = httpGet(`${apiUrl}/v1/metrics/${encodeURIComponent(name)}`, { timeout: 2000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        // k6 answers 404 for a metric with no sample yet: for a counter that only moves on trouble, that is a zero.
        if (res.statusCode === 404 && opts.missingIs !== undefined) return resolveCount(opts.missingIs);
        if (res.statusCode !== 200) return resolveCount(null);
        try {
          const body = JSON.parse(text) as { data?: { attributes?: { sample?: { count?: unknown } } } };
          const count = body.data?.attributes?.sample?.count;
          resolveCount(typeof count === 'number' ? count : null);
        } catch {
          resolveCount(null);
        }
      });
      res.on('error', () => resolveCount(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveCount(null));
  });
}

/**
 * The sample counts of every metric k6 observes whose id starts with `prefix` (submetrics of
 * thresholds included: `http_get_ok{phase:A,pod:backend-0}`), in one read of /v1/metrics; null
 * while k6 cannot answer.
 */
export function readK6Counts(apiUrl: string, prefix: string): Promise<Record<string, number> | null> {
  return new Promise((resolveCounts) => {
    const req = httpGet(`${apiUrl}/v1/metrics`, { timeout: 2000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) return resolveCounts(null);
        try {
          const body = JSON.parse(text) as {
            data?: Array<{ id?: unknown; attributes?: { sample?: { count?: unknown } } }>;
          };
          const out: Record<string, number> = {};
          for (const m of body.data ?? []) {
            const count = m.attributes?.sample?.count;
            if (typeof m.id === 'string' && m.id.startsWith(prefix) && typeof count === 'number') out[m.id] = count;
          }
          resolveCounts(out);
        } catch {
          resolveCounts(null);
        }
      });
      res.on('error', () => resolveCounts(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveCounts(null));
  });
}

export interface K6Status {
  paused: boolean;
  running: boolean;
  stopped: boolean;
}

/** k6's /v1/status (`k6 run --address`), or null while it cannot answer (not up yet, or gone). */
export function readK6Status(apiUrl: string, timeoutMs = 2000): Promise<K6Status | null> {
  return new Promise((resolveStatus) => {
    const req = httpGet(`${apiUrl}/v1/status`, { timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) return resolveStatus(null);
        try {
          const a = (JSON.parse(text) as { data?: { attributes?: Record<string, unknown> } }).data?.attributes ?? {};
          resolveStatus({
            paused: a['paused'] === true,
            running: a['running'] === true,
            stopped: a['stopped'] === true,
          });
        } catch {
          resolveStatus(null);
        }
      });
      res.on('error', () => resolveStatus(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveStatus(null));
  });
}

/**
 * Resumes a k6 started with --paused, as k6-operator's starter does: PATCH /v1/status with
 * `{"data":{"attributes":{"paused":false},"id":"default","type":"status"}}`. Resolves to k6's HTTP
 * status (200 when it took it), or 0 when it could not be reached.
 */
export function resumeK6(apiUrl: string, timeoutMs = 5000): Promise<number> {
  const body = JSON.stringify({ data: { attributes: { paused: false }, id: 'default', type: 'status' } });
  return new Promise((resolveStatus) => {
    const req = httpRequest(
      `${apiUrl}/v1/status`,
      {
        method: 'PATCH',
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolveStatus(res.statusCode ?? 0));
        res.on('error', () => resolveStatus(0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveStatus(0));
    req.end(body);
  });
}
