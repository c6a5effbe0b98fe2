// Configuration files of the stack's servers, generated into the run directory: HAProxy over the
// replicas, nginx over the backends (two modes), dnsmasq answering the headless Service name.
import { request } from 'node:http';

export interface HealthCheckTiming {
  /** HAProxy `inter` (ms), `fall`, `rise`: the seed's `inter 2s fall 3 rise 2` */
  interMs: number;
  fall: number;
  rise: number;
}

export const SEED_HEALTH_CHECK: HealthCheckTiming = { interMs: 2000, fall: 3, rise: 2 };

export function haproxyConfig(input: {
  frontendPort: number;
  statsPort: number;
  replicas: Array<{ name: string; port: number }>;
  check: HealthCheckTiming;
  user: string;
}): string {
  const { check } = input;
  return [
    'global',
    '  maxconn 4096',
    '',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  retries 2',
    '  option redispatch',
    '',
    'frontend pg_replicas_in',
    `  bind 127.0.0.1:${input.frontendPort}`,
    '  default_backend pg_replicas',
    '',
    'backend pg_replicas',
    '  balance roundrobin',
    `  option pgsql-check user ${input.user}`,
    `  default-server inter ${check.interMs}ms fall ${check.fall} rise ${check.rise}`,
    ...input.replicas.map((r) => `  server ${r.name} 127.0.0.1:${r.port} check`),
    '',
    'listen stats',
    '  mode http',
    `  bind 127.0.0.1:${input.statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '  stats refresh 1s',
    '',
  ].join('\n');
}

export type NginxMode = 'resolve-once' | 're-resolve';

export function nginxConfig(input: {
  mode: NginxMode;
  port: number;
  prefix: string;
  /** resolve-once: the addresses the name had when nginx started */
  addresses: string[];
  serviceName: string;
  backendPort: number;
  dnsPort: number;
  validS: number;
  asRoot: boolean;
}): string {
  const upstream =
    input.mode === 'resolve-once'
      ? [
          // What `server backend-headless:8000;` does in the seed: the name resolved once, when the
          // configuration is loaded, to the pods' addresses of that moment.
          '  upstream backend_headless {',
          ...(input.addresses.length > 0
            ? input.addresses.map((a) => `    server ${a}:${input.backendPort} max_fails=1 fail_timeout=10s;`)
            : [`    server 127.0.0.1:1 down;`]),
          '  }',
        ]
      : [`  resolver 127.0.0.1:${input.dnsPort} valid=${input.validS}s ipv6=off;`, '  resolver_timeout 1s;'];
  const proxy =
    input.mode === 'resolve-once'
      ? ['      proxy_pass http://backend_headless;']
      : [`      set $backend http://${input.serviceName}:${input.backendPort};`, '      proxy_pass $backend;'];
  return [
    ...(input.asRoot ? ['user nobody nogroup;'] : []),
    'daemon off;',
    'worker_processes 1;',
    `pid ${input.prefix}/nginx.pid;`,
    `error_log ${input.prefix}/error.log warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${input.prefix}/tmp/body;`,
    `  proxy_temp_path ${input.prefix}/tmp/proxy;`,
    `  fastcgi_temp_path ${input.prefix}/tmp/fastcgi;`,
    `  uwsgi_temp_path ${input.prefix}/tmp/uwsgi;`,
    `  scgi_temp_path ${input.prefix}/tmp/scgi;`,
    ...upstream,
    '  server {',
    `    listen 127.0.0.1:${input.port};`,
    '    location = /nginx-healthz { return 200 "ok\\n"; }',
    '    location / {',
    '      proxy_connect_timeout 2s;',
    '      proxy_read_timeout 10s;',
    '      proxy_next_upstream error timeout;',
    ...proxy,
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

export function dnsmasqArgs(input: { port: number; hostsDir: string; asRoot: boolean }): string[] {
  return [
    '--keep-in-foreground',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--log-facility=-',
    '--pid-file=',
    `--port=${input.port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    // The headless Service's records: one file per ready "pod", re-read on change (inotify).
    `--hostsdir=${input.hostsDir}`,
    '--local-ttl=0',
    '--domain-needed',
    ...(input.asRoot ? ['--user=root'] : []),
  ];
}

export interface HaproxyServerState {
  server: string;
  /** UP, DOWN, NOLB, MAINT, or with a transition suffix ("UP 1/2", "DOWN 1/3") */
  status: string;
}

/** HAProxy's stats as CSV (`/stats;csv`): the state of every server of the replicas' backend. */
export function readHaproxyStats(statsPort: number, backend = 'pg_replicas'): Promise<HaproxyServerState[]> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: statsPort, path: '/stats;csv', timeout: 1000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        const lines = text.split('\n');
        const header = (lines[0] ?? '').replace(/^# /, '').split(',');
        const at = (name: string): number => header.indexOf(name);
        const out: HaproxyServerState[] = [];
        for (const line of lines.slice(1)) {
          const f = line.split(',');
          if (f[at('pxname')] !== backend) continue;
          const sv = f[at('svname')] ?? '';
          if (sv === 'BACKEND' || sv === 'FRONTEND' || sv === '') continue;
          out.push({ server: sv, status: f[at('status')] ?? '' });
        }
        resolve(out);
      });
    });
    req.on('timeout', () => req.destroy(new Error('HAProxy stats timed out')));
    req.on('error', reject);
    req.end();
  });
}
