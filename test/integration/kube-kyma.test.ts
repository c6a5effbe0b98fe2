// The seed's Kyma experiments against real pods: an eventing-nats StatefulSet of 3 real
// nats-server pods on the real test node (test/support/kube-nats.ts), stream sap, the publisher
// and the sink on the host talking to the pods' ports, real k6 at the seed's 150 events/s.
// experiments/kyma-leader-pod-deleted.json (R1) and kyma-r3-leader-pod-deleted.json (R3) run
// through `k6-ha run` as shipped, with the load shortened (the chaos at 10 s of 60 s) and the
// target pointed at the test cluster: `leaderOf` deletes the real leader's pod, the kubelet runs
// the chart's lame-duck preStop, the StatefulSet recreates the pod on the same data, and the
// timeline shows deleted → scheduled → running → Ready next to JetStream's leader election and the
// publish failures. R1 is unavailable until the pod is back; R3 elects a new leader at once.
// Needs root and the Debian packages (fails saying so); run under `flock /tmp/k6ha-cpu.lock`.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeClients } from '../../lib/kube/client.ts';
import { HostServices } from '../../lib/stack/local-stack.ts';
import { DEFAULT_CONSUMER } from '../../lib/shared/defaults.ts';
import { PROJECT_ROOT } from '../../lib/tools/toolchain.ts';
import type { Accounting, KubernetesReport, RecoveryReport } from '../../lib/shared/types.ts';
import type { KubeCluster, RealNode } from '../support/kube-cluster.ts';
import { captureHostStateWithNoNodeUp, hostChanges, type HostState } from '../support/host-state.ts';
import { createNatsStatefulSet, type NatsPods } from '../support/kube-nats.ts';
import { onlyRunDir, readJson, readTimeline, requireK6, runCli, scratchDir, writeExperiment } from '../support/cli.ts';
import { readyPods, realNodeClusterForTests, TEST_CONTEXT, waitFor } from '../support/kube-fixtures.ts';

const NS = 'kyma-system';

type TimelineEvent = ReturnType<typeof readTimeline>[number];

interface RunSummary {
  accounting: Accounting;
  recovery: RecoveryReport[];
  kubernetes: KubernetesReport;
}

describe(
  'the Kyma experiments against real nats-server pods (real kubelet, root)',
  { timeout: 900_000, concurrency: false },
  () => {
    let cluster: KubeCluster | null = null;
    let clients: KubeClients;
    let node: RealNode;
    let hostBefore: HostState;
    let nats: NatsPods;
    let services: HostServices | null = null;
    const results: Record<string, { summary: RunSummary; timeline: TimelineEvent[]; leader: string }> = {};

    before(async () => {
      await requireK6();
      ({ cluster, clients, node, hostBefore } = await realNodeClusterForTests());
      await clients.core.createNamespace({ body: { metadata: { name: NS } } });
      await waitFor(`ServiceAccount default in ${NS}`, async () =>
        (await clients.core.listNamespacedServiceAccount({ namespace: NS })).items.some(
          (s) => s.metadata?.name === 'default',
        ),
      );
      nats = await createNatsStatefulSet(clients, cluster, node, NS);
      await readyPods(clients, NS, 'nats_cluster=eventing-nats', 3, 120_000);
      services = await HostServices.start({
        runDir: mkdtempSync(join(tmpdir(), 'k6ha-kyma-services-')),
        natsUrls: nats.clientUrls,
        replicas: 1,
      });
    });

    after(async () => {
      await services?.stop();
      await cluster?.stop();
    });

    const streamLeader = async (): Promise<string> =>
      waitFor(
        'a leader of stream sap',
        async () => {
          const info = await (await (services as HostServices).jsm()).streams.info('sap');
          return info.cluster?.leader ?? null;
        },
        60_000,
      );

    /** A shipped experiment, pointed at the test cluster, its load shortened; runs it with `k6-ha run`. */
    async function runShipped(
      file: string,
    ): Promise<{ summary: RunSummary; timeline: TimelineEvent[]; leader: string }> {
      const shipped = JSON.parse(readFileSync(join(PROJECT_ROOT, 'experiments', file), 'utf8')) as Record<
        string,
        unknown
      > & {
        target: Record<string, unknown>;
        env: Record<string, string>;
        plan: Array<Record<string, unknown>>;
      };
      const s = services as HostServices;
      const exp = {
        ...shipped,
        target: {
          ...shipped.target,
          natsUrl: nats.clientUrls.join(','),
          consumer: DEFAULT_CONSUMER,
          sinkUrl: s.sinkUrl,
        },
        env: { ...shipped.env, DURATION: '60s', PUBLISH_URL: s.publishUrl },
        // the chaos at 10 s instead of 30 s; a `wait` 1 s after it, as shipped
        plan: shipped.plan.map((a) => ({ ...a, at: a['at'] === '30s' ? '10s' : '11s' })),
      };
      delete (exp as { presets?: unknown }).presets;
      const dir = scratchDir(`kyma-${file}`);
      const leader = await streamLeader();
      const res = await runCli(
        [
          'run',
          writeExperiment(dir, exp),
          '--out-dir',
          dir,
          '--kubeconfig',
          (cluster as KubeCluster).kubeconfig,
          '--context',
          TEST_CONTEXT,
        ],
        { timeoutMs: 240_000 },
      );
      assert.ok(
        res.code === 0 || res.code === 99,
        `k6-ha run ${file} exited ${res.code}:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`,
      );
      const runDir = onlyRunDir(dir);
      return { summary: readJson<RunSummary>(join(runDir, 'summary.json')), timeline: readTimeline(runDir), leader };
    }

    /** The pod's life on the timeline, in order, from the kubernetes watch. */
    function podStory(timeline: TimelineEvent[], pod: string): string[] {
      return timeline
        .filter((e) => e.source === 'kubernetes' && e.target === `${NS}/${pod}` && (e.offset_ms ?? -1) >= 0)
        .map((e) => e.kind)
        .filter((k) => ['pod-deleted', 'pod-created', 'pod-scheduled', 'pod-running', 'pod-ready'].includes(k));
    }

    function assertStory(name: string, t: { diagnostic(m: string): void }): void {
      const { summary, timeline, leader } = results[name] as (typeof results)[string];
      t.diagnostic(
        `${name}: ${JSON.stringify(summary.accounting)} recovery ${JSON.stringify(summary.recovery)} pods ${JSON.stringify(summary.kubernetes.pods)}`,
      );
      const executed = timeline.find((e) => e.kind === 'executed' && e.detail['action_id'] === 'delete-leader-pod');
      assert.equal(executed?.target, `${NS}/${leader}`, `${name}: leaderOf hit the leader's pod`);
      const story = podStory(timeline, leader);
      const from = story.indexOf('pod-deleted');
      assert.ok(from >= 0, `${name}: ${story.join(' → ')}`);
      const after = story.slice(from);
      for (const k of ['pod-scheduled', 'pod-running', 'pod-ready'])
        assert.ok(after.includes(k), `${name}: ${k} after pod-deleted: ${after.join(' → ')}`);
      assert.ok(
        after.indexOf('pod-scheduled') < after.indexOf('pod-running') &&
          after.indexOf('pod-running') < after.indexOf('pod-ready'),
        `${name}: deleted → scheduled → running → Ready: ${after.join(' → ')}`,
      );
      const pod = summary.kubernetes.pods.find((p) => p.actionId === 'delete-leader-pod');
      assert.ok(pod !== undefined && pod.replacement === leader, JSON.stringify(summary.kubernetes.pods));
      assert.ok(
        pod.goneSeconds !== null && pod.rescheduleSeconds !== null && pod.readySeconds !== null,
        JSON.stringify(pod),
      );
      // The lame-duck preStop: the member hands off and exits by itself within seconds (lame_duck_duration
      // bounds the close of its few clients), well inside the 60 s grace period (no SIGKILL); the
      // StatefulSet's replacement is Ready within seconds of the old pod being gone.
      assert.ok(pod.goneSeconds > 0 && pod.goneSeconds < 60, JSON.stringify(pod));
      assert.ok(pod.readySeconds - pod.goneSeconds < 15, JSON.stringify(pod));
      assert.equal(summary.accounting.lost, 0, `${name}: nothing acked is lost`);
    }

    it('R1 (kyma-leader-pod-deleted.json): the real leader pod deleted; publishes fail until the recreated pod leads again', async (t) => {
      results['r1'] = await runShipped('kyma-leader-pod-deleted.json');
      assertStory('r1', t);
      const { summary, timeline } = results['r1'];
      const failedOrUnknown = summary.accounting.failed + summary.accounting.unknown;
      assert.ok(failedOrUnknown > 150, `R1: the stream is gone for seconds: ${JSON.stringify(summary.accounting)}`);
      const rec = summary.recovery.find((r) => r.actionId === 'delete-leader-pod');
      assert.ok(rec?.unavailableSeconds != null && rec.unavailableSeconds > 1, JSON.stringify(rec));
      assert.equal(rec.readySeconds, summary.kubernetes.pods[0]?.readySeconds);
      assert.ok(
        timeline.some((e) => e.source === 'stream' && (e.kind === 'stream-unavailable' || e.kind === 'leader-lost')),
      );
    });

    it('R3 (kyma-r3-leader-pod-deleted.json, after `stream update sap --replicas 3`): a new leader at once, (almost) nothing fails, ha-strict passes', async (t) => {
      const jsm = await (services as HostServices).jsm();
      const info = await jsm.streams.info('sap');
      await jsm.streams.update('sap', { ...info.config, num_replicas: 3 });
      await waitFor(
        'sap at 3 current replicas',
        async () => {
          const i = await jsm.streams.info('sap');
          return (i.cluster?.replicas ?? []).filter((r) => r.current).length === 2 && i.cluster?.leader;
        },
        60_000,
        500,
      );
      results['r3'] = await runShipped('kyma-r3-leader-pod-deleted.json');
      assertStory('r3', t);
      const { summary, timeline, leader } = results['r3'];
      const elected = timeline.find(
        (e) =>
          e.source === 'stream' && e.kind === 'leader-elected' && (e.offset_ms ?? 0) >= 10_000 && e.target !== leader,
      );
      assert.ok(elected !== undefined, "R3: JetStream's leader-elected advisory names another member");
      const failedOrUnknown = summary.accounting.failed + summary.accounting.unknown;
      assert.ok(
        failedOrUnknown < summary.accounting.attempted * 0.01,
        `R3: under 1 %: ${JSON.stringify(summary.accounting)}`,
      );
      const r1 = results['r1']?.summary.accounting;
      assert.ok(
        r1 === undefined || failedOrUnknown * 10 < r1.failed + r1.unknown,
        'R3 fails an order of magnitude less than R1',
      );
      const rec = summary.recovery.find((r) => r.actionId === 'delete-leader-pod');
      assert.ok(rec?.leaderFailoverSeconds != null && rec.leaderFailoverSeconds < 5, JSON.stringify(rec));
    });

    it('teardown leaves the host as it was', async () => {
      await services?.stop();
      services = null;
      const dir = (cluster as KubeCluster).dir;
      await (cluster as KubeCluster).stop();
      assert.deepEqual(hostChanges(hostBefore, await captureHostStateWithNoNodeUp([dir])), []);
    });
  },
);
