// The STAN client side shared by the publisher's STAN backend, the sink and the accountant: a
// connection through node-nats-streaming 0.3.2 (NATS's own Node client for NATS Streaming, on
// nats.js v1; its last release was 2020 and the protocol has not changed since — see
// docs/nats-streaming.md for why this one and not a Go program on stan.go), the event id a message
// carries, and a full read of a channel by sequence.
import { connect, type Message, type Stan } from 'node-nats-streaming';

export interface StanConnectOptions {
  clusterId: string;
  clientId: string;
  servers: string[];
  /** a publish not acked within this long fails with "stan: publish ack timeout" */
  ackTimeoutMs?: number;
  /** how long one connect attempt may take */
  connectTimeoutMs?: number;
}

/**
 * Connects, retrying until `deadlineMs` passes: during a failover no member answers the connect
 * request (`_STAN.discover.<cluster id>`) until a standby has become active.
 */
export async function connectStan(opts: StanConnectOptions, deadlineMs = 30_000): Promise<Stan> {
  const deadline = Date.now() + deadlineMs;
  let lastError: Error | null = null;
  while (Date.now() < deadline) {
    try {
      return await connectOnce(opts);
    } catch (err) {
      lastError = err as Error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(
    `could not connect to NATS Streaming cluster ${opts.clusterId} at ${opts.servers.join(',')} within ${deadlineMs} ms: ${lastError?.message ?? 'no answer'}`,
  );
}

function connectOnce(opts: StanConnectOptions): Promise<Stan> {
  return new Promise((resolve, reject) => {
    const sc = connect(opts.clusterId, opts.clientId, {
      servers: opts.servers,
      ackTimeout: opts.ackTimeoutMs ?? 30_000,
      connectTimeout: opts.connectTimeoutMs ?? 2000,
      // The NATS connection under STAN: reconnect forever, quickly, to whichever member is up.
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
      // STAN's own pings (client → active server): at 1 s and 10 out a dead session is noticed in
      // ~10 s, well past a failover of a few seconds (the defaults, 5 s and 88, take 7 minutes).
      stanPingInterval: 1000,
      stanMaxPingOut: 10,
    });
    const onError = (err: Error): void => {
      sc.removeListener('connect', onConnect);
      try {
        sc.close();
      } catch {
        // not connected
      }
      reject(err);
    };
    const onConnect = (): void => {
      sc.removeListener('error', onError);
      resolve(sc);
    };
    sc.once('connect', onConnect);
    sc.once('error', onError);
  });
}

/** Closes a STAN connection (unregistering the client at the active server), bounded in time. */
export function closeStan(sc: Stan, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    sc.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    sc.once('error', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      sc.close();
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/**
 * STAN messages have no headers: the publisher stores each event as a structured CloudEvent (JSON
 * with its `id`). The id of a message, or null when it is not one of ours.
 */
export function eventIdOf(data: string | Buffer): string | null {
  try {
    const parsed = JSON.parse(typeof data === 'string' ? data : data.toString('utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { id?: unknown }).id === 'string')
      return (parsed as { id: string }).id;
  } catch {
    // not JSON
  }
  return null;
}

export interface ChannelRead {
  /** event id → copies in the channel */
  ids: Map<string, number>;
  /** messages in the range that were not k6's (another writer, or not a CloudEvent) */
  foreign: number;
  /** messages read */
  read: number;
}

/**
 * Reads every message of `channel` from sequence `fromSeq` through `toSeq` with a plain
 * (non-durable) subscription: the full read the accounting is built on. Throws when the range
 * could not be read completely within `timeoutMs`.
 */
export function readChannel(
  sc: Stan,
  input: { channel: string; fromSeq: number; toSeq: number; idPrefix: string; timeoutMs?: number },
): Promise<ChannelRead> {
  const { channel, fromSeq, toSeq, idPrefix } = input;
  const ids = new Map<string, number>();
  let foreign = 0;
  let read = 0;
  if (toSeq < fromSeq) return Promise.resolve({ ids, foreign, read });
  return new Promise((resolve, reject) => {
    const opts = sc.subscriptionOptions().setStartAtSequence(fromSeq).setMaxInFlight(4096);
    const sub = sc.subscribe(channel, opts);
    let lastSeq = fromSeq - 1;
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(
        new Error(
          `reading channel ${channel} from ${fromSeq} to ${toSeq} timed out after ${input.timeoutMs ?? 60_000} ms at sequence ${lastSeq}`,
        ),
      );
    }, input.timeoutMs ?? 60_000);
    sub.on('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    sub.on('message', (m: Message) => {
      const seq = m.getSequence();
      if (seq > toSeq) return;
      lastSeq = seq;
      read++;
      const id = eventIdOf(m.getRawData());
      if (id !== null && id.startsWith(idPrefix)) ids.set(id, (ids.get(id) ?? 0) + 1);
      else foreign++;
      if (seq >= toSeq) {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve({ ids, foreign, read });
      }
    });
  });
}
