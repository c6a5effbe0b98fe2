// Objects for tests against the real kube-apiserver of test/support/kube-cluster.ts: generated
// namespace and node names, kwok fake nodes, StatefulSets and Deployments pinned to a test's own
// nodes, and a helper that runs a plan through the real ChaosExecutor.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { connectKube, type KubeClients } from '../../lib/kube/client.ts';
import { type ChaosDriver, ChaosExecutor, type ExecutedAction } from '../../lib/chaos/chaos.ts';
import { actionSchema, type ChaosAction } from '../../lib/experiment/experiment.ts';
import { Timeline } from '../../lib/chaos/timeline.ts';
import { captureHostStateWithNoNodeUp, type HostState } from './host-state.ts';
import { startKubeCluster, type KubeCluster, type RealNode } from './kube-cluster.ts';

export const TEST_CONTEXT = 'k6-ha-test';

/** A cluster for one test file; fails (does not skip) with the setup hint when the binaries are missing. */
export async function kubeClusterForTests(): Promise<{ cluster: KubeCluster; clients: KubeClients }> {
  let cluster: KubeCluster;
  try {
    cluster = await startKubeCluster();
  } catch (err) {
    throw new Error(
      `these tests need a local control plane — run scripts/kube/setup.sh first (builds etcd, kube-apiserver, kwok into .tools/kube): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return { cluster, clients: await connectKube({ planContext: TEST_CONTEXT, kubeconfigFile: cluster.kubeconfig }) };
}

export const uniqueName = (prefix: string): string => `${prefix}-${randomBytes(3).toString('hex')}`;

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last === null ? '' : `: ${(last as Error).message}`}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function createNamespace(clients: KubeClients, prefix: string): Promise<string> {
  const name = uniqueName(`k6ha-${prefix}`);
  await clients.core.createNamespace({ body: { metadata: { name } } });
  // Pods are refused until the namespace's default ServiceAccount exists.
  await waitFor(`ServiceAccount default in ${name}`, async () =>
    (await clients.core.listNamespacedServiceAccount({ namespace: name })).items.some(
      (s) => s.metadata?.name === 'default',
    ),
  );
  return name;
}

/** kwok fake nodes labelled `k6ha-group=<group>` (so a test's pods land only on its own nodes), Ready. */
export async function createNodes(clients: KubeClients, group: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${group}-n${i}`);
  for (const name of names) {
    await clients.core.createNode({
      body: {
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake' },
          labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'k6ha-group': group },
        },
      },
    });
  }
  await waitFor(`nodes ${names.join(',')} Ready`, async () => {
    const nodes = (await clients.core.listNode({ labelSelector: `k6ha-group=${group}` })).items;
    return (
      nodes.length === count &&
      nodes.every((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    );
  });
  return names;
}

function podTemplate(labels: Record<string, string>, group: string, antiAffinity: boolean): Record<string, unknown> {
  return {
    metadata: { labels },
    spec: {
      nodeSelector: { 'k6ha-group': group },
      containers: [{ name: 'main', image: 'registry.invalid/fake:1' }],
      terminationGracePeriodSeconds: 1,
      ...(antiAffinity
        ? {
            affinity: {
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [
                  { labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' },
                ],
              },
            },
          }
        : {}),
    },
  };
}

export async function createStatefulSet(
  clients: KubeClients,
  namespace: string,
  name: string,
  opts: { replicas: number; group: string; labels?: Record<string, string>; antiAffinity?: boolean },
): Promise<void> {
  const labels = opts.labels ?? { app: name };
  await clients.apps.createNamespacedStatefulSet({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas: opts.replicas,
        serviceName: name,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: labels },
        template: podTemplate(labels, opts.group, opts.antiAffinity ?? false),
      },
    },
  });
}

export async function createDeployment(
  clients: KubeClients,
  namespace: string,
  name: string,
  opts: { replicas: number; group: string; labels?: Record<string, string> },
): Promise<void> {
  const labels = opts.labels ?? { app: name };
  await clients.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas: opts.replicas,
        selector: { matchLabels: labels },
        template: podTemplate(labels, opts.group, false),
      },
    },
  });
}

const ready = (p: V1Pod): boolean =>
  p.metadata?.deletionTimestamp == null &&
  (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);

/** Waits until exactly `count` pods match and all are Ready; returns them sorted by name. */
export async function readyPods(
  clients: KubeClients,
  namespace: string,
  labelSelector: string,
  count: number,
  timeoutMs = 30_000,
): Promise<V1Pod[]> {
  return waitFor(
    `${count} Ready pods ${labelSelector} in ${namespace}`,
    async () => {
      const pods = (await clients.core.listNamespacedPod({ namespace, labelSelector })).items;
      const live = pods.filter((p) => p.metadata?.deletionTimestamp == null);
      return live.length === count && pods.length === count && live.every(ready)
        ? live.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))
        : null;
    },
    timeoutMs,
  );
}

export function scratchTimeline(prefix: string): Timeline {
  return new Timeline(join(mkdtempSync(join(tmpdir(), `k6ha-${prefix}-`)), 'timeline.jsonl'));
}

export const plan = (actions: unknown[]): ChaosAction[] => actions.map((a) => actionSchema.parse(a));

/** Runs a plan through the real executor, starting now; resolves when every action finished. */
export async function runPlan(
  driver: ChaosDriver,
  actions: ChaosAction[],
  timeline: Timeline,
): Promise<{ executor: ChaosExecutor; executed: ExecutedAction[] }> {
  const executor = new ChaosExecutor(actions, driver, timeline);
  timeline.zero ??= Date.now();
  executor.start(Date.now());
  await waitFor('every action to start', async () => executor.executed.length === actions.length, 60_000, 20);
  await executor.settle();
  return { executor, executed: executor.executed };
}

/** The Debian packages a real node needs (scripts/kube/node-up.sh; .ci/run installs them). */
export const REAL_NODE_PACKAGES = 'containerd runc containernetworking-plugins busybox-static';

/**
 * A control plane plus a real node (containerd + runc + kubelet, node "127.0.0.1"); fails (never
 * skips) saying what to install or how to run when root or the packages are missing. The host is
 * captured before anything starts, while no other real node is up: compare it after `cluster.stop()`
 * with hostChanges().
 */
export async function realNodeClusterForTests(): Promise<{
  cluster: KubeCluster;
  clients: KubeClients;
  node: RealNode;
  hostBefore: HostState;
}> {
  if (process.getuid?.() !== 0)
    throw new Error(
      'these tests run a real kubelet (cgroups, mounts, containers) and need root: run them as root, e.g. `sudo -E npm test -- test/integration/kube-node.test.ts`',
    );
  const missing = ['containerd', 'ctr', 'runc'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  if (!existsSync('/usr/lib/cni/loopback')) missing.push('/usr/lib/cni/loopback');
  if (!existsSync('/bin/busybox')) missing.push('/bin/busybox');
  if (missing.length > 0)
    throw new Error(
      `a real node needs ${missing.join(', ')}: apt-get install -y ${REAL_NODE_PACKAGES} (.ci/run does), then scripts/kube/setup.sh builds the kubelet`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'k6-ha-kube-'));
  const hostBefore = await captureHostStateWithNoNodeUp([dir]);
  let cluster: KubeCluster;
  try {
    cluster = await startKubeCluster({ dir, realNode: true, keep: process.env['K6HA_KUBE_KEEP'] === '1' });
  } catch (err) {
    throw new Error(
      `a real node did not come up — run scripts/kube/setup.sh first (builds the control plane and the kubelet into .tools/kube): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const node = cluster.node as RealNode;
  return {
    cluster,
    clients: await connectKube({ planContext: TEST_CONTEXT, kubeconfigFile: cluster.kubeconfig }),
    node,
    hostBefore,
  };
}
