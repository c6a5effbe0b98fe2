// The postgres-haproxy stack (seed 002 on one machine): nginx → 2 backends → HAProxy → 2
// PostgreSQL streaming replicas (+ the primary), every server a real process on 127.0.0.x with its
// data and logs under the run directory. A backend that starts again comes back on a NEW loopback
// address (as a recreated pod gets a new IP), published under the headless Service's name by a
// dnsmasq; nginx either resolved that name once at start (`resolve-once`, the seed's config) or
// re-resolves it through dnsmasq (`re-resolve`: `resolver … valid=1s` and a variable proxy_pass).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { ProcessStartError } from '../../shared/errors.ts';
import { freePort } from '../free-port.ts';
import {
  describeExit,
  type ExitInfo,
  ManagedProcess,
  ProcessMember,
  ProcessRegistry,
  tailOf,
  terminateAsPod,
  waitFor,
} from '../processes.ts';
import type { LocalStackHandle, PodTermination, StackMember } from '../stack.ts';
import { PROJECT_ROOT } from '../../tools/toolchain.ts';
import { findStackBinaries, type StackBinaries } from './binaries.ts';
import {
  dnsmasqArgs,
  haproxyConfig,
  type HealthCheckTiming,
  nginxConfig,
  type NginxMode,
  readHaproxyStats,
  SEED_HEALTH_CHECK,
} from './config.ts';
import {
  basebackup,
  dataDirOf,
  initdb,
  type OsUser,
  PG_DATABASE,
  PG_USER,
  PostgresMember,
  postgresOsUser,
  query,
  traversableFor,
} from './postgres.ts';

export const PRIMARY = 'pg-primary';
export const REPLICAS = ['pg-replica-0', 'pg-replica-1'];
export const BACKENDS = ['backend-0', 'backend-1'];
export const MEMBER_NAMES = [PRIMARY, ...REPLICAS, 'haproxy', 'dns', ...BACKENDS, 'nginx'];
/** The headless Service the backends are published under. */
export const SERVICE_NAME = 'backend-headless.k6ha.test';
export const USERS_ROWS = 3;
const BACKEND_MAIN = join(PROJECT_ROOT, 'lib', 'stack', 'postgres-haproxy', 'backend-main.ts');

export interface PostgresHaproxyOptions {
  runDir: string;
  log?: (line: string) => void;
  nginx: NginxMode;
  check?: HealthCheckTiming;
  /** nginx `resolver … valid=` in re-resolve mode, seconds */
  resolverValidS?: number;
  backendConnection?: 'per-request' | 'pool';
}

function httpStatus(host: string, port: number, path: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Hands out loopback addresses, a new one per backend start: 127.<a>.<b>.10, .11, … */
class AddressPool {
  private next = 10;
  private readonly prefix: string;
  constructor() {
    this.prefix = `127.${64 + Math.floor(Math.random() * 180)}.${Math.floor(Math.random() * 250)}`;
  }
  take(): string {
    if (this.next > 250) this.next = 10;
    return `${this.prefix}.${this.next++}`;
  }
}

/** The headless Service: one hosts file per ready backend in dnsmasq's --hostsdir. */
class HeadlessService {
  constructor(
    readonly dir: string,
    readonly name: string,
  ) {
    mkdirSync(dir, { recursive: true });
  }
  publish(member: string, address: string): void {
    writeFileSync(join(this.dir, `${member}.hosts`), `${address} ${this.name}\n`);
  }
  withdraw(member: string): void {
    rmSync(join(this.dir, `${member}.hosts`), { force: true });
  }
}

/**
 * A backend "pod": every start is a new pod on a new loopback address, published in the headless
 * Service once it serves /healthz (readiness) and withdrawn when it stops or dies.
 */
export class BackendMember implements StackMember {
  readonly process: ManagedProcess;
  address: string | null = null;

  constructor(
    readonly name: string,
    private readonly base: { port: number; dbPort: number; connection: 'per-request' | 'pool' },
    private readonly addresses: AddressPool,
    private readonly service: HeadlessService,
    private readonly logFile: string,
    registry: ProcessRegistry,
  ) {
    this.process = new ManagedProcess({
      name,
      command: process.execPath,
      args: [],
      cwd: PROJECT_ROOT,
      logFile,
      registry,
    });
    this.process.on('exit', () => this.service.withdraw(this.name));
  }

  get running(): boolean {
    return this.process.running;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  async kill(): Promise<void> {
    this.process.expectedExit = false;
    await this.process.signal('SIGKILL', 10_000);
  }

  async stop(): Promise<void> {
    // Endpoints first, as Kubernetes removes a terminating pod from the Service.
    this.service.withdraw(this.name);
    await this.process.stop(5_000);
  }

  /** A deleted pod leaves the Service's endpoints at once, then gets SIGTERM, the grace period and SIGKILL. */
  async terminate(graceMs: number): Promise<PodTermination> {
    this.service.withdraw(this.name);
    return terminateAsPod(this.process, { graceMs });
  }

  async start(): Promise<void> {
    if (!this.process.running) {
      this.address = this.addresses.take();
      const opts = {
        name: this.name,
        host: this.address,
        port: this.base.port,
        dbPort: this.base.dbPort,
        user: PG_USER,
        database: PG_DATABASE,
        connection: this.base.connection,
        queryTimeoutMs: 3000,
      };
      this.process.setArgs(['--import', 'tsx', BACKEND_MAIN, JSON.stringify(opts)]);
      this.process.start();
    }
    const address = this.address as string;
    await waitFor(
      `${this.name} to serve on ${address}:${this.base.port}`,
      async () => {
        if (!this.process.running)
          throw new ProcessStartError(
            `${this.name} exited (${describeExit(this.process.lastExit)}); its log says:\n${tailOf(this.logFile)}`,
          );
        return (await httpStatus(address, this.base.port, '/healthz')) === 200;
      },
      30_000,
    );
    this.service.publish(this.name, address);
  }

  wipe(): void {
    throw new Error(`${this.name} keeps no data to wipe`);
  }

  onExit(listener: (info: { code: number | null; signal: string | null; expected: boolean }) => void): void {
    this.process.on('exit', (info: ExitInfo) =>
      listener({ code: info.code, signal: info.signal, expected: this.process.expectedExit }),
    );
  }

  onStart(listener: (pid: number) => void): void {
    this.process.on('start', (pid: number) => {
      listener(pid);
    });
  }
}

export interface StackPorts {
  primary: number;
  replicas: number[];
  haproxy: number;
  haproxyStats: number;
  dns: number;
  backend: number;
  nginx: number;
}

export class PostgresHaproxyStack implements LocalStackHandle {
  readonly kind = 'postgres-haproxy';
  readonly primary: PostgresMember;
  readonly replicas: PostgresMember[];
  readonly haproxy: ProcessMember;
  readonly dns: ProcessMember;
  readonly backends: BackendMember[];
  readonly nginx: ProcessMember;
  readonly ports: StackPorts;
  readonly check: HealthCheckTiming;
  private readonly resolver = new Resolver({ timeout: 500, tries: 1 });

  constructor(
    readonly runDir: string,
    readonly mode: NginxMode,
    private readonly bins: StackBinaries,
    private readonly user: OsUser | null,
    ports: StackPorts,
    private readonly registry: ProcessRegistry,
    opts: PostgresHaproxyOptions,
  ) {
    this.ports = ports;
    this.check = opts.check ?? SEED_HEALTH_CHECK;
    this.resolver.setServers([`127.0.0.1:${ports.dns}`]);
    const logOf = (name: string): string => join(runDir, `${name}.log`);
    this.primary = new PostgresMember({
      name: PRIMARY,
      role: 'primary',
      postgresBin: bins.postgres,
      user,
      dataDir: dataDirOf(runDir, PRIMARY),
      port: ports.primary,
      logFile: logOf(PRIMARY),
      registry,
    });
    this.replicas = REPLICAS.map(
      (name, i) =>
        new PostgresMember({
          name,
          role: 'replica',
          postgresBin: bins.postgres,
          user,
          dataDir: dataDirOf(runDir, name),
          port: ports.replicas[i] as number,
          logFile: logOf(name),
          registry,
        }),
    );

    const haproxyDir = join(runDir, 'haproxy');
    mkdirSync(haproxyDir, { recursive: true });
    const haproxyCfg = join(haproxyDir, 'haproxy.cfg');
    writeFileSync(
      haproxyCfg,
      haproxyConfig({
        frontendPort: ports.haproxy,
        statsPort: ports.haproxyStats,
        replicas: this.replicas.map((r) => ({ name: r.name, port: r.port })),
        check: this.check,
        user: PG_USER,
      }),
    );
    const haproxyProc = new ManagedProcess({
      name: 'haproxy',
      command: bins.haproxy,
      args: ['-db', '-W', '-f', haproxyCfg],
      logFile: logOf('haproxy'),
      registry,
    });
    this.haproxy = new ProcessMember(haproxyProc, {
      logFile: logOf('haproxy'),
      healthy: async () => (await httpStatus('127.0.0.1', ports.haproxyStats, '/stats;csv')) === 200,
    });

    const service = new HeadlessService(join(runDir, 'dns', 'hosts.d'), SERVICE_NAME);
    writeFileSync(join(service.dir, 'dns-health.hosts'), `127.0.0.1 dns-health.k6ha.test\n`);
    const asRoot = process.getuid?.() === 0;
    const dnsProc = new ManagedProcess({
      name: 'dns',
      command: bins.dnsmasq,
      args: dnsmasqArgs({ port: ports.dns, hostsDir: service.dir, asRoot }),
      logFile: logOf('dns'),
      registry,
    });
    this.dns = new ProcessMember(dnsProc, {
      logFile: logOf('dns'),
      healthy: async () => (await this.resolver.resolve4('dns-health.k6ha.test')).length > 0,
    });

    const addresses = new AddressPool();
    this.backends = BACKENDS.map(
      (name) =>
        new BackendMember(
          name,
          { port: ports.backend, dbPort: ports.haproxy, connection: opts.backendConnection ?? 'per-request' },
          addresses,
          service,
          logOf(name),
          registry,
        ),
    );

    const nginxDir = join(runDir, 'nginx');
    mkdirSync(join(nginxDir, 'tmp'), { recursive: true });
    const nginxCfg = join(nginxDir, 'nginx.conf');
    const nginxProc = new ManagedProcess({
      name: 'nginx',
      command: bins.nginx,
      args: ['-p', nginxDir, '-e', join(nginxDir, 'error.log'), '-c', nginxCfg],
      logFile: logOf('nginx'),
      registry,
    });
    const nginxMember = new ProcessMember(nginxProc, {
      logFile: logOf('nginx'),
      healthy: async () => (await httpStatus('127.0.0.1', ports.nginx, '/nginx-healthz')) === 200,
    });
    // Every start of nginx resolves the Service name again (the resolve-once config is written
    // with the addresses of that moment), as an nginx pod restart or reload would.
    const start = nginxMember.start.bind(nginxMember);
    nginxMember.start = async () => {
      if (!nginxProc.running) {
        const found = mode === 'resolve-once' ? await this.resolveService() : [];
        writeFileSync(
          nginxCfg,
          nginxConfig({
            mode,
            port: ports.nginx,
            prefix: nginxDir,
            addresses: found,
            serviceName: SERVICE_NAME,
            backendPort: ports.backend,
            dnsPort: ports.dns,
            validS: opts.resolverValidS ?? 1,
            asRoot,
          }),
        );
      }
      await start();
    };
    this.nginx = nginxMember;
  }

  /** The Service name's addresses, asked from dnsmasq (the headless Service's DNS). */
  async resolveService(): Promise<string[]> {
    try {
      return (await this.resolver.resolve4(SERVICE_NAME)).sort();
    } catch {
      return [];
    }
  }

  members(): StackMember[] {
    return [this.primary, ...this.replicas, this.haproxy, this.dns, ...this.backends, this.nginx];
  }

  get url(): string {
    return `http://127.0.0.1:${this.ports.nginx}/users`;
  }

  k6Env(): Record<string, string> {
    return { TARGET_URL: this.url };
  }

  haproxyStats(): ReturnType<typeof readHaproxyStats> {
    return readHaproxyStats(this.ports.haproxyStats);
  }

  /** Writes a row on the primary (for the replication check): returns the new row count. */
  async insertUser(name: string): Promise<number> {
    await query(this.ports.primary, 'INSERT INTO users(name) VALUES ($1)', [name]);
    const rows = await query<{ n: number }>(this.ports.primary, 'SELECT count(*)::int AS n FROM users');
    return rows[0]?.n ?? 0;
  }

  async stop(): Promise<void> {
    // Front to back, so no layer logs errors about the one behind it going first.
    for (const m of [this.nginx, ...this.backends, this.dns, this.haproxy, ...this.replicas, this.primary]) {
      try {
        await m.stop();
      } catch {
        // the reaper below still kills its group
      }
    }
    this.registry.dispose();
  }

  async bootstrap(log: (line: string) => void): Promise<void> {
    const { bins, user } = this;
    const opened = traversableFor(user, this.runDir);
    if (opened.length > 0)
      log(`made ${opened.join(', ')} searchable (o+x) for the OS user ${user?.name ?? ''} PostgreSQL runs as`);
    log(`initdb ${PRIMARY}${user === null ? '' : ` (as OS user ${user.name}: PostgreSQL refuses to run as root)`} ...`);
    await initdb(bins.initdb, user, dataDirOf(this.runDir, PRIMARY));
    await this.primary.start();
    await query(this.ports.primary, 'CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)');
    for (let i = 1; i <= USERS_ROWS; i++)
      await query(this.ports.primary, 'INSERT INTO users(name) VALUES ($1)', [`user-${i}`]);
    for (const r of this.replicas) {
      await basebackup(bins.pgBasebackup, user, dataDirOf(this.runDir, r.name), this.ports.primary);
      await r.start();
    }
    log(
      `${PRIMARY} on :${this.ports.primary}, streaming replicas ${this.replicas.map((r) => `${r.name} :${r.port}`).join(', ')}`,
    );
    await this.haproxy.start();
    await waitFor(
      'HAProxy to see both replicas UP',
      async () => (await this.haproxyStats()).filter((s) => s.status === 'UP').length === this.replicas.length,
      30_000,
      200,
    );
    log(
      `haproxy :${this.ports.haproxy} (roundrobin, pgsql-check, inter ${this.check.interMs}ms fall ${this.check.fall} rise ${this.check.rise}), stats http://127.0.0.1:${this.ports.haproxyStats}/stats`,
    );
    await this.dns.start();
    for (const b of this.backends) await b.start();
    log(
      `${SERVICE_NAME} (dnsmasq :${this.ports.dns}) → ${this.backends.map((b) => `${b.name} ${b.address}:${this.ports.backend}`).join(', ')}`,
    );
    await this.nginx.start();
    log(`nginx (${this.mode}) serves ${this.url}`);
  }
}

/** Finds the binaries (exit 3 before anything starts), then starts the stack; on failure stops what was started. */
export async function startPostgresHaproxyStack(opts: PostgresHaproxyOptions): Promise<PostgresHaproxyStack> {
  const bins = findStackBinaries();
  const user = postgresOsUser();
  const log = opts.log ?? (() => undefined);
  mkdirSync(opts.runDir, { recursive: true });
  const ports: StackPorts = {
    primary: await freePort(),
    replicas: [await freePort(), await freePort()],
    haproxy: await freePort(),
    haproxyStats: await freePort(),
    dns: await freePort(),
    backend: await freePort(),
    nginx: await freePort(),
  };
  const registry = new ProcessRegistry(opts.runDir);
  const stack = new PostgresHaproxyStack(opts.runDir, opts.nginx, bins, user, ports, registry, opts);
  try {
    await stack.bootstrap(log);
    return stack;
  } catch (err) {
    await stack.stop();
    throw err;
  }
}
