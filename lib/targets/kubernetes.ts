// A real cluster: no local processes; the plan acts through the Kubernetes API (lib/kube), pods,
// nodes and events are watched onto the timeline, and the system the scenario loads gives the
// roles, observers and accounting — its view, chosen by the scenario (CLUSTER_VIEWS below):
// JetStream's (with target.natsUrl: leaderOf, the stream polls, the reconciliation by event id;
// k6 publishes to the experiment's PUBLISH_URL, e.g. a port-forwarded eventing-publisher-proxy)
// or S3's for s3-objects (the credentials preflight and the read-back of every object, against the
// experiment's S3_ENDPOINT, e.g. a port-forward to the gateway's pod, where k6 writes them), or —
// with target.stan — the NATS Streaming FT group's (lib/targets/nats-streaming.ts, the local
// target's view over each pod's monitoring endpoint: activeOf / standbyOf, the FT observer, the
// accounting of the channel and the first ack after a failover; k6 publishes through k6-ha's
// publisher with its STAN backend).
import { ExperimentError } from '../shared/errors.ts';
import { NO_RECOVERY_SIGNALS, NO_ROLES, type BoundTarget } from '../chaos/target.ts';
import type { Timeline } from '../chaos/timeline.ts';
import type { Experiment } from '../experiment/experiment.ts';
import { JetStreamView } from '../jetstream/view.ts';
import type { KubernetesConnection } from '../kube/kube-target.ts';
import { preflightCredentials, s3Serving, S3ObjectAccountant, scenarioClient } from '../s3/view.ts';
import type { ScenarioName } from '../shared/scenarios.ts';
import { s3ObjectsConfigFrom } from '../shared/scenario-config.ts';
import { FtView } from './nats-streaming.ts';
import type { KubernetesTargetSpec, TargetModule } from './target-module.ts';

/** What a view adds to the cluster under test: everything of a BoundTarget but the cluster itself. */
type ClusterViewBinding = Omit<BoundTarget, 'cluster'>;

interface ClusterView {
  /** for the start line: what k6 loads and where */
  describe: string;
  bind(timeline: Timeline): ClusterViewBinding;
}

interface ClusterViewContext {
  experiment: Experiment;
  target: KubernetesTargetSpec;
  kube: KubernetesConnection;
}

/** The longest a pod in CrashLoopBackOff waits before it runs again (the kubelet's cap), plus its start. */
const BACKOFF_CAP_MS = 330_000;

/** No view: k6's own counts and the Kubernetes section only. */
const NO_VIEW: ClusterViewBinding = {
  roles: NO_ROLES,
  accountant: null,
  recoverySignals: () => NO_RECOVERY_SIGNALS,
  prepare: async () => undefined,
  stop: async () => undefined,
};

/** JetStream's view when the target names its NATS servers (any scenario; the Kyma experiments publish through the proxy). */
async function jetstreamView({ experiment, target, kube }: ClusterViewContext): Promise<ClusterView> {
  const probe = kube.probe;
  return {
    describe: `${probe === null ? '' : `JetStream at ${probe.servers.join(',')}; `}k6 publishes to ${experiment.env['PUBLISH_URL'] ?? 'the scenario default PUBLISH_URL'}`,
    bind: (timeline) => {
      if (probe === null) return NO_VIEW;
      const view = new JetStreamView(
        { probe, streamMembers: [], sinkUrl: target.sinkUrl ?? null, publisherHealthUrl: null },
        timeline,
      );
      return {
        roles: view.roles,
        accountant: view.accountant,
        recoverySignals: () => view.recoverySignals(),
        prepare: async () => view.prepare(),
        stop: async () => view.stop(),
      };
    },
  };
}

/**
 * S3's view for s3-objects: the gateway is wherever the scenario's S3_ENDPOINT points (the seed's
 * s3gw Service or pod, port-forwarded; the test node's hostNetwork pod). Before any load its
 * credentials are checked and the bucket made (exit 2 naming the variable); after the load every
 * object is read back from there, once the gateway serves again (a CrashLoopBackOff is waited out).
 */
async function s3View({ experiment, target }: ClusterViewContext): Promise<ClusterView> {
  if (target.natsUrl !== undefined)
    throw new ExperimentError(
      `target.natsUrl: s3-objects writes objects, not events — its accounting reads them back from S3_ENDPOINT; leave natsUrl out`,
      { file: experiment.name },
    );
  const config = s3ObjectsConfigFrom(experiment.env);
  await preflightCredentials(
    config,
    "give the gateway's credentials in the experiment's env or with -e S3_ACCESS_KEY=… -e S3_SECRET_KEY=…",
    `point S3_ENDPOINT at the gateway (e.g. kubectl -n ${target.namespaces[0] ?? '<namespace>'} port-forward <the gateway's pod> <port>:<its S3 port>, then -e S3_ENDPOINT=http://127.0.0.1:<port>)`,
  );
  const client = scenarioClient(config, 2000);
  return {
    describe: `k6 writes objects to ${config.endpoint} (bucket ${config.bucket}, signed as ${config.accessKey}: preflight passed); the sidecar reads every one back from there`,
    bind: () => ({
      ...NO_VIEW,
      accountant: new S3ObjectAccountant({
        config,
        serving: () => s3Serving(client),
        servingTimeoutMs: BACKOFF_CAP_MS,
      }),
    }),
  };
}

/** A NATS Streaming FT group's view (target.stan): the seed's StatefulSet `stan`, each pod read at its monitoring URL. */
async function stanView({ experiment, target, kube }: ClusterViewContext): Promise<ClusterView> {
  const stan = target.stan;
  const group = kube.ftGroup;
  if (stan === undefined || group === null) return jetstreamView({ experiment, target, kube });
  return {
    describe: `NATS Streaming FT group ${stan.ftGroup} (${Object.keys(stan.monitorUrls).join(', ')}); k6 publishes to ${experiment.env['PUBLISH_URL'] ?? 'the scenario default PUBLISH_URL'}`,
    bind: (timeline) => {
      const ft = new FtView(
        {
          group,
          ftGroup: stan.ftGroup,
          clusterId: stan.clusterId,
          channel: stan.channel,
          durable: stan.durable,
          publisherUrl: stan.publisherUrl?.replace(/\/+$/, '') ?? null,
          sinkUrl: target.sinkUrl?.replace(/\/+$/, '') ?? null,
        },
        timeline,
      );
      return {
        roles: ft.roles,
        accountant: ft.accountant,
        recoverySignals: () => ft.recoverySignals(),
        prepare: () => ft.prepare(),
        enrichRecovery: (reports, actions) => ft.enrichRecovery(reports, actions),
        stop: () => ft.stop(),
      };
    },
  };
}

/** The view a cluster gets from the scenario that loads it; else the FT group's (target.stan) or JetStream's (target.natsUrl). */
const CLUSTER_VIEWS: Partial<Record<ScenarioName, (ctx: ClusterViewContext) => Promise<ClusterView>>> = {
  's3-objects': s3View,
};

export const kubernetesTarget: TargetModule<KubernetesTargetSpec> = {
  description: 'kubernetes: pods, nodes and workloads of a real cluster (context and namespaces allow-listed)',
  // Selectors are resolved against the cluster (read-only) when the run starts.
  preflightWorld: () => ({ memberNames: [], streams: {} }),
  async start({ experiment, target, log, kube }) {
    if (kube === null)
      throw new ExperimentError('a kubernetes target needs a connection (connectKubernetesTarget)', {
        file: experiment.name,
      });
    const view = await (CLUSTER_VIEWS[experiment.scenario] ?? (target.stan === undefined ? jetstreamView : stanView))({
      experiment,
      target,
      kube,
    });
    log(
      `cluster ${kube.clients.context} (${kube.clients.server}), namespaces ${target.namespaces.join(', ')}; ${view.describe}`,
    );
    return {
      kind: 'kubernetes',
      members: () => [],
      k6Env: () => ({}),
      bind: (timeline): BoundTarget => ({
        ...view.bind(timeline),
        cluster: (world) => kube.clusterUnderTest(timeline, world),
      }),
      stop: () => kube.close(),
    };
  },
};
