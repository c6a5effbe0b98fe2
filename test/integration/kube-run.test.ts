// Kubernetes targets end to end: a real local JetStream cluster (members named eventing-nats-0..2,
// like the chart's pods) next to a real kube-apiserver with a StatefulSet eventing-nats of kwok
// pods. leaderOf must hit the pod named like the current stream leader; `k6-ha run` with real k6
// publishes through the local publisher (PUBLISH_URL) while the plan acts on the cluster; dry run
// changes nothing; another context, an unknown --context or a namespace outside the allow-list is
// refused before anything starts; Ctrl-C restores the scale the plan changed.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeClients } from '../../lib/kube/client.ts';
import { connectKubernetesTarget, type KubernetesConnection } from '../../lib/kube/kube-target.ts';
import { JetStreamProbe } from '../../lib/jetstream/probe.ts';
import { parseExperiment } from '../../lib/experiment/experiment.ts';
import { LocalStack } from '../../lib/stack/local-stack.ts';
import type { KubernetesReport, RecoveryReport } from '../../lib/shared/types.ts';
import type { KubeCluster } from '../support/kube-cluster.ts';
import {
  leftoverProcesses,
  onlyRunDir,
  readJson,
  readTimeline,
  requireK6,
  requireNatsServer,
  runCli,
  scratchDir,
  startCli,
  writeExperiment,
} from '../support/cli.ts';
import {
  createDeployment,
  createNamespace,
  createNodes,
  createStatefulSet,
  kubeClusterForTests,
  plan,
  readyPods,
  runPlan,
  scratchTimeline,
  TEST_CONTEXT,
  uniqueName,
  waitFor,
} from '../support/kube-fixtures.ts';

describe(
  'kubernetes targets: leaderOf, k6-ha run, dry run and refusals (real kube-apiserver, nats-server, k6)',
  { timeout: 300_000, concurrency: false },
  () => {
    let cluster: KubeCluster | null = null;
    let clients: KubeClients;
    let stack: LocalStack | null = null;
    let probe: JetStreamProbe | null = null;
    let ns: string;

    before(async () => {
      const natsServerBin = await requireNatsServer();
      ({ cluster, clients } = await kubeClusterForTests());
      stack = await LocalStack.start({
        runDir: mkdtempSync(join(tmpdir(), 'k6ha-kube-stack-')),
        natsServerBin,
        replicas: 3,
      });
      probe = new JetStreamProbe(stack.cluster.clientUrls, stack.stream, null);
      ns = await createNamespace(clients, 'kyma');
      const group = uniqueName('kyma');
      await createNodes(clients, group, 4);
      await createStatefulSet(clients, ns, 'eventing-nats', {
        replicas: 3,
        group,
        labels: { nats_cluster: 'eventing-nats' },
        antiAffinity: true,
      });
      await createDeployment(clients, ns, 'eventing-publisher-proxy', { replicas: 2, group });
      await readyPods(clients, ns, 'nats_cluster=eventing-nats', 3);
      await readyPods(clients, ns, 'app=eventing-publisher-proxy', 2);
    });

    after(async () => {
      await probe?.close();
      await stack?.stop();
      await cluster?.stop();
    });

    const experiment = (
      name: string,
      planActions: unknown[],
      extra: Record<string, unknown> = {},
      target: Record<string, unknown> = {},
    ): Record<string, unknown> => ({
      name,
      scenario: 'jetstream-publish',
      target: {
        kind: 'kubernetes',
        context: TEST_CONTEXT,
        namespaces: [ns],
        natsUrl: stack?.cluster.clientUrls[0],
        stream: 'sap',
        consumer: stack?.consumer,
        sinkUrl: stack?.sinkUrl,
        allowNodeDeletion: true,
        ...target,
      },
      env: { RATE: '50', DURATION: '12s', REQUEST_TIMEOUT: '2s', PUBLISH_URL: stack?.publishUrl },
      thresholds: 'ha-observe',
      blastRadius: 2,
      plan: planActions,
      ...extra,
    });

    const leader = async (): Promise<string> =>
      waitFor('a stream leader', async () => (await (probe as JetStreamProbe).streamInfo()).leader);

    it('leaderOf deletes the pod named like the current stream leader; notLeaderOf the others', async () => {
      const exp = parseExperiment(experiment('t-leader', []), 'inline');
      const conn: KubernetesConnection = await connectKubernetesTarget(exp, {
        kubeconfig: cluster?.kubeconfig as string,
      });
      const timeline = scratchTimeline('leader');
      try {
        const current = await leader();
        const before = await readyPods(clients, ns, 'nats_cluster=eventing-nats', 3);
        const { executed } = await runPlan(
          conn.driver(),
          plan([{ id: 'kill-leader-pod', at: '1ms', action: 'deletePod', target: { leaderOf: 'sap' } }]),
          timeline,
        );
        assert.equal(executed[0]?.error, null);
        assert.deepEqual(executed[0]?.targets, [`${ns}/${current}`], `the leader's pod (leader ${current})`);
        assert.equal(executed[0]?.leaderBefore, current);
        const afterPods = await readyPods(clients, ns, 'nats_cluster=eventing-nats', 3);
        const changed = afterPods
          .filter((p) => !before.some((b) => b.metadata?.uid === p.metadata?.uid))
          .map((p) => p.metadata?.name);
        assert.deepEqual(changed, [current], "only the leader's pod was replaced");

        const followers = await runPlan(
          conn.driver(),
          plan([{ at: '1ms', action: 'deletePod', target: { notLeaderOf: 'sap' }, pick: 'all' }]),
          timeline,
        );
        const leaderNow = await leader();
        assert.deepEqual(
          followers.executed[0]?.targets,
          ['eventing-nats-0', 'eventing-nats-1', 'eventing-nats-2']
            .filter((n) => n !== leaderNow)
            .map((n) => `${ns}/${n}`),
        );
        await readyPods(clients, ns, 'nats_cluster=eventing-nats', 3);
      } finally {
        timeline.close();
        await conn.close();
      }
    });

    // One action of each kind, none waiting for the one before: by 6s three pods and two nodes are down.
    const dryRunPlan = [
      { id: 'leader-pod', at: '2s', action: 'deletePod', target: { leaderOf: 'sap' } },
      { id: 'leader-node', at: '3s', action: 'deleteNode', target: { nodeOf: { leaderOf: 'sap' } } },
      {
        id: 'other-node',
        at: '4s',
        action: 'drain',
        target: { nodeOf: { labelSelector: 'nats_cluster=eventing-nats' }, notNodeOf: { leaderOf: 'sap' } },
      },
      {
        id: 'scale-epp',
        at: '5s',
        action: 'scale',
        target: { deployment: 'eventing-publisher-proxy' },
        replicas: 1,
        restoreAfter: '2s',
      },
      { id: 'restart-nats', at: '6s', action: 'rolloutRestart', target: { statefulSet: 'eventing-nats' } },
    ];

    it('--dry-run resolves every selector with read-only calls: resourceVersions are unchanged', async () => {
      const dir = scratchDir('kube-dry');
      const file = writeExperiment(dir, experiment('t-kube-dry', dryRunPlan, { blastRadius: 5 }));
      const versions = async (): Promise<string[]> => {
        const pods = (await clients.core.listNamespacedPod({ namespace: ns })).items.map(
          (p) => `${p.metadata?.name}@${p.metadata?.resourceVersion}`,
        );
        const sts = (await clients.apps.listNamespacedStatefulSet({ namespace: ns })).items.map(
          (s) => `${s.metadata?.name}@${s.metadata?.resourceVersion}`,
        );
        const deps = (await clients.apps.listNamespacedDeployment({ namespace: ns })).items.map(
          (d) => `${d.metadata?.name}@${d.metadata?.resourceVersion}`,
        );
        // kwok renews node status on its own; what a plan would change is the spec.
        const nodes = (await clients.core.listNode()).items.map((n) => `${n.metadata?.name}:${JSON.stringify(n.spec)}`);
        return [...pods, ...sts, ...deps, ...nodes].sort();
      };
      const before = await versions();
      const current = await leader();
      const res = await runCli(['run', file, '--dry-run', '--kubeconfig', cluster?.kubeconfig as string], {
        timeoutMs: 60_000,
      });
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`leader-pod .*→ ${ns}/${current}`));
      assert.match(res.stdout, /scale-epp .*replicas 2 → 1 → 2 after 2s/);
      assert.match(
        res.stdout,
        /resolved in context k6-ha-test with read-only API calls; nothing was started or changed/,
      );
      assert.deepEqual(await versions(), before, 'nothing changed');
    });

    it('refuses a plan with more than blastRadius down at once, resolved against the cluster, before anything starts', async () => {
      const dir = scratchDir('kube-overlap');
      const file = writeExperiment(dir, experiment('t-kube-overlap', dryRunPlan));
      const before = (await clients.core.listNamespacedPod({ namespace: ns })).items
        .map((p) => `${p.metadata?.name}@${p.metadata?.uid}`)
        .sort();
      const res = await runCli(['run', file, '--dry-run', '--kubeconfig', cluster?.kubeconfig as string], {
        timeoutMs: 60_000,
      });
      assert.equal(res.code, 2, res.stderr);
      assert.match(
        res.stderr,
        /plan refused, nothing was started:\n\s+leader-pod, leader-node, other-node: 1 pod and 2 nodes would be down at once at 4s, more than blastRadius 2/,
      );
      assert.deepEqual(
        (await clients.core.listNamespacedPod({ namespace: ns })).items
          .map((p) => `${p.metadata?.name}@${p.metadata?.uid}`)
          .sort(),
        before,
        'nothing was touched',
      );
    });

    it('refuses another kube context, an unknown --context and a namespace outside the allow-list, before anything starts', async () => {
      const dir = scratchDir('kube-refuse');
      const prod = writeExperiment(
        dir,
        experiment(
          't-kube-prod',
          [{ at: '2s', action: 'deletePod', target: { leaderOf: 'sap' } }],
          {},
          { context: 'prod-cluster' },
        ),
      );
      const kubeconfig = cluster?.kubeconfig as string;
      const wrong = await runCli(['run', prod, '--kubeconfig', kubeconfig], { timeoutMs: 60_000 });
      assert.equal(wrong.code, 2, wrong.stderr);
      assert.match(
        wrong.stderr,
        /the kube context is "k6-ha-test" but the experiment names "prod-cluster" \(target\.context\); refusing/,
      );
      const unknown = await runCli(['run', prod, '--kubeconfig', kubeconfig, '--context', 'staging'], {
        timeoutMs: 60_000,
      });
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /--context "staging" is not in the kubeconfig \(contexts: k6-ha-test\)/);
      const outside = writeExperiment(
        dir,
        experiment('t-kube-outside', [
          { at: '2s', action: 'deletePod', target: { name: 'etcd-0', namespace: 'kube-system' } },
        ]),
      );
      const refused = await runCli(['run', outside, '--kubeconfig', kubeconfig], { timeoutMs: 60_000 });
      assert.equal(refused.code, 2);
      assert.match(
        refused.stderr,
        new RegExp(
          `plan\\[0\\]\\.target: namespace "kube-system" is not allowed — expected one of target\\.namespaces \\(${ns}\\)`,
        ),
      );
      assert.equal(readyPodsCount(await clients.core.listNamespacedPod({ namespace: ns })), 5, 'nothing was touched');
    });

    it("k6-ha run: real k6 publishes through the local publisher while the plan deletes the leader's pod and scales the publisher deployment; the summary has the kubernetes section", async (t) => {
      await requireK6();
      const dir = scratchDir('kube-run');
      const current = await leader();
      const file = writeExperiment(
        dir,
        experiment('t-kube-run', [
          { id: 'kill-leader-pod', at: '2s', action: 'deletePod', target: { leaderOf: 'sap' } },
          {
            id: 'phase-a',
            at: '4s',
            action: 'scale',
            target: { deployment: 'eventing-publisher-proxy' },
            replicas: 1,
            restoreAfter: '3s',
          },
        ]),
      );
      const res = await runCli(['run', file, '--out-dir', dir, '--kubeconfig', cluster?.kubeconfig as string], {
        timeoutMs: 150_000,
      });
      assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
      const runDir = onlyRunDir(dir);
      const summary = readJson<{
        kubernetes: KubernetesReport;
        recovery: RecoveryReport[];
        accounting: { attempted: number; lost: number; acked: number };
      }>(join(runDir, 'summary.json'));
      assert.ok(
        summary.accounting.attempted > 300 && summary.accounting.lost === 0,
        JSON.stringify(summary.accounting),
      );
      const timeline = readTimeline(runDir);
      const executed = timeline.find((e) => e.kind === 'executed' && e.detail['action_id'] === 'kill-leader-pod');
      assert.equal(executed?.target, `${ns}/${current}`);
      assert.ok(
        timeline.some(
          (e) =>
            e.source === 'kubernetes' &&
            e.kind === 'pod-ready' &&
            e.target === `${ns}/${current}` &&
            (e.offset_ms ?? 0) > 0,
        ),
        'the replacement Ready on the timeline',
      );
      assert.ok(timeline.some((e) => e.kind === 'scaled-back'));
      const pod = summary.kubernetes.pods.find((p) => p.actionId === 'kill-leader-pod');
      assert.ok(
        pod !== undefined && pod.replacement === current && pod.readySeconds !== null,
        JSON.stringify(summary.kubernetes),
      );
      const recovery = summary.recovery.find((r) => r.actionId === 'kill-leader-pod');
      assert.equal(recovery?.readySeconds, pod.readySeconds);
      assert.equal(
        (await clients.apps.readNamespacedDeploymentScale({ name: 'eventing-publisher-proxy', namespace: ns })).spec
          ?.replicas,
        2,
      );
      t.diagnostic(
        `k6-ha run: ${summary.accounting.acked} acked; leader pod ${current} rescheduled ${pod.rescheduleSeconds}s, Ready ${pod.readySeconds}s`,
      );
    });

    it('Ctrl-C during k6-ha run restores the scale the plan changed and records it', async () => {
      const dir = scratchDir('kube-sigint');
      const file = writeExperiment(
        dir,
        experiment(
          't-kube-sigint',
          [
            {
              id: 'scale-down',
              at: '2s',
              action: 'scale',
              target: { deployment: 'eventing-publisher-proxy' },
              replicas: 1,
              restoreAfter: '5m',
            },
          ],
          { env: { RATE: '20', DURATION: '30s', REQUEST_TIMEOUT: '2s', PUBLISH_URL: stack?.publishUrl } },
        ),
      );
      const run = startCli(['run', file, '--out-dir', dir, '--kubeconfig', cluster?.kubeconfig as string], {
        timeoutMs: 120_000,
      });
      await run.waitForOutput(/plan executed deployment\//, 60_000);
      await waitFor(
        'scaled to 1',
        async () =>
          (await clients.apps.readNamespacedDeploymentScale({ name: 'eventing-publisher-proxy', namespace: ns })).spec
            ?.replicas === 1,
      );
      run.child.kill('SIGINT');
      const res = await run.result;
      assert.equal(res.code, 130, `an interrupted run exits 130:\n${res.stderr.slice(-2000)}`);
      assert.match(res.stderr, /restored deployment\/.*\/eventing-publisher-proxy scaled back to 2/);
      assert.equal(
        (await clients.apps.readNamespacedDeploymentScale({ name: 'eventing-publisher-proxy', namespace: ns })).spec
          ?.replicas,
        2,
      );
      const timeline = readTimeline(onlyRunDir(dir));
      assert.ok(timeline.some((e) => e.kind === 'restored' && String(e.target).includes('scaled back to 2')));
      assert.ok(timeline.some((e) => e.kind === 'cancelled' || e.kind === 'stopped'));
      assert.deepEqual(
        await leftoverProcesses(run.marker),
        [],
        'nothing the run started is still running (k6, sidecar)',
      );
    });
  },
);

function readyPodsCount(list: { items: Array<{ metadata?: { deletionTimestamp?: unknown } }> }): number {
  return list.items.filter((p) => p.metadata?.deletionTimestamp == null).length;
}
