// A NATS Streaming (STAN) fault-tolerance group on 127.0.0.1: the local stand-in for the seed's
// `stan` StatefulSet ("NATS Streaming Cluster with FT Mode"). Every member is a
// nats-streaming-server in NATS embedded mode (its own client, route and monitoring port, the
// embedded NATS servers routed to one another as in the seed's `cluster { routes }`), and all of
// them point at ONE file store directory, the seed's shared EFS volume. The member holding the
// store's lock is active; the others are standbys that take over when its heartbeats stop.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessStartError } from '../../shared/errors.ts';
import { freePort } from '../free-port.ts';
import { memberGoMaxProcs } from '../nats-cluster.ts';
import { describeExit, ManagedProcess, type ProcessRegistry, tailOf, waitFor } from '../processes.ts';

/** The seed's `streaming { id }` and `ft_group_name`: both "test-cluster". */
export const STAN_CLUSTER_ID = 'test-cluster';
export const STAN_FT_GROUP = 'test-cluster';
/** The seed's StatefulSet is `stan`: its pods are stan-0, stan-1, stan-2. */
export const STAN_MEMBER_PREFIX = 'stan';
/** The channel the publisher writes and the sink reads (a STAN channel, not a JetStream stream). */
export const STAN_CHANNEL = 'kyma.events';

/** What /streaming/serverz reports (the fields k6-ha reads; state: FT_ACTIVE, FT_STANDBY, STANDALONE, FAILED, …). */
export interface Serverz {
  cluster_id: string;
  server_id: string;
  version: string;
  state: string;
  clients: number;
  channels: number;
  total_msgs: number;
}

/** /streaming/channelsz?channel=<name>&subs=1 (the fields k6-ha reads). */
export interface Channelz {
  name: string;
  msgs: number;
  first_seq: number;
  last_seq: number;
  subscriptions?: Array<{
    client_id: string;
    durable_name?: string;
    is_offline: boolean;
    last_sent: number;
    pending_count: number;
    is_stalled: boolean;
  }>;
}

export interface StanMemberInfo {
  name: string;
  clientUrl: string;
  monitorUrl: string;
}

async function getJson<T>(url: string, timeoutMs = 1000): Promise<T | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    return (await res.json()) as T;
  } catch {
    return null;
  }
}

/** A member's /streaming/serverz at `monitorUrl`, or null when it does not answer. */
export function serverzAt(monitorUrl: string, timeoutMs = 1000): Promise<Serverz | null> {
  return getJson<Serverz>(`${monitorUrl}/streaming/serverz`, timeoutMs);
}

/** /streaming/channelsz?channel=<channel>&subs=1 at `monitorUrl` (null: no such channel, or no answer). */
export function channelzAt(monitorUrl: string, channel: string): Promise<Channelz | null> {
  return getJson<Channelz>(`${monitorUrl}/streaming/channelsz?channel=${encodeURIComponent(channel)}&subs=1`, 2000);
}

/**
 * One member of an FT group as its monitoring endpoint shows it: a local process (StanMember) or a
 * pod (FtEndpoint: a port-forward, or a hostNetwork pod's own port). The roles, the observer and
 * the accountant read a group only through this.
 */
export interface FtMemberReader {
  readonly name: string;
  /** FT_ACTIVE / FT_STANDBY / STANDALONE / …, null when it does not answer */
  state(timeoutMs?: number): Promise<string | null>;
  channelz(channel: string): Promise<Channelz | null>;
}

/** Every member's FT state now (null: not answering), asked in parallel. */
export async function ftStates(
  members: readonly FtMemberReader[],
  timeoutMs = 1000,
): Promise<Map<string, string | null>> {
  return new Map(await Promise.all(members.map(async (m) => [m.name, await m.state(timeoutMs)] as const)));
}

/** The member that reports FT_ACTIVE now, or null. */
export async function ftActive<M extends FtMemberReader>(members: readonly M[], timeoutMs = 1000): Promise<M | null> {
  const states = await ftStates(members, timeoutMs);
  return members.find((m) => states.get(m.name) === 'FT_ACTIVE') ?? null;
}

/**
 * activeOf / standbyOf's view of the group named `group`: its members and the one reporting
 * FT_ACTIVE, asked now (not from the last poll: the plan acts on what the members say at that
 * moment); nothing when `group` is not the ft_group the members run with.
 */
export async function ftGroupMembers(
  reader: FtGroupReader,
  ftGroup: string,
  group: string,
): Promise<{ active: string | null; members: string[] }> {
  if (group !== ftGroup) return { active: null, members: [] };
  const active = await ftActive(reader.members, 1000);
  return { active: active?.name ?? null, members: reader.members.map((m) => m.name) };
}

/** A member known only by its monitoring URL (a pod of the seed's `stan` StatefulSet). */
export class FtEndpoint implements FtMemberReader {
  constructor(
    readonly name: string,
    readonly monitorUrl: string,
  ) {}

  async state(timeoutMs = 1000): Promise<string | null> {
    return (await serverzAt(this.monitorUrl, timeoutMs))?.state ?? null;
  }

  channelz(channel: string): Promise<Channelz | null> {
    return channelzAt(this.monitorUrl, channel);
  }
}

/** The members of one FT group and the client URLs that reach it (the view's whole input). */
export interface FtGroupReader {
  readonly members: readonly FtMemberReader[];
  readonly clientUrls: string[];
}

export class StanMember implements FtMemberReader {
  readonly process: ManagedProcess;

  constructor(
    readonly info: StanMemberInfo,
    readonly confFile: string,
    bin: string,
    readonly logFile: string,
    registry: ProcessRegistry,
    env: NodeJS.ProcessEnv,
  ) {
    // `-sc`: the seed's container args; the one file holds the NATS options and the streaming block.
    this.process = new ManagedProcess({
      name: info.name,
      command: bin,
      args: ['-sc', confFile],
      logFile,
      registry,
      env,
    });
  }

  get name(): string {
    return this.info.name;
  }

  /** /streaming/serverz, or null when the member does not answer. */
  serverz(timeoutMs = 1000): Promise<Serverz | null> {
    return serverzAt(this.info.monitorUrl, timeoutMs);
  }

  /** The member's FT state as it reports it (FT_ACTIVE / FT_STANDBY / …), null when it does not answer. */
  async state(timeoutMs = 1000): Promise<string | null> {
    if (!this.process.running) return null;
    return (await this.serverz(timeoutMs))?.state ?? null;
  }

  /** Healthy = its monitoring answers and it is in the group (active or standby); throws when it exited. */
  async healthy(): Promise<boolean> {
    if (!this.process.running)
      throw new ProcessStartError(
        `${this.name} exited (${describeExit(this.process.lastExit)}); its log says:\n${tailOf(this.logFile)}`,
      );
    const state = await this.state();
    return state === 'FT_ACTIVE' || state === 'FT_STANDBY';
  }

  channelz(channel: string): Promise<Channelz | null> {
    return channelzAt(this.info.monitorUrl, channel);
  }
}

export interface StanClusterOptions {
  dir: string;
  bin: string;
  registry: ProcessRegistry;
  /** 2 or 3 members (the seed: replicas 3 on AWS, 2 in its Azure values) */
  size: number;
}

/** The seed's stan.conf for one member, with local ports and the shared store under the run directory. */
export function stanConfig(input: {
  client: number;
  monitor: number;
  route: number;
  routes: string[];
  storeDir: string;
}): string {
  return [
    `listen: "127.0.0.1:${input.client}"`,
    `http: "127.0.0.1:${input.monitor}"`,
    `cluster {`,
    // nats-server 2.9 (embedded in 0.25.6) rejects routes between dynamically named clusters
    // until the names settle; the seed's nats-server 2.0 had no cluster names. One fixed name.
    `  name: "stan"`,
    `  listen: "127.0.0.1:${input.route}"`,
    `  routes [`,
    ...input.routes.map((r) => `    ${r}`),
    `  ]`,
    `  connect_retries: 10`,
    `}`,
    `streaming {`,
    `  id: ${STAN_CLUSTER_ID}`,
    `  store: file`,
    `  dir: ${JSON.stringify(input.storeDir)}`,
    `  ft_group_name: ${JSON.stringify(STAN_FT_GROUP)}`,
    `  file_options {`,
    `    buffer_size: 32mb`,
    `    sync_on_flush: false`,
    `    slice_max_bytes: 512mb`,
    `    parallel_recovery: 64`,
    `  }`,
    `  store_limits {`,
    `    max_channels: 10`,
    `    max_msgs: 0`,
    `    max_bytes: 256gb`,
    `    max_age: 1h`,
    `    max_subs: 128`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

export class StanCluster implements FtGroupReader {
  readonly members: StanMember[] = [];

  private constructor(readonly storeDir: string) {}

  static async create(opts: StanClusterOptions): Promise<StanCluster> {
    // One directory for every member: the seed's ReadWriteMany volume mounted at /data/stan.
    const storeDir = join(opts.dir, 'stan-shared-volume', 'store');
    mkdirSync(storeDir, { recursive: true });
    const cluster = new StanCluster(storeDir);
    const ports = [];
    for (let i = 0; i < opts.size; i++)
      ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
    const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`);
    const env = { ...process.env, GOMAXPROCS: memberGoMaxProcs(opts.size) };
    ports.forEach((p, i) => {
      const name = `${STAN_MEMBER_PREFIX}-${i}`;
      const memberDir = join(opts.dir, name);
      mkdirSync(memberDir, { recursive: true });
      const conf = join(memberDir, 'stan.conf');
      writeFileSync(conf, stanConfig({ ...p, routes, storeDir }));
      const info = { name, clientUrl: `nats://127.0.0.1:${p.client}`, monitorUrl: `http://127.0.0.1:${p.monitor}` };
      cluster.members.push(new StanMember(info, conf, opts.bin, join(opts.dir, `${name}.log`), opts.registry, env));
    });
    return cluster;
  }

  get clientUrls(): string[] {
    return this.members.map((m) => m.info.clientUrl);
  }

  /** Every member's FT state now (null: not answering), asked in parallel. */
  states(timeoutMs = 1000): Promise<Map<string, string | null>> {
    return ftStates(this.members, timeoutMs);
  }

  /** The member that reports FT_ACTIVE now, or null. */
  active(timeoutMs = 1000): Promise<StanMember | null> {
    return ftActive(this.members, timeoutMs);
  }

  async start(): Promise<void> {
    // Routes form only once peers exist, so start all before waiting on any.
    for (const m of this.members) m.process.start();
    await Promise.all(this.members.map((m) => waitFor(`${m.name} /streaming/serverz`, () => m.healthy(), 30_000)));
    // "If everything was setup properly, one of the servers will be the active node."
    await waitFor('a member reporting FT_ACTIVE', async () => (await this.active()) !== null, 30_000, 100);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.stop(8000)));
  }
}
