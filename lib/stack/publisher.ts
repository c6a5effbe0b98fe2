// An HTTP → JetStream publisher with Kyma eventing-publisher-proxy semantics: the local stand-in
// for the seed's eventing-publisher-proxy. CloudEvents in (binary or structured), a JetStream
// publish with ack out, and the proxy's status codes for each way that can fail.
import { appendFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, headers as natsHeaders, errors as natsErrors, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError, jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { InvalidCloudEventError } from '../shared/errors.ts';
import { readBodyWithin } from './http-body.ts';
import { AckTimes } from './ack-times.ts';
import { StanBackend, type StanBackendOptions } from './stan/stan-publisher.ts';

export const MAX_BODY_BYTES = 64 * 1024;
export const PUBLISH_TIMEOUT_MS = 5000;

export interface PublisherOptions {
  natsUrls: string[];
  port: number;
  host?: string;
  subjectPrefix: string;
  /**
   * The publisher's own record of what it acked: one event id a line, written before the 2xx goes
   * out, so a test can hold k6's accounting against it. Off when not set.
   */
  ackedIdsFile?: string;
  /**
   * Publish to a NATS Streaming channel instead of JetStream (the nats-streaming target): the same
   * HTTP contract, STAN's publish ack mapped to the same statuses (lib/stack/stan/stan-publisher.ts).
   */
  stan?: StanBackendOptions;
}

export interface CloudEvent {
  id: string;
  type: string;
  source: string;
  specversion: string;
  /** Remaining ce-* attributes (time, subject, …) as header values. */
  extra: Record<string, string>;
  contentType: string;
  data: Uint8Array;
}

const REQUIRED = ['id', 'type', 'source', 'specversion'] as const;
const enc = new TextEncoder();

/** Parses a CloudEvents 1.0 HTTP request in binary or structured content mode. */
export function parseCloudEvent(hdrs: IncomingMessage['headers'], body: Buffer): CloudEvent {
  const contentType = String(hdrs['content-type'] ?? '');
  if (contentType.startsWith('application/cloudevents+json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new InvalidCloudEventError(`structured CloudEvent is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null)
      throw new InvalidCloudEventError('structured CloudEvent must be a JSON object');
    const obj = parsed as Record<string, unknown>;
    for (const key of REQUIRED) {
      if (typeof obj[key] !== 'string' || obj[key] === '')
        throw new InvalidCloudEventError(`structured CloudEvent is missing required attribute "${key}"`);
    }
    if (obj['specversion'] !== '1.0')
      throw new InvalidCloudEventError(
        `unsupported specversion ${JSON.stringify(obj['specversion'])}; only 1.0 is accepted`,
      );
    const extra: Record<string, string> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (
        !['id', 'type', 'source', 'specversion', 'data', 'data_base64', 'datacontenttype'].includes(k) &&
        v !== undefined
      )
        extra[k] = String(v);
    }
    const data =
      obj['data'] === undefined
        ? new Uint8Array()
        : enc.encode(typeof obj['data'] === 'string' ? obj['data'] : JSON.stringify(obj['data']));
    return {
      id: obj['id'] as string,
      type: obj['type'] as string,
      source: obj['source'] as string,
      specversion: '1.0',
      extra,
      contentType: typeof obj['datacontenttype'] === 'string' ? obj['datacontenttype'] : 'application/json',
      data,
    };
  }
  const get = (name: string): string | undefined => {
    const v = hdrs[`ce-${name}`];
    return Array.isArray(v) ? v[0] : v;
  };
  const missing = REQUIRED.filter((k) => !get(k));
  if (missing.length > 0) {
    throw new InvalidCloudEventError(
      `binary CloudEvent is missing required header(s) ${missing.map((k) => `ce-${k}`).join(', ')}`,
    );
  }
  if (get('specversion') !== '1.0')
    throw new InvalidCloudEventError(
      `unsupported ce-specversion ${JSON.stringify(get('specversion'))}; only 1.0 is accepted`,
    );
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(hdrs)) {
    const attr = k.startsWith('ce-') ? k.slice(3) : null;
    if (attr !== null && !(REQUIRED as readonly string[]).includes(attr) && v !== undefined)
      extra[attr] = Array.isArray(v) ? v.join(',') : v;
  }
  return {
    id: get('id') as string,
    type: get('type') as string,
    source: get('source') as string,
    specversion: '1.0',
    extra,
    contentType: contentType || 'application/json',
    data: new Uint8Array(body),
  };
}

/** Legacy Kyma route `/{app}/v1/events`: a JSON body with event-type and event-type-version. */
export function parseLegacyEvent(app: string, body: Buffer): CloudEvent {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new InvalidCloudEventError(`legacy event is not valid JSON: ${(err as Error).message}`);
  }
  for (const key of ['event-type', 'event-type-version', 'event-time'] as const) {
    if (typeof parsed[key] !== 'string' || parsed[key] === '')
      throw new InvalidCloudEventError(`legacy event is missing "${key}"`);
  }
  const id =
    typeof parsed['event-id'] === 'string' && parsed['event-id'] !== '' ? parsed['event-id'] : crypto.randomUUID();
  return {
    id,
    type: `${parsed['event-type'] as string}.${parsed['event-type-version'] as string}`,
    source: app,
    specversion: '1.0',
    extra: { time: parsed['event-time'] as string },
    contentType: 'application/json',
    data: enc.encode(JSON.stringify(parsed['data'] ?? null)),
  };
}

/** The subject the proxy publishes to: prefix + the event type, tokens cleaned of NATS wildcards. */
export function subjectFor(prefix: string, type: string): string {
  const tokens = type
    .split('.')
    .map((t) => t.replace(/[^A-Za-z0-9_-]/g, ''))
    .filter((t) => t !== '');
  return [prefix, ...tokens].join('.');
}

export interface PublishResult {
  status: number;
  reason: string;
}

/** eventing-publisher-proxy's mapping of a JetStream publish failure to an HTTP status. */
export function statusForPublishError(err: unknown, nc: NatsConnection | null): PublishResult {
  if (nc === null || nc.isClosed() || err instanceof natsErrors.ClosedConnectionError) {
    return { status: 502, reason: 'NATS is not connected' };
  }
  if (err instanceof JetStreamApiError) {
    const api = err.apiError();
    // 10047: insufficient resources (the store is full).
    if (api.err_code === 10047 || /insufficient (storage|resources)/i.test(api.description))
      return { status: 507, reason: api.description };
    return { status: api.code >= 400 && api.code < 600 ? api.code : 500, reason: api.description };
  }
  const message =
    err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : String(err);
  if (
    err instanceof natsErrors.TimeoutError ||
    err instanceof natsErrors.NoRespondersError ||
    (err instanceof natsErrors.RequestError && err.isNoResponders()) ||
    /timeout|no responders/i.test(message)
  ) {
    return { status: 504, reason: `no response from the stream: ${message}` };
  }
  if (/disconnect|reconnect|connection/i.test(message))
    return { status: 502, reason: `NATS is not connected: ${message}` };
  return { status: 500, reason: message };
}

function reply(res: ServerResponse, status: number, body?: string | object): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res
    .writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json' })
    .end(text);
}

const LEGACY_ROUTE = /^\/([A-Za-z0-9_-]+)\/v1\/events\/?$/;

export class Publisher {
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private server: Server | null = null;
  private turn: Promise<void> | null = null;
  private ackedPending: string[] = [];
  private ackedWritten: Promise<void> | null = null;
  private stanBackend: StanBackend | null = null;
  /** when each ack went out, for GET /first-ack?after=<epoch ms> (the end of a failover) */
  private readonly ackTimes = new AckTimes();
  readonly counters = { accepted: 0, acked: 0, rejected: 0, errors: 0, republished: 0 };

  constructor(private readonly opts: PublisherOptions) {}

  async start(): Promise<void> {
    if (this.opts.stan !== undefined) {
      this.stanBackend = new StanBackend(this.opts.natsUrls, this.opts.stan, this.counters);
      await this.stanBackend.start();
    } else await this.connectJetStream();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.counters.errors++;
        if (!res.headersSent) reply(res, 500, String(err));
      });
    });
    // Many concurrent k6 connections; don't let Node's defaults time them out first.
    this.server.keepAliveTimeout = 65_000;
    this.server.requestTimeout = PUBLISH_TIMEOUT_MS + 5000;
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      // The real proxy is Go, whose listener asks for net.core.somaxconn; Node's default of 511
      // drops the SYNs of a burst of new k6 connections (every VU has its own).
      this.server?.listen({ port: this.opts.port, host: this.opts.host ?? '127.0.0.1', backlog: 65_535 }, () =>
        resolve(),
      );
    });
  }

  private async connectJetStream(): Promise<void> {
    // The proxy keeps retrying NATS forever; a request meanwhile gets 502, not a hang.
    this.nc = await connect({
      servers: this.opts.natsUrls,
      name: 'k6-ha-publisher',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
      // Without this nats.js builds an Error (a captured stack) per publish, in case it times out:
      // a quarter of the publisher's CPU per event in the headroom benchmark (BENCHMARKS.md).
      noAsyncTraces: true,
    });
    this.js = jetstream(this.nc, { timeout: PUBLISH_TIMEOUT_MS });
  }

  /** The port actually bound (the options may say 0: any free port). */
  get port(): number {
    const addr = this.server?.address();
    return typeof addr === 'object' && addr !== null ? addr.port : this.opts.port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
    await this.nc?.close();
    await this.stanBackend?.stop();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The hot path (POST /publish) needs no URL object.
    const url = req.url === '/publish' ? { pathname: '/publish' } : new URL(req.url ?? '/', 'http://publisher');
    if (req.method === 'GET' && (url.pathname === '/healthz' || url.pathname === '/readyz')) {
      const ready =
        url.pathname === '/healthz' ||
        (this.stanBackend !== null ? this.stanBackend.connected : this.nc !== null && !this.nc.isClosed());
      reply(res, ready ? 200 : 503, ready ? 'ok' : 'not connected to NATS');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/stats') {
      reply(res, 200, this.counters);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/first-ack') {
      const after = Number(new URL(req.url ?? '/', 'http://publisher').searchParams.get('after'));
      if (!Number.isFinite(after)) {
        reply(res, 400, 'after: expected epoch milliseconds');
        return;
      }
      reply(res, 200, { after, at: this.ackTimes.firstAtOrAfter(after) });
      return;
    }
    const legacy = LEGACY_ROUTE.exec(url.pathname);
    if (url.pathname !== '/publish' && legacy === null) {
      reply(res, 404, 'not found: POST /publish (CloudEvents) or POST /{app}/v1/events (legacy)');
      return;
    }
    if (req.method !== 'POST') {
      reply(res, 405, 'method not allowed: use POST');
      return;
    }
    const body = await readBodyWithin(req, MAX_BODY_BYTES);
    if (body === null) {
      this.counters.rejected++;
      reply(res, 413, `request body larger than ${MAX_BODY_BYTES} bytes`);
      return;
    }
    let event: CloudEvent;
    try {
      event = legacy !== null ? parseLegacyEvent(legacy[1] ?? 'app', body) : parseCloudEvent(req.headers, body);
    } catch (err) {
      if (!(err instanceof InvalidCloudEventError)) throw err;
      this.counters.rejected++;
      if (legacy !== null) reply(res, 400, { status: 400, type: 'Bad Request', message: err.message });
      else reply(res, 400, err.message);
      return;
    }
    this.counters.accepted++;
    const result = await this.publish(event);
    if (result.status === 204) {
      this.counters.acked++;
      this.ackTimes.push(Date.now());
      if (this.opts.ackedIdsFile !== undefined) await this.recordAcked(this.opts.ackedIdsFile, event.id);
      if (legacy !== null) {
        reply(res, 200, { 'event-id': event.id, status: 200, reason: 'Message successfully published to the channel' });
      } else {
        reply(res, 204);
      }
      return;
    }
    this.counters.errors++;
    reply(res, result.status, legacy !== null ? { status: result.status, message: result.reason } : result.reason);
  }

  /**
   * Resolves once per event-loop turn, in the check phase, for every request that arrived in that
   * turn's poll phase. nats.js writes to its socket once per microtask checkpoint, which without
   * this is once per HTTP request; publishing together makes it one write for all of them (as
   * nats.go's flusher does for the real proxy). A third of the publisher's CPU was those writes.
   */
  private nextTurn(): Promise<void> {
    this.turn ??= new Promise((resolve) =>
      setImmediate(() => {
        this.turn = null;
        resolve();
      }),
    );
    return this.turn;
  }

  /** Appends the id to the acked record, one write per event-loop turn for all acks of that turn. */
  private recordAcked(file: string, id: string): Promise<void> {
    this.ackedPending.push(id);
    this.ackedWritten ??= new Promise((resolve, reject) =>
      setImmediate(() => {
        const ids = this.ackedPending;
        this.ackedPending = [];
        this.ackedWritten = null;
        try {
          appendFileSync(file, `${ids.join('\n')}\n`);
          resolve();
        } catch (err) {
          reject(err);
        }
      }),
    );
    return this.ackedWritten;
  }

  private async publish(event: CloudEvent): Promise<PublishResult> {
    if (this.stanBackend !== null) return this.stanBackend.publish(event);
    await this.nextTurn();
    const js = this.js;
    if (js === null || this.nc === null || this.nc.isClosed()) return { status: 502, reason: 'NATS is not connected' };
    // Stored in binary mode whatever came in, like the proxy does.
    const h = natsHeaders();
    h.set('ce-specversion', event.specversion);
    h.set('ce-id', event.id);
    h.set('ce-type', event.type);
    h.set('ce-source', event.source);
    for (const [k, v] of Object.entries(event.extra)) h.set(`ce-${k}`, v);
    h.set('content-type', event.contentType);
    try {
      // msgID = ce-id: a retried event inside the stream's duplicate window is stored once.
      await js.publish(subjectFor(this.opts.subjectPrefix, event.type), event.data, {
        msgID: event.id,
        headers: h,
        timeout: PUBLISH_TIMEOUT_MS,
      });
      return { status: 204, reason: 'acked' };
    } catch (err) {
      return statusForPublishError(err, this.nc);
    }
  }
}
