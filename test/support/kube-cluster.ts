// Starts/stops a real local Kubernetes control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok fake kubelet) for integration
// tests, using the binaries built by scripts/kube/setup.sh into .tools/kube/.
//
//   const cluster = await startKubeCluster();
//   try { /* use cluster.kubeconfig */ } finally { await cluster.stop(); }
//
// Fake nodes: create Nodes annotated `kwok.x-k8s.io/node: fake`; kwok makes
// them Ready and makes pods scheduled on them Running/Ready.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface KubeClusterOptions {
  /** Directory for certs, etcd data, logs, PIDs and the kubeconfig. Default: a new temp dir. */
  dir?: string;
  /** Run scripts/kube/setup.sh (slow: ~15 min the first time) instead of failing when binaries are missing. */
  build?: boolean;
  /** Keep `dir` after stop() (it is always kept when passed in explicitly). Default: env K6HA_KUBE_KEEP=1. */
  keep?: boolean;
  /**
   * Also start a real node (scripts/kube/node-up.sh: containerd + runc + kubelet, node "127.0.0.1",
   * local images). Needs root and `apt-get install -y containerd runc containernetworking-plugins
   * busybox-static`; stop() takes it down first and puts the host back.
   */
  realNode?: boolean;
}

/** The real node of a cluster started with `realNode: true` (DIR/node/env). */
export interface RealNode {
  name: string;
  kubeletPort: number;
  containerdSocket: string;
  /** fully qualified names of the imported local images (imagePullPolicy: Never) */
  images: { pause: string; natsServer: string; probe: string; versitygw: string; natsStreamingServer: string };
  /** DIR/node: state, logs, pids of containerd and the kubelet */
  dir: string;
}

export interface KubeCluster {
  /** Path of the admin kubeconfig (context "k6-ha-test", system:masters). */
  kubeconfig: string;
  dir: string;
  /** https://127.0.0.1:<port> */
  apiUrl: string;
  /** Path of the kubectl binary matching the cluster version. */
  kubectl: string;
  /** null unless started with `realNode: true` */
  node: RealNode | null;
  /** Stops every process of the cluster. Idempotent. */
  stop(): Promise<void>;
}

const REPO_ROOT = resolve(decodeURIComponent(new URL('../..', import.meta.url).pathname));
const SCRIPTS = join(REPO_ROOT, 'scripts', 'kube');

interface RunResult {
  code: number;
  output: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolvePromise({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

function tail(text: string, lines = 60): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function readEnvFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

export async function startKubeCluster(opts: KubeClusterOptions = {}): Promise<KubeCluster> {
  const setup = join(SCRIPTS, 'setup.sh');
  const check = await run(setup, opts.build ? [] : ['--check']);
  if (check.code !== 0) {
    throw new Error(
      opts.build
        ? `scripts/kube/setup.sh failed (exit ${check.code}):\n${tail(check.output)}`
        : `Kubernetes test binaries are not available; run scripts/kube/setup.sh ` +
            `(or pass { build: true }). Reason:\n${tail(check.output)}`,
    );
  }

  const ownDir = opts.dir === undefined;
  const dir = ownDir ? mkdtempSync(join(tmpdir(), 'k6-ha-kube-')) : resolve(opts.dir as string);
  mkdirSync(dir, { recursive: true });
  const keep = opts.keep ?? (!ownDir || process.env['K6HA_KUBE_KEEP'] === '1');

  // K6HA_KUBE_OWNER_PID: up.sh starts a watchdog that tears the cluster down
  // (and removes a temp dir) if this process dies without calling stop().
  const up = await run(join(SCRIPTS, 'up.sh'), [dir], {
    ...process.env,
    K6HA_KUBE_OWNER_PID: String(process.pid),
    K6HA_KUBE_WATCHDOG_PURGE: keep ? '0' : '1',
  });
  if (up.code !== 0) {
    throw new Error(`scripts/kube/up.sh ${dir} failed (exit ${up.code}); logs in ${dir}:\n${tail(up.output)}`);
  }

  const envFile = join(dir, 'env');
  const kubeconfig = join(dir, 'kubeconfig');
  if (!existsSync(envFile) || !existsSync(kubeconfig)) {
    throw new Error(`scripts/kube/up.sh ${dir} did not write ${envFile} / ${kubeconfig}:\n${tail(up.output)}`);
  }
  const env = readEnvFile(envFile);
  const apiUrl = env['KUBE_API_URL'];
  const kubectl = env['KUBECTL'];
  if (apiUrl === undefined || kubectl === undefined) {
    throw new Error(`${envFile} lacks KUBE_API_URL or KUBECTL`);
  }

  let node: RealNode | null = null;
  if (opts.realNode === true) {
    const nodeUp = await run(join(SCRIPTS, 'node-up.sh'), [dir]);
    if (nodeUp.code !== 0) {
      await run(join(SCRIPTS, 'down.sh'), keep ? [dir] : [dir, '--purge']);
      throw new Error(
        `scripts/kube/node-up.sh ${dir} failed (exit ${nodeUp.code}); the cluster was taken down:\n${tail(nodeUp.output)}`,
      );
    }
    const nodeEnv = readEnvFile(join(dir, 'node', 'env'));
    node = {
      name: nodeEnv['NODE_NAME'] ?? '127.0.0.1',
      kubeletPort: Number(nodeEnv['KUBELET_PORT']),
      containerdSocket: nodeEnv['CONTAINERD_SOCK'] ?? '',
      images: {
        pause: nodeEnv['PAUSE_IMAGE'] ?? '',
        natsServer: nodeEnv['NATS_IMAGE'] ?? '',
        probe: nodeEnv['PROBE_IMAGE'] ?? '',
        versitygw: nodeEnv['VERSITYGW_IMAGE'] ?? '',
        // empty when .tools/bin/nats-streaming-server was not built (images.sh says so)
        natsStreamingServer: nodeEnv['STAN_IMAGE'] ?? '',
      },
      dir: join(dir, 'node'),
    };
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const args = keep ? [dir] : [dir, '--purge'];
      const down = await run(join(SCRIPTS, 'down.sh'), args);
      if (down.code !== 0) {
        throw new Error(`scripts/kube/down.sh ${dir} failed (exit ${down.code}):\n${tail(down.output)}`);
      }
    })();
    return stopping;
  };

  return {
    kubeconfig,
    dir,
    apiUrl,
    kubectl,
    node,
    stop,
  };
}
