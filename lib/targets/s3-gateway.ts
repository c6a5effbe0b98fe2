// The embedded s3-gateway target (seed 003, the s3gw "One Active pipeline" on one machine): one
// versitygw process owning one directory (lib/stack/s3-gateway/), member s3gw-0. Roles: `leaderOf:
// "gateway"` is s3gw-0, the one active pipeline. Before any load, a preflight signs a request with
// the scenario's own credentials (the experiment's S3_ACCESS_KEY / S3_SECRET_KEY) and creates the
// bucket: refused credentials stop the run with exit 2, naming the variable. After the load the
// accountant reads every object the run PUT back (lib/s3/view.ts, shared with Kubernetes targets).
import { NO_RECOVERY_SIGNALS } from '../chaos/target.ts';
import type { BoundTarget } from '../chaos/target.ts';
import type { Timeline } from '../chaos/timeline.ts';
import { preflightCredentials, S3ObjectAccountant } from '../s3/view.ts';
import { ExperimentError } from '../shared/errors.ts';
import { type S3ObjectsConfig, s3ObjectsConfigFrom } from '../shared/scenario-config.ts';
import { S3GW_MEMBER, type S3GatewayStack, startS3Gateway } from '../stack/s3-gateway/gateway.ts';
import { waitFor } from '../stack/processes.ts';
import { ensureTool } from '../tools/toolchain.ts';
import type { LocalS3GatewayTarget, TargetModule } from './target-module.ts';

/** The group `leaderOf` names: the one active gateway. */
export const GATEWAY_GROUP = 'gateway';

function bind(stack: S3GatewayStack, config: S3ObjectsConfig, _timeline: Timeline): BoundTarget {
  return {
    roles: {
      streamMembers: async (group) =>
        group === GATEWAY_GROUP ? { leader: S3GW_MEMBER, members: [S3GW_MEMBER] } : { leader: null, members: [] },
      waitUntil: async (_condition, timeoutMs) => {
        try {
          await waitFor('the S3 gateway to serve', () => stack.serving(), timeoutMs, 100);
          return true;
        } catch {
          return false;
        }
      },
      currentLeader: () => (stack.member.running ? S3GW_MEMBER : null),
    },
    accountant: new S3ObjectAccountant({ config, serving: () => stack.serving(), servingTimeoutMs: 60_000 }),
    recoverySignals: () => NO_RECOVERY_SIGNALS,
    prepare: async () => undefined,
    stop: async () => undefined,
  };
}

export const s3GatewayTarget: TargetModule<LocalS3GatewayTarget> = {
  description: 'local: one versitygw S3 gateway (posix backend) owning one directory, member s3gw-0',
  preflightWorld: () => ({ memberNames: [S3GW_MEMBER], streams: { [GATEWAY_GROUP]: [S3GW_MEMBER] } }),
  async start({ experiment, target, runDir, log }) {
    if (experiment.scenario !== 's3-objects')
      throw new ExperimentError(
        `scenario ${JSON.stringify(experiment.scenario)} cannot load the s3-gateway target — expected "s3-objects" (the S3 scenario)`,
        { file: experiment.name },
      );
    const bin = await ensureTool('versitygw', { log });
    const stack = await startS3Gateway({
      runDir,
      bin,
      log,
      accessKey: target.accessKey,
      secretKey: target.secretKey,
      region: target.region,
    });
    try {
      // What k6 will run with: the target's endpoint and credentials, overridden by the experiment's env.
      const config = s3ObjectsConfigFrom({ ...stack.k6Env(), ...experiment.env });
      await preflightCredentials(config);
      log(
        `preflight: ${config.endpoint} accepted a request signed as ${config.accessKey}; bucket ${config.bucket} ready`,
      );
      return {
        kind: 's3-gateway',
        members: () => stack.members(),
        k6Env: () => stack.k6Env(),
        bind: (timeline) => bind(stack, config, timeline),
        stop: () => stack.stop(),
      };
    } catch (err) {
      await stack.stop();
      throw err;
    }
  },
};
