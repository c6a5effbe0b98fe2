// A real cluster: no local processes; the plan acts through the Kubernetes API (lib/kube), pods,
// nodes and events are watched onto the timeline, and — with target.natsUrl — JetStream's view of
// the stream gives leaderOf, the observers and the accounting; with target.stan the NATS
// Streaming FT group's view (lib/targets/nats-streaming.ts, the local target's, over each pod's
// monitoring endpoint) gives activeOf / standbyOf, the FT observer, the accounting and the first
// ack after a failover. k6 publishes to the experiment's PUBLISH_URL (e.g. a port-forwarded
// eventing-publisher-proxy, or k6-ha's publisher with its STAN backend).
import { ExperimentError } from '../shared/errors.ts';
import { NO_RECOVERY_SIGNALS, NO_ROLES, type BoundTarget } from '../chaos/target.ts';
import { JetStreamView } from '../jetstream/view.ts';
import { FtView } from './nats-streaming.ts';
import type { KubernetesTargetSpec, TargetModule } from './target-module.ts';

export const kubernetesTarget: TargetModule<KubernetesTargetSpec> = {
  description: 'kubernetes: pods, nodes and workloads of a real cluster (context and namespaces allow-listed)',
  // Selectors are resolved against the cluster (read-only) when the run starts.
  preflightWorld: () => ({ memberNames: [], streams: {} }),
  async start({ experiment, target, log, kube }) {
    if (kube === null)
      throw new ExperimentError('a kubernetes target needs a connection (connectKubernetesTarget)', {
        file: experiment.name,
      });
    const probe = kube.probe;
    const stan = target.stan;
    const ftGroup = kube.ftGroup;
    log(
      `cluster ${kube.clients.context} (${kube.clients.server}), namespaces ${target.namespaces.join(', ')}${probe === null ? '' : `, JetStream at ${probe.servers.join(',')}`}${stan === undefined ? '' : `, NATS Streaming FT group ${stan.ftGroup} (${Object.keys(stan.monitorUrls).join(', ')})`}; k6 publishes to ${experiment.env['PUBLISH_URL'] ?? 'the scenario default PUBLISH_URL'}`,
    );
    return {
      kind: 'kubernetes',
      members: () => [],
      k6Env: () => ({}),
      bind: (timeline): BoundTarget => {
        if (stan !== undefined && ftGroup !== null) {
          const ft = new FtView(
            {
              group: ftGroup,
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
            cluster: (world) => kube.clusterUnderTest(timeline, world),
          };
        }
        const view =
          probe === null
            ? null
            : new JetStreamView(
                { probe, streamMembers: [], sinkUrl: target.sinkUrl ?? null, publisherHealthUrl: null },
                timeline,
              );
        return {
          roles: view?.roles ?? NO_ROLES,
          accountant: view?.accountant ?? null,
          recoverySignals: () => view?.recoverySignals() ?? NO_RECOVERY_SIGNALS,
          prepare: async () => view?.prepare(),
          stop: async () => view?.stop(),
          cluster: (world) => kube.clusterUnderTest(timeline, world),
        };
      },
      stop: () => kube.close(),
    };
  },
};
