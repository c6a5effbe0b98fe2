// The embedded s3-gateway target (seed 003, the s3gw "One Active pipeline" on one machine): one
// versitygw process owning one directory (lib/stack/s3-gateway/), member s3gw-0. Roles: `leaderOf:
// "gateway"` is s3gw-0, the one active pipeline. Before any load, a preflight signs a request with
// the scenario's own credentials (the experiment's S3_ACCESS_KEY / S3_SECRET_KEY) and creates the
// bucket: refused credentials stop the run with exit 2, naming the variable. After the load the
// accountant reads every object the run PUT back (lib/measure/object-accounting.ts).
import { NO_RECOVERY_SIGNALS } from '../chaos/target.ts';
import type { AccountingRequest, BoundTarget, TargetAccountant } from '../chaos/target.ts';
import type { Timeline } from '../chaos/timeline.ts';
import { computeObjectAccounting, type ObjectPut, type ObjectRead } from '../measure/object-accounting.ts';
import { ExperimentError, S3CredentialsError } from '../shared/errors.ts';
import { objectBody, objectKey, opOf, runPrefix, seqOfKey, sizeOf } from '../shared/s3-objects.ts';
import { type S3ObjectsConfig, s3ObjectsConfigFrom } from '../shared/scenario-config.ts';
import type { Accounting } from '../shared/types.ts';
import { S3GW_MEMBER, type S3GatewayStack, startS3Gateway } from '../stack/s3-gateway/gateway.ts';
import { NodeS3Client, s3ErrorCode, sha256Hex } from '../stack/s3-gateway/s3-client.ts';
import { waitFor } from '../stack/processes.ts';
import { ensureTool } from '../tools/toolchain.ts';
import type { LocalS3GatewayTarget, TargetModule } from './target-module.ts';

/** The group `leaderOf` names: the one active gateway. */
export const GATEWAY_GROUP = 'gateway';
/** Reads in flight at once during the final read-back. */
const READ_CONCURRENCY = 16;

/** What an S3 error code in the preflight says to fix. */
function credentialSetting(code: string): string | null {
  // versitygw answers an access key it does not know with 404 XAdminUserNotFound, AWS with 403 InvalidAccessKeyId.
  if (code === 'InvalidAccessKeyId' || code === 'XAdminUserNotFound') return 'S3_ACCESS_KEY';
  if (code === 'SignatureDoesNotMatch') return 'S3_SECRET_KEY';
  if (code === 'AccessDenied') return 'S3_ACCESS_KEY';
  return null;
}

/**
 * A signed CreateBucket with the scenario's credentials: 200 (created) or 409 (already ours) pass;
 * a refusal of the credentials throws S3CredentialsError (exit 2) naming the variable.
 */
export async function preflightCredentials(config: S3ObjectsConfig): Promise<void> {
  const client = new NodeS3Client({
    endpoint: config.endpoint,
    accessKey: config.accessKey,
    secretKey: config.secretKey,
    region: config.region,
  });
  const res = await client.createBucket(config.bucket);
  if (res.status === 200 || res.status === 409) return;
  const code = s3ErrorCode(res.body) ?? `status ${res.status}`;
  const setting = credentialSetting(code);
  if (setting !== null) {
    const value = setting === 'S3_ACCESS_KEY' ? JSON.stringify(config.accessKey) : '(the secret given)';
    throw new S3CredentialsError(
      `invalid ${setting}=${value}: ${config.endpoint} refused a request signed with it (${code}); give the credentials the gateway was started with (the s3-gateway target's accessKey / secretKey, or leave S3_ACCESS_KEY and S3_SECRET_KEY unset to use them)`,
      { setting, code },
    );
  }
  throw new S3CredentialsError(
    `invalid S3_BUCKET=${JSON.stringify(config.bucket)}: creating it at ${config.endpoint} answered ${res.status} ${code}`,
    { setting: 'S3_BUCKET', code },
  );
}

class ObjectAccountant implements TargetAccountant {
  private zeroMs: number | null = null;

  constructor(
    private readonly stack: S3GatewayStack,
    private readonly config: S3ObjectsConfig,
  ) {}

  async atLoadStart(): Promise<Record<string, unknown>> {
    this.zeroMs = Date.now();
    return { bucket: this.config.bucket, endpoint: this.config.endpoint };
  }

  async account(request: AccountingRequest): Promise<Accounting> {
    const { runTag, notes } = request;
    const { bucket, mix, sizes } = this.config;
    // The plan's restore brings the gateway back before this; a slow start is waited for, not counted as loss.
    await waitFor('the S3 gateway to serve for the final read-back', () => this.stack.serving(), 60_000, 200);
    const client = new NodeS3Client({
      endpoint: this.config.endpoint,
      accessKey: this.config.accessKey,
      secretKey: this.config.secretKey,
      region: this.config.region,
      timeoutMs: 30_000,
    });
    const listedKeys = await client.listKeys(bucket, runPrefix(runTag));
    const listed = listedKeys.map((key) => ({ key, seq: seqOfKey(runTag, key) }));
    let attempted = request.attempted;
    if (attempted === null) {
      const highest = Math.max(-1, ...listed.map((l) => l.seq ?? -1), ...request.notAcked.keys());
      attempted = highest + 1;
      notes.push(
        `k6's API was not reachable, so the number of operations sent (${attempted}) is inferred from the highest key seen; acked objects lost at the very end would go unnoticed`,
      );
    }
    const puts: ObjectPut[] = [];
    for (let seq = 0; seq < attempted + request.inFlightWindow; seq++) {
      if (opOf(seq, mix) !== 'put') continue;
      const key = objectKey(runTag, seq);
      puts.push({ seq, key, sha256: sha256Hex(objectBody(key, sizeOf(seq, sizes))) });
    }
    let disagreeing = 0;
    for (const put of puts) {
      const r = request.notAcked.get(put.seq);
      if (r !== undefined && r.key !== undefined && (r.key !== put.key || r.sha256 !== put.sha256)) disagreeing++;
    }
    if (disagreeing > 0)
      notes.push(
        `${disagreeing} PUT report(s) from k6 name a key or sha256 other than the object rule gives (lib/shared/s3-objects.ts): k6 and the sidecar disagree on what was written`,
      );
    const read = new Map<string, ObjectRead>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < puts.length) {
        const put = puts[next++] as ObjectPut;
        const res = await client.getObject(bucket, put.key);
        if (res.status === 200) read.set(put.key, sha256Hex(res.body));
        else if (res.status === 404) read.set(put.key, null);
        else throw new Error(`reading ${put.key} back answered ${res.status} ${s3ErrorCode(res.body) ?? ''}`.trim());
      }
    };
    await Promise.all(Array.from({ length: READ_CONCURRENCY }, () => worker()));
    const accounting = computeObjectAccounting({
      attempted,
      puts,
      notAcked: request.notAcked,
      read,
      listed,
      inFlightWindow: request.inFlightWindow,
      reportsUndelivered: request.reportsUndelivered,
      zeroMs: this.zeroMs,
    });
    notes.push(
      `read back ${puts.length} object key(s) of ${attempted} operations (bucket ${bucket}, prefix ${runPrefix(runTag)}): ${accounting.inStream} readable, ${accounting.lost} acked and lost, ${accounting.corrupt ?? 0} corrupt`,
    );
    return accounting;
  }
}

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
    accountant: new ObjectAccountant(stack, config),
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
