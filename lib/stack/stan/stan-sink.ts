// The sink of the nats-streaming target: a durable STAN subscription (the seed's `stan-sub
// --durable`, manual acks) that records every event id it receives, counts duplicates and acks —
// the same HTTP face as the JetStream sink (lib/stack/sink.ts: /healthz, /stats, /ids). Its record
// survives a restart (an append-only file); the durable survives a failover in the shared store,
// so after one the new active redelivers what the old one had sent but not seen acked.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Message, Stan, Subscription } from 'node-nats-streaming';
import { closeStan, connectStan, eventIdOf } from './stan-client.ts';

export interface StanSinkOptions {
  natsUrls: string[];
  clusterId: string;
  channel: string;
  durable: string;
  port: number;
  idsFile: string;
}

export class StanSink {
  private sc: Stan | null = null;
  private sub: Subscription | null = null;
  private server: Server | null = null;
  private stopped = false;
  private readonly seen = new Map<string, number>();
  received = 0;
  duplicates = 0;
  redelivered = 0;

  constructor(private readonly opts: StanSinkOptions) {
    if (existsSync(opts.idsFile)) {
      for (const id of readFileSync(opts.idsFile, 'utf8').split('\n')) if (id !== '') this.record(id);
    }
  }

  private record(id: string): void {
    const n = this.seen.get(id) ?? 0;
    this.seen.set(id, n + 1);
    this.received++;
    if (n > 0) this.duplicates++;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://sink');
      if (url.pathname === '/healthz') {
        res.writeHead(200).end('ok');
      } else if (url.pathname === '/stats') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            received: this.received,
            unique: this.seen.size,
            duplicates: this.duplicates,
            redelivered: this.redelivered,
            subscribed: this.sub !== null,
          }),
        );
      } else if (url.pathname === '/ids') {
        const prefix = url.searchParams.get('prefix') ?? '';
        const lines: string[] = [];
        for (const [id, n] of this.seen) if (id.startsWith(prefix)) lines.push(`${id}\t${n}`);
        res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\n'));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(this.opts.port, '127.0.0.1', () => resolve());
    });
    await this.subscribe(60_000);
  }

  private async subscribe(deadlineMs: number): Promise<void> {
    // A stable client id: a durable belongs to (client id, durable name). A restarted sink takes the
    // id over once the server finds the old session dead (it asks the old client first).
    const sc = await connectStan(
      { clusterId: this.opts.clusterId, clientId: 'k6-ha-sink', servers: this.opts.natsUrls },
      deadlineMs,
    );
    const opts = sc
      .subscriptionOptions()
      .setDurableName(this.opts.durable)
      .setDeliverAllAvailable()
      .setManualAckMode(true)
      .setAckWait(10_000)
      .setMaxInFlight(1024);
    const sub = sc.subscribe(this.opts.channel, opts);
    sub.on('message', (m: Message) => {
      if (m.isRedelivered()) this.redelivered++;
      const id = eventIdOf(m.getRawData()) ?? `seq-${m.getSequence()}`;
      this.record(id);
      // Recorded durably before the ack, so an acked message is always in the record.
      appendFileSync(this.opts.idsFile, `${id}\n`);
      m.ack();
    });
    sub.on('error', (err: Error) => process.stderr.write(`sink: subscription error: ${err.message}\n`));
    const lost = (why: string): void => {
      if (this.sc !== sc || this.stopped) return;
      process.stderr.write(`sink: STAN session lost (${why}); subscribing again\n`);
      this.sc = null;
      this.sub = null;
      void this.subscribe(Number.POSITIVE_INFINITY).catch(() => undefined);
    };
    sc.on('connection_lost', () => lost('connection_lost'));
    sc.on('close', () => lost('closed'));
    this.sc = sc;
    this.sub = sub;
  }

  get port(): number {
    const addr = this.server?.address();
    return typeof addr === 'object' && addr !== null ? addr.port : this.opts.port;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const sc = this.sc;
    this.sc = null;
    // Close, not unsubscribe: the durable stays in the store for the next start.
    if (sc !== null) await closeStan(sc);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
