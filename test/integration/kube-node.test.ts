// The real node of the test cluster (scripts/kube/node-up.sh): containerd + runc from Debian and a
// kubelet v1.36.3 registered as node "127.0.0.1", next to kwok's fake nodes, running pods from
// locally built images (no registry). Logs, exec and execKill go through the apiserver to the
// real kubelet; the restarts are the kubelet's own. Last, the teardown: the host must be as it
// was — no process, mount, kubepods cgroup, changed sysctl, KUBE-* chain or host directory left.
// Needs root and the Debian packages (fails saying so); run under `flock /tmp/k6ha-cpu.lock`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClients } from '../../lib/kube/client.ts';
import { connectKubernetesTarget, kubernetesReport } from '../../lib/kube/kube-target.ts';
import { KubernetesObserver } from '../../lib/kube/observer.ts';
import { ClientExecRunner } from '../../lib/kube/exec-kill.ts';
import { parseExperiment } from '../../lib/experiment/experiment.ts';
import type { KubeCluster, RealNode } from '../support/kube-cluster.ts';
import { captureHostState, captureHostStateWithNoNodeUp, hostChanges, type HostState } from '../support/host-state.ts';
import {
  createDeployment,
  createNamespace,
  createNodes,
  plan,
  readyPods,
  realNodeClusterForTests,
  runPlan,
  scratchTimeline,
  TEST_CONTEXT,
  uniqueName,
  waitFor,
} from '../support/kube-fixtures.ts';

const run = promisify(execFile);

/** true when something accepts a TCP connection on 127.0.0.1:port */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe(
  'a real node: containerd + runc + kubelet next to kwok (root)',
  { timeout: 600_000, concurrency: false },
  () => {
    let cluster: KubeCluster | null = null;
    let clients: KubeClients;
    let node: RealNode;
    let hostBefore: HostState;
    let ns: string;

    before(async () => {
      ({ cluster, clients, node, hostBefore } = await realNodeClusterForTests());
      ns = await createNamespace(clients, 'node');
    });

    after(async () => {
      await cluster?.stop();
    });

    const kubectl = async (...args: string[]): Promise<string> =>
      (await run((cluster as KubeCluster).kubectl, ['--kubeconfig', (cluster as KubeCluster).kubeconfig, ...args]))
        .stdout;

    it('registers node 127.0.0.1 Ready on its own kubelet port, never 10250, while kwok nodes keep working', async () => {
      const real = await clients.core.readNode({ name: node.name });
      assert.equal(real.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
      assert.match(real.status?.nodeInfo?.containerRuntimeVersion ?? '', /^containerd:\/\/1\.6\./);
      assert.equal(real.status?.nodeInfo?.kubeletVersion, 'v1.36.3');
      assert.equal(real.status?.addresses?.find((a) => a.type === 'InternalIP')?.address, '127.0.0.1');
      const port = real.status?.daemonEndpoints?.kubeletEndpoint?.Port;
      assert.equal(port, node.kubeletPort);
      assert.notEqual(port, 10250);
      assert.equal(await answers(node.kubeletPort), true, 'the kubelet serves on its port');
      assert.equal(await answers(10250), false, "nothing answers on kwok's kubelet port 10250");
      // kwok still plays the kubelet for its own nodes, in the same cluster, and leaves this one alone.
      const group = uniqueName('kwok');
      await createNodes(clients, group, 1);
      await createDeployment(clients, ns, 'fake', { replicas: 2, group });
      const fake = await readyPods(clients, ns, 'app=fake', 2);
      assert.ok(fake.every((p) => p.spec?.nodeName === `${group}-n0`));
      const kwokNode = await clients.core.readNode({ name: `${group}-n0` });
      // kwok reports port 0: the apiserver then dials its default, 10250, where nothing answers.
      assert.equal(kwokNode.status?.daemonEndpoints?.kubeletEndpoint?.Port || 10250, 10250);
      assert.equal(
        (await clients.core.readNode({ name: node.name })).metadata?.annotations?.['kwok.x-k8s.io/node'],
        undefined,
      );
    });

    const probePod = (name: string): V1Pod => ({
      metadata: { name, labels: { app: name } },
      spec: {
        nodeName: node.name,
        hostNetwork: true,
        dnsPolicy: 'Default',
        terminationGracePeriodSeconds: 2,
        containers: [{ name: 'probe', image: node.images.probe, imagePullPolicy: 'Never' }],
      },
    });

    it('runs a pod from the local probe image; logs, logs --previous and exec reach the real kubelet', async () => {
      await clients.core.createNamespacedPod({ namespace: ns, body: probePod('logs') });
      const [pod] = await readyPods(clients, ns, 'app=logs', 1, 60_000);
      assert.equal(pod?.status?.containerStatuses?.[0]?.imageID.length ? true : false, true);
      assert.match(await kubectl('-n', ns, 'logs', 'logs'), /restart-probe started \(pid 1\)/);
      // exec through client-node's WebSocket, as execKill does
      const exec = new ClientExecRunner(new (await import('@kubernetes/client-node')).Exec(clients.kubeConfig));
      const echo = await exec.run(ns, 'logs', 'probe', ['sh', '-c', 'echo hello from $(hostname); exit 3'], 10_000);
      assert.equal(echo.status, 'Failure');
      assert.equal(echo.exitCode, 3);
      assert.match(echo.stdout, /hello from /);
      assert.equal(await kubectl('-n', ns, 'exec', 'logs', '--', 'restart-probe', 'exit', '1'), 'dying: exit 1\n');
      await waitFor(
        'the logs container restarted once',
        async () => {
          const p = await clients.core.readNamespacedPod({ namespace: ns, name: 'logs' });
          const c = p.status?.containerStatuses?.[0];
          return c?.restartCount === 1 && c.state?.running !== undefined;
        },
        30_000,
      );
      assert.match(await kubectl('-n', ns, 'logs', 'logs', '--previous'), /told to die: exit 1/);
    });

    it('execKill: exit 1, a SIGSEGV crash and kill -s TERM 1 restart the container in place with exit codes 1, 139, 0', async () => {
      await clients.core.createNamespacedPod({ namespace: ns, body: probePod('s3gw') });
      await readyPods(clients, ns, 'app=s3gw', 1, 60_000);
      const exp = parseExperiment(
        {
          name: 't-exec-kill',
          scenario: 'jetstream-publish',
          target: { kind: 'kubernetes', context: TEST_CONTEXT, namespaces: [ns] },
          env: { RATE: '1', DURATION: '1s', PUBLISH_URL: 'http://127.0.0.1:1/publish' },
          thresholds: 'ha-observe',
          plan: [],
        },
        'inline',
      );
      const conn = await connectKubernetesTarget(exp, { kubeconfig: (cluster as KubeCluster).kubeconfig });
      const timeline = scratchTimeline('exec-kill');
      const observer = new KubernetesObserver({ clients, namespaces: [ns], timeline });
      await observer.start();
      try {
        const target = { name: 's3gw' };
        const rounds = [
          { id: 'exit-1', command: ['restart-probe', 'exit', '1'], expectExitCode: 1 },
          { id: 'segv', command: ['restart-probe', 'segv'], expectExitCode: 139 },
          { id: 'term', signal: 'TERM', expectExitCode: 0 },
        ];
        const executed = [];
        for (const r of rounds) {
          const done = await runPlan(
            conn.driver(),
            plan([{ ...r, at: '1ms', action: 'execKill', target, restartTimeout: '60s' }]),
            timeline,
          );
          executed.push(...done.executed);
        }
        assert.deepEqual(
          executed.map((e) => e.error),
          [null, null, null],
        );
        const back = timeline.events.filter((e) => e.kind === 'container-back');
        assert.deepEqual(
          back.map((e) => e.detail['exit_code']),
          [1, 139, 0],
          JSON.stringify(back),
        );
        assert.ok(
          back.every((e) => e.detail['expected_exit_code'] === undefined),
          'every exit code as expected',
        );
        // The observer's own watch may see the last restart a moment after execKill's did.
        const series = await waitFor('three restarts of s3gw in the report', async () => {
          const report = kubernetesReport({ context: TEST_CONTEXT, namespaces: [ns], affected: [], observer });
          const s = report.restarts.find((r) => r.pod === 's3gw');
          return s !== undefined && s.restarts >= 3 ? s : null;
        });
        assert.equal(series.restarts, 3, JSON.stringify(series));
        assert.deepEqual(series.exitCodes, [1, 139, 0]);
        // The kubelet's CrashLoopBackOff: the first restart at once, then 10 s, then 20 s.
        assert.ok(series.backoffSeconds.length >= 1 && series.backoffSeconds[0] === 10, JSON.stringify(series));
      } finally {
        await observer.stop();
        timeline.close();
        await conn.close();
      }
    });

    it('teardown leaves the host as it was: processes, mounts, kubepods cgroups, sysctls, KUBE-* chains, directories', async () => {
      const dir = (cluster as KubeCluster).dir;
      assert.notDeepEqual(
        captureHostState([dir]),
        hostBefore,
        'while the node is up the host is changed (or this check sees nothing)',
      );
      await (cluster as KubeCluster).stop();
      assert.deepEqual(hostChanges(hostBefore, await captureHostStateWithNoNodeUp([dir])), []);
    });
  },
);
