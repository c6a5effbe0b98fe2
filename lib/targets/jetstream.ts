// The embedded JetStream target: 3 nats-server members (JetStream, file storage under the run
// directory), the publisher and the sink as local processes, and JetStream's view of stream `sap`.
import { DEFAULT_CONSUMER, DEFAULT_STREAM } from '../shared/defaults.ts';
import { JetStreamProbe } from '../jetstream/probe.ts';
import { LocalStack } from '../stack/local-stack.ts';
import { ensureTool } from '../tools/toolchain.ts';
import { JetStreamView } from '../jetstream/view.ts';
import type { LocalJetStreamTarget, TargetModule } from './target-module.ts';

export const NATS_MEMBERS = ['eventing-nats-0', 'eventing-nats-1', 'eventing-nats-2'];

export const jetstreamTarget: TargetModule<LocalJetStreamTarget> = {
  description: 'local: a 3-member nats-server cluster, an HTTP publisher and a sink (stream sap)',
  replicas: { allowed: ['1', '3'] },
  preflightWorld: () => ({
    memberNames: [...NATS_MEMBERS, 'publisher', 'sink'],
    streams: { [DEFAULT_STREAM]: NATS_MEMBERS },
  }),
  async start({ target, runDir, log }) {
    const natsServerBin = await ensureTool('nats-server', { log });
    const stack = await LocalStack.start({ runDir, natsServerBin, replicas: target.replicas, log });
    const probe = new JetStreamProbe(stack.cluster.clientUrls, DEFAULT_STREAM, DEFAULT_CONSUMER);
    const streamMembers = stack.cluster.members.map((m) => m.name);
    return {
      kind: 'jetstream',
      members: () => stack.members(),
      k6Env: () => stack.k6Env(),
      bind: (timeline) =>
        new JetStreamView(
          { probe, streamMembers, sinkUrl: stack.sinkUrl, publisherHealthUrl: `${stack.publisherUrl}/healthz` },
          timeline,
        ),
      stop: async () => {
        await probe.close();
        await stack.stop();
      },
    };
  },
};
