// Seed 004's StatefulSet `stan` on the real test node: 3 nats-streaming-server pods (the pinned
// v0.25.6 in a local image) with the seed's stan.conf (streaming id test-cluster, ft_group
// "test-cluster", the file store and its options and limits, the embedded NATS servers routed to
// one another), `-sc <conf>` as the seed's container args, terminationGracePeriodSeconds 30, and
// ONE shared volume mounted at /data/stan by every pod. The seed's volume is a ReadWriteMany PVC
// (EFS, azurefile); the test node has no storage provider, so a hostPath directory that all three
// pods mount stands in for it: one directory, one store, one lock, as on EFS (an NFS lock would
// behave differently from the local file lock: not shown here). hostNetwork with ports per pod
// index (the downward API's apps.kubernetes.io/pod-index label picks the pod's config). The
// seed's liveness probe (GET / on the monitor port) and a readiness probe on
// /streaming/serverz, both exec'd with busybox wget since each pod's monitor port differs.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeClients } from '../../lib/kube/client.ts';
import { freePort } from '../../lib/stack/free-port.ts';
import { memberGoMaxProcs } from '../../lib/stack/nats-cluster.ts';
import { stanConfig } from '../../lib/stack/stan/stan-cluster.ts';
import type { KubeCluster, RealNode } from './kube-cluster.ts';

export interface StanPods {
  name: string;
  namespace: string;
  /** pod name → its client URL / monitoring URL */
  clientUrls: Record<string, string>;
  monitorUrls: Record<string, string>;
  /** the hostPath directory every pod mounts at /data/stan (the store is store/ in it) */
  sharedDir: string;
}

export async function createStanStatefulSet(
  clients: KubeClients,
  cluster: KubeCluster,
  node: RealNode,
  namespace: string,
  name = 'stan',
): Promise<StanPods> {
  if (node.images.natsStreamingServer === '')
    throw new Error(
      'the real node has no nats-streaming-server image: .tools/bin/nats-streaming-server is not built — run `npm run setup` (builds nats-streaming-server v0.25.6), then the test again (node-up.sh builds the image)',
    );
  const ports: Array<{ client: number; route: number; monitor: number }> = [];
  for (let i = 0; i < 3; i++)
    ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`);
  const config: Record<string, string> = {};
  ports.forEach((p, i) => {
    config[`${i}.conf`] = stanConfig({ ...p, routes, storeDir: '/data/stan/store' });
    config[`${i}.monitor`] = String(p.monitor);
  });
  const sharedDir = join(cluster.dir, 'stan-shared-volume');
  mkdirSync(sharedDir, { recursive: true });
  await clients.core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name: `${name}-config` }, data: config },
  });
  const labels = { app: name };
  const wget = (path: string): string[] => [
    'sh',
    '-c',
    `wget -q -O /dev/null "http://127.0.0.1:$(cat /etc/stan-config/$POD_INDEX.monitor)${path}"`,
  ];
  await clients.apps.createNamespacedStatefulSet({
    namespace,
    body: {
      metadata: { name, labels },
      spec: {
        replicas: 3,
        serviceName: name,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            nodeSelector: { 'kubernetes.io/hostname': node.name },
            hostNetwork: true,
            dnsPolicy: 'Default',
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: 'stan',
                image: node.images.natsStreamingServer,
                imagePullPolicy: 'Never',
                args: ['-sc', '/etc/stan-config/$(POD_INDEX).conf'],
                env: [
                  { name: 'GOMAXPROCS', value: memberGoMaxProcs(3) },
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  {
                    name: 'POD_INDEX',
                    valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } },
                  },
                ],
                volumeMounts: [
                  { name: 'config-volume', mountPath: '/etc/stan-config' },
                  { name: 'efs', mountPath: '/data/stan' },
                ],
                livenessProbe: { exec: { command: wget('/') }, initialDelaySeconds: 10, timeoutSeconds: 5 },
                readinessProbe: { exec: { command: wget('/streaming/serverz') }, periodSeconds: 1, timeoutSeconds: 2 },
              },
            ],
            volumes: [
              { name: 'config-volume', configMap: { name: `${name}-config` } },
              // the seed's `efs` PVC (ReadWriteMany): one directory shared by every pod
              { name: 'efs', hostPath: { path: sharedDir, type: 'DirectoryOrCreate' } },
            ],
          },
        },
      },
    },
  });
  const pod = (i: number): string => `${name}-${i}`;
  return {
    name,
    namespace,
    clientUrls: Object.fromEntries(ports.map((p, i) => [pod(i), `nats://127.0.0.1:${p.client}`])),
    monitorUrls: Object.fromEntries(ports.map((p, i) => [pod(i), `http://127.0.0.1:${p.monitor}`])),
    sharedDir,
  };
}
