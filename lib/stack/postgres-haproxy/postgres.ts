// PostgreSQL members: a primary with a `users` table and streaming replicas made with
// `pg_basebackup -R` (standby.signal + primary_conninfo), each with its own data directory under
// the run directory, its own port and cluster_name = its member name. PostgreSQL refuses to run as
// root, so when k6-ha runs as root every PostgreSQL command runs as the `postgres` user of the OS
// package (K6HA_POSTGRES_USER for another) through `setpriv`, which execs in place: the process
// group of a member is still the postmaster's, and a stop reaps every backend it forked.
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { ProcessStartError, ToolMissingError } from '../../shared/errors.ts';
import {
  describeExit,
  type ExitInfo,
  ManagedProcess,
  type ProcessRegistry,
  tailOf,
  terminateAsPod,
  waitFor,
} from '../processes.ts';
import type { PodTermination, StackMember } from '../stack.ts';

const run = promisify(execFile);
export const PG_USER = 'k6ha';
export const PG_DATABASE = 'postgres';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** The OS user PostgreSQL runs as: null when k6-ha is not root (it runs as k6-ha's own user). */
export function postgresOsUser(): OsUser | null {
  if (process.getuid?.() !== 0) return null;
  const name = process.env['K6HA_POSTGRES_USER'] ?? 'postgres';
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { name, uid, gid };
  } catch {
    throw new ToolMissingError(
      `PostgreSQL refuses to run as root, and there is no OS user ${JSON.stringify(name)} to run it as (the postgresql package creates "postgres"); create one (useradd --system ${name}) or set K6HA_POSTGRES_USER`,
      { tool: 'postgres' },
    );
  }
}

/** [command, args] running `bin args` as the PostgreSQL user (setpriv execs: same pid, same group). */
export function asPostgresUser(user: OsUser | null, bin: string, args: string[]): [string, string[]] {
  if (user === null) return [bin, args];
  return ['setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', bin, ...args]];
}

/** A directory the PostgreSQL user owns (created empty, mode 0700 as PostgreSQL wants its data). */
export function ownedDir(dir: string, user: OsUser | null): string {
  mkdirSync(dirname(dir), { recursive: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (user !== null) chownSync(dir, user.uid, user.gid);
  return dir;
}

/**
 * The PostgreSQL user must be able to pass through every directory above its data (a run
 * directory under a mkdtemp() directory is 0700): adds search permission (o+x, not read) where it
 * is missing; returns the directories changed, for the log.
 */
export function traversableFor(user: OsUser | null, dir: string): string[] {
  if (user === null) return [];
  const changed: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(d, (mode & 0o7777) | 0o001);
      changed.push(d);
    }
    if (dirname(d) === d) break;
  }
  return changed;
}

async function runAs(user: OsUser | null, bin: string, args: string[], what: string): Promise<void> {
  const [cmd, argv] = asPostgresUser(user, bin, args);
  try {
    await run(cmd, argv, { timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ProcessStartError(`${what} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-8).join('\n')}`, {
      cause: err,
    });
  }
}

export async function initdb(bin: string, user: OsUser | null, dataDir: string): Promise<void> {
  ownedDir(dataDir, user);
  await runAs(
    user,
    bin,
    ['-D', dataDir, '-U', PG_USER, '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    `initdb ${dataDir}`,
  );
}

export async function basebackup(
  bin: string,
  user: OsUser | null,
  dataDir: string,
  primaryPort: number,
): Promise<void> {
  ownedDir(dataDir, user);
  await runAs(
    user,
    bin,
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(primaryPort),
      '-U',
      PG_USER,
      '-D',
      dataDir,
      '-R',
      '-X',
      'stream',
      '--no-sync',
      '-c',
      'fast',
    ],
    `pg_basebackup of the primary into ${dataDir}`,
  );
}

export function connectionConfig(port: number, timeoutMs = 1000): pg.ClientConfig {
  return {
    host: '127.0.0.1',
    port,
    user: PG_USER,
    database: PG_DATABASE,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  };
}

/** One query on a fresh connection; rejects when the server does not answer. */
export async function query<R extends pg.QueryResultRow>(
  port: number,
  sql: string,
  params: unknown[] = [],
  timeoutMs = 1000,
): Promise<R[]> {
  const client = new pg.Client(connectionConfig(port, timeoutMs));
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface PostgresMemberOptions {
  name: string;
  role: 'primary' | 'replica';
  postgresBin: string;
  user: OsUser | null;
  dataDir: string;
  port: number;
  logFile: string;
  registry: ProcessRegistry;
  /** extra `-c key=value` settings */
  settings?: Record<string, string>;
}

/**
 * A PostgreSQL server as a chaos target. stop(): a fast shutdown (SIGINT to the postmaster, which
 * ends its sessions and checkpoints), then SIGKILL to the whole process group so no backend, WAL
 * sender or receiver outlives it; kill(): SIGKILL to the group (a crash; the next start recovers
 * from WAL). start(): healthy once it answers a query (a replica: in recovery, i.e. streaming).
 */
export class PostgresMember implements StackMember {
  readonly process: ManagedProcess;

  constructor(private readonly opts: PostgresMemberOptions) {
    const settings: Record<string, string> = {
      port: String(opts.port),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      cluster_name: opts.name,
      fsync: 'off',
      log_line_prefix: '%m [%p] ',
      ...opts.settings,
    };
    const [command, args] = asPostgresUser(opts.user, opts.postgresBin, [
      '-D',
      opts.dataDir,
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ]);
    this.process = new ManagedProcess({
      name: opts.name,
      command,
      args,
      logFile: opts.logFile,
      registry: opts.registry,
    });
  }

  get name(): string {
    return this.opts.name;
  }

  get port(): number {
    return this.opts.port;
  }

  get running(): boolean {
    return this.process.running;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  private async reapGroup(pid: number | undefined): Promise<void> {
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is gone
    }
  }

  async kill(): Promise<void> {
    this.process.expectedExit = false;
    await this.process.signal('SIGKILL', 10_000);
  }

  async stop(): Promise<void> {
    const pid = this.process.pid;
    if (pid === undefined) return;
    this.process.expectedExit = true;
    const exited = new Promise<ExitInfo | null>((resolve) => {
      this.process.once('exit', resolve);
      setTimeout(() => resolve(null), 10_000).unref();
    });
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // already gone
    }
    const info = await exited;
    // Children exit when they notice the postmaster is gone; none may outlive the member.
    await this.reapGroup(pid);
    if (info === null && this.process.running) await this.process.signal('SIGKILL', 5_000);
  }

  /**
   * A deleted pod of the postgres image: its STOPSIGNAL is SIGINT (a fast shutdown; SIGTERM's
   * smart shutdown would wait for every pooled session to end), sent to the postmaster alone as to
   * a container's PID 1; then no backend may outlive it, as none outlives its container.
   */
  async terminate(graceMs: number): Promise<PodTermination> {
    const pid = this.process.pid;
    const result = await terminateAsPod(this.process, { graceMs, stopSignal: 'SIGINT', stopSignalTo: 'process' });
    await this.reapGroup(pid);
    return result;
  }

  async healthy(): Promise<boolean> {
    const rows = await query<{ recovery: boolean }>(this.opts.port, 'SELECT pg_is_in_recovery() AS recovery');
    return rows[0]?.recovery === (this.opts.role === 'replica');
  }

  async start(): Promise<void> {
    if (!this.process.running) this.process.start();
    await waitFor(
      `${this.name} to accept queries`,
      async () => {
        if (!this.process.running)
          throw new ProcessStartError(
            `${this.name} exited (${describeExit(this.process.lastExit)}); its log says:\n${tailOf(this.opts.logFile)}`,
          );
        return this.healthy();
      },
      60_000,
      100,
    );
  }

  wipe(): void {
    throw new Error(
      `${this.name}: wipe is not supported by the postgres-haproxy stack (a replica would have to be cloned again); use kill or stop`,
    );
  }

  onExit(listener: (info: { code: number | null; signal: string | null; expected: boolean }) => void): void {
    this.process.on('exit', (info: ExitInfo) =>
      listener({ code: info.code, signal: info.signal, expected: this.process.expectedExit }),
    );
  }

  onStart(listener: (pid: number) => void): void {
    this.process.on('start', listener);
  }
}

/** Where a member's data lives under the run directory. */
export function dataDirOf(runDir: string, name: string): string {
  return join(runDir, name, 'data');
}
