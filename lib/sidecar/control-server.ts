// The sidecar's control API over HTTP: 127.0.0.1 only, a random port, and a per-run token as the
// first path segment, so nothing else on the machine can start, feed or read a run by accident.
//
// Every body is input: each endpoint has a schema, and a body that does not fit is answered 400
// with the field, the value and what is allowed — nothing reaches the accounting unchecked.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { z } from 'zod';
import { CONTROL_PATHS, OUTCOME_BATCH_MAX } from '../shared/control-api.ts';
import { ControlRequestError } from '../shared/errors.ts';
import { MAX_RUNNERS } from '../shared/runners.ts';
import type { Sidecar } from './sidecar.ts';
import { readBodyWithin } from '../stack/http-body.ts';

/**
 * Idle kept-alive connections stay open this long. k6 keeps its idle connections with no limit
 * and reuses them; with Node's default 5 s a VU that reported every ~6 s during an outage (after
 * its 5 s publish timeout) wrote its report on a connection the server was closing: EOF or reset,
 * and the report was lost. Longer than any gap between a VU's reports; the clients retry anyway.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 10 * 60_000;

/** Asked of listen(); Linux caps it at net.core.somaxconn (4096 by default), as Go's net.Listen uses. */
export const LISTEN_BACKLOG = 65_535;

/** Per-endpoint body limits: a batch of outcomes is ~150 bytes a record; a summary holds the whole timeline. */
const BODY_LIMITS: Record<string, number> = {
  [CONTROL_PATHS.start]: 16 * 1024,
  [CONTROL_PATHS.finish]: 16 * 1024,
  [CONTROL_PATHS.outcomes]: OUTCOME_BATCH_MAX * 1024,
  [CONTROL_PATHS.summary]: 256 * 1024 * 1024,
};

/** Epoch milliseconds: a whole, non-negative number. */
const epochMs = z.number().int().nonnegative();
/** The run tag prefixes every event id (`<tag>-<n>`): letters, digits, `.`, `_` and `-`. */
const runTag = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { message: '1–64 letters, digits, ".", "_" or "-"' });

export const startBody = z
  .object({
    runTag,
    scenario: z.string().min(1),
    rate: z.number().positive().max(1_000_000).optional(),
    durationMs: z.number().int().positive().optional(),
    requestTimeoutMs: z.number().int().positive().optional(),
    runner: z
      .object({
        segment: z.string().max(200).nullable(),
        sequence: z.string().max(20_000).nullable(),
        instanceId: z.string().max(200).nullable(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const outcomeRecord = z
  .object({
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    outcome: z.enum(['failed', 'unknown']),
    status: z.number().int().min(0).max(999),
    sentAt: epochMs,
    t: epochMs,
    /** s3-objects: the object a PUT wrote and its body's sha256 */
    key: z.string().min(1).max(1024).optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, { error: 'a sha256 in lower-case hex (64 digits)' })
      .optional(),
    op: z.enum(['put', 'get', 'list']).optional(),
  })
  .strict();
export const outcomesBody = z.array(outcomeRecord).max(OUTCOME_BATCH_MAX);

export const finishBody = z
  .object({
    runTag,
    attempted: z.number().int().nonnegative().nullable(),
    runner: z.number().int().min(1).max(MAX_RUNNERS).optional(),
  })
  .strict();

export const summaryBody = z
  .object({
    summary: z.record(z.string(), z.unknown()),
    text: z.string(),
    runner: z.number().int().min(1).max(MAX_RUNNERS).optional(),
  })
  .strict();

function pathOf(path: PropertyKey[]): string {
  return (
    path.reduce<string>(
      (acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc === '' ? String(k) : `${acc}.${String(k)}`),
      '',
    ) || '(body)'
  );
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let cur = input;
  for (const key of path)
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[key] : undefined;
  return cur;
}

/** The first problem of a body as one line: `seq: "a" is not allowed — expected a number`. */
function describeProblem(body: unknown, error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid body';
  const at = pathOf(issue.path);
  if (issue.code === 'unrecognized_keys')
    return `${at}: unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  const value = valueAt(body, issue.path);
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem(s))` : '';
  return `${at}: ${value === undefined ? 'missing' : `${JSON.stringify(value)} is not allowed`} — expected ${issue.message.replace(/^Invalid input: expected /, '')}${more}`;
}

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success)
    throw new ControlRequestError(describeProblem(body, result.error), { status: 400, cause: result.error });
  return result.data;
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBodyWithin(req, limit);
  if (body === null) throw new ControlRequestError(`body larger than ${limit} bytes`, { status: 413 });
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ControlRequestError('body is not JSON', { status: 400 });
  }
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** What the control API took during a run: how much k6 sent it and how fast it answered. */
export interface ControlStats {
  requests: Record<string, number>;
  /** outcome records received (a batch counts each record) */
  outcomeRecords: number;
  /** answered 4xx (refused input) */
  refused: number;
  /** per outcomes request, arrival → response written */
  outcomesHandlingP99Ms: number | null;
  outcomesHandlingMaxMs: number | null;
  /** the sidecar's event loop: how late a timer ran (requests queue behind the same delay) */
  eventLoopDelayP99Ms: number | null;
  eventLoopDelayMaxMs: number | null;
}

/** In a cluster: where the control API listens and the URL the runner pods reach it by. */
export interface ControlServerOptions {
  /** the address to listen on (default 127.0.0.1; 0.0.0.0 in a pod behind a Service) */
  host?: string;
  /** the per-run token (default: random); in a cluster it comes from a Secret both sides read */
  token?: string;
  /** the base URL runners use instead of http://127.0.0.1:<port> (e.g. http://<name>-sidecar.<ns>.svc:8080) */
  publicBase?: string;
}

/** A token the control API accepts as its first path segment. */
export const TOKEN_PATTERN = /^[A-Za-z0-9]{16,128}$/;

export class ControlServer {
  readonly token: string;
  private server: Server | null = null;
  port = 0;
  private readonly requests: Record<string, number> = {};
  private outcomeRecords = 0;
  private refused = 0;
  private readonly outcomeHandlingMs: number[] = [];
  private loopDelay: IntervalHistogram | null = null;
  private statsRecorded = false;

  constructor(
    private readonly sidecar: Sidecar,
    private readonly options: ControlServerOptions = {},
  ) {
    if (options.token !== undefined && !TOKEN_PATTERN.test(options.token))
      throw new ControlRequestError('the sidecar token must be 16–128 letters or digits', { status: 400 });
    this.token = options.token ?? randomBytes(16).toString('hex');
  }

  stats(): ControlStats {
    const sorted = [...this.outcomeHandlingMs].sort((a, b) => a - b);
    const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
    const loop = this.loopDelay;
    return {
      requests: { ...this.requests },
      outcomeRecords: this.outcomeRecords,
      refused: this.refused,
      outcomesHandlingP99Ms:
        sorted.length === 0
          ? null
          : Math.round((sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? 0) * 100) / 100,
      outcomesHandlingMaxMs: sorted.length === 0 ? null : Math.round((sorted[sorted.length - 1] ?? 0) * 100) / 100,
      eventLoopDelayP99Ms: loop === null || loop.count === 0 ? null : ms(loop.percentile(99)),
      eventLoopDelayMaxMs: loop === null || loop.count === 0 ? null : ms(loop.max),
    };
  }

  /** The base URL k6 gets as SIDECAR_URL. */
  get url(): string {
    return `${this.options.publicBase?.replace(/\/+$/, '') ?? `http://127.0.0.1:${this.port}`}/${this.token}`;
  }

  async listen(port = 0): Promise<string> {
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelay.enable();
    this.server = createServer((req, res) => {
      const arrived = performance.now();
      this.route(req, res, arrived).catch((err: unknown) => {
        const status = err instanceof ControlRequestError ? err.status : 500;
        if (status >= 400 && status < 500) this.refused++;
        if (!res.headersSent) send(res, status, { error: (err as Error).message });
      });
    });
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    // Node closes a connection whose next request's headers take longer than this; it must not
    // cut in before the keep-alive timeout does.
    this.server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000;
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      // Every k6 VU has connections of its own: at an outage's start thousands of them may report at
      // once. Node's default accept backlog (511) overflowed (ListenOverflows in nstat) and the
      // dropped SYNs made reports time out; the kernel caps this at net.core.somaxconn.
      this.server?.listen({ port, host: this.options.host ?? '127.0.0.1', backlog: LISTEN_BACKLOG }, () => resolve());
    });
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    return this.url;
  }

  private async route(req: IncomingMessage, res: ServerResponse, arrived: number): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const prefix = `/${this.token}`;
    if (!path.startsWith(`${prefix}/`)) throw new ControlRequestError('not found', { status: 404 });
    const route = path.slice(prefix.length);
    if (req.method === 'GET' && route === CONTROL_PATHS.report) return send(res, 200, this.sidecar.report());
    const limit = BODY_LIMITS[route];
    if (limit === undefined) throw new ControlRequestError(`no route ${route}`, { status: 404 });
    if (req.method !== 'POST') throw new ControlRequestError('use POST', { status: 405 });
    this.requests[route] = (this.requests[route] ?? 0) + 1;
    const body = await readJson(req, limit);
    switch (route) {
      case CONTROL_PATHS.start:
        return send(res, 200, await this.sidecar.start(parseBody(startBody, body)));
      case CONTROL_PATHS.outcomes: {
        const records = parseBody(outcomesBody, body);
        this.sidecar.recordOutcomes(records);
        this.outcomeRecords += records.length;
        send(res, 204);
        this.outcomeHandlingMs.push(performance.now() - arrived);
        return;
      }
      case CONTROL_PATHS.finish: {
        const finish = parseBody(finishBody, body);
        // The load is over: what the control API carried during it goes on the timeline (once, at
        // the first runner's finish when there are several).
        if (!this.statsRecorded) this.sidecar.timeline.record('sidecar', 'control-api', null, { ...this.stats() });
        this.statsRecorded = true;
        return send(res, 200, await this.sidecar.finish(finish));
      }
      case CONTROL_PATHS.summary:
        this.sidecar.storeSummary(parseBody(summaryBody, body));
        return send(res, 204);
      default:
        throw new ControlRequestError(`no route ${route}`, { status: 404 });
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    this.loopDelay?.disable();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
