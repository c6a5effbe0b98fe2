// Chaos from inside k6, backend 2 (stock k6, k6/http with a service-account token): real k6 runs
// build/jetstream-publish.js with CHAOS_PLAN against the real local JetStream stack (the load) and
// the real kube-apiserver of the test cluster (kwok pods), no sidecar. The one-iteration `chaos`
// scenario deletes a pod by label and the pod of the real JetStream stream leader (leaderOf, read
// from nats-server's /jsz over k6/http), waits until each is Ready again, refuses an action
// beyond the blast radius, and records every step with its time in the summary's timeline. A dry
// run asks the API server for a server-side dry run and deletes nothing. And `k6-ha setup
// --xk6-kubernetes` (backend 1) either builds a k6 with k6/x/kubernetes or says in one line why not.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeClients } from '../../lib/kube/client.ts';
import { PROJECT_ROOT } from '../../lib/tools/toolchain.ts';
import { LocalStack } from '../../lib/stack/local-stack.ts';
import { buildScenarios, scenarioScript, startK6 } from '../../lib/run/k6-process.ts';
import type { KubeCluster } from '../support/kube-cluster.ts';
import {
  createDeployment,
  createNamespace,
  createNodes,
  createStatefulSet,
  kubeClusterForTests,
  readyPods,
  uniqueName,
} from '../support/kube-fixtures.ts';
import { requireK6, requireNatsServer, runCli, scratchDir } from '../support/cli.ts';

interface Entry {
  offset_ms: number;
  source: string;
  kind: string;
  target: string | null;
  detail: Record<string, unknown>;
}

/** The RBAC of deploy/rbac-namespaced.yaml in `ns`, and a bound token of its k6-ha ServiceAccount. */
async function serviceAccountToken(admin: KubeClients, ns: string): Promise<string> {
  const text = readFileSync(join(PROJECT_ROOT, 'deploy', 'rbac-namespaced.yaml'), 'utf8').replaceAll('kyma-system', ns);
  const objects = admin.lib.KubernetesObjectApi.makeApiClient(admin.kubeConfig);
  for (const doc of admin.lib.loadAllYaml(text) as Array<Record<string, unknown> | null>)
    if (doc !== null) await objects.create(doc as never);
  const token = (
    await admin.core.createNamespacedServiceAccountToken({
      name: 'k6-ha',
      namespace: ns,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    })
  ).status?.token;
  assert.ok(token, 'the TokenRequest API issued a token');
  return token;
}

async function jetstreamLeader(stack: LocalStack): Promise<string> {
  for (const m of stack.cluster.members) {
    const body = (await (await fetch(`${m.info.monitorUrl}/jsz?streams=true`)).json()) as {
      account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: { leader?: string } }> }>;
    };
    for (const a of body.account_details ?? [])
      for (const s of a.stream_detail ?? []) if (s.name === 'sap' && s.cluster?.leader) return s.cluster.leader;
  }
  throw new Error('no leader of sap');
}

describe(
  'chaos from inside k6 (real k6, real kube-apiserver with kwok pods, real nats-server)',
  { timeout: 420_000, concurrency: false },
  () => {
    let cluster: KubeCluster;
    let admin: KubeClients;
    let stack: LocalStack;
    let ns: string;
    let token: string;
    const dir = scratchDir('in-k6-chaos');
    before(async () => {
      await requireK6();
      ({ cluster, clients: admin } = await kubeClusterForTests());
      ns = await createNamespace(admin, 'ink6');
      const group = uniqueName('ink6');
      await createNodes(admin, group, 3);
      // The NATS helm chart's pods (eventing-nats-0..2, a StatefulSet) and a Deployment, as kwok pods.
      await createStatefulSet(admin, ns, 'eventing-nats', { replicas: 3, group, labels: { app: 'nats' } });
      await createDeployment(admin, ns, 'backend', { replicas: 3, group, labels: { app: 'backend' } });
      await readyPods(admin, ns, 'app=nats', 3);
      await readyPods(admin, ns, 'app=backend', 3);
      token = await serviceAccountToken(admin, ns);
      mkdirSync(join(dir, 'stack'), { recursive: true });
      stack = await LocalStack.start({
        runDir: join(dir, 'stack'),
        natsServerBin: await requireNatsServer(),
        replicas: 3,
      });
      await buildScenarios();
    });
    after(async () => {
      await stack?.stop();
      await cluster?.stop();
    });

    const plan = (name: string, actions: unknown[], blastRadius = 1): string => {
      const file = join(dir, `${name}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          name,
          scenario: 'jetstream-publish',
          target: { kind: 'kubernetes', context: 'in-k6', namespaces: [ns], stream: 'sap' },
          thresholds: 'ha-observe',
          blastRadius,
          plan: actions,
        }),
      );
      return file;
    };

    async function runK6(
      planFile: string,
      extra: Record<string, string> = {},
    ): Promise<{ code: number; timeline: Entry[]; log: string }> {
      const summary = join(dir, `summary-${uniqueName('s')}.json`);
      const logFile = join(dir, `k6-${uniqueName('l')}.log`);
      const run = startK6({
        k6: await requireK6(),
        script: scenarioScript('jetstream-publish'),
        env: {
          PUBLISH_URL: stack.publishUrl,
          RATE: '20',
          DURATION: '10s',
          THRESHOLDS: 'ha-observe',
          CHAOS_PLAN: planFile,
          KUBE_API: cluster.apiUrl,
          KUBE_TOKEN: token,
          NATS_MONITOR_URL: stack.cluster.members.map((m) => m.info.monitorUrl).join(','),
          CHAOS_READY_TIMEOUT: '30s',
          ...extra,
        },
        args: ['--quiet'],
        summaryPath: summary,
        logFile,
        // k6 trusts the test cluster's CA the way Go programs do: SSL_CERT_FILE.
        prefix: ['env', `SSL_CERT_FILE=${join(cluster.dir, 'certs', 'ca.crt')}`],
      });
      const { exitCode } = await run.done;
      // k6 refusing the plan at init writes no summary.
      const timeline = existsSync(summary)
        ? (JSON.parse(readFileSync(summary, 'utf8')) as { timeline: Entry[] }).timeline
        : [];
      return { code: exitCode, timeline, log: readFileSync(logFile, 'utf8') };
    }

    it('deletes a pod by label and the JetStream leader’s pod at their offsets, waits until Ready, refuses beyond the blast radius, records each step', async () => {
      const leader = await jetstreamLeader(stack);
      const before = Object.fromEntries(
        (await admin.core.listNamespacedPod({ namespace: ns })).items.map((p) => [p.metadata?.name, p.metadata?.uid]),
      );
      const file = plan('in-k6-delete', [
        { id: 'one-backend', at: '1s', action: 'deletePod', target: { labelSelector: 'app=backend' } },
        { id: 'leader-pod', at: '3s', action: 'deletePod', target: { leaderOf: 'sap' }, gracePeriod: '1s' },
        { id: 'all-backends', at: '5s', action: 'deletePod', target: { labelSelector: 'app=backend' }, pick: 'all' },
      ]);
      const res = await runK6(file);
      assert.equal(res.code, 0, res.log.slice(-3000));
      const chaos = res.timeline.filter((e) => e.detail['in_k6'] !== undefined);
      const of = (id: string, kind: string): Entry | undefined =>
        chaos.find((e) => e.detail['action_id'] === id && e.detail['in_k6'] === kind);

      const backend = of('one-backend', 'executed');
      assert.ok(backend, `the label action ran: ${JSON.stringify(chaos)}`);
      assert.equal(backend.target, `${ns}/backend-${String(backend.target).split('/backend-')[1]}`);
      assert.ok(backend.offset_ms >= 1000 && backend.offset_ms < 3000, `at its offset: ${backend.offset_ms} ms`);
      assert.equal(backend.detail['backend'], 'k6/http');
      assert.ok(of('one-backend', 'ready'), 'waited until the Deployment had 3 Ready pods again');

      const leaderPod = of('leader-pod', 'executed');
      assert.equal(leaderPod?.target, `${ns}/${leader}`, `the pod of the stream leader ${leader}`);
      assert.ok((leaderPod?.offset_ms ?? 0) >= 3000, `at its offset: ${leaderPod?.offset_ms} ms`);
      assert.equal(leaderPod?.detail['grace_period_s'], 1);
      assert.ok(of('leader-pod', 'ready'), 'waited until the StatefulSet recreated it Ready');

      const refused = of('all-backends', 'refused');
      assert.ok(refused, 'three matches with blastRadius 1: refused');
      assert.equal(refused.detail['matched'], 3);
      assert.equal(
        chaos.filter((e) => e.detail['action_id'] === 'all-backends' && e.detail['in_k6'] === 'executed').length,
        0,
        'nothing deleted by the refused action',
      );

      // The cluster agrees: the leader's pod and one backend pod were replaced, nothing else.
      const after = (await admin.core.listNamespacedPod({ namespace: ns })).items;
      const nats = after.find((p) => p.metadata?.name === leader);
      assert.notEqual(nats?.metadata?.uid, before[leader], 'the leader pod has a new uid');
      for (const p of after.filter((x) => x.metadata?.name?.startsWith('eventing-nats-') && x.metadata.name !== leader))
        assert.equal(p.metadata?.uid, before[p.metadata?.name ?? ''], `${p.metadata?.name} untouched`);
      const backendsKept = after.filter(
        (p) => p.metadata?.name?.startsWith('backend-') && before[p.metadata.name] !== undefined,
      );
      assert.equal(backendsKept.length, 2, 'exactly one backend pod was replaced');
      assert.match(res.log, /k6-ha chaos: t\+\d+\.\ds executed leader-pod/);
    });

    it('dry run: the API server checks each DELETE (dryRun=All) and nothing is deleted', async () => {
      const uids = new Map(
        (await admin.core.listNamespacedPod({ namespace: ns })).items.map((p) => [p.metadata?.name, p.metadata?.uid]),
      );
      const file = plan('in-k6-dry', [
        { id: 'leader-pod', at: '1s', action: 'deletePod', target: { leaderOf: 'sap' } },
      ]);
      const res = await runK6(file, { CHAOS_DRY_RUN: 'true' });
      assert.equal(res.code, 0, res.log.slice(-3000));
      const dry = res.timeline.find((e) => e.detail['in_k6'] === 'dry-run');
      assert.ok(dry, 'a dry-run entry');
      assert.equal(dry.detail['server_dry_run'], true);
      for (const p of (await admin.core.listNamespacedPod({ namespace: ns })).items)
        assert.equal(p.metadata?.uid, uids.get(p.metadata?.name), `${p.metadata?.name} untouched`);
    });

    it('refuses a plan outside the namespace allow-list or with an action it cannot run, before any load', async () => {
      const outside = await runK6(
        plan('in-k6-outside', [{ at: '1s', action: 'deletePod', target: { name: 'x', namespace: 'kube-system' } }]),
      );
      assert.notEqual(outside.code, 0, 'k6 stops at init');
      assert.equal(outside.timeline.length, 0, 'no load, no summary');
      assert.match(
        outside.log,
        /plan\[0\]\.target\.namespace: \\?"kube-system\\?" is not allowed — expected one of target\.namespaces/,
      );
      const other = await runK6(plan('in-k6-other', [{ at: '1s', action: 'kill', target: { name: 'x' } }]));
      assert.notEqual(other.code, 0);
      assert.match(other.log, /plan\[0\]\.action: \\?"kill\\?" is not allowed — expected \\?"deletePod\\?"/);
    });

    it('a namespace where the service account has no Role: the API server refuses (403), the action is recorded as failed, nothing deleted', async () => {
      const other = await createNamespace(admin, 'ink6-other');
      await createDeployment(admin, other, 'foreign', { replicas: 1, group: 'none', labels: { app: 'foreign' } });
      const file = join(dir, 'in-k6-rbac.json');
      writeFileSync(
        file,
        JSON.stringify({
          name: 'in-k6-rbac',
          target: { kind: 'kubernetes', context: 'x', namespaces: [other] },
          plan: [{ id: 'foreign', at: '1s', action: 'deletePod', target: { labelSelector: 'app=foreign' } }],
        }),
      );
      const res = await runK6(file);
      const failed = res.timeline.find((e) => e.detail['action_id'] === 'foreign' && e.detail['in_k6'] !== 'scheduled');
      assert.equal(failed?.detail['in_k6'], 'failed', JSON.stringify(res.timeline.filter((e) => e.detail['in_k6'])));
      assert.match(String(failed?.detail['error']), /HTTP 403/);
    });
  },
);

describe('backend 1: a k6 with xk6-kubernetes', { timeout: 900_000 }, () => {
  it('`k6-ha setup --xk6-kubernetes` builds it, or fails in one line with the reason (exit 3, no stack trace)', async () => {
    const res = await runCli(['setup', '--xk6-kubernetes'], { timeoutMs: 900_000 });
    if (res.code === 0) {
      assert.match(res.stdout, /k6-xk6-kubernetes v2\.2\.0 \+ github\.com\/grafana\/xk6-kubernetes@v0\.12\.1 /);
      return;
    }
    assert.equal(res.code, 3, `${res.stdout}\n${res.stderr}`);
    const lines = res.stderr.trim().split('\n');
    const failure = lines.filter((l) => l.startsWith('k6-ha: cannot build'));
    assert.equal(failure.length, 1, res.stderr);
    assert.match(
      failure[0] ?? '',
      /xk6-kubernetes: .+; on a machine that can fetch it: xk6 build v2\.2\.0 --with github\.com\/grafana\/xk6-kubernetes@v0\.12\.1/,
    );
    assert.ok(!/\n\s+at /.test(res.stderr), `no stack trace:\n${res.stderr}`);
  });
});
