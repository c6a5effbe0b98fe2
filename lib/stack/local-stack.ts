// The embedded default: 3 nats-server members, the publisher and the sink as local processes,
// with the seed's stream and a durable consumer. Started, health-checked and stopped as a unit.
import { join } from 'node:path';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { DEFAULT_CONSUMER, DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX } from '../shared/defaults.ts';
import { ProcessStartError } from '../shared/errors.ts';
import { PROJECT_ROOT } from '../tools/toolchain.ts';
import { NatsCluster } from './nats-cluster.ts';
import { describeExit, ManagedProcess, ProcessMember, ProcessRegistry, tailOf, waitFor } from './processes.ts';
import type { LocalStackHandle, StackMember } from './stack.ts';

export interface LocalStackOptions {
  runDir: string;
  natsServerBin: string;
  replicas: 1 | 3;
  stream?: string;
  subjectPrefix?: string;
  consumer?: string;
  /** Fixed publisher port (e.g. 18080 for `k6-ha stack up`); a free one otherwise. */
  publisherPort?: number;
  log?: (line: string) => void;
}

const COMPONENT_MAIN = join(PROJECT_ROOT, 'lib', 'stack', 'component-main.ts');

const componentArgs = (name: string, options: object): string[] => [
  '--import',
  'tsx',
  COMPONENT_MAIN,
  name,
  JSON.stringify(options),
];

/** A component process (`component` defaults to its name: the stan stack's sink is component stan-sink). */
export function componentProcess(
  name: string,
  options: object,
  runDir: string,
  registry: ProcessRegistry,
  component = name,
): ManagedProcess {
  return new ManagedProcess({
    name,
    command: process.execPath,
    args: componentArgs(component, options),
    cwd: PROJECT_ROOT,
    logFile: join(runDir, `${name}.log`),
    registry,
  });
}

/** Starts a component and learns the port it bound; restarts reuse that port (the URL k6 has). */
export async function startComponent(
  proc: ManagedProcess,
  options: { port: number },
  component = proc.name,
): Promise<number> {
  const ready = proc.waitForLine(/ready port=(\d+)/, 30_000);
  proc.start();
  const port = Number((await ready)[1]);
  proc.setArgs(componentArgs(component, { ...options, port }));
  return port;
}

/** Cluster ports are chosen before the members start; if another process takes one first, try new ones. */
async function startCluster(opts: LocalStackOptions, registry: ProcessRegistry): Promise<NatsCluster> {
  for (let attempt = 1; ; attempt++) {
    const cluster = await NatsCluster.create({ dir: opts.runDir, natsServerBin: opts.natsServerBin, registry });
    try {
      await cluster.start();
      return cluster;
    } catch (err) {
      await cluster.stop();
      if (attempt >= 3 || !/address already in use/i.test((err as Error).message)) throw err;
    }
  }
}

/** Health probe of a component process; fails fast with its log when the process died. */
export async function componentHealthy(proc: ManagedProcess, url: string, logFile: string): Promise<boolean> {
  if (!proc.running)
    throw new ProcessStartError(
      `${proc.name} exited (${describeExit(proc.lastExit)}); its log says:\n${tailOf(logFile)}`,
    );
  return httpOk(url);
}

export async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

export class LocalStack implements LocalStackHandle {
  readonly kind = 'jetstream';
  /** bound on first start (port 0 = the component picks a free one: no race with other processes) */
  publisherPort = 0;
  sinkPort = 0;
  private memberList: StackMember[] = [];
  readonly stream: string;
  readonly consumer: string;
  readonly subjectPrefix: string;
  private nc: NatsConnection | null = null;
  private jsmCache: JetStreamManager | null = null;

  private constructor(
    readonly opts: LocalStackOptions,
    readonly registry: ProcessRegistry,
    readonly cluster: NatsCluster,
    readonly publisher: ManagedProcess,
    readonly sink: ManagedProcess,
  ) {
    this.stream = opts.stream ?? DEFAULT_STREAM;
    this.consumer = opts.consumer ?? DEFAULT_CONSUMER;
    this.subjectPrefix = opts.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
    const runDir = opts.runDir;
    this.memberList = [
      ...cluster.members.map(
        (m) =>
          new ProcessMember(m.process, {
            healthy: () => m.healthy(),
            wipeData: () => m.wipe(),
            logFile: m.logFile,
            preStop: m.lameDuck,
          }),
      ),
      new ProcessMember(publisher, {
        healthy: () => httpOk(`${this.publisherUrl}/healthz`),
        logFile: join(runDir, 'publisher.log'),
      }),
      new ProcessMember(sink, { healthy: () => httpOk(`${this.sinkUrl}/healthz`), logFile: join(runDir, 'sink.log') }),
    ];
  }

  get runDir(): string {
    return this.opts.runDir;
  }

  members(): StackMember[] {
    return this.memberList;
  }

  k6Env(): Record<string, string> {
    return { PUBLISH_URL: this.publishUrl };
  }

  get publishUrl(): string {
    return `http://127.0.0.1:${this.publisherPort}/publish`;
  }

  get publisherUrl(): string {
    return `http://127.0.0.1:${this.publisherPort}`;
  }

  get sinkUrl(): string {
    return `http://127.0.0.1:${this.sinkPort}`;
  }

  /** Starts everything; on any failure stops what was started before rethrowing. */
  static async start(opts: LocalStackOptions): Promise<LocalStack> {
    const log = opts.log ?? (() => undefined);
    const registry = new ProcessRegistry(opts.runDir);
    log(`starting 3 nats-server members (JetStream, file storage under ${opts.runDir}) ...`);
    let cluster: NatsCluster;
    try {
      cluster = await startCluster(opts, registry);
    } catch (err) {
      registry.dispose();
      throw err;
    }
    const natsUrls = cluster.clientUrls;
    const stream = opts.stream ?? DEFAULT_STREAM;
    const publisherOptions = {
      natsUrls,
      port: opts.publisherPort ?? 0,
      subjectPrefix: opts.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX,
      ackedIdsFile: join(opts.runDir, 'publisher-acked-ids.log'),
    };
    const sinkOptions = {
      natsUrls,
      stream,
      consumer: opts.consumer ?? DEFAULT_CONSUMER,
      port: 0,
      idsFile: join(opts.runDir, 'sink-ids.log'),
    };
    const publisher = componentProcess('publisher', publisherOptions, opts.runDir, registry);
    const sink = componentProcess('sink', sinkOptions, opts.runDir, registry);
    const stack = new LocalStack(opts, registry, cluster, publisher, sink);
    try {
      await stack.ensureStream();
      log(
        `stream ${stack.stream} (subjects ${stack.subjectPrefix}.>, replicas ${opts.replicas}) and consumer ${stack.consumer} ready`,
      );
      [stack.publisherPort, stack.sinkPort] = await Promise.all([
        startComponent(publisher, publisherOptions),
        startComponent(sink, sinkOptions),
      ]);
      await waitFor(
        'the publisher /healthz',
        () => componentHealthy(publisher, `${stack.publisherUrl}/healthz`, join(opts.runDir, 'publisher.log')),
        30_000,
      );
      await waitFor(
        'the sink /healthz',
        () => componentHealthy(sink, `${stack.sinkUrl}/healthz`, join(opts.runDir, 'sink.log')),
        30_000,
      );
      log(`publisher on ${stack.publishUrl}, sink on ${stack.sinkUrl}`);
      return stack;
    } catch (err) {
      await stack.stop();
      throw err;
    }
  }

  /** A management connection to the cluster (reconnecting across member loss). */
  async jsm(): Promise<JetStreamManager> {
    if (this.jsmCache !== null && this.nc !== null && !this.nc.isClosed()) return this.jsmCache;
    this.nc = await connect({
      servers: this.cluster.clientUrls,
      name: 'k6-ha-sidecar',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    this.jsmCache = await jetstreamManager(this.nc, { timeout: 3000 });
    return this.jsmCache;
  }

  get connection(): NatsConnection | null {
    return this.nc;
  }

  private async ensureStream(): Promise<void> {
    await ensureSeedStream(() => this.jsm(), {
      stream: this.stream,
      subjectPrefix: this.subjectPrefix,
      consumer: this.consumer,
      replicas: this.opts.replicas,
    });
  }

  /** Stops the sink, the publisher and the members, in that order, and the reaper last. */
  async stop(): Promise<void> {
    await this.nc?.close().catch(() => undefined);
    this.nc = null;
    this.jsmCache = null;
    await Promise.all([this.sink.stop(5000), this.publisher.stop(5000)]);
    await this.cluster.stop();
    this.registry.dispose();
  }
}

/**
 * The seed's stream (file storage, limits retention, 2-minute duplicate window) and the sink's
 * durable consumer, created unless they exist; retried while the cluster settles (a meta leader
 * and enough peers are needed).
 */
export async function ensureSeedStream(
  jsm: () => Promise<JetStreamManager>,
  opts: { stream: string; subjectPrefix: string; consumer: string; replicas: number },
): Promise<void> {
  await waitFor(
    `stream ${opts.stream}`,
    async () => {
      const m = await jsm();
      try {
        await m.streams.info(opts.stream);
      } catch {
        await m.streams.add({
          name: opts.stream,
          subjects: [`${opts.subjectPrefix}.>`],
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          discard: DiscardPolicy.Old,
          num_replicas: opts.replicas,
          // The seed's stream: a 2-minute duplicate window deduplicates retried ce-ids.
          duplicate_window: nanos(120_000),
        });
      }
      try {
        await m.consumers.info(opts.stream, opts.consumer);
      } catch {
        await m.consumers.add(opts.stream, {
          durable_name: opts.consumer,
          // Each message acked on its own (see sink.ts): a message delivered to a pull that died
          // with its member is not acked by a later one, it comes back after ack_wait.
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          // 5 s, not 30 s: the redelivery of such a message must come well inside the drain's
          // 10 s no-progress patience (lib/jetstream/view.ts). A late ack only costs a duplicate
          // at the sink, which the sink counts.
          ack_wait: nanos(5_000),
          max_ack_pending: 5000,
        });
      }
      return true;
    },
    60_000,
    500,
  );
}

export interface HostServicesOptions {
  runDir: string;
  /** the NATS members the publisher and the sink connect to (e.g. the client ports of real pods) */
  natsUrls: string[];
  replicas: number;
  stream?: string;
  subjectPrefix?: string;
  consumer?: string;
}

/**
 * The publisher and the sink as host processes in front of a NATS cluster that runs elsewhere (the
 * real pods of a test cluster, or a cluster's port-forwarded members): the seed's stream and the
 * sink's consumer are created if missing, with `replicas` replicas.
 */
export class HostServices {
  publisherPort = 0;
  sinkPort = 0;
  private nc: NatsConnection | null = null;

  private constructor(
    readonly opts: HostServicesOptions,
    readonly registry: ProcessRegistry,
    readonly publisher: ManagedProcess,
    readonly sink: ManagedProcess,
  ) {}

  get publishUrl(): string {
    return `http://127.0.0.1:${this.publisherPort}/publish`;
  }

  get sinkUrl(): string {
    return `http://127.0.0.1:${this.sinkPort}`;
  }

  static async start(opts: HostServicesOptions): Promise<HostServices> {
    const registry = new ProcessRegistry(opts.runDir);
    const stream = opts.stream ?? DEFAULT_STREAM;
    const consumer = opts.consumer ?? DEFAULT_CONSUMER;
    const subjectPrefix = opts.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
    const publisherOptions = {
      natsUrls: opts.natsUrls,
      port: 0,
      subjectPrefix,
      ackedIdsFile: join(opts.runDir, 'publisher-acked-ids.log'),
    };
    const sinkOptions = {
      natsUrls: opts.natsUrls,
      stream,
      consumer,
      port: 0,
      idsFile: join(opts.runDir, 'sink-ids.log'),
    };
    const services = new HostServices(
      opts,
      registry,
      componentProcess('publisher', publisherOptions, opts.runDir, registry),
      componentProcess('sink', sinkOptions, opts.runDir, registry),
    );
    try {
      await ensureSeedStream(() => services.jsm(), { stream, subjectPrefix, consumer, replicas: opts.replicas });
      [services.publisherPort, services.sinkPort] = await Promise.all([
        startComponent(services.publisher, publisherOptions),
        startComponent(services.sink, sinkOptions),
      ]);
      await waitFor(
        'the publisher /healthz',
        () =>
          componentHealthy(
            services.publisher,
            `http://127.0.0.1:${services.publisherPort}/healthz`,
            join(opts.runDir, 'publisher.log'),
          ),
        30_000,
      );
      await waitFor(
        'the sink /healthz',
        () => componentHealthy(services.sink, `${services.sinkUrl}/healthz`, join(opts.runDir, 'sink.log')),
        30_000,
      );
      return services;
    } catch (err) {
      await services.stop();
      throw err;
    }
  }

  /** A management connection to the cluster (reconnecting across member loss). */
  async jsm(): Promise<JetStreamManager> {
    if (this.nc === null || this.nc.isClosed())
      this.nc = await connect({
        servers: this.opts.natsUrls,
        name: 'k6-ha-host-services',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      });
    return jetstreamManager(this.nc, { timeout: 3000 });
  }

  async stop(): Promise<void> {
    await this.nc?.close().catch(() => undefined);
    this.nc = null;
    await Promise.all([this.sink.stop(5000), this.publisher.stop(5000)]);
    this.registry.dispose();
  }
}
