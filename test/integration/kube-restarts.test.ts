// The s3gw restart-timing probe (the plan of experiments/s3gw-restart-probe.json) against a real
// container under the real kubelet's CrashLoopBackOff: a Deployment s3gw (container s3gw) runs the
// restart-probe image, the seed's patched-radosgw stand-in; `k6-ha run` of the shipped plan,
// with the seed's EXIT-1 mode (`restart-probe exit 1` through exec) and the series shortened to 4
// restarts, must report each restart's duration, the exit codes and the back-off growth the
// kubelet really applies: 10 s · 2ⁿ capped at 300 s, within the pod worker's jitter
// (back-off ≤ wait ≤ back-off + 0.5 × min(back-off, syncFrequency 10 s) + 2 s, ±1 s for the
// kubelet's whole-second timestamps). The load is a trickle through a local stack (the series does
// not depend on it; the shipped file's S3 load against a versitygw pod is kube-s3.test.ts). Needs root and the Debian packages; run under `flock /tmp/k6ha-cpu.lock`.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeClients } from '../../lib/kube/client.ts';
import { backoffWaitBounds, kubeletBackoffSeconds } from '../../lib/kube/kube-metrics.ts';
import { LocalStack } from '../../lib/stack/local-stack.ts';
import { PROJECT_ROOT } from '../../lib/tools/toolchain.ts';
import type { KubernetesReport } from '../../lib/shared/types.ts';
import type { KubeCluster, RealNode } from '../support/kube-cluster.ts';
import { captureHostStateWithNoNodeUp, hostChanges, type HostState } from '../support/host-state.ts';
import {
  onlyRunDir,
  readJson,
  readTimeline,
  requireK6,
  requireNatsServer,
  runCli,
  scratchDir,
  writeExperiment,
} from '../support/cli.ts';
import { readyPods, realNodeClusterForTests, TEST_CONTEXT, waitFor } from '../support/kube-fixtures.ts';

const NS = 's3gw';
const SYNC_FREQUENCY_S = 10; // node-up.sh's default K6HA_KUBE_SYNC_FREQUENCY

describe(
  'the s3gw restart series under a real CrashLoopBackOff (real kubelet, root)',
  { timeout: Number(process.env['K6HA_S3GW_RESTARTS'] ?? '4') > 4 ? 3_600_000 : 600_000, concurrency: false },
  () => {
    let cluster: KubeCluster | null = null;
    let clients: KubeClients;
    let node: RealNode;
    let hostBefore: HostState;
    let stack: LocalStack | null = null;

    before(async () => {
      await requireK6();
      const natsServerBin = await requireNatsServer();
      ({ cluster, clients, node, hostBefore } = await realNodeClusterForTests());
      await clients.core.createNamespace({ body: { metadata: { name: NS } } });
      await waitFor(`ServiceAccount default in ${NS}`, async () =>
        (await clients.core.listNamespacedServiceAccount({ namespace: NS })).items.some(
          (s) => s.metadata?.name === 'default',
        ),
      );
      const labels = { 'app.kubernetes.io/name': 's3gw' };
      await clients.apps.createNamespacedDeployment({
        namespace: NS,
        body: {
          metadata: { name: 's3gw', labels },
          spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: {
                nodeSelector: { 'kubernetes.io/hostname': node.name },
                hostNetwork: true,
                dnsPolicy: 'Default',
                terminationGracePeriodSeconds: 2,
                containers: [{ name: 's3gw', image: node.images.probe, imagePullPolicy: 'Never' }],
              },
            },
          },
        },
      });
      await readyPods(clients, NS, 'app.kubernetes.io/name=s3gw', 1, 60_000);
      stack = await LocalStack.start({
        runDir: mkdtempSync(join(tmpdir(), 'k6ha-s3gw-stack-')),
        natsServerBin,
        replicas: 1,
      });
    });

    after(async () => {
      await stack?.stop();
      await cluster?.stop();
    });

    it(`the plan of experiments/s3gw-restart-probe.json against the restart probe (EXIT-1, ${process.env['K6HA_S3GW_RESTARTS'] ?? '4'} restarts): durations, exit codes and back-off match the kubelet`, async (t) => {
      const shipped = JSON.parse(
        readFileSync(join(PROJECT_ROOT, 'experiments', 's3gw-restart-probe.json'), 'utf8'),
      ) as {
        target: Record<string, unknown>;
        plan: Array<Record<string, unknown>>;
      };
      // 4 in the suite (~75 s of back-off); K6HA_S3GW_RESTARTS=10 runs the seed's full series (~26 min)
      const times = Number(process.env['K6HA_S3GW_RESTARTS'] ?? '4');
      const backoffs = Array.from({ length: times }, (_, i) => kubeletBackoffSeconds(i + 1));
      const durationS = backoffs.reduce((a, b) => a + b, 0) + 15 * times + 60;
      // The shipped plan against the restart probe (the seed's patched-radosgw stand-in), with a
      // trickle of events as the load: the S3 load of the shipped file is kube-s3.test.ts's.
      const exp = {
        name: 't-restart-probe-exit1',
        scenario: 'jetstream-publish',
        target: { ...shipped.target, context: TEST_CONTEXT },
        env: { RATE: '1', DURATION: `${durationS}s`, PUBLISH_URL: (stack as LocalStack).publishUrl },
        thresholds: 'ha-observe',
        blastRadius: 1,
        plan: shipped.plan.map((a) => ({
          ...a,
          at: '2s',
          times,
          // the seed's EXIT-1: the patched radosgw (here restart-probe) told to exit with code 1
          command: ['restart-probe', 'exit', '1'],
          expectExitCode: 1,
          interval: '0s',
          restartTimeout: '7m',
        })),
      };
      const dir = scratchDir('s3gw');
      const res = await runCli(
        ['run', writeExperiment(dir, exp), '--out-dir', dir, '--kubeconfig', (cluster as KubeCluster).kubeconfig],
        {
          timeoutMs: (durationS + 120) * 1000,
        },
      );
      assert.ok(
        res.code === 0 || res.code === 99,
        `k6-ha run exited ${res.code}:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`,
      );
      const runDir = onlyRunDir(dir);
      const summary = readJson<{ kubernetes: KubernetesReport }>(join(runDir, 'summary.json'));
      const series = summary.kubernetes.restarts.find((r) => r.container === 's3gw');
      assert.ok(series !== undefined, JSON.stringify(summary.kubernetes.restarts));
      t.diagnostic(`restart series: ${JSON.stringify(series)}`);
      assert.equal(series.restarts, times, JSON.stringify(series));
      assert.deepEqual(series.exitCodes, Array(times).fill(1));
      assert.equal(series.durationsSeconds.length, times, JSON.stringify(series));
      series.durationsSeconds.forEach((d, i) => {
        const b = kubeletBackoffSeconds(i + 1);
        const [lo, hi] = backoffWaitBounds(b, SYNC_FREQUENCY_S);
        assert.ok(
          d >= lo && d <= hi,
          `restart ${i + 1}: ${d} s, the kubelet's back-off ${b} s allows ${lo}–${hi} s (${JSON.stringify(series)})`,
        );
      });
      // the back-off the kubelet announced in its CrashLoopBackOff messages, and how the waits grew
      // the back-offs the kubelet announced in its CrashLoopBackOff messages (10, 20, 40, … 300, each once)
      const announced = backoffs.slice(1).filter((b, i, all) => i === 0 || all[i - 1] !== b);
      assert.deepEqual(series.backoffSeconds, announced, JSON.stringify(series));
      // the growth of each wait over the one before, within what the bounds allow (~2 while the
      // back-off doubles: 10 → 20 s may read 19/17 = 1.1 to 27/9 = 3 with the jitter)
      series.growth.forEach((g, i) => {
        const [prevLo, prevHi] = backoffWaitBounds(backoffs[i] ?? 0, SYNC_FREQUENCY_S);
        const [nextLo, nextHi] = backoffWaitBounds(backoffs[i + 1] ?? 0, SYNC_FREQUENCY_S);
        if (prevLo > 0)
          assert.ok(
            g >= nextLo / prevHi - 0.01 && g <= nextHi / prevLo + 0.01,
            `growth ${i + 1}: ${JSON.stringify(series.growth)}`,
          );
      });
      const timeline = readTimeline(runDir);
      const back = timeline.filter((e) => e.kind === 'container-back');
      assert.deepEqual(
        back.map((e) => e.detail['exit_code']),
        Array(times).fill(1),
      );
      assert.ok(
        timeline.some((e) => e.kind === 'container-waiting' && String(e.detail['reason']) === 'CrashLoopBackOff'),
      );
    });

    it('teardown leaves the host as it was', async () => {
      await stack?.stop();
      stack = null;
      const dir = (cluster as KubeCluster).dir;
      await (cluster as KubeCluster).stop();
      assert.deepEqual(hostChanges(hostBefore, await captureHostStateWithNoNodeUp([dir])), []);
    });
  },
);
