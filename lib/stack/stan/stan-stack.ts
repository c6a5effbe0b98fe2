// The nats-streaming local stack: the FT group (stan-0..N-1 on one shared file store), the HTTP
// publisher with its STAN backend and the durable-subscription sink, as local processes started,
// health-checked and stopped as a unit.
import { join } from 'node:path';
import { componentHealthy, componentProcess, httpOk, startComponent } from '../local-stack.ts';
import { type ManagedProcess, ProcessMember, ProcessRegistry, waitFor } from '../processes.ts';
import type { LocalStackHandle, StackMember } from '../stack.ts';
import { STAN_CHANNEL, STAN_CLUSTER_ID, StanCluster } from './stan-cluster.ts';

export const STAN_DURABLE = 'k6-ha-sink';

export interface StanStackOptions {
  runDir: string;
  bin: string;
  /** members of the FT group: 2 or 3 */
  size: number;
  /** publish again after an ack timeout (the publisher's STAN backend) */
  republish: boolean;
  log?: (line: string) => void;
}

export interface StanHostServicesOptions {
  runDir: string;
  /** the FT group's client URLs (the local members, or the pods' ports) */
  natsUrls: string[];
  clusterId?: string;
  channel?: string;
  /** publish again after an ack timeout (the publisher's STAN backend) */
  republish: boolean;
  /** 0 (the default): any free port */
  publisherPort?: number;
  sinkPort?: number;
  registry?: ProcessRegistry;
}

/**
 * k6-ha's publisher with its STAN backend and the durable-subscription sink, against any FT
 * group's client URLs: the local stack's members, or the pods of the seed's `stan` StatefulSet
 * (`k6-ha stack stan-services`; the Kubernetes test runs them on the host like that).
 */
export class StanHostServices {
  publisherPort = 0;
  sinkPort = 0;
  private readonly ownRegistry: boolean;

  private constructor(
    readonly opts: StanHostServicesOptions,
    readonly registry: ProcessRegistry,
    readonly publisher: ManagedProcess,
    readonly sink: ManagedProcess,
    private readonly publisherOptions: { port: number },
    private readonly sinkOptions: { port: number },
  ) {
    this.ownRegistry = opts.registry === undefined;
  }

  get publisherUrl(): string {
    return `http://127.0.0.1:${this.publisherPort}`;
  }

  get publishUrl(): string {
    return `${this.publisherUrl}/publish`;
  }

  get sinkUrl(): string {
    return `http://127.0.0.1:${this.sinkPort}`;
  }

  /** The processes, not yet started (StanStack makes them members). */
  static create(opts: StanHostServicesOptions): StanHostServices {
    const registry = opts.registry ?? new ProcessRegistry(opts.runDir);
    const clusterId = opts.clusterId ?? STAN_CLUSTER_ID;
    const channel = opts.channel ?? STAN_CHANNEL;
    const publisherOptions = {
      natsUrls: opts.natsUrls,
      port: opts.publisherPort ?? 0,
      subjectPrefix: 'kyma',
      ackedIdsFile: join(opts.runDir, 'publisher-acked-ids.log'),
      stan: { clusterId, channel, republish: opts.republish },
    };
    const sinkOptions = {
      natsUrls: opts.natsUrls,
      clusterId,
      channel,
      durable: STAN_DURABLE,
      port: opts.sinkPort ?? 0,
      idsFile: join(opts.runDir, 'sink-ids.log'),
    };
    const publisher = componentProcess('publisher', publisherOptions, opts.runDir, registry);
    const sink = componentProcess('sink', sinkOptions, opts.runDir, registry, 'stan-sink');
    return new StanHostServices(opts, registry, publisher, sink, publisherOptions, sinkOptions);
  }

  /** Starts both and waits for the publisher's STAN session (/readyz). */
  async start(): Promise<void> {
    [this.publisherPort, this.sinkPort] = await Promise.all([
      startComponent(this.publisher, this.publisherOptions),
      startComponent(this.sink, this.sinkOptions, 'stan-sink'),
    ]);
    await waitFor(
      'the publisher /readyz',
      () => componentHealthy(this.publisher, `${this.publisherUrl}/readyz`, join(this.opts.runDir, 'publisher.log')),
      30_000,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([this.sink.stop(5000), this.publisher.stop(5000)]);
    if (this.ownRegistry) this.registry.dispose();
  }
}

export class StanStack implements LocalStackHandle {
  readonly kind = 'nats-streaming';
  private readonly memberList: StackMember[];

  private constructor(
    readonly opts: StanStackOptions,
    readonly registry: ProcessRegistry,
    readonly cluster: StanCluster,
    readonly services: StanHostServices,
  ) {
    const { publisher, sink } = services;
    this.memberList = [
      ...cluster.members.map(
        // No preStop: the seed's stan container has none; SIGTERM runs the server's own Shutdown
        // (store closed, lock released). No wipe: the store is shared by the whole group.
        (m) => new ProcessMember(m.process, { healthy: () => m.healthy(), logFile: m.logFile }),
      ),
      new ProcessMember(publisher, {
        healthy: () => httpOk(`${this.publisherUrl}/readyz`),
        logFile: join(opts.runDir, 'publisher.log'),
        startTimeoutMs: 60_000,
      }),
      new ProcessMember(sink, {
        healthy: () => httpOk(`${this.sinkUrl}/healthz`),
        logFile: join(opts.runDir, 'sink.log'),
        startTimeoutMs: 60_000,
      }),
    ];
  }

  get runDir(): string {
    return this.opts.runDir;
  }

  members(): StackMember[] {
    return this.memberList;
  }

  k6Env(): Record<string, string> {
    return { PUBLISH_URL: this.services.publishUrl };
  }

  get publisherUrl(): string {
    return this.services.publisherUrl;
  }

  get sinkUrl(): string {
    return this.services.sinkUrl;
  }

  static async start(opts: StanStackOptions): Promise<StanStack> {
    const log = opts.log ?? (() => undefined);
    const registry = new ProcessRegistry(opts.runDir);
    const cluster = await StanCluster.create({ dir: opts.runDir, bin: opts.bin, registry, size: opts.size });
    const services = StanHostServices.create({
      runDir: opts.runDir,
      natsUrls: cluster.clientUrls,
      republish: opts.republish,
      registry,
    });
    const stack = new StanStack(opts, registry, cluster, services);
    try {
      log(`starting ${opts.size} nats-streaming-server members (FT group, one file store at ${cluster.storeDir}) ...`);
      await cluster.start();
      const active = await cluster.active();
      log(`FT group ready: ${active?.name ?? '?'} is active, the others stand by`);
      await services.start();
      log(`publisher on ${stack.publisherUrl}/publish (channel ${STAN_CHANNEL}), sink on ${stack.sinkUrl}`);
      return stack;
    } catch (err) {
      await stack.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.services.stop();
    await this.cluster.stop();
    this.registry.dispose();
  }
}
