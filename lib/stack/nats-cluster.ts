// A 3-member nats-server JetStream cluster on 127.0.0.1: the local stand-in for the seed's
// eventing-nats StatefulSet. Members carry the seed's pod names so leaders read the same.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ProcessStartError } from '../shared/errors.ts';
import { freePort } from './free-port.ts';
import { describeExit, ManagedProcess, type PreStopHook, type ProcessRegistry, tailOf, waitFor } from './processes.ts';

export interface NatsMemberInfo {
  name: string;
  clientUrl: string;
  monitorUrl: string;
  storeDir: string;
}

/**
 * The lame-duck settings every member gets: the NATS helm chart's (nats-io/k8s: lameDuckGracePeriod
 * 10s, lameDuckDuration 30s, terminationGracePeriodSeconds 60s = 10 + 30 + 20 s of slack), scaled
 * for tests where nats-server lets us. In lame-duck mode a member stops accepting clients, hands
 * off the raft leaderships it holds (stream, consumer, meta) and waits a second, shuts JetStream
 * down, waits the grace period, then closes its clients spread over the rest of the duration (at
 * most 1 s apart) and exits. The duration cannot be scaled: nats-server refuses one below 30 s;
 * with the handful of clients a member has here the close takes a few seconds anyway. The grace
 * period (10 s in the chart, so that clients of servers signalled together do not reconnect to one
 * another) is 1 s here.
 */
export const LAME_DUCK = { durationS: 30, gracePeriodS: 1 } as const;

export class NatsMember {
  readonly process: ManagedProcess;
  constructor(
    readonly info: NatsMemberInfo,
    confFile: string,
    private readonly natsServerBin: string,
    readonly logFile: string,
    registry: ProcessRegistry,
    env?: NodeJS.ProcessEnv,
  ) {
    this.process = new ManagedProcess({
      name: info.name,
      command: natsServerBin,
      args: ['-c', confFile],
      logFile,
      registry,
      env,
    });
  }

  /**
   * The NATS helm chart's preStop hook, `nats-server --signal ldm=<pid>`: SIGUSR2, lame-duck mode.
   * It returns at once; the server exits by itself when lame-duck mode is over and ignores the
   * SIGTERM the kubelet sends meanwhile.
   */
  readonly lameDuck: PreStopHook = {
    describe: (pid) => `nats-server --signal ldm=${pid}`,
    run: (pid) =>
      new Promise((resolve, reject) => {
        execFile(this.natsServerBin, ['--signal', `ldm=${pid}`], { timeout: 10_000 }, (err, _stdout, stderr) => {
          if (err === null) resolve();
          else reject(new Error(`nats-server --signal ldm=${pid} failed: ${stderr.trim() || err.message}`));
        });
      }),
  };

  get name(): string {
    return this.info.name;
  }

  async healthy(): Promise<boolean> {
    if (!this.process.running) {
      throw new ProcessStartError(
        `${this.name} exited (${describeExit(this.process.lastExit)}); its log says:\n${tailOf(this.logFile)}`,
      );
    }
    try {
      const res = await fetch(`${this.info.monitorUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
      return res.ok;
    } catch {
      return false;
    }
  }

  async start(timeoutMs = 20_000): Promise<void> {
    this.process.start();
    await waitFor(`${this.name} /healthz`, () => this.healthy(), timeoutMs);
  }

  /** The member's "volume" is lost: the analogue of a node that goes away with its disk. */
  wipe(): void {
    if (this.process.running) throw new Error(`refusing to wipe ${this.name} while it runs; stop or kill it first`);
    rmSync(this.info.storeDir, { recursive: true, force: true });
    mkdirSync(this.info.storeDir, { recursive: true });
  }
}

export interface NatsClusterOptions {
  dir: string;
  natsServerBin: string;
  registry: ProcessRegistry;
  size?: number;
  /** Member names; defaults to the seed's eventing-nats-0..N-1. */
  namePrefix?: string;
  clusterName?: string;
}

/**
 * The Go scheduler threads each member may run: its share of this machine's cores, as a pod's CPU
 * limit would give it. Why: every Go runtime sizes itself to all cores, so three members and k6
 * (itself Go) on a 2-core laptop keep waking threads for one another's cores. With a share each,
 * the headroom benchmark sustained 2,250 events/s in 3 runs of 3 instead of 0 of 2, mostly with a
 * lower p99; CPU per event stayed the same (BENCHMARKS.md, fifth round). A GOMAXPROCS the user
 * set is kept.
 */
export function memberGoMaxProcs(
  members: number,
  cores = availableParallelism(),
  env: NodeJS.ProcessEnv = process.env,
): string {
  const set = env['GOMAXPROCS'];
  if (set !== undefined && set !== '') return set;
  return String(Math.max(1, Math.floor(cores / Math.max(1, members))));
}

export class NatsCluster {
  readonly members: NatsMember[] = [];
  readonly clusterName: string;

  private constructor(clusterName: string) {
    this.clusterName = clusterName;
  }

  static async create(opts: NatsClusterOptions): Promise<NatsCluster> {
    const size = opts.size ?? 3;
    const prefix = opts.namePrefix ?? 'eventing-nats';
    const cluster = new NatsCluster(opts.clusterName ?? 'eventing-nats');
    const ports = [];
    for (let i = 0; i < size; i++)
      ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
    const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`);
    const env = { ...process.env, GOMAXPROCS: memberGoMaxProcs(size) };
    ports.forEach((p, i) => {
      const name = `${prefix}-${i}`;
      const memberDir = join(opts.dir, name);
      const storeDir = join(memberDir, 'jetstream');
      mkdirSync(storeDir, { recursive: true });
      const conf = join(memberDir, 'nats.conf');
      writeFileSync(
        conf,
        [
          `server_name: ${JSON.stringify(name)}`,
          `listen: "127.0.0.1:${p.client}"`,
          `http: "127.0.0.1:${p.monitor}"`,
          `lame_duck_duration: "${LAME_DUCK.durationS}s"`,
          `lame_duck_grace_period: "${LAME_DUCK.gracePeriodS}s"`,
          // File storage like the seed's production profile; limits keep a runaway test off the disk.
          `jetstream { store_dir: ${JSON.stringify(storeDir)}, max_file_store: 2GB, max_memory_store: 256MB }`,
          `cluster {`,
          `  name: ${JSON.stringify(cluster.clusterName)}`,
          `  listen: "127.0.0.1:${p.route}"`,
          `  routes: [${routes.map((r) => JSON.stringify(r)).join(', ')}]`,
          `}`,
          '',
        ].join('\n'),
      );
      const info: NatsMemberInfo = {
        name,
        clientUrl: `nats://127.0.0.1:${p.client}`,
        monitorUrl: `http://127.0.0.1:${p.monitor}`,
        storeDir,
      };
      cluster.members.push(
        new NatsMember(info, conf, opts.natsServerBin, join(opts.dir, `${name}.log`), opts.registry, env),
      );
    });
    return cluster;
  }

  get clientUrls(): string[] {
    return this.members.map((m) => m.info.clientUrl);
  }

  member(name: string): NatsMember {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined)
      throw new Error(
        `no member named ${JSON.stringify(name)}; members are ${this.members.map((x) => x.name).join(', ')}`,
      );
    return m;
  }

  async start(): Promise<void> {
    // Routes are only formed when peers exist, so start all before waiting on any.
    for (const m of this.members) m.process.start();
    await Promise.all(this.members.map((m) => waitFor(`${m.name} /healthz`, () => m.healthy(), 30_000)));
    await waitFor('a JetStream meta leader', () => this.hasMetaLeader(), 30_000, 200);
  }

  async hasMetaLeader(): Promise<boolean> {
    for (const m of this.members) {
      if (!m.process.running) continue;
      try {
        const res = await fetch(`${m.info.monitorUrl}/jsz`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { meta_cluster?: { leader?: string } };
        if (body.meta_cluster?.leader) return true;
      } catch {
        // try the next member
      }
    }
    return false;
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.stop(8000)));
  }
}
