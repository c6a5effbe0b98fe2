// A real cluster: no local processes; the plan acts through the Kubernetes API (lib/kube), pods,
// nodes and events are watched onto the timeline, and — with target.natsUrl — JetStream's view of
// the stream gives leaderOf, the observers and the accounting. k6 publishes to the experiment's
// PUBLISH_URL (e.g. a port-forwarded eventing-publisher-proxy).
import { ExperimentError } from '../shared/errors.ts';
import { NO_RECOVERY_SIGNALS, NO_ROLES, type BoundTarget } from '../chaos/target.ts';
import { JetStreamView } from '../jetstream/view.ts';
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
    log(
      `cluster ${kube.clients.context} (${kube.clients.server}), namespaces ${target.namespaces.join(', ')}${probe === null ? '' : `, JetStream at ${probe.servers.join(',')}`}; k6 publishes to ${experiment.env['PUBLISH_URL'] ?? 'the scenario default PUBLISH_URL'}`,
    );
    return {
      kind: 'kubernetes',
      members: () => [],
      k6Env: () => ({}),
      bind: (timeline): BoundTarget => {
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
