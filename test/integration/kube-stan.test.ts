// Seed 004 on the real kubelet: the seed's StatefulSet `stan` (3 real nats-streaming-server pods,
// ft_group test-cluster, one shared volume: a hostPath directory every pod mounts stands in for
// the seed's ReadWriteMany PVC — test/support/kube-stan.ts), k6-ha's publisher with its STAN
// backend and the durable-subscription sink on the host talking to the pods' ports, real k6 at
// the seed's 150 events/s. `k6-ha run experiments/stan-ft-kube-active-pod-deleted.json` (the
// local experiment's plan, unchanged) deletes the pod that reports FT_ACTIVE (`activeOf`,
// resolved from each pod's /streaming/serverz), a standby takes the store's lock, the StatefulSet
// recreates the pod, and the run reconciles: nothing acked lost, duplicates only the publisher's
// own re-publishes, ft-at-least-once passes. Needs root and the Debian packages (fails saying so);
// run under `flock /tmp/k6ha-cpu.lock`.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeClients } from '../../lib/kube/client.ts';
import { FtEndpoint, ftStates } from '../../lib/stack/stan/stan-cluster.ts';
import { StanHostServices } from '../../lib/stack/stan/stan-stack.ts';
import { PROJECT_ROOT } from '../../lib/tools/toolchain.ts';
import type { Accounting, KubernetesReport, RecoveryReport } from '../../lib/shared/types.ts';
import type { KubeCluster, RealNode } from '../support/kube-cluster.ts';
import { captureHostStateWithNoNodeUp, hostChanges, type HostState } from '../support/host-state.ts';
import { createStanStatefulSet, type StanPods } from '../support/kube-stan.ts';
import { onlyRunDir, readJson, readTimeline, requireK6, runCli, scratchDir, writeExperiment } from '../support/cli.ts';
import { readyPods, realNodeClusterForTests, TEST_CONTEXT, waitFor } from '../support/kube-fixtures.ts';

const NS = 'default';
const SHIPPED = 'stan-ft-kube-active-pod-deleted.json';

interface RunSummary {
  accounting: Accounting;
  recovery: RecoveryReport[];
  kubernetes: KubernetesReport;
  k6ha: { notes: string[] };
}

const lines = (file: string): string[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];

describe(
  "seed 004's StatefulSet stan on the real kubelet: the active pod deleted (root)",
  { timeout: 600_000, concurrency: false },
  () => {
    let cluster: KubeCluster | null = null;
    let clients: KubeClients;
    let node: RealNode;
    let hostBefore: HostState;
    let stan: StanPods;
    let services: StanHostServices | null = null;
    let servicesDir = '';
    let experimentFile = '';

    const members = (): FtEndpoint[] => Object.entries(stan.monitorUrls).map(([pod, url]) => new FtEndpoint(pod, url));

    before(async () => {
      await requireK6();
      ({ cluster, clients, node, hostBefore } = await realNodeClusterForTests());
      await waitFor(`ServiceAccount default in ${NS}`, async () =>
        (await clients.core.listNamespacedServiceAccount({ namespace: NS })).items.some(
          (s) => s.metadata?.name === 'default',
        ),
      );
      stan = await createStanStatefulSet(clients, cluster, node, NS);
      await readyPods(clients, NS, 'app=stan', 3, 120_000);
      // "If everything was setup properly, one of the servers will be the active node."
      await waitFor(
        'one stan pod reporting FT_ACTIVE, the others FT_STANDBY',
        async () => {
          const states = [...(await ftStates(members())).values()];
          return (
            states.filter((s) => s === 'FT_ACTIVE').length === 1 &&
            states.filter((s) => s === 'FT_STANDBY').length === 2
          );
        },
        60_000,
        200,
      );
      servicesDir = mkdtempSync(join(tmpdir(), 'k6ha-stan-services-'));
      services = StanHostServices.create({
        runDir: servicesDir,
        natsUrls: Object.values(stan.clientUrls),
        republish: true,
      });
      await services.start();
      // The shipped experiment, pointed at the test cluster's pods and the services on the host.
      const shipped = JSON.parse(readFileSync(join(PROJECT_ROOT, 'experiments', SHIPPED), 'utf8')) as Record<
        string,
        unknown
      > & { target: Record<string, unknown> & { stan: Record<string, unknown> }; env: Record<string, string> };
      experimentFile = writeExperiment(scratchDir('kube-stan-exp'), {
        ...shipped,
        target: {
          ...shipped.target,
          context: TEST_CONTEXT,
          sinkUrl: services.sinkUrl,
          stan: {
            ...shipped.target.stan,
            monitorUrls: stan.monitorUrls,
            natsUrl: Object.values(stan.clientUrls).join(','),
            publisherUrl: services.publisherUrl,
          },
        },
        env: { ...shipped.env, PUBLISH_URL: services.publishUrl },
      });
    });

    after(async () => {
      await services?.stop();
      await cluster?.stop();
    });

    const kubeArgs = (): string[] => ['--kubeconfig', (cluster as KubeCluster).kubeconfig, '--context', TEST_CONTEXT];

    it('--dry-run resolves activeOf to the pod that reports FT_ACTIVE, read-only; a group that does not exist is refused (exit 2)', async (t) => {
      const active = await waitFor('the active pod', async () => {
        const states = await ftStates(members());
        return [...states].find(([, s]) => s === 'FT_ACTIVE')?.[0] ?? null;
      });
      const res = await runCli(['run', experimentFile, '--dry-run', ...kubeArgs()], { timeoutMs: 60_000 });
      t.diagnostic(res.stdout);
      assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
      assert.match(
        res.stdout,
        new RegExp(`delete-active\\s+deletePod\\s+activeOf=test-cluster\\s+→ ${NS}/${active}\\b`),
      );
      assert.match(res.stdout, /the active is stan-\d now/);
      assert.match(
        res.stdout,
        /resolved in context k6-ha-test with read-only API calls; nothing was started or changed/,
      );

      const exp = JSON.parse(readFileSync(experimentFile, 'utf8')) as { plan: Array<Record<string, unknown>> };
      const bad = writeExperiment(scratchDir('kube-stan-bad'), {
        ...exp,
        plan: [{ ...exp.plan[0], target: { activeOf: 'nope' } }],
      });
      const refused = await runCli(['run', bad, ...kubeArgs()], { timeoutMs: 60_000 });
      assert.equal(refused.code, 2, `${refused.stdout}\n${refused.stderr}`);
      assert.match(
        refused.stderr,
        /plan\[0\]\.target\.activeOf: "nope" is not allowed — expected "test-cluster", the ft_group of target\.stan/,
      );
      // nothing was started: no pod was touched
      const pods = await readyPods(clients, NS, 'app=stan', 3);
      assert.ok(pods.every((p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) === 0));
    });

    it('the active pod deleted under real k6 load: a standby takes over, the pod comes back as a standby, nothing acked lost, ft-at-least-once passes', async (t) => {
      const dir = scratchDir('kube-stan');
      const res = await runCli(['run', experimentFile, '--out-dir', dir, ...kubeArgs()], { timeoutMs: 240_000 });
      t.diagnostic(res.stdout.slice(-6000));
      assert.equal(
        res.code,
        0,
        `ft-at-least-once should pass:\n${res.stdout.slice(-4000)}\n${res.stderr.slice(-3000)}`,
      );
      const runDir = onlyRunDir(dir);
      const s = readJson<RunSummary>(join(runDir, 'summary.json'));
      const timeline = readTimeline(runDir);
      const a = s.accounting;
      t.diagnostic(
        `accounting ${JSON.stringify(a)}\nrecovery ${JSON.stringify(s.recovery)}\npods ${JSON.stringify(s.kubernetes.pods)}`,
      );

      // activeOf hit the pod that was active at that moment
      const r = s.recovery.find((x) => x.actionId === 'delete-active');
      assert.ok(r !== undefined && r.leaderBefore !== null, JSON.stringify(s.recovery));
      const executed = timeline.find((e) => e.kind === 'executed' && e.detail['action_id'] === 'delete-active');
      assert.equal(executed?.target, `${NS}/${r.leaderBefore}`, "activeOf deleted the active's pod");
      const at = executed.offset_ms ?? 0;
      const lastActiveBefore = timeline.filter((e) => e.kind === 'ft-active' && (e.offset_ms ?? 0) <= at).at(-1);
      assert.equal(lastActiveBefore?.target, r.leaderBefore, 'the FT observer saw that pod active before');

      // the pod's story from the kubelet: deleted → scheduled → running → Ready
      const story = timeline
        .filter((e) => e.source === 'kubernetes' && e.target === `${NS}/${r.leaderBefore}` && (e.offset_ms ?? 0) >= at)
        .map((e) => e.kind)
        .filter((k) => ['pod-deleted', 'pod-scheduled', 'pod-running', 'pod-ready'].includes(k));
      const from = story.indexOf('pod-deleted');
      const rest = story.slice(from);
      assert.ok(
        from >= 0 &&
          rest.indexOf('pod-scheduled') > 0 &&
          rest.indexOf('pod-running') > rest.indexOf('pod-scheduled') &&
          rest.indexOf('pod-ready') > rest.indexOf('pod-running'),
        `deleted → scheduled → running → Ready: ${story.join(' → ')}`,
      );
      const pod = s.kubernetes.pods.find((p) => p.actionId === 'delete-active');
      assert.ok(pod !== undefined && pod.replacement === r.leaderBefore, JSON.stringify(s.kubernetes.pods));
      // SIGTERM runs the server's own Shutdown: gone well inside the seed's 30 s grace period
      assert.ok(pod.goneSeconds !== null && pod.goneSeconds < 30, JSON.stringify(pod));
      assert.ok(pod.readySeconds !== null && pod.readySeconds - pod.goneSeconds < 15, JSON.stringify(pod));

      // the FT state change: no active for a moment, then another pod FT_ACTIVE; the recreated pod stands by
      assert.ok(
        timeline.some((e) => e.kind === 'ft-no-active' && (e.offset_ms ?? 0) >= at),
        'a moment with no active',
      );
      assert.ok(
        r.leaderAfter !== null && r.leaderAfter !== r.leaderBefore,
        `the active moved: ${r.leaderBefore} → ${r.leaderAfter}`,
      );
      const took = timeline.find(
        (e) => e.kind === 'ft-active' && e.target === r.leaderAfter && (e.offset_ms ?? 0) > at,
      );
      assert.ok(took !== undefined, 'a standby reported FT_ACTIVE after the deletion');
      assert.ok(
        timeline.some((e) => e.kind === 'ft-standby' && e.target === r.leaderBefore && (e.offset_ms ?? 0) > at),
        'the recreated pod came back as a standby',
      );

      // the new active took the shared store's lock and recovered it: its own log, through the kubelet
      const log = await clients.core.readNamespacedPodLog({ name: r.leaderAfter, namespace: NS, container: 'stan' });
      assert.match(log, /STREAM: Server is active/);
      assert.match(log, /STREAM: Recovered \d+ channel\(s\)/);
      t.diagnostic(
        `${r.leaderAfter}'s log:\n${log
          .split('\n')
          .filter((l) =>
            /Server is active|Recovering the state|Recovered \d+ channel|Streaming Server is ready/.test(l),
          )
          .join('\n')}`,
      );

      // failover measured: action → FT_ACTIVE reported (< 5 s, the gate), → the first acked publish after it
      assert.ok(
        r.leaderFailoverSeconds !== null && r.leaderFailoverSeconds > 0 && r.leaderFailoverSeconds < 5,
        JSON.stringify(r),
      );
      assert.ok(
        typeof r.firstAckSeconds === 'number' && r.firstAckSeconds >= r.leaderFailoverSeconds,
        JSON.stringify(r),
      );

      // the books: nothing acked lost, every event one outcome, the publisher's own record agrees
      assert.equal(a.lost, 0, 'nothing acked is lost');
      assert.equal(a.unexpected, 0);
      assert.ok(a.attempted >= 5000, `the load ran at 150/s for 40 s: ${a.attempted}`);
      assert.equal(a.acked + a.failed + a.unknown, a.attempted);
      assert.equal(a.inStream, a.acked - a.lost + a.recovered);
      assert.equal(a.streamDelta, a.inStream + a.duplicates, 'channel sequences = distinct events + duplicates');
      assert.equal(new Set(lines(join(servicesDir, 'publisher-acked-ids.log'))).size, a.acked);
      assert.equal(a.missingAtSink, 0, 'the durable subscription got everything in the channel after the failover');
      // STAN has no de-duplication: a duplicate can only be a re-publish after an ack timeout
      const republished = Number(/published (\d+) event\(s\) again/.exec(s.k6ha.notes.join('\n'))?.[1] ?? 0);
      assert.ok(a.duplicates <= republished, `duplicates ${a.duplicates}, re-publishes ${republished}`);
      t.diagnostic(
        `delete-active: ${r.leaderBefore} → ${r.leaderAfter}, FT_ACTIVE after ${r.leaderFailoverSeconds}s, first ack after ${r.firstAckSeconds}s; pod gone ${pod.goneSeconds}s, Ready ${pod.readySeconds}s; ${a.failed + a.unknown} of ${a.attempted} not acked, ${a.duplicates} duplicates, ${republished} re-published`,
      );
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
