// S3's view of the bucket under test, bound to a run: the credentials preflight before any load,
// the gateway's readiness (a signed ListBuckets), and the accountant — after the load it reads
// every object the run PUT back (lib/measure/object-accounting.ts: lost, corrupt, recovered).
// Shared by the embedded s3-gateway target (lib/targets/s3-gateway.ts) and by Kubernetes targets
// loaded by s3-objects (lib/targets/kubernetes.ts), as lib/jetstream/view.ts is for streams: the
// endpoint is the scenario's own (S3_ENDPOINT), so the sidecar reads back exactly where k6 wrote.
import type { AccountingRequest, TargetAccountant } from '../chaos/target.ts';
import { computeObjectAccounting, type ObjectPut, type ObjectRead } from '../measure/object-accounting.ts';
import { S3CredentialsError } from '../shared/errors.ts';
import { objectBody, objectKey, opOf, runPrefix, seqOfKey, sizeOf } from '../shared/s3-objects.ts';
import type { S3ObjectsConfig } from '../shared/scenario-config.ts';
import type { Accounting } from '../shared/types.ts';
import { NodeS3Client, s3ErrorCode, sha256Hex } from '../stack/s3-gateway/s3-client.ts';
import { waitFor } from '../stack/processes.ts';

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

/** A client signed with the scenario's credentials. */
export function scenarioClient(config: S3ObjectsConfig, timeoutMs = 10_000): NodeS3Client {
  return new NodeS3Client({
    endpoint: config.endpoint,
    accessKey: config.accessKey,
    secretKey: config.secretKey,
    region: config.region,
    timeoutMs,
  });
}

/**
 * A signed CreateBucket with the scenario's credentials: 200 (created) or 409 (already ours) pass;
 * a refusal of the credentials throws S3CredentialsError (exit 2) naming the variable, and so does
 * an endpoint that does not answer. `fix` says where the right credentials come from.
 */
export async function preflightCredentials(
  config: S3ObjectsConfig,
  fix = "give the credentials the gateway was started with (the s3-gateway target's accessKey / secretKey, or leave S3_ACCESS_KEY and S3_SECRET_KEY unset to use them)",
  unreachableFix = 'is the gateway running?',
): Promise<void> {
  let res;
  try {
    res = await scenarioClient(config).createBucket(config.bucket);
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new S3CredentialsError(
      `invalid S3_ENDPOINT=${JSON.stringify(config.endpoint)}: it does not answer S3 requests (${cause}); ${unreachableFix}`,
      { setting: 'S3_ENDPOINT', code: String(cause), cause: err },
    );
  }
  if (res.status === 200 || res.status === 409) return;
  const code = s3ErrorCode(res.body) ?? `status ${res.status}`;
  const setting = credentialSetting(code);
  if (setting !== null) {
    const value = setting === 'S3_ACCESS_KEY' ? JSON.stringify(config.accessKey) : '(the secret given)';
    throw new S3CredentialsError(
      `invalid ${setting}=${value}: ${config.endpoint} refused a request signed with it (${code}); ${fix}`,
      { setting, code },
    );
  }
  throw new S3CredentialsError(
    `invalid S3_BUCKET=${JSON.stringify(config.bucket)}: creating it at ${config.endpoint} answered ${res.status} ${code}`,
    { setting: 'S3_BUCKET', code },
  );
}

/** Serving: a signed ListBuckets answers 200. */
export async function s3Serving(client: NodeS3Client): Promise<boolean> {
  try {
    return (await client.listBuckets()).status === 200;
  } catch {
    return false;
  }
}

export interface S3ObjectAccountantOptions {
  config: S3ObjectsConfig;
  /** whether the gateway serves again (the final read-back waits for it, a slow start is not loss) */
  serving: () => Promise<boolean>;
  /** how long to wait for that: a pod in CrashLoopBackOff may wait out a 5-minute back-off */
  servingTimeoutMs: number;
}

/** The final read-back of every object the run PUT, by the object rule of lib/shared/s3-objects.ts. */
export class S3ObjectAccountant implements TargetAccountant {
  private zeroMs: number | null = null;

  constructor(private readonly opts: S3ObjectAccountantOptions) {}

  async atLoadStart(): Promise<Record<string, unknown>> {
    this.zeroMs = Date.now();
    return { bucket: this.opts.config.bucket, endpoint: this.opts.config.endpoint };
  }

  async account(request: AccountingRequest): Promise<Accounting> {
    const { runTag, notes } = request;
    const { config } = this.opts;
    const { bucket, mix, sizes } = config;
    // The plan's restore (or the kubelet) brings the gateway back before this; a slow start is waited for, not counted as loss.
    await waitFor(
      'the S3 gateway to serve for the final read-back',
      this.opts.serving,
      this.opts.servingTimeoutMs,
      200,
    );
    const client = scenarioClient(config, 30_000);
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
      `read back ${puts.length} object key(s) of ${attempted} operations (${config.endpoint}, bucket ${bucket}, prefix ${runPrefix(runTag)}): ${accounting.inStream} readable, ${accounting.lost} acked and lost, ${accounting.corrupt ?? 0} corrupt`,
    );
    return accounting;
  }
}
