// The Kyma eventing-nats StatefulSet on the real test node: 3 nats-server pods (the pinned binary
// in a local image), hostNetwork with distinct ports per pod index (the downward API's
// apps.kubernetes.io/pod-index label picks the pod's config), JetStream file storage on a per-pod
// hostPath directory under the cluster's dir (it survives a pod deletion, as a PVC does), the NATS
// chart's lame-duck preStop (`nats-server -sl=ldm=<pid file>`) and terminationGracePeriodSeconds
// 60, readiness from /healthz?js-enabled-only=true
// (an exec probe: busybox wget, since each pod's monitor port differs).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeClients } from '../../lib/kube/client.ts';
import { freePort } from '../../lib/stack/free-port.ts';
import { LAME_DUCK, memberGoMaxProcs } from '../../lib/stack/nats-cluster.ts';
import type { KubeCluster, RealNode } from './kube-cluster.ts';

export interface NatsPods {
  name: string;
  namespace: string;
  clientUrls: string[];
  monitorUrls: string[];
  /** hostPath root of the pods' JetStream directories (one per pod name) */
  dataDir: string;
}

export async function createNatsStatefulSet(
  clients: KubeClients,
  cluster: KubeCluster,
  node: RealNode,
  namespace: string,
  name = 'eventing-nats',
): Promise<NatsPods> {
  const ports: Array<{ client: number; route: number; monitor: number }> = [];
  for (let i = 0; i < 3; i++)
    ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`);
  const config: Record<string, string> = {};
  ports.forEach((p, i) => {
    config[`${i}.conf`] = [
      `server_name: $POD_NAME`,
      `host: 127.0.0.1`,
      `port: ${p.client}`,
      `http: "127.0.0.1:${p.monitor}"`,
      `pid_file: "/var/run/nats/nats.pid"`,
      `lame_duck_duration: "${LAME_DUCK.durationS}s"`,
      `lame_duck_grace_period: "${LAME_DUCK.gracePeriodS}s"`,
      `jetstream { store_dir: "/data", max_file_store: 2GB, max_memory_store: 256MB }`,
      `cluster {`,
      `  name: ${JSON.stringify(name)}`,
      `  listen: "127.0.0.1:${p.route}"`,
      `  routes: [${routes.map((r) => JSON.stringify(r)).join(', ')}]`,
      `}`,
      '',
    ].join('\n');
    config[`${i}.monitor`] = String(p.monitor);
  });
  const dataDir = join(cluster.dir, 'nats-data');
  mkdirSync(dataDir, { recursive: true });
  await clients.core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name: `${name}-config` }, data: config },
  });
  const labels = { nats_cluster: name, 'app.kubernetes.io/name': 'nats' };
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
            dnsPolicy: 'Default', // the host's resolv.conf: the test cluster has no DNS service
            terminationGracePeriodSeconds: 60,
            containers: [
              {
                name: 'nats',
                image: node.images.natsServer,
                imagePullPolicy: 'Never',
                args: ['--config', '/etc/nats-config/$(POD_INDEX).conf'],
                env: [
                  { name: 'GOMAXPROCS', value: memberGoMaxProcs(3) },
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  {
                    name: 'POD_INDEX',
                    valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } },
                  },
                ],
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/nats-config' },
                  { name: 'pid', mountPath: '/var/run/nats' },
                  { name: 'data', mountPath: '/data', subPathExpr: '$(POD_NAME)' },
                ],
                // The chart's preStop: lame-duck mode; nats-server exits by itself when it is over.
                lifecycle: { preStop: { exec: { command: ['/nats-server', '-sl=ldm=/var/run/nats/nats.pid'] } } },
                // The chart's readiness (/healthz?js-enabled-only=true) on this pod's own monitor port.
                readinessProbe: {
                  exec: {
                    command: [
                      'sh',
                      '-c',
                      'wget -q -O /dev/null "http://127.0.0.1:$(cat /etc/nats-config/$POD_INDEX.monitor)/healthz?js-enabled-only=true"',
                    ],
                  },
                  periodSeconds: 1,
                  timeoutSeconds: 2,
                },
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: `${name}-config` } },
              { name: 'pid', emptyDir: {} },
              { name: 'data', hostPath: { path: dataDir, type: 'DirectoryOrCreate' } },
            ],
          },
        },
      },
    },
  });
  return {
    name,
    namespace,
    clientUrls: ports.map((p) => `nats://127.0.0.1:${p.client}`),
    monitorUrls: ports.map((p) => `http://127.0.0.1:${p.monitor}`),
    dataDir,
  };
}
