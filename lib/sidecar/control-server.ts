// The sidecar's control API over HTTP: 127.0.0.1 only, a random port, and a per-run token as the
// first path segment, so nothing else on the machine can start, feed or read a run by accident.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CONTROL_PATHS, type FinishRequest, type OutcomeRecord, type StartRequest, type SummaryUpload } from '../shared/control-api.ts';
import type { Sidecar } from './sidecar.ts';
import { readBodyWithin } from '../stack/http-body.ts';

const MAX_BODY = 256 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBodyWithin(req, MAX_BODY);
  if (body === null) throw new HttpError(413, 'body too large');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function field<T>(obj: unknown, name: string, check: (v: unknown) => v is T, what: string): T {
  const v = typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[name] : undefined;
  if (!check(v)) throw new HttpError(400, `field ${name}: expected ${what}, got ${JSON.stringify(v)}`);
  return v;
}
const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

export class ControlServer {
  readonly token = randomBytes(16).toString('hex');
  private server: Server | null = null;
  port = 0;

  constructor(private readonly sidecar: Sidecar) {}

  /** The base URL k6 gets as SIDECAR_URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/${this.token}`;
  }

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500;
        if (!res.headersSent) send(res, status, { error: (err as Error).message });
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    return this.url;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const prefix = `/${this.token}`;
    if (!path.startsWith(`${prefix}/`)) throw new HttpError(404, 'not found');
    const route = path.slice(prefix.length);
    if (req.method === 'GET' && route === CONTROL_PATHS.report) return send(res, 200, this.sidecar.report());
    if (req.method !== 'POST') throw new HttpError(405, 'use POST');
    const body = await readJson(req);
    switch (route) {
      case CONTROL_PATHS.start: {
        const start: StartRequest = { runTag: field(body, 'runTag', isString, 'a run tag'), scenario: field(body, 'scenario', isString, 'a scenario name') };
        // Optional numbers: a scenario without a fixed arrival rate leaves them out.
        for (const name of ['rate', 'durationMs', 'requestTimeoutMs'] as const) {
          const value = (body as Record<string, unknown>)[name];
          if (typeof value === 'number' && Number.isFinite(value) && value > 0) start[name] = value;
        }
        return send(res, 200, await this.sidecar.start(start));
      }
      case CONTROL_PATHS.outcomes: {
        if (!Array.isArray(body)) throw new HttpError(400, 'expected an array of outcome records');
        this.sidecar.recordOutcomes(body as OutcomeRecord[]);
        return send(res, 204);
      }
      case CONTROL_PATHS.finish: {
        const attempted = (body as Record<string, unknown>)['attempted'];
        const finish: FinishRequest = { runTag: field(body, 'runTag', isString, 'a run tag'), attempted: attempted === null || attempted === undefined ? null : field(body, 'attempted', isCount, 'a whole number or null') };
        return send(res, 200, await this.sidecar.finish(finish));
      }
      case CONTROL_PATHS.summary: {
        this.sidecar.storeSummary(body as SummaryUpload);
        return send(res, 204);
      }
      default:
        throw new HttpError(404, `no route ${route}`);
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
