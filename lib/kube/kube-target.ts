// A kubernetes target for one run: the checked connection (context, namespaces), JetStream's view
// through target.natsUrl or a NATS Streaming FT group's through target.stan (each pod's
// /streaming/serverz), the driver, the observer, and the Kubernetes section of the report.
// No local stack: k6 publishes to the experiment's PUBLISH_URL (e.g. a kubectl port-forward).
import type { KubernetesReport, RecoveryReport } from '../shared/types.ts';
import type { ChaosWorld, ResolvedPreview } from '../chaos/chaos.ts';
import type { Experiment } from '../experiment/experiment.ts';
import { JetStreamProbe } from '../jetstream/probe.ts';
import { FtEndpoint, type FtGroupReader, ftGroupMembers } from '../stack/stan/stan-cluster.ts';
import type { ClusterUnderTest } from '../chaos/target.ts';
import type { Timeline } from '../chaos/timeline.ts';
import { connectKube, type KubeClients, NamespaceGuard } from './client.ts';
import { KubernetesDriver } from './driver.ts';
import type { ExecRunner } from './exec-kill.ts';
import { type AffectedPod, podRecoveries, restartSeries, seriesStats } from './kube-metrics.ts';
import { KubernetesObserver } from './observer.ts';
import { type StreamView, TargetResolver } from './resolve.ts';

export type KubernetesTarget = Extract<Experiment['target'], { kind: 'kubernetes' }>;

export interface KubernetesConnectOptions {
  /** --context */
  context?: string;
  /** --kubeconfig */
  kubeconfig?: string;
  exec?: ExecRunner;
}

export class KubernetesConnection {
  readonly guard: NamespaceGuard;
  readonly resolver: TargetResolver;
  /** the probe of the stream under test (target.stream); null without target.natsUrl */
  readonly probe: JetStreamProbe | null;
  /** the FT group's pods as their monitoring endpoints show them; null without target.stan */
  readonly ftGroup: FtGroupReader | null;
  private readonly otherProbes = new Map<string, JetStreamProbe>();

  constructor(
    readonly experiment: Experiment,
    readonly target: KubernetesTarget,
    readonly clients: KubeClients,
    private readonly execRunner?: ExecRunner,
  ) {
    this.guard = new NamespaceGuard(target.namespaces);
    this.probe =
      target.natsUrl === undefined
        ? null
        : new JetStreamProbe(target.natsUrl.split(','), target.stream, target.consumer ?? null);
    const stan = target.stan;
    this.ftGroup =
      stan === undefined
        ? null
        : {
            members: Object.entries(stan.monitorUrls).map(([pod, url]) => new FtEndpoint(pod, url.replace(/\/+$/, ''))),
            clientUrls: stan.natsUrl.split(','),
          };
    this.resolver = new TargetResolver({
      clients,
      guard: this.guard,
      serverPods: target.serverPods,
      ...(this.probe === null ? {} : { streamView: (s: string) => this.streamView(s) }),
      ...(this.ftGroup === null ? {} : { ftGroupView: (g: string) => this.ftGroupView(g) }),
    });
  }

  private probeFor(stream: string): JetStreamProbe {
    if (this.probe !== null && this.probe.stream === stream) return this.probe;
    let p = this.otherProbes.get(stream);
    if (p === undefined) {
      p = new JetStreamProbe(this.probe?.servers ?? [], stream, null);
      this.otherProbes.set(stream, p);
    }
    return p;
  }

  async streamView(stream: string): Promise<StreamView> {
    const info = await this.probeFor(stream).streamInfo();
    return { leader: info.leader, followers: info.replicas.map((r) => r.name).filter((n) => n !== info.leader) };
  }

  /** Who is active now, from each pod's /streaming/serverz (the reader the local target uses). */
  async ftGroupView(group: string): Promise<{ active: string | null; members: string[] }> {
    if (this.ftGroup === null || this.target.stan === undefined) return { active: null, members: [] };
    return ftGroupMembers(this.ftGroup, this.target.stan.ftGroup, group);
  }

  /** true when the target has a view (a stream or an FT group) for `wait` actions */
  private get hasView(): boolean {
    return this.probe !== null || this.ftGroup !== null;
  }

  driver(world?: Pick<ChaosWorld, 'waitUntil' | 'currentLeader'>): KubernetesDriver {
    return new KubernetesDriver({
      clients: this.clients,
      resolver: this.resolver,
      blastRadius: this.experiment.blastRadius,
      allowNodeDeletion: this.target.allowNodeDeletion,
      ...(world === undefined ? {} : { world }),
      ...(this.execRunner === undefined ? {} : { exec: this.execRunner }),
    });
  }

  /** The plan resolved against the cluster now, read-only; refuses what matches nothing or too much. */
  async preview(): Promise<ResolvedPreview[]> {
    // `wait` only needs the view to exist, which a run provides through the sidecar.
    const world = this.hasView ? { waitUntil: async () => false, currentLeader: () => null } : undefined;
    return this.driver(world).preview(this.experiment.plan);
  }

  /** The driver and the watches for one run, bound to the sidecar's timeline. */
  clusterUnderTest(timeline: Timeline, world: ChaosWorld): ClusterUnderTest {
    const driver = this.driver(this.hasView ? world : undefined);
    const observer = new KubernetesObserver({ clients: this.clients, namespaces: this.target.namespaces, timeline });
    return {
      driver,
      start: () => observer.start(),
      stop: () => observer.stop(),
      enrich: withPodRecovery,
      report: () =>
        kubernetesReport({
          context: this.clients.context,
          namespaces: this.target.namespaces,
          affected: driver.affected,
          observer,
        }),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.otherProbes.values()].map((p) => p.close()));
    await this.probe?.close();
  }
}

/** Checks the context (before any API call) and builds the connection; throws KubeContextError. */
export async function connectKubernetesTarget(
  exp: Experiment,
  opts: KubernetesConnectOptions = {},
): Promise<KubernetesConnection> {
  if (exp.target.kind !== 'kubernetes') throw new Error(`experiment ${exp.name} has no kubernetes target`);
  const clients = await connectKube({
    planContext: exp.target.context,
    ...(opts.context === undefined ? {} : { contextOverride: opts.context }),
    ...(opts.kubeconfig === undefined ? {} : { kubeconfigFile: opts.kubeconfig }),
  });
  return new KubernetesConnection(exp, exp.target, clients, opts.exec);
}

export function kubernetesReport(input: {
  context: string;
  namespaces: readonly string[];
  affected: AffectedPod[];
  observer: Pick<KubernetesObserver, 'podEvents' | 'clusterEvents' | 'notes'>;
}): KubernetesReport {
  const pods = podRecoveries(input.affected, input.observer.podEvents, input.observer.clusterEvents);
  const notes = [...input.observer.notes];
  for (const p of pods) {
    if (p.replacement === null)
      notes.push(`${p.actionId}: no replacement for ${p.namespace}/${p.pod} was seen during the run`);
    else if (p.readySeconds === null)
      notes.push(`${p.actionId}: the replacement ${p.namespace}/${p.replacement} was not Ready before the run ended`);
  }
  const eventReasons: Record<string, number> = {};
  for (const e of input.observer.clusterEvents) eventReasons[e.reason] = (eventReasons[e.reason] ?? 0) + 1;
  const numbers = (xs: Array<number | null>): number[] => xs.filter((x): x is number => x !== null);
  return {
    context: input.context,
    namespaces: [...input.namespaces],
    pods,
    rescheduleSeconds: seriesStats(numbers(pods.map((p) => p.rescheduleSeconds))),
    readySeconds: seriesStats(numbers(pods.map((p) => p.readySeconds))),
    restarts: restartSeries(input.observer.podEvents),
    eventReasons,
    notes,
  };
}

/** Adds each action's slowest pod (reschedule, Ready, volume) to its recovery report. */
export function withPodRecovery(reports: RecoveryReport[], k: KubernetesReport): RecoveryReport[] {
  return reports.map((r) => {
    const mine = k.pods.filter((p) => p.actionId === r.actionId);
    if (mine.length === 0) return r;
    const slowest = (xs: Array<number | null>): number | null =>
      xs.some((x) => x === null) || xs.length === 0 ? null : Math.max(...(xs as number[]));
    const volume = mine.map((p) => p.volumeAttachSeconds).filter((x): x is number => x !== null);
    return {
      ...r,
      rescheduleSeconds: slowest(mine.map((p) => p.rescheduleSeconds)),
      readySeconds: slowest(mine.map((p) => p.readySeconds)),
      volumeAttachSeconds: volume.length === 0 ? null : Math.max(...volume),
    };
  });
}
