// The Kubernetes driver and watches against a real kube-apiserver (etcd, controller-manager,
// scheduler; kwok as the kubelet): pod deletion and rescheduling seen on the timeline, node
// deletion, cordon + drain against a PodDisruptionBudget, scale and its restore on abort, restart
// series from container statuses, rollout restart and wait, cordon/uncordon, the namespace
// allow-list, and exec. kwok runs no containers, so an exec request reaches the apiserver, which
// fails to reach a kubelet; execKill's side after the exec (waiting for each restart, exit codes)
// runs against the real apiserver with KubeletExecFixture writing what a kubelet would report.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeClients } from '../../lib/kube/client.ts';
import { NamespaceGuard } from '../../lib/kube/client.ts';
import { KubernetesDriver } from '../../lib/kube/driver.ts';
import type { ExecOutcome, ExecRunner } from '../../lib/kube/exec-kill.ts';
import { kubernetesReport } from '../../lib/kube/kube-target.ts';
import { KubernetesObserver } from '../../lib/kube/observer.ts';
import { TargetResolver } from '../../lib/kube/resolve.ts';
import type { KubeCluster } from '../support/kube-cluster.ts';
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
  uniqueName,
  waitFor,
} from '../support/kube-fixtures.ts';

function kubeDriver(
  clients: KubeClients,
  namespaces: string[],
  opts: { blastRadius?: number; allowNodeDeletion?: boolean; exec?: ExecRunner } = {},
): KubernetesDriver {
  const resolver = new TargetResolver({ clients, guard: new NamespaceGuard(namespaces) });
  return new KubernetesDriver({
    clients,
    resolver,
    blastRadius: opts.blastRadius ?? 1,
    allowNodeDeletion: opts.allowNodeDeletion ?? false,
    evictionRetryMs: 200,
    outOfServiceWaitMs: 20_000,
    exec: opts.exec,
  });
}

/**
 * Fixture for the kubelet's side of `kill -s TERM 1` (kwok runs no containers, so nothing can be
 * exec'd): records the command, then writes to the real apiserver what a kubelet reports when
 * PID 1 dies of it and the container is restarted: terminated with 128 + 15, then running again
 * with restartCount + 1. The connection closes without a status, as it does when PID 1 dies.
 */
class KubeletExecFixture implements ExecRunner {
  readonly commands: string[][] = [];
  constructor(private readonly clients: KubeClients) {}

  async run(namespace: string, pod: string, container: string, command: string[]): Promise<ExecOutcome> {
    this.commands.push(command);
    const { setHeaderOptions } = await import('@kubernetes/client-node');
    const merge = setHeaderOptions('Content-Type', 'application/merge-patch+json');
    const current = await this.clients.core.readNamespacedPod({ name: pod, namespace });
    const restarts = current.status?.containerStatuses?.find((c) => c.name === container)?.restartCount ?? 0;
    const now = new Date().toISOString();
    const terminated = { exitCode: 143, reason: 'Error', startedAt: now, finishedAt: now };
    const status = (
      state: Record<string, unknown>,
      restartCount: number,
      last?: Record<string, unknown>,
    ): Record<string, unknown> => ({
      status: {
        containerStatuses: [
          {
            name: container,
            image: 'registry.invalid/fake:1',
            imageID: '',
            ready: 'running' in state,
            restartCount,
            state,
            ...(last === undefined ? {} : { lastState: { terminated: last } }),
          },
        ],
      },
    });
    await this.clients.core.patchNamespacedPodStatus(
      { name: pod, namespace, body: status({ terminated }, restarts) },
      merge,
    );
    setTimeout(() => {
      void this.clients.core.patchNamespacedPodStatus(
        {
          name: pod,
          namespace,
          body: status({ running: { startedAt: new Date().toISOString() } }, restarts + 1, terminated),
        },
        merge,
      );
    }, 300);
    return { status: 'closed', exitCode: null, message: null, stdout: '', stderr: '' };
  }
}

describe('kubernetes driver against a real kube-apiserver', { timeout: 240_000, concurrency: false }, () => {
  let cluster: KubeCluster | null = null;
  let clients: KubeClients;

  before(async () => {
    ({ cluster, clients } = await kubeClusterForTests());
  });

  after(async () => {
    await cluster?.stop();
  });

  it('deletes a StatefulSet pod; the timeline shows it gone, recreated, scheduled and Ready; reschedule/ready are measured', async (t) => {
    const ns = await createNamespace(clients, 'pods');
    const group = uniqueName('pods');
    await createNodes(clients, group, 2);
    await createStatefulSet(clients, ns, 'web', { replicas: 3, group });
    const before = await readyPods(clients, ns, 'app=web', 3);
    const timeline = scratchTimeline('pods');
    const observer = new KubernetesObserver({ clients, namespaces: [ns], timeline });
    await observer.start();
    try {
      const driver = kubeDriver(clients, [ns]);
      const { executed } = await runPlan(
        driver,
        plan([{ id: 'del-web-1', at: '1ms', action: 'deletePod', target: { name: 'web-1' }, gracePeriod: '0s' }]),
        timeline,
      );
      assert.equal(executed[0]?.error, null);
      assert.deepEqual(executed[0]?.targets, [`${ns}/web-1`]);
      const afterPods = await readyPods(clients, ns, 'app=web', 3);
      const oldUid = before.find((p) => p.metadata?.name === 'web-1')?.metadata?.uid;
      const newUid = afterPods.find((p) => p.metadata?.name === 'web-1')?.metadata?.uid;
      assert.notEqual(newUid, oldUid, 'web-1 is a new pod');
      const target = `${ns}/web-1`;
      await waitFor('pod-ready of the new web-1 on the timeline', async () =>
        timeline.events.some((e) => e.kind === 'pod-ready' && e.target === target),
      );
      const kinds: string[] = timeline.events
        .filter((e) => e.source === 'kubernetes' && e.target === target)
        .map((e) => e.kind);
      const order = ['pod-terminating', 'pod-deleted', 'pod-created', 'pod-scheduled', 'pod-ready'].map((k) =>
        kinds.indexOf(k),
      );
      assert.ok(
        order.every((i) => i >= 0) && order.every((v, i) => i === 0 || v > (order[i - 1] as number)),
        `lifecycle in order: ${kinds.join(' → ')}`,
      );
      assert.ok(
        !timeline.events.some((e) => e.kind === 'pod-deleted' && e.target !== target),
        'no other pod was touched',
      );
      const report = kubernetesReport({
        context: clients.context,
        namespaces: [ns],
        affected: driver.affected,
        observer,
      });
      const p = report.pods[0];
      assert.ok(p !== undefined && p.replacement === 'web-1', JSON.stringify(report.pods));
      assert.ok(
        p.rescheduleSeconds !== null &&
          p.rescheduleSeconds < 10 &&
          p.readySeconds !== null &&
          p.readySeconds >= p.rescheduleSeconds,
        JSON.stringify(p),
      );
      t.diagnostic(
        `deletePod web-1: gone ${p.goneSeconds}s, rescheduled ${p.rescheduleSeconds}s, Ready ${p.readySeconds}s`,
      );
    } finally {
      await observer.stop();
      timeline.close();
    }
  });

  it('deletes the node of a pod (out-of-service first): its pods go and are recreated on another node; node deletion needs consent', async (t) => {
    const ns = await createNamespace(clients, 'node');
    const group = uniqueName('node');
    const nodes = await createNodes(clients, group, 4);
    await createStatefulSet(clients, ns, 'db', { replicas: 3, group, antiAffinity: true });
    const before = await readyPods(clients, ns, 'app=db', 3);
    const victimNode = before.find((p) => p.metadata?.name === 'db-0')?.spec?.nodeName as string;
    const timeline = scratchTimeline('node');
    const observer = new KubernetesObserver({ clients, namespaces: [ns], timeline });
    await observer.start();
    try {
      const refused = await runPlan(
        kubeDriver(clients, [ns]),
        plan([{ at: '1ms', action: 'deleteNode', target: { nodeOf: { name: 'db-0' } } }]),
        timeline,
      );
      assert.match(refused.executed[0]?.error ?? '', /allowNodeDeletion/);
      assert.ok(
        (await clients.core.listNode({ labelSelector: `k6ha-group=${group}` })).items.length === 4,
        'nothing deleted without consent',
      );

      const driver = kubeDriver(clients, [ns], { allowNodeDeletion: true });
      const { executed } = await runPlan(
        driver,
        plan([
          {
            id: 'lose-node',
            at: '1ms',
            action: 'deleteNode',
            target: { nodeOf: { name: 'db-0' } },
            outOfService: true,
          },
        ]),
        timeline,
      );
      assert.equal(executed[0]?.error, null);
      assert.deepEqual(executed[0]?.targets, [victimNode]);
      const afterPods = await readyPods(clients, ns, 'app=db', 3);
      const db0 = afterPods.find((p) => p.metadata?.name === 'db-0');
      const free = nodes.find((n) => !before.some((p) => p.spec?.nodeName === n));
      assert.equal(db0?.spec?.nodeName, free, 'db-0 moved to the only node without a db pod');
      await waitFor('node-deleted on the timeline', async () =>
        timeline.events.some((e) => e.kind === 'node-deleted' && e.target === victimNode),
      );
      await waitFor('db-0 Ready again on the timeline', async () =>
        timeline.events.some((e) => e.kind === 'pod-ready' && e.target === `${ns}/db-0`),
      );
      assert.ok(
        timeline.events.some(
          (e) =>
            e.kind === 'node-tainted' &&
            e.target === victimNode &&
            String(e.detail['taint']).startsWith('node.kubernetes.io/out-of-service'),
        ),
      );
      const report = kubernetesReport({
        context: clients.context,
        namespaces: [ns],
        affected: driver.affected,
        observer,
      });
      const p = report.pods.find((x) => x.pod === 'db-0');
      assert.ok(
        p !== undefined && p.replacementNode === free && p.readySeconds !== null,
        `${JSON.stringify(report.pods)}\n${timeline.events
          .filter((e) => e.target === `${ns}/db-0`)
          .map((e) => `${e.kind} ${JSON.stringify(e.detail)}`)
          .join('\n')}`,
      );
      t.diagnostic(
        `deleteNode ${victimNode} (out-of-service): db-0 gone ${p.goneSeconds}s, rescheduled on ${p.replacementNode} ${p.rescheduleSeconds}s, Ready ${p.readySeconds}s`,
      );
    } finally {
      await observer.stop();
      timeline.close();
    }
  });

  it('cordon + drain waits while a PodDisruptionBudget refuses the eviction (429), finishes once it allows it, and restore() uncordons', async (t) => {
    const ns = await createNamespace(clients, 'drain');
    const group = uniqueName('drain');
    await createNodes(clients, group, 2);
    await createDeployment(clients, ns, 'api', { replicas: 1, group });
    const [pod] = await readyPods(clients, ns, 'app=api', 1);
    const node = pod?.spec?.nodeName as string;
    await clients.core.readNamespace({ name: ns });
    const { PolicyV1Api } = await import('@kubernetes/client-node');
    const policy = clients.kubeConfig.makeApiClient(PolicyV1Api);
    await policy.createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: { metadata: { name: 'api' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'api' } } } },
    });
    await waitFor(
      'the PDB to be observed',
      async () =>
        (await policy.readNamespacedPodDisruptionBudget({ name: 'api', namespace: ns })).status?.observedGeneration ===
        1,
    );
    const timeline = scratchTimeline('drain');
    const driver = kubeDriver(clients, [ns]);

    // A drain that nobody helps: refused until its timeout, recorded, node left cordoned for restore().
    const stuck = await runPlan(
      driver,
      plan([
        {
          id: 'drain-stuck',
          at: '1ms',
          action: 'drain',
          target: { nodeOf: { labelSelector: 'app=api' } },
          timeout: '2s',
        },
      ]),
      timeline,
    );
    assert.match(stuck.executed[0]?.error ?? '', /gave up after 2s: eviction of .*api.* still refused/);
    assert.ok(timeline.events.some((e) => e.kind === 'eviction-blocked' && e.detail['status'] === 429));

    const running = runPlan(
      driver,
      plan([{ id: 'drain', at: '1ms', action: 'drain', target: { name: node }, timeout: '30s' }]),
      timeline,
    );
    const blockedCount = timeline.events.filter((e) => e.kind === 'eviction-blocked').length;
    await waitFor(
      'a second eviction-blocked',
      async () => timeline.events.filter((e) => e.kind === 'eviction-blocked').length > blockedCount,
    );
    // The budget allows the eviction once a second pod is Ready elsewhere (the node is cordoned).
    await clients.apps.patchNamespacedDeploymentScale(
      { name: 'api', namespace: ns, body: { spec: { replicas: 2 } } },
      (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/merge-patch+json'),
    );
    const { executor, executed } = await running;
    assert.equal(executed[0]?.error, null, 'drain finished');
    const evicted = timeline.events.find((e) => e.kind === 'evicted');
    assert.ok(
      evicted !== undefined && Number(evicted.detail['refused']) >= 1,
      `evicted after refusals: ${JSON.stringify(evicted?.detail)}`,
    );
    assert.ok(timeline.events.some((e) => e.kind === 'drained'));
    const pods = await readyPods(clients, ns, 'app=api', 2);
    assert.ok(
      pods.every((p) => p.spec?.nodeName !== node),
      'no api pod left on the drained node',
    );
    assert.equal((await clients.core.readNode({ name: node })).spec?.unschedulable, true);
    const restored = await executor.restore('test over');
    assert.deepEqual(restored, [`node/${node} uncordoned`]);
    assert.ok(!(await clients.core.readNode({ name: node })).spec?.unschedulable, 'uncordoned');
    assert.ok(timeline.events.some((e) => e.kind === 'restored' && e.target === `node/${node} uncordoned`));
    t.diagnostic(
      `drain: evicted after ${String(evicted.detail['refused'])} refusals, ${String(evicted.detail['waited_ms'])} ms`,
    );
    timeline.close();
  });

  it('scales down and back up; stopping the plan (Ctrl-C) restores the original scale; the blast radius caps a scale-down', async () => {
    const ns = await createNamespace(clients, 'scale');
    const group = uniqueName('scale');
    await createNodes(clients, group, 1);
    await createDeployment(clients, ns, 'pg', { replicas: 2, group });
    await readyPods(clients, ns, 'app=pg', 2);
    const timeline = scratchTimeline('scale');
    const driver = kubeDriver(clients, [ns]);
    const replicas = async (): Promise<number | undefined> =>
      (await clients.apps.readNamespacedDeploymentScale({ name: 'pg', namespace: ns })).spec?.replicas;

    const phase = await runPlan(
      driver,
      plan([
        { id: 'phase-a', at: '1ms', action: 'scale', target: { deployment: 'pg' }, replicas: 1, restoreAfter: '1s' },
      ]),
      timeline,
    );
    assert.equal(phase.executed[0]?.error, null);
    assert.equal(await replicas(), 2);
    assert.ok(timeline.events.some((e) => e.kind === 'scaled-back' && e.detail['replicas'] === 2));

    const capped = await runPlan(
      driver,
      plan([{ at: '1ms', action: 'scale', target: { deployment: 'pg' }, replicas: 0 }]),
      timeline,
    );
    assert.match(capped.executed[0]?.error ?? '', /removes 2 pods, more than blastRadius 1/);
    assert.equal(await replicas(), 2, 'nothing scaled');

    const { ChaosExecutor } = await import('../../lib/chaos/chaos.ts');
    const executor = new ChaosExecutor(
      plan([
        { id: 'long-scale', at: '1ms', action: 'scale', target: { deployment: 'pg' }, replicas: 1, restoreAfter: '5m' },
      ]),
      driver,
      timeline,
    );
    executor.start(Date.now());
    await waitFor('scaled to 1', async () => (await replicas()) === 1);
    await readyPods(clients, ns, 'app=pg', 1);
    // What `k6-ha run` does on SIGINT: stop the schedule, let actions end, restore.
    executor.stop('SIGINT received');
    await executor.settle();
    const restored = await executor.restore('SIGINT received');
    assert.deepEqual(restored, [`deployment/${ns}/pg scaled back to 2`]);
    assert.equal(await replicas(), 2);
    await readyPods(clients, ns, 'app=pg', 2);
    assert.ok(timeline.events.some((e) => e.kind === 'restored' && e.detail['reason'] === 'SIGINT received'));
    timeline.close();
  });

  it('rolloutRestart starts a rolling update that waitRollout sees through; cordon with uncordonAfter and uncordon change the node', async () => {
    const ns = await createNamespace(clients, 'rollout');
    const group = uniqueName('rollout');
    const [node] = await createNodes(clients, group, 1);
    await createDeployment(clients, ns, 'epp', { replicas: 2, group });
    await readyPods(clients, ns, 'app=epp', 2);
    const timeline = scratchTimeline('rollout');
    try {
      const driver = kubeDriver(clients, [ns]);
      const generationBefore =
        (await clients.apps.readNamespacedDeployment({ name: 'epp', namespace: ns })).metadata?.generation ?? 0;
      const rollout = await runPlan(
        driver,
        plan([
          { id: 'restart', at: '1ms', action: 'rolloutRestart', target: { deployment: 'epp' } },
          // After the patch has landed, so it waits for the new pods, not for the old rollout.
          { id: 'wait', at: '1s', action: 'waitRollout', target: { deployment: 'epp' }, timeout: '90s' },
        ]),
        timeline,
      );
      assert.deepEqual(
        rollout.executed.map((e) => e.error),
        [null, null],
      );
      const d = await clients.apps.readNamespacedDeployment({ name: 'epp', namespace: ns });
      assert.ok(
        d.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'],
        'the pod template carries restartedAt, as kubectl rollout restart does',
      );
      assert.ok((d.metadata?.generation ?? 0) > generationBefore);
      assert.equal(d.status?.updatedReplicas, 2, 'both pods replaced before waitRollout returned');
      assert.equal(d.status?.readyReplicas, 2);
      assert.ok(timeline.events.some((e) => e.kind === 'rollout-complete' && e.target === `deployment/${ns}/epp`));

      const unschedulable = async (): Promise<boolean> =>
        (await clients.core.readNode({ name: node as string })).spec?.unschedulable === true;
      const cordon = await runPlan(
        driver,
        plan([{ id: 'cordon', at: '1ms', action: 'cordon', target: { name: node as string }, uncordonAfter: '1s' }]),
        timeline,
      );
      assert.equal(cordon.executed[0]?.error, null);
      assert.equal(await unschedulable(), false, 'uncordoned after 1 s');
      assert.ok(timeline.events.some((e) => e.kind === 'uncordoned' && e.target === node));
      await runPlan(
        driver,
        plan([{ id: 'cordon-only', at: '1ms', action: 'cordon', target: { name: node as string } }]),
        timeline,
      );
      assert.equal(await unschedulable(), true);
      await runPlan(
        driver,
        plan([{ id: 'uncordon', at: '1ms', action: 'uncordon', target: { name: node as string } }]),
        timeline,
      );
      assert.equal(await unschedulable(), false);
    } finally {
      timeline.close();
    }
  });

  it('execKill kills PID 1 times over, waits for each restart, and notes an exit code it did not expect', async () => {
    const ns = await createNamespace(clients, 'execkill');
    const group = uniqueName('execkill');
    await createNodes(clients, group, 1);
    await createStatefulSet(clients, ns, 's3gw', { replicas: 1, group });
    await readyPods(clients, ns, 'app=s3gw', 1);
    const timeline = scratchTimeline('execkill');
    try {
      const kubelet = new KubeletExecFixture(clients);
      const driver = kubeDriver(clients, [ns], { exec: kubelet });
      const probe = await runPlan(
        driver,
        plan([
          {
            id: 'probe',
            at: '1ms',
            action: 'execKill',
            target: { name: 's3gw-0' },
            times: 2,
            interval: '200ms',
            expectExitCode: 143,
            restartTimeout: '30s',
          },
        ]),
        timeline,
      );
      assert.equal(probe.executed[0]?.error, null);
      assert.deepEqual(kubelet.commands, [
        ['sh', '-c', 'kill -s TERM 1'],
        ['sh', '-c', 'kill -s TERM 1'],
      ]);
      const back = timeline.events.filter((e) => e.kind === 'container-back' && e.detail['action_id'] === 'probe');
      assert.deepEqual(
        back.map((e) => [e.detail['round'], e.detail['exit_code'], e.detail['expected_exit_code']]),
        [
          [1, 143, undefined],
          [2, 143, undefined],
        ],
      );
      assert.ok(
        back.every((e) => typeof e.detail['down_ms'] === 'number' && (e.detail['down_ms'] as number) >= 300),
        'down from the kill until running again',
      );
      const pod = await clients.core.readNamespacedPod({ name: 's3gw-0', namespace: ns });
      assert.equal(pod.status?.containerStatuses?.[0]?.restartCount, 2);

      await runPlan(
        driver,
        plan([
          {
            id: 'expect-1',
            at: '1ms',
            action: 'execKill',
            target: { name: 's3gw-0' },
            expectExitCode: 1,
            restartTimeout: '30s',
          },
        ]),
        timeline,
      );
      const mismatch = timeline.events.find((e) => e.kind === 'container-back' && e.detail['action_id'] === 'expect-1');
      assert.equal(mismatch?.detail['exit_code'], 143);
      assert.equal(mismatch?.detail['expected_exit_code'], 1, 'the mismatch is on the timeline');
    } finally {
      timeline.close();
    }
  });

  it("records restarts, waiting reasons and the back-off from container statuses (a kubelet's updates, written by the test)", async () => {
    const ns = await createNamespace(clients, 'restarts');
    const group = uniqueName('restarts');
    await createNodes(clients, group, 1);
    await createStatefulSet(clients, ns, 's3gw', { replicas: 1, group });
    await readyPods(clients, ns, 'app=s3gw', 1);
    const timeline = scratchTimeline('restarts');
    const observer = new KubernetesObserver({ clients, namespaces: [ns], timeline });
    await observer.start();
    try {
      const t0 = Date.parse('2024-01-01T10:00:00Z');
      const iso = (s: number): string => new Date(t0 + s * 1000).toISOString().replace('.000Z', 'Z');
      const status = (
        restartCount: number,
        state: Record<string, unknown>,
        last?: { exitCode: number; finishedAt: number },
      ): Record<string, unknown> => ({
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'running' in state ? 'True' : 'False' }],
          containerStatuses: [
            {
              name: 'main',
              image: 'registry.invalid/fake:1',
              imageID: '',
              ready: 'running' in state,
              restartCount,
              state,
              ...(last === undefined
                ? {}
                : {
                    lastState: {
                      terminated: {
                        exitCode: last.exitCode,
                        reason: 'Error',
                        startedAt: iso(last.finishedAt - 5),
                        finishedAt: iso(last.finishedAt),
                      },
                    },
                  }),
            },
          ],
        },
      });
      const { setHeaderOptions } = await import('@kubernetes/client-node');
      const merge = setHeaderOptions('Content-Type', 'application/merge-patch+json');
      // exit 1 → restarted 1 s later → exit 1 → back-off 10 s → exit 1 → back-off 20 s (the s3gw probe's series)
      const steps = [
        status(0, { terminated: { exitCode: 1, reason: 'Error', startedAt: iso(0), finishedAt: iso(10) } }),
        status(1, { running: { startedAt: iso(11) } }, { exitCode: 1, finishedAt: 10 }),
        status(
          1,
          {
            waiting: {
              reason: 'CrashLoopBackOff',
              message: 'back-off 10s restarting failed container=main pod=s3gw-0',
            },
          },
          { exitCode: 1, finishedAt: 20 },
        ),
        status(2, { running: { startedAt: iso(30) } }, { exitCode: 1, finishedAt: 20 }),
        status(
          2,
          {
            waiting: {
              reason: 'CrashLoopBackOff',
              message: 'back-off 20s restarting failed container=main pod=s3gw-0',
            },
          },
          { exitCode: 1, finishedAt: 40 },
        ),
        status(3, { running: { startedAt: iso(60) } }, { exitCode: 1, finishedAt: 40 }),
      ];
      for (const body of steps) {
        await clients.core.patchNamespacedPodStatus({ name: 's3gw-0', namespace: ns, body }, merge);
        await new Promise((r) => setTimeout(r, 150));
      }
      await waitFor(
        'three restarts on the timeline',
        async () => timeline.events.filter((e) => e.kind === 'container-restarted').length === 3,
      );
      assert.ok(
        timeline.events.some((e) => e.kind === 'container-waiting' && e.detail['reason'] === 'CrashLoopBackOff'),
      );
      const report = kubernetesReport({ context: clients.context, namespaces: [ns], affected: [], observer });
      const series = report.restarts.find((r) => r.pod === 's3gw-0');
      assert.ok(series !== undefined, JSON.stringify(report.restarts));
      assert.deepEqual(series.durationsSeconds, [1, 10, 20]);
      assert.deepEqual(series.backoffSeconds, [10, 20]);
      assert.deepEqual(series.growth, [10, 2]);
      assert.deepEqual(series.exitCodes, [1, 1, 1]);
      assert.deepEqual(series.stats, { count: 3, min: 1, median: 10, p95: 20, max: 20 });
    } finally {
      await observer.stop();
      timeline.close();
    }
  });

  it('refuses objects outside the namespace allow-list at action time, and reports that kwok cannot exec', async (t) => {
    const ns = await createNamespace(clients, 'guard');
    const other = await createNamespace(clients, 'other');
    const group = uniqueName('guard');
    await createNodes(clients, group, 1);
    await createStatefulSet(clients, other, 'precious', { replicas: 1, group });
    await createStatefulSet(clients, ns, 'app', { replicas: 1, group });
    const [precious] = await readyPods(clients, other, 'app=precious', 1);
    await readyPods(clients, ns, 'app=app', 1);
    const timeline = scratchTimeline('guard');
    const driver = kubeDriver(clients, [ns]);
    // The schema refuses this when an experiment is parsed; the driver refuses it again here.
    const { executed } = await runPlan(
      driver,
      plan([
        { id: 'outside', at: '1ms', action: 'deletePod', target: { name: 'precious-0', namespace: other } },
        { id: 'exec', at: '1ms', action: 'execKill', target: { name: 'app-0' }, restartTimeout: '5s' },
      ]),
      timeline,
    );
    assert.match(
      executed.find((e) => e.id === 'outside')?.error ?? '',
      new RegExp(`namespace "${other}", outside target.namespaces \\(${ns}\\); refused`),
    );
    const after = await clients.core.readNamespacedPod({ name: 'precious-0', namespace: other });
    assert.equal(after.metadata?.uid, precious?.metadata?.uid, 'the pod outside the allow-list is untouched');
    const exec = executed.find((e) => e.id === 'exec');
    assert.ok(exec?.error !== null && exec?.error !== undefined, 'exec against kwok cannot succeed');
    // The apiserver forwarded our request to the (absent) kubelet: the container and command are ours.
    assert.match(
      exec.error,
      /exec\/k6ha-guard-[0-9a-f]+\/app-0\/main\?command=sh&command=-c&command=kill\+-s\+TERM\+1/,
    );
    t.diagnostic(`execKill against kwok: ${exec.error}`);
    assert.ok(timeline.events.some((e) => e.kind === 'failed' && e.detail['action_id'] === 'exec'));
    timeline.close();
  });
});
