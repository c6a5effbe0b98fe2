// The sidecar's Prometheus remote-write receiver: where k6's `experimental-prometheus-rw` output
// pushes its cumulative series every second (lib/run/per-second-source.ts sets it up). 127.0.0.1
// only, a random port, a per-run token as the path; each push is decoded (snappy + protobuf,
// lib/report/remote-write.ts), differenced against the previous one and appended as one period
// to <run dir>/k6-remote-write.ndjson.gz. Several runners may push to one receiver: their series
// differ by the `instance_id` label k6-ha gives each.
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createGzip, type Gzip } from 'node:zlib';
import { decodeRemoteWrite, RemoteWriteRecorder, type RecorderOptions } from '../report/remote-write.ts';
import { readBodyWithin } from '../stack/http-body.ts';

/** A push of a few hundred series is a few kB; k6's fleet of many tag sets stays far below this. */
const BODY_LIMIT = 64 * 1024 * 1024;

export interface RemoteWriteReceiver {
  /** what K6_PROMETHEUS_RW_SERVER_URL gets */
  url: string;
  /** pushes received, decoded and recorded */
  readonly pushes: number;
  /** pushes refused (bad body), with the last reason */
  readonly refused: number;
  readonly lastError: string | null;
  /** stops listening and closes the file (after k6 has exited: its last push comes as it stops); once */
  close(): Promise<void>;
}

export async function startRemoteWriteReceiver(
  file: string,
  opts: RecorderOptions & { now?: () => number } = {},
): Promise<RemoteWriteReceiver> {
  const token = randomBytes(12).toString('hex');
  const path = `/${token}/api/v1/write`;
  const recorder = new RemoteWriteRecorder(opts);
  const now = opts.now ?? Date.now;
  const gzip: Gzip = createGzip();
  const sink: WriteStream = createWriteStream(file);
  gzip.pipe(sink);
  let pushes = 0;
  let refused = 0;
  let lastError: string | null = null;
  let closing: Promise<void> | null = null;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== path) {
      res.writeHead(404).end();
      return;
    }
    readBodyWithin(req, BODY_LIMIT).then(
      (body) => {
        if (body === null) {
          refused++;
          lastError = `a push of more than ${BODY_LIMIT} bytes`;
          res.writeHead(413).end();
          return;
        }
        const at = now();
        try {
          for (const period of recorder.push(decodeRemoteWrite(body), at)) gzip.write(`${JSON.stringify(period)}\n`);
          pushes++;
          res.writeHead(204).end();
        } catch (err) {
          refused++;
          lastError = (err as Error).message;
          // 400: k6 logs it and goes on; its next push carries the cumulative values again.
          res.writeHead(400, { 'content-type': 'text/plain' }).end(`cannot decode the push: ${lastError}\n`);
        }
      },
      () => res.destroy(),
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    get pushes() {
      return pushes;
    },
    get refused() {
      return refused;
    },
    get lastError() {
      return lastError;
    },
    close() {
      closing ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        for (const period of recorder.finish()) gzip.write(`${JSON.stringify(period)}\n`);
        await new Promise<void>((resolve, reject) => {
          sink.once('finish', resolve);
          sink.once('error', reject);
          gzip.end();
        });
      })();
      return closing;
    },
  };
}

/** The environment that makes k6 push to a receiver every second, trends as native histograms. */
export function remoteWriteEnv(url: string): Record<string, string> {
  return {
    K6_PROMETHEUS_RW_SERVER_URL: url,
    K6_PROMETHEUS_RW_PUSH_INTERVAL: '1s',
    // k6 v2's feature flag for trends as native histograms (its old K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM
    // still works but warns), added to any features the user's environment asks for
    K6_FEATURES: [process.env['K6_FEATURES'], 'native-histograms'].filter((f) => f !== undefined && f !== '').join(','),
  };
}
