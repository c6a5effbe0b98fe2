// The publisher's STAN backend: the same HTTP contract as the JetStream one (lib/stack/publisher.ts),
// each event published to a NATS Streaming channel with a publish ack. The statuses:
//   204  acked by the active server (stored in the shared file store)
//   504  no ack in time ("stan: publish ack timeout"): the outcome is unknown — the event may be
//        stored (the ack was lost with the old active) or not
//   502  no STAN session (the connection is closed or being re-established)
//   500  anything else STAN answered
// A publish whose ack timed out is published again while the request's deadline allows, as a
// STAN client application does after a failover: STAN has no de-duplication, so a first copy that
// was stored after all becomes a duplicate in the channel, counted by the accounting.
import type { Stan } from 'node-nats-streaming';
import type { CloudEvent, PublishResult } from '../publisher.ts';
import { closeStan, connectStan } from './stan-client.ts';

export interface StanBackendOptions {
  clusterId: string;
  channel: string;
  /** publish again after an ack timeout while the deadline allows (default true) */
  republish?: boolean;
  /** one attempt's wait for the ack */
  ackTimeoutMs?: number;
  /** the whole request's budget: under k6's REQUEST_TIMEOUT (5 s), so k6 hears the 504 */
  deadlineMs?: number;
}

export const STAN_ACK_TIMEOUT_MS = 2000;
export const STAN_PUBLISH_DEADLINE_MS = 4500;

/** The event as a structured CloudEvent (STAN messages have no headers to carry ce-* attributes). */
export function structuredEvent(event: CloudEvent): string {
  const text = Buffer.from(event.data).toString('utf8');
  let data: unknown = text;
  if (/json/i.test(event.contentType) && text !== '') {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  return JSON.stringify({
    specversion: event.specversion,
    id: event.id,
    type: event.type,
    source: event.source,
    ...event.extra,
    datacontenttype: event.contentType,
    data,
  });
}

/** How a STAN publish error maps to the proxy's statuses. */
export function statusForStanError(err: Error): PublishResult {
  const message = err.message;
  if (/ack timeout|timeout/i.test(message)) return { status: 504, reason: `no ack from the active server: ${message}` };
  if (/closed|connection|not connected|disconnect/i.test(message))
    return { status: 502, reason: `no NATS Streaming session: ${message}` };
  return { status: 500, reason: message };
}

export class StanBackend {
  private sc: Stan | null = null;
  private connecting: Promise<void> | null = null;
  private stopped = false;
  private generation = 0;

  constructor(
    private readonly servers: string[],
    private readonly opts: StanBackendOptions,
    private readonly counters: { republished: number },
  ) {}

  get connected(): boolean {
    return this.sc !== null;
  }

  async start(): Promise<void> {
    await this.connect(60_000);
  }

  /** (Re)connects with a fresh client id: a session the server dropped (missed pings) cannot be resumed. */
  private connect(deadlineMs: number): Promise<void> {
    this.connecting ??= (async () => {
      const generation = ++this.generation;
      const sc = await connectStan(
        {
          clusterId: this.opts.clusterId,
          clientId: `k6-ha-publisher-${process.pid}-${generation}`,
          servers: this.servers,
          ackTimeoutMs: this.opts.ackTimeoutMs ?? STAN_ACK_TIMEOUT_MS,
        },
        deadlineMs,
      );
      const lost = (why: string): void => {
        if (this.sc !== sc || this.stopped) return;
        process.stderr.write(`publisher: STAN session lost (${why}); connecting again\n`);
        this.sc = null;
        void this.connect(Number.POSITIVE_INFINITY).catch(() => undefined);
      };
      sc.on('connection_lost', (err: Error) => lost(`connection_lost: ${err?.message ?? ''}`));
      sc.on('close', () => lost('closed'));
      sc.on('error', (err: Error) => process.stderr.write(`publisher: STAN error: ${err.message}\n`));
      this.sc = sc;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private publishOnce(sc: Stan, payload: string): Promise<Error | null> {
    return new Promise((resolve) => {
      try {
        sc.publish(this.opts.channel, payload, (err) => resolve(err ?? null));
      } catch (err) {
        resolve(err as Error);
      }
    });
  }

  async publish(event: CloudEvent): Promise<PublishResult> {
    const payload = structuredEvent(event);
    const ackTimeoutMs = this.opts.ackTimeoutMs ?? STAN_ACK_TIMEOUT_MS;
    const deadline = Date.now() + (this.opts.deadlineMs ?? STAN_PUBLISH_DEADLINE_MS);
    for (let attempt = 1; ; attempt++) {
      const sc = this.sc;
      if (sc === null) return { status: 502, reason: 'no NATS Streaming session (connecting)' };
      const err = await this.publishOnce(sc, payload);
      if (err === null) return { status: 204, reason: attempt === 1 ? 'acked' : `acked on attempt ${attempt}` };
      const result = statusForStanError(err);
      if (this.opts.republish === false || result.status !== 504 || Date.now() + ackTimeoutMs > deadline) return result;
      this.counters.republished++;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const sc = this.sc;
    this.sc = null;
    if (sc !== null) await closeStan(sc);
  }
}
