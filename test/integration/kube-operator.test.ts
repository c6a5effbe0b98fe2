// `k6-ha operator`: the manifests it writes are applied to a real kube-apiserver (the test
// cluster of test/support/kube-cluster.ts): the RBAC from deploy/, the Secret, both ConfigMaps,
// the sidecar's Deployment (its pod scheduled and Ready on a kwok node) and Service, and the
// TestRun against k6-operator's TestRun schema (trimmed by hand: test/support/testrun-crd.ts).
// The runner pods themselves need k6-operator's controller and a real kubelet: not run here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeClients } from '../../lib/kube/client.ts';
import type { KubeCluster } from '../support/kube-cluster.ts';
import {
  createNamespace,
  createNodes,
  kubeClusterForTests,
  readyPods,
  uniqueName,
  waitFor,
} from '../support/kube-fixtures.ts';
import { runCli, scratchDir, writeExperiment } from '../support/cli.ts';
import { TESTRUN_CRD } from '../support/testrun-crd.ts';

type Doc = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string } };

describe('k6-ha operator manifests on a real kube-apiserver', { timeout: 300_000, concurrency: false }, () => {
  let cluster: KubeCluster;
  let clients: KubeClients;
  before(async () => {
    ({ cluster, clients } = await kubeClusterForTests());
  });
  after(async () => {
    await cluster?.stop();
  });

  it('the sidecar (RBAC, Secret, ConfigMaps, Deployment, Service) and the TestRun of 3 runners apply; the sidecar pod runs', async () => {
    const ns = await createNamespace(clients, 'operator');
    await createNodes(clients, uniqueName('op'), 1);
    const dir = scratchDir('operator');
    const file = writeExperiment(dir, {
      name: 'op-leader-pod-deleted',
      scenario: 'jetstream-publish',
      target: { kind: 'kubernetes', context: 'k6-ha-test', namespaces: [ns], natsUrl: 'nats://127.0.0.1:4222' },
      env: { RATE: '150', DURATION: '2m', PUBLISH_URL: `http://publisher.${ns}.svc/publish` },
      thresholds: 'ha-observe',
      plan: [{ id: 'delete-leader-pod', at: '30s', action: 'deletePod', target: { leaderOf: 'sap' } }],
    });
    const out = join(dir, 'manifests');
    const res = await runCli([
      'operator',
      file,
      '--parallelism',
      '3',
      '--nats-url',
      `nats://nats.${ns}.svc:4222`,
      '--out-dir',
      out,
    ]);
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /kubectl apply --server-side -f .*1-sidecar\.yaml/);
    const load = (f: string): Doc[] =>
      (clients.lib.loadAllYaml(readFileSync(join(out, f), 'utf8')) as Array<Doc | null>).filter(
        (d): d is Doc => d !== null,
      );
    const sidecarDocs = load('1-sidecar.yaml');
    assert.deepEqual(
      sidecarDocs.map((d) => d.kind),
      ['ServiceAccount', 'Role', 'RoleBinding', 'Secret', 'ConfigMap', 'ConfigMap', 'Deployment', 'Service'],
    );
    const objects = clients.lib.KubernetesObjectApi.makeApiClient(clients.kubeConfig);
    for (const d of sidecarDocs) await objects.create(d as never);

    // The sidecar pod is scheduled and Ready (kwok plays the kubelet: the container does not run).
    const [pod] = await readyPods(clients, ns, 'app.kubernetes.io/component=sidecar', 1);
    assert.equal(pod?.spec?.serviceAccountName, 'k6-ha');
    const args = pod?.spec?.containers[0]?.args ?? [];
    assert.deepEqual(args.slice(0, 2), ['sidecar', '/experiment/experiment.json']);
    assert.equal(args[args.indexOf('--runners') + 1], '3');
    assert.equal(args[args.indexOf('--runner-api') + 1], `http://op-leader-pod-deleted-service-{i}.${ns}.svc:6565`);
    const svc = await clients.core.readNamespacedService({ name: 'op-leader-pod-deleted-sidecar', namespace: ns });
    assert.equal(svc.spec?.ports?.[0]?.port, 8080);
    const exp = await clients.core.readNamespacedConfigMap({ name: 'op-leader-pod-deleted-experiment', namespace: ns });
    const inCluster = JSON.parse(exp.data?.['experiment.json'] ?? '{}') as {
      runners: number;
      target: { context: string; natsUrl: string };
    };
    assert.equal(inCluster.runners, 3);
    assert.equal(inCluster.target.context, 'inClusterContext', 'the sidecar runs with its service account');
    assert.equal(inCluster.target.natsUrl, `nats://nats.${ns}.svc:4222`);
    const script = await clients.core.readNamespacedConfigMap({ name: 'op-leader-pod-deleted-script', namespace: ns });
    assert.ok((script.data?.['jetstream-publish.js'] ?? '').includes('iterationInInstance'), 'the built bundle');
    const secret = await clients.core.readNamespacedSecret({
      name: 'op-leader-pod-deleted-sidecar-token',
      namespace: ns,
    });
    const url = Buffer.from(secret.data?.['url'] ?? '', 'base64').toString('utf8');
    assert.match(url, new RegExp(`^http://op-leader-pod-deleted-sidecar\\.${ns}\\.svc:8080/[0-9a-f]{32}$`));

    // The RBAC works for the sidecar's service account: it may delete pods in its namespace.
    const review = await clients.lib.KubernetesObjectApi.makeApiClient(clients.kubeConfig).create({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      metadata: {},
      spec: {
        user: `system:serviceaccount:${ns}:k6-ha`,
        resourceAttributes: { namespace: ns, verb: 'delete', resource: 'pods' },
      },
    } as never);
    assert.equal((review as { status?: { allowed?: boolean } }).status?.allowed, true, 'k6-ha may delete pods');

    // The TestRun against k6-operator's schema (types of the fields we write).
    await objects.create(TESTRUN_CRD as never);
    await waitFor('the TestRun CRD established', async () => {
      try {
        await objects.list('k6.io/v1alpha1', 'TestRun', ns);
        return true;
      } catch {
        return false;
      }
    });
    const [testrun] = load('2-testrun.yaml');
    assert.equal(testrun?.kind, 'TestRun');
    await objects.create(testrun as never);
    const stored = (await objects.read({
      apiVersion: 'k6.io/v1alpha1',
      kind: 'TestRun',
      metadata: { name: 'op-leader-pod-deleted', namespace: ns },
    } as never)) as unknown as {
      spec: {
        parallelism: number;
        arguments: string;
        script: { configMap: { name: string; file: string } };
        runner: { env: Array<{ name: string }> };
      };
    };
    assert.equal(stored.spec.parallelism, 3);
    assert.deepEqual(stored.spec.script.configMap, {
      name: 'op-leader-pod-deleted-script',
      file: 'jetstream-publish.js',
    });
    assert.match(stored.spec.arguments, /-e RATE=150 .*-e THRESHOLDS=ha-observe/);
    assert.equal(stored.spec.runner.env[0]?.name, 'SIDECAR_URL');
  });

  it('refuses an experiment with a local target (exit 2, names the field)', async () => {
    const res = await runCli(['operator', 'experiments/steady-state.json', '--out-dir', scratchDir('operator-local')]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /target\.kind: "local" is not allowed for `k6-ha operator` — expected "kubernetes"/);
  });
});
