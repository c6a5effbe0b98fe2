// One backend "pod" of the postgres-haproxy stack: `node --import tsx backend-main.ts '<json>'`.
// GET /users answers {"users": N, "pod": "<member>", "db": "<cluster_name of the replica that
// answered>"} through HAProxy (a new connection per request, as the seed's FastAPI backend did, so
// HAProxy's round robin decides every request); GET /healthz answers while the process serves.
import { createServer } from 'node:http';
import pg from 'pg';

interface BackendOptions {
  name: string;
  host: string;
  port: number;
  /** HAProxy's PostgreSQL frontend */
  dbPort: number;
  user: string;
  database: string;
  /** per-request (default) or pool: one pg.Pool whose connections stick to the replica they reached */
  connection: 'per-request' | 'pool';
  queryTimeoutMs: number;
}

const json = process.argv[2];
if (json === undefined) {
  process.stderr.write("usage: backend-main.ts '<options json>'\n");
  process.exit(2);
}
const opts = JSON.parse(json) as BackendOptions;
const SQL = "SELECT count(*)::int AS n, current_setting('cluster_name') AS db FROM users";
const config: pg.ClientConfig = {
  host: '127.0.0.1',
  port: opts.dbPort,
  user: opts.user,
  database: opts.database,
  connectionTimeoutMillis: opts.queryTimeoutMs,
  query_timeout: opts.queryTimeoutMs,
};
const pool = opts.connection === 'pool' ? new pg.Pool({ ...config, max: 20 }) : null;
pool?.on('error', () => undefined);

async function usersQuery(): Promise<{ n: number; db: string }> {
  if (pool !== null) return (await pool.query<{ n: number; db: string }>(SQL)).rows[0] as { n: number; db: string };
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<{ n: number; db: string }>(SQL)).rows[0] as { n: number; db: string };
  } finally {
    void client.end().catch(() => undefined);
  }
}

const server = createServer((req, res) => {
  const send = (status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-pod': opts.name,
    });
    res.end(text);
  };
  if (req.url === '/healthz') return send(200, { pod: opts.name });
  if (req.url === '/users' || req.url?.startsWith('/users?') === true) {
    usersQuery().then(
      (row) => send(200, { users: row.n, pod: opts.name, db: row.db }),
      (err: Error) => send(503, { error: err.message, pod: opts.name }),
    );
    return;
  }
  send(404, { error: 'not found', pod: opts.name });
});
server.keepAliveTimeout = 65_000;

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
    void pool?.end();
  });
}
server.listen(opts.port, opts.host, () =>
  process.stdout.write(`backend ${opts.name} ready on ${opts.host}:${opts.port}\n`),
);
