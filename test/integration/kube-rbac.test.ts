// deploy/rbac-*.yaml as users apply them: the driver and the watches run as the k6-ha
// ServiceAccount, with a token from the TokenRequest API, against a real kube-apiserver that
// authorises with RBAC. What the namespaced Role grants must be enough for the pod, workload and
// watch side of a plan; node actions must be refused until rbac-nodes.yaml is applied too, and the
// run must carry on without node events meanwhile.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeClients } from '../../lib/kube/client.ts';
import { connectKube, NamespaceGuard } from '../../lib/kube/client.ts';
import { KubernetesDriver } from '../../lib/kube/driver.ts';
import { KubernetesObserver } from '../../lib/kube/observer.ts';
import { TargetResolver } from '../../lib/kube/resolve.ts';
import { PROJECT_ROOT } from '../../lib/tools/toolchain.ts';
import type { KubeCluster } from '../support/kube-cluster.ts';
import {
  createDeployment,
  createNamespace,
  createNodes,
  kubeClusterForTests,
  plan,
  readyPods,
  runPlan,
  scratchTimeline,
  uniqueName,
  waitFor,
} from '../support/kube-fixtures.ts';
import { scratchDir } from '../support/cli.ts';

/** The manifests with their namespace (kyma-system) and cluster-wide names made this test's own. */
function manifests(admin: KubeClients, file: string, ns: string, suffix: string): Array<Record<string, unknown>> {
  const text = readFileSync(join(PROJECT_ROOT, 'deploy', file), 'utf8')
    .replaceAll('kyma-system', ns)
    .replaceAll('k6-ha-node-chaos', `k6-ha-node-chaos-${suffix}`);
  return (admin.lib.loadAllYaml(text) as Array<Record<string, unknown> | null>).filter(
    (d): d is Record<string, unknown> => d !== null,
  );
}

async function apply(admin: KubeClients, docs: Array<Record<string, unknown>>): Promise<void> {
  const rbac = admin.kubeConfig.makeApiClient(admin.lib.RbacAuthorizationV1Api);
  for (const body of docs) {
    const namespace = (body['metadata'] as { namespace?: string } | undefined)?.namespace ?? '';
    switch (body['kind']) {
      case 'ServiceAccount':
        await admin.core.createNamespacedServiceAccount({ namespace, body });
        break;
      case 'Role':
        await rbac.createNamespacedRole({ namespace, body: body as never });
        break;
      case 'RoleBinding':
        await rbac.createNamespacedRoleBinding({ namespace, body: body as never });
        break;
      case 'ClusterRole':
        await rbac.createClusterRole({ body: body as never });
        break;
      case 'ClusterRoleBinding':
        await rbac.createClusterRoleBinding({ body: body as never });
        break;
      default:
        throw new Error(`unexpected kind ${String(body['kind'])} in deploy/`);
    }
  }
}

/** A kubeconfig that authenticates as the ServiceAccount (a bound token, 1 h), same server and CA. */
async function serviceAccountClients(admin: KubeClients, ns: string): Promise<KubeClients> {
  const token = (
    await admin.core.createNamespacedServiceAccountToken({
      name: 'k6-ha',
      namespace: ns,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    })
  ).status?.token;
  assert.ok(token, 'the TokenRequest API issued a token');
  const server = admin.kubeConfig.getCurrentCluster();
  assert.ok(server);
  const cluster: Record<string, unknown> = { server: server.server };
  if (server.caData !== undefined) cluster['certificate-authority-data'] = server.caData;
  if (server.caFile !== undefined) cluster['certificate-authority'] = server.caFile;
  const file = join(scratchDir('rbac-kubeconfig'), 'config');
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'k6-ha-sa',
      clusters: [{ name: 'test', cluster }],
      users: [{ name: 'k6-ha', user: { token } }],
      contexts: [{ name: 'k6-ha-sa', context: { cluster: 'test', user: 'k6-ha', namespace: ns } }],
    }),
  );
  return connectKube({ planContext: 'k6-ha-sa', kubeconfigFile: file });
}

function driverFor(clients: KubeClients, ns: string): KubernetesDriver {
  const resolver = new TargetResolver({ clients, guard: new NamespaceGuard([ns]) });
  return new KubernetesDriver({
    clients,
    resolver,
    blastRadius: 1,
    allowNodeDeletion: false,
    evictionRetryMs: 200,
    outOfServiceWaitMs: 20_000,
  });
}

describe(
  'deploy/rbac-*.yaml: the driver as the k6-ha ServiceAccount against an RBAC apiserver',
  { timeout: 240_000 },
  () => {
    let cluster: KubeCluster | null = null;
    let admin: KubeClients;

    before(async () => {
      ({ cluster, clients: admin } = await kubeClusterForTests());
    });

    after(async () => {
      await cluster?.stop();
    });

    it('the namespaced Role is enough for pods, workloads and watches; node actions need rbac-nodes.yaml, and the run goes on without it', async () => {
      const ns = await createNamespace(admin, 'rbac');
      const group = uniqueName('rbac');
      const [node] = await createNodes(admin, group, 1);
      await createDeployment(admin, ns, 'epp', { replicas: 2, group });
      await readyPods(admin, ns, 'app=epp', 2);
      await apply(admin, manifests(admin, 'rbac-namespaced.yaml', ns, group));
      const sa = await waitFor('the ServiceAccount can list pods', async () => {
        const c = await serviceAccountClients(admin, ns);
        return (await c.core.listNamespacedPod({ namespace: ns }).then(
          () => true,
          () => false,
        ))
          ? c
          : null;
      });
      const timeline = scratchTimeline('rbac');
      const observer = new KubernetesObserver({ clients: sa, namespaces: [ns], timeline });
      try {
        // Pods and events are watched; nodes are forbidden, which is noted, not fatal.
        await observer.start();
        assert.ok(
          observer.notes.some((n) => /nodes are not watched: listing nodes is forbidden/.test(n)),
          observer.notes.join('\n'),
        );
        const driver = driverFor(sa, ns);
        const allowed = await runPlan(
          driver,
          plan([
            { id: 'delete-one', at: '1ms', action: 'deletePod', target: { labelSelector: 'app=epp' } },
            { id: 'scale', at: '1ms', action: 'scale', target: { deployment: 'epp' }, replicas: 1, restoreAfter: '1s' },
            { id: 'restart', at: '1ms', action: 'rolloutRestart', target: { deployment: 'epp' } },
            { id: 'wait', at: '2s', action: 'waitRollout', target: { deployment: 'epp' }, timeout: '60s' },
          ]),
          timeline,
        );
        assert.deepEqual(
          allowed.executed.map((e) => [e.id, e.error]),
          [
            ['delete-one', null],
            ['scale', null],
            ['restart', null],
            ['wait', null],
          ],
        );
        assert.ok(
          timeline.events.some((e) => e.kind === 'pod-deleted'),
          'the pod watch (as the ServiceAccount) saw the deletion',
        );

        const refused = await runPlan(
          driver,
          plan([{ id: 'cordon', at: '1ms', action: 'cordon', target: { name: node as string } }]),
          timeline,
        );
        assert.match(refused.executed[0]?.error ?? '', /403|forbidden/i);
        assert.notEqual(
          (await admin.core.readNode({ name: node as string })).spec?.unschedulable,
          true,
          'nothing cordoned',
        );

        await apply(admin, manifests(admin, 'rbac-nodes.yaml', ns, group));
        const cordon = await waitFor(
          'rbac-nodes.yaml lets the ServiceAccount cordon',
          async () => {
            const r = await runPlan(
              driver,
              plan([
                { id: 'cordon', at: '1ms', action: 'cordon', target: { name: node as string }, uncordonAfter: '500ms' },
              ]),
              timeline,
            );
            return r.executed[0]?.error === null ? r : null;
          },
          20_000,
          500,
        );
        assert.equal(cordon.executed[0]?.error, null);
        assert.notEqual(
          (await admin.core.readNode({ name: node as string })).spec?.unschedulable,
          true,
          'uncordoned again',
        );
      } finally {
        await observer.stop();
        timeline.close();
      }
    });
  },
);
