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

export class StanStack implements LocalStackHandle {
  readonly kind = 'nats-streaming';
  publisherPort = 0;
  sinkPort = 0;
  private readonly memberList: StackMember[];

  private constructor(
    readonly opts: StanStackOptions,
    readonly registry: ProcessRegistry,
    readonly cluster: StanCluster,
    readonly publisher: ManagedProcess,
    readonly sink: ManagedProcess,
  ) {
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
    return { PUBLISH_URL: `${this.publisherUrl}/publish` };
  }

  get publisherUrl(): string {
    return `http://127.0.0.1:${this.publisherPort}`;
  }

  get sinkUrl(): string {
    return `http://127.0.0.1:${this.sinkPort}`;
  }

  static async start(opts: StanStackOptions): Promise<StanStack> {
    const log = opts.log ?? (() => undefined);
    const registry = new ProcessRegistry(opts.runDir);
    const cluster = await StanCluster.create({ dir: opts.runDir, bin: opts.bin, registry, size: opts.size });
    const natsUrls = cluster.clientUrls;
    const publisherOptions = {
      natsUrls,
      port: 0,
      subjectPrefix: 'kyma',
      ackedIdsFile: join(opts.runDir, 'publisher-acked-ids.log'),
      stan: { clusterId: STAN_CLUSTER_ID, channel: STAN_CHANNEL, republish: opts.republish },
    };
    const sinkOptions = {
      natsUrls,
      clusterId: STAN_CLUSTER_ID,
      channel: STAN_CHANNEL,
      durable: STAN_DURABLE,
      port: 0,
      idsFile: join(opts.runDir, 'sink-ids.log'),
    };
    const publisher = componentProcess('publisher', publisherOptions, opts.runDir, registry);
    const sink = componentProcess('sink', sinkOptions, opts.runDir, registry, 'stan-sink');
    const stack = new StanStack(opts, registry, cluster, publisher, sink);
    try {
      log(`starting ${opts.size} nats-streaming-server members (FT group, one file store at ${cluster.storeDir}) ...`);
      await cluster.start();
      const active = await cluster.active();
      log(`FT group ready: ${active?.name ?? '?'} is active, the others stand by`);
      [stack.publisherPort, stack.sinkPort] = await Promise.all([
        startComponent(publisher, publisherOptions),
        startComponent(sink, sinkOptions, 'stan-sink'),
      ]);
      await waitFor(
        'the publisher /readyz',
        () => componentHealthy(publisher, `${stack.publisherUrl}/readyz`, join(opts.runDir, 'publisher.log')),
        30_000,
      );
      log(`publisher on ${stack.publisherUrl}/publish (channel ${STAN_CHANNEL}), sink on ${stack.sinkUrl}`);
      return stack;
    } catch (err) {
      await stack.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.sink.stop(5000), this.publisher.stop(5000)]);
    await this.cluster.stop();
    this.registry.dispose();
  }
}
