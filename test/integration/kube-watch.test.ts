// lib/kube/watch.ts against a real kube-apiserver: a watch the server ends (timeoutSeconds)
// reconnects from the last version and misses nothing. The "410 Gone" relist is not provoked
// here: this v1.36 apiserver answers a watch from resourceVersion 1, even after an etcd
// compaction, with the current objects instead of 410, so the relist path stays untested.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { KubeClients } from '../../lib/kube/client.ts';
import { ResourceWatch, type ObjectList } from '../../lib/kube/watch.ts';
import type { KubeCluster } from '../support/kube-cluster.ts';
import { createNamespace, kubeClusterForTests, waitFor } from '../support/kube-fixtures.ts';

describe(
  'ResourceWatch (list, then watch from the resourceVersion) against a real kube-apiserver',
  { timeout: 180_000 },
  () => {
    let cluster: KubeCluster | null = null;
    let clients: KubeClients;

    before(async () => {
      ({ cluster, clients } = await kubeClusterForTests());
    });

    after(async () => {
      await cluster?.stop();
    });

    function watchConfigMaps(ns: string, list: () => Promise<ObjectList<V1ConfigMap>>) {
      const seen = { synced: [] as string[][], added: [] as string[], notes: [] as string[] };
      const watch = new ResourceWatch<V1ConfigMap>({
        clients,
        path: `/api/v1/namespaces/${ns}/configmaps`,
        list,
        onSync: (items) => seen.synced.push(items.map((c) => c.metadata?.name ?? '')),
        onEvent: (type, cm) => {
          if (type === 'ADDED') seen.added.push(cm.metadata?.name ?? '');
        },
        onNote: (kind) => seen.notes.push(kind),
        // The server ends each watch after a second: every few events cross a reconnect.
        serverTimeoutSeconds: 1,
      });
      return { watch, seen };
    }

    const createConfigMap = (ns: string, name: string): Promise<unknown> =>
      clients.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name }, data: { k: 'v' } } });

    it('reconnects each time the server ends the watch, and sees every object created across those reconnects', async () => {
      const ns = await createNamespace(clients, 'watch');
      const { watch, seen } = watchConfigMaps(ns, () => clients.core.listNamespacedConfigMap({ namespace: ns }));
      await watch.start();
      try {
        for (let i = 0; i < 8; i++) {
          await createConfigMap(ns, `cm-${i}`);
          await new Promise((r) => setTimeout(r, 400));
        }
        await waitFor('all 8 ADDED events', async () => seen.added.filter((n) => n.startsWith('cm-')).length === 8);
        assert.ok(seen.notes.filter((n) => n === 'reconnect').length >= 2, `reconnects: ${seen.notes.join(',')}`);
        assert.equal(
          seen.notes.filter((n) => n === 'relist').length,
          0,
          'a reconnect continues from its version; it does not list again',
        );
        assert.deepEqual([...new Set(seen.added)].sort(), seen.added.slice().sort(), 'no object delivered twice');
      } finally {
        await watch.stop();
      }
    });
  },
);
