// The sink: a durable JetStream consumer that records every ce-id it receives, counts duplicates
// and acks — the local stand-in for the seed's eventing subscriber + sink. Its record survives a
// restart (an append-only file), so "received by sink" stays exact across chaos.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';

export interface SinkOptions {
  natsUrls: string[];
  stream: string;
  consumer: string;
  port: number;
  idsFile: string;
}

export class Sink {
  private nc: NatsConnection | null = null;
  private server: Server | null = null;
  private messages: ConsumerMessages | null = null;
  private readonly seen = new Map<string, number>();
  private pending: string[] = [];
  received = 0;
  duplicates = 0;

  constructor(private readonly opts: SinkOptions) {
    if (existsSync(opts.idsFile)) {
      for (const id of readFileSync(opts.idsFile, 'utf8').split('\n')) if (id !== '') this.record(id, false);
    }
  }

  private record(id: string, persist: boolean): void {
    const n = this.seen.get(id) ?? 0;
    this.seen.set(id, n + 1);
    this.received++;
    if (n > 0) this.duplicates++;
    if (persist) this.pending.push(id);
  }

  /** Written before the ack is sent, so an acked message is always in the record. */
  private flush(): void {
    if (this.pending.length === 0) return;
    appendFileSync(this.opts.idsFile, `${this.pending.join('\n')}\n`);
    this.pending = [];
  }

  async start(): Promise<void> {
    // noAsyncTraces: no Error with a captured stack per request (see publisher.ts).
    this.nc = await connect({
      servers: this.opts.natsUrls,
      name: 'k6-ha-sink',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      noAsyncTraces: true,
    });
    const js = jetstream(this.nc);
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://sink');
      if (url.pathname === '/healthz') {
        res.writeHead(200).end('ok');
      } else if (url.pathname === '/stats') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ received: this.received, unique: this.seen.size, duplicates: this.duplicates }));
      } else if (url.pathname === '/ids') {
        // id<TAB>times-received for every id with the given prefix (one run's events).
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
    void this.consumeForever(js);
  }

  private async consumeForever(js: ReturnType<typeof jetstream>): Promise<void> {
    // The consumer may be unreachable while its stream's leader is being replaced: keep trying.
    while (this.nc !== null && !this.nc.isClosed()) {
      try {
        const consumer = await js.consumers.get(this.opts.stream, this.opts.consumer);
        // A pull that went to a member that then died is only noticed after two missed idle
        // heartbeats, which nats.js spaces at expires / 2: with the default 30 s expiry the sink
        // stood still for ~30 s after a leader kill, past the sidecar's 10 s drain patience.
        // 5 s pulls notice within ~5 s and re-pull; an idle pull every 5 s costs nothing.
        this.messages = await consumer.consume({ max_messages: 500, expires: 5000 });
        // Every message is acked on its own (AckPolicy.Explicit), in batches after the batch's ids
        // are on disk. An "all up to here" ack (AckPolicy.All) was cheaper but wrong under chaos:
        // messages delivered to a pull that died with its member never reach the sink, and the
        // next batch's ack-all acked them too, so "consumed" counted an event the sink never saw.
        let toAck: JsMsg[] = [];
        const ackBatch = (): void => {
          if (toAck.length === 0) return;
          this.flush();
          for (const m of toAck) m.ack();
          toAck = [];
        };
        const ackTimer = setInterval(ackBatch, 100);
        try {
          for await (const msg of this.messages) {
            this.record(msg.headers?.get('ce-id') || `seq-${msg.seq}`, true);
            toAck.push(msg);
            if (toAck.length >= 100) ackBatch();
          }
        } finally {
          clearInterval(ackTimer);
          ackBatch();
        }
      } catch (err) {
        process.stderr.write(`sink: consume failed, retrying: ${(err as Error).message}\n`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The port actually bound (the options may say 0: any free port). */
  get port(): number {
    const addr = this.server?.address();
    return typeof addr === 'object' && addr !== null ? addr.port : this.opts.port;
  }

  async stop(): Promise<void> {
    this.flush();
    this.messages?.stop();
    const nc = this.nc;
    this.nc = null;
    await nc?.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
