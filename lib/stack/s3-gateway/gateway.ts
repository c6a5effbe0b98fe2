// The embedded S3 gateway: one versitygw process (github.com/versity/versitygw, posix backend)
// owning one directory under the run directory — the local stand-in for the seed's s3gw, one
// radosgw process with exclusive access to one PV. The member "s3gw-0" is killable (SIGKILL: the
// seed's "anomalous exit"), stoppable through versitygw's own shutdown (SIGTERM: it stops
// accepting, finishes what is in flight, shuts the backend down; SIGKILL after the grace period)
// and restartable on the same directory and port, as a pod rescheduled onto its PV.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessStartError } from '../../shared/errors.ts';
import { freePort } from '../free-port.ts';
import { ManagedProcess, ProcessMember, ProcessRegistry } from '../processes.ts';
import type { LocalStackHandle, StackMember } from '../stack.ts';
import { NodeS3Client } from './s3-client.ts';

export const S3GW_MEMBER = 's3gw-0';

export interface S3GatewayOptions {
  runDir: string;
  /** the versitygw binary (lib/tools: ensureTool('versitygw')) */
  bin: string;
  accessKey: string;
  secretKey: string;
  region: string;
  log?: (line: string) => void;
  /** fixed port (the endpoint must survive restarts); a free one otherwise */
  port?: number;
}

export class S3GatewayStack implements LocalStackHandle {
  readonly kind = 's3-gateway';

  constructor(
    readonly runDir: string,
    readonly endpoint: string,
    readonly dataDir: string,
    readonly member: ProcessMember,
    /** signed with the gateway's root credentials */
    readonly client: NodeS3Client,
    private readonly registry: ProcessRegistry,
    private readonly credentials: { accessKey: string; secretKey: string; region: string },
  ) {}

  members(): StackMember[] {
    return [this.member];
  }

  k6Env(): Record<string, string> {
    return {
      S3_ENDPOINT: this.endpoint,
      S3_ACCESS_KEY: this.credentials.accessKey,
      S3_SECRET_KEY: this.credentials.secretKey,
      S3_REGION: this.credentials.region,
    };
  }

  /** Serving: a signed ListBuckets with the root credentials answers 200. */
  async serving(): Promise<boolean> {
    try {
      return (await this.client.listBuckets()).status === 200;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    await this.member.stop();
    this.registry.dispose();
  }
}

/** Starts versitygw on its directory and waits until it serves; on failure stops what was started. */
export async function startS3Gateway(opts: S3GatewayOptions): Promise<S3GatewayStack> {
  const log = opts.log ?? (() => undefined);
  mkdirSync(opts.runDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const dataDir = join(opts.runDir, S3GW_MEMBER, 'data');
  const logFile = join(opts.runDir, `${S3GW_MEMBER}.log`);
  mkdirSync(dataDir, { recursive: true });
  const registry = new ProcessRegistry(opts.runDir);
  const proc = new ManagedProcess({
    name: S3GW_MEMBER,
    command: opts.bin,
    args: ['--port', `127.0.0.1:${port}`, '--region', opts.region, '--quiet', 'posix', dataDir],
    // The root credentials through the environment, so they stay out of `ps`.
    env: { ...process.env, ROOT_ACCESS_KEY: opts.accessKey, ROOT_SECRET_KEY: opts.secretKey },
    logFile,
    registry,
  });
  const client = new NodeS3Client({
    endpoint,
    accessKey: opts.accessKey,
    secretKey: opts.secretKey,
    region: opts.region,
    timeoutMs: 2000,
  });
  let stack: S3GatewayStack | null = null;
  const member = new ProcessMember(proc, {
    healthy: () => (stack === null ? Promise.resolve(false) : stack.serving()),
    wipeData: () => {
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir, { recursive: true });
    },
    logFile,
    startTimeoutMs: 30_000,
  });
  stack = new S3GatewayStack(opts.runDir, endpoint, dataDir, member, client, registry, {
    accessKey: opts.accessKey,
    secretKey: opts.secretKey,
    region: opts.region,
  });
  try {
    log(`starting ${S3GW_MEMBER}: versitygw posix on ${dataDir} ...`);
    await member.start();
    log(`${S3GW_MEMBER} serves S3 on ${endpoint} (versitygw, posix backend)`);
    return stack;
  } catch (err) {
    await stack.stop();
    if (err instanceof ProcessStartError) throw err;
    throw new ProcessStartError(`${S3GW_MEMBER} did not start: ${(err as Error).message}`, { cause: err });
  }
}
