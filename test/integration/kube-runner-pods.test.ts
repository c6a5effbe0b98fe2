// `k6-ha operator` on the real kubelet: the sidecar runs as a pod and N k6 runner pods run against
// it. The manifests are the command's own (`--host-network`: the test node has no pod network,
// Services or cluster DNS, so every pod is on the node's network and 127.0.0.1 is the node), applied
// with kubectl as docs/kubernetes.md says; the sidecar pod runs the local k6-ha image
// (scripts/kube/images-k6ha.sh: node + the repository's build output, what deploy/Dockerfile
// builds), the runners the local k6 image (the pinned k6). k6-operator's controller is not
// installable here (no registry for its image), so its part — a Job and a Service per runner from
// the TestRun's runner spec, then the starter's resume over k6's REST API — is done the way it does
// it by test/support/k6-operator.ts. The load goes to the Kyma stack of kube-kyma.test.ts (3 real
// nats-server pods, stream sap at R3, publisher and sink on the host); the sidecar pod deletes the
// stream leader's pod through the Kubernetes API with its ServiceAccount's Role. One merged
// verdict: the runners' counts add up exactly, every runner's exit code is the merged verdict's,
// the merged summary is collected with `kubectl cp`; a runner pod killed (SIGKILL of its k6
// container) fails the merged verdict closed and names the runner. The host is as it was at the end.
// Needs root and the Debian packages (fails saying so); run under `flock /tmp/k6ha-cpu.lock`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClients } from '../../lib/kube/client.ts';
import { HostServices } from '../../lib/stack/local-stack.ts';
import { freePort } from '../../lib/stack/free-port.ts';
import { DEFAULT_CONSUMER } from '../../lib/shared/defaults.ts';
import { PROJECT_ROOT } from '../../lib/tools/toolchain.ts';
import type { Accounting } from '../../lib/shared/types.ts';
import type { KubeCluster, RealNode } from '../support/kube-cluster.ts';
import { captureHostStateWithNoNodeUp, hostChanges, type HostState } from '../support/host-state.ts';
import { createNatsStatefulSet, type NatsPods } from '../support/kube-nats.ts';
import { requireK6, runCli, scratchDir, writeExperiment } from '../support/cli.ts';
import { readyPods, realNodeClusterForTests, waitFor } from '../support/kube-fixtures.ts';
import { createRunners, startRunners, type TestRunDoc } from '../support/k6-operator.ts';

const NS = 'kyma-system';
const run = promisify(execFile);

interface MergedSummary {
  accounting: Accounting;
  metrics: Record<string, { values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;
  k6ha: {
    notes: string[];
    merged: {
      runners: number;
      summaries: number[];
      lost: Array<{ index: number; name: string; why: string }>;
      perRunner: Array<{ index: number; iterations: number }>;
    };
  };
}

interface RunnerPodsRun {
  name: string;
  codes: number[];
  summary: MergedSummary;
  timeline: Array<{ source: string; kind: string; target?: string; detail: Record<string, unknown> }>;
  sidecarLog: string;
}

describe(
  'the sidecar as a pod and k6 runner pods of `k6-ha operator` on the real kubelet (root)',
  { timeout: 600_000, concurrency: false },
  () => {
    let cluster: KubeCluster | null = null;
    let clients: KubeClients;
    let node: RealNode;
    let hostBefore: HostState;
    let nats: NatsPods;
    let services: HostServices | null = null;
    let images: { k6: string; k6ha: string };

    const kubectl = async (...args: string[]): Promise<string> => {
      const c = cluster as KubeCluster;
      try {
        const { stdout } = await run(c.kubectl, ['--kubeconfig', c.kubeconfig, ...args], {
          cwd: PROJECT_ROOT,
          maxBuffer: 32 * 1024 * 1024,
        });
        return stdout;
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`kubectl ${args.join(' ')}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
          cause: err,
        });
      }
    };

    before(async () => {
      await requireK6();
      ({ cluster, clients, node, hostBefore } = await realNodeClusterForTests());
      // The k6 and k6-ha images, built without a registry and imported into the node's containerd.
      const { stdout } = await run(join(PROJECT_ROOT, 'scripts', 'kube', 'images-k6ha.sh'), [cluster.dir], {
        cwd: PROJECT_ROOT,
      });
      const env = Object.fromEntries(
        stdout
          .trim()
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      images = { k6: env['K6_IMAGE'] as string, k6ha: env['K6HA_IMAGE'] as string };
      assert.match(images.k6ha, /^docker\.io\/local\/k6-ha:[0-9a-f]{12}$/);
      await clients.core.createNamespace({ body: { metadata: { name: NS } } });
      await waitFor(`ServiceAccount default in ${NS}`, async () =>
        (await clients.core.listNamespacedServiceAccount({ namespace: NS })).items.some(
          (s) => s.metadata?.name === 'default',
        ),
      );
      nats = await createNatsStatefulSet(clients, cluster, node, NS);
      await readyPods(clients, NS, 'nats_cluster=eventing-nats', 3, 120_000);
      services = await HostServices.start({
        runDir: mkdtempSync(join(tmpdir(), 'k6ha-runner-pods-services-')),
        natsUrls: nats.clientUrls,
        replicas: 3,
      });
    });

    after(async () => {
      await services?.stop();
      await cluster?.stop();
    });

    /**
     * The shipped R3 experiment, pointed at the test stack, through `k6-ha operator --host-network`;
     * applies 1-sidecar.yaml, starts the TestRun's runners as k6-operator does, and collects.
     */
    async function runWithRunnerPods(
      name: string,
      runners: number,
      opts: { duration: string; plan: boolean; duringLoad?: (pods: V1Pod[]) => Promise<void> },
    ): Promise<RunnerPodsRun> {
      const c = cluster as KubeCluster;
      const s = services as HostServices;
      const shipped = JSON.parse(
        readFileSync(join(PROJECT_ROOT, 'experiments', 'kyma-r3-leader-pod-deleted.json'), 'utf8'),
      ) as Record<string, unknown> & { target: Record<string, unknown>; plan: Array<Record<string, unknown>> };
      const exp = {
        ...shipped,
        name,
        description: opts.plan
          ? "the stream leader's pod deleted by the sidecar pod, with stream sap at 3 replicas, loaded by k6 runner pods"
          : 'no chaos on the target: one k6 runner pod is killed mid-run',
        target: {
          ...shipped.target,
          natsUrl: nats.clientUrls.join(','),
          consumer: DEFAULT_CONSUMER,
          sinkUrl: s.sinkUrl,
        },
        env: { RATE: '150', DURATION: opts.duration, PUBLISH_URL: s.publishUrl, REQUEST_TIMEOUT: '3s' },
        // the deletion at 10 s instead of 30 s, the wait for the leader 1 s after it, as shipped
        plan: opts.plan ? shipped.plan.map((a) => ({ ...a, at: a['at'] === '30s' ? '10s' : '11s' })) : [],
      };
      delete (exp as { presets?: unknown }).presets;
      const dir = scratchDir(`runner-pods-${name}`);
      const ports: number[] = [];
      for (let i = 0; i < runners; i++) ports.push(await freePort());
      const apis = ports.map((p) => `http://127.0.0.1:${p}`);
      const sidecarPort = await freePort();
      const out = join(dir, 'manifests');
      const gen = await runCli([
        'operator',
        writeExperiment(dir, exp),
        '--parallelism',
        String(runners),
        '--host-network',
        '--sidecar-port',
        String(sidecarPort),
        '--runner-api',
        apis.join(','),
        '--kube-api',
        c.apiUrl,
        '--image',
        images.k6ha,
        '--runner-image',
        images.k6,
        '--out-dir',
        out,
      ]);
      assert.equal(gen.code, 0, `${gen.stdout}\n${gen.stderr}`);
      assert.match(gen.stderr, /--host-network: the sidecar listens on the node's 127\.0\.0\.1/);

      // As docs/kubernetes.md says: apply the sidecar, wait for its rollout.
      // (server-side: a client-side apply's last-applied annotation of the script ConfigMap would be over 256 KiB)
      assert.match(gen.stdout, /kubectl apply --server-side -f .*1-sidecar\.yaml/);
      await kubectl('apply', '--server-side', '-f', join(out, '1-sidecar.yaml'));
      try {
        await kubectl('-n', NS, 'rollout', 'status', `deploy/${name}-sidecar`, '--timeout=90s');
      } catch (err) {
        const logs = await kubectl('-n', NS, 'logs', '-l', `app.kubernetes.io/instance=${name}`, '--tail=40').catch(
          (e: Error) => e.message,
        );
        throw new Error(`the sidecar pod did not become Ready; its log:\n${logs}`, { cause: err });
      }
      const [sidecarPod] = await readyPods(clients, NS, `app.kubernetes.io/instance=${name}`, 1, 60_000);
      assert.equal(sidecarPod?.spec?.hostNetwork, true);
      assert.equal(sidecarPod?.spec?.serviceAccountName, 'k6-ha');

      // k6-operator's part: the TestRun's runner Jobs and Services, then its starter.
      const testrunDocs = (
        clients.lib.loadAllYaml(readFileSync(join(out, '2-testrun.yaml'), 'utf8')) as unknown[]
      ).filter((d) => d !== null);
      const testrun = testrunDocs[0] as TestRunDoc;
      assert.equal(testrun.spec.parallelism, runners);
      await createRunners(
        clients,
        testrun,
        ports.map((p) => `127.0.0.1:${p}`),
      );
      await startRunners(clients, testrun, apis);
      const runnerPods = (
        await clients.core.listNamespacedPod({ namespace: NS, labelSelector: `k6_cr=${name},runner=true` })
      ).items.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
      await opts.duringLoad?.(runnerPods);

      // Every runner pod ends (restartPolicy Never); its exit code is what k6 returned.
      const codes = await waitFor(
        'every runner pod terminated',
        async () => {
          const pods = (
            await clients.core.listNamespacedPod({ namespace: NS, labelSelector: `k6_cr=${name},runner=true` })
          ).items.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
          const exits = pods.map((p) => p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode);
          return pods.length === runners && exits.every((e) => e !== undefined) ? (exits as number[]) : null;
        },
        180_000,
        500,
      );

      // The merged verdict in the sidecar's log; the run directory out of the pod with kubectl cp.
      const podName = sidecarPod?.metadata?.name as string;
      const sidecarLog = await waitFor(
        'the sidecar wrote its artifacts',
        async () => {
          const log = await kubectl('-n', NS, 'logs', podName);
          return log.includes('--linger') ? log : null;
        },
        90_000,
        500,
      );
      const sidecarNow = await clients.core.readNamespacedPod({ name: podName, namespace: NS });
      assert.equal(
        sidecarNow.status?.containerStatuses?.[0]?.restartCount,
        0,
        `the sidecar container ran once: ${JSON.stringify(sidecarNow.status?.containerStatuses?.[0]?.lastState)}`,
      );
      const results = join(dir, 'results');
      await kubectl('-n', NS, 'cp', `${podName}:/results`, results);
      const runDirs = readdirSync(results).filter(
        (d) => d !== 'latest' && existsSync(join(results, d, 'summary.json')),
      );
      assert.equal(runDirs.length, 1, `one run directory in the sidecar pod: ${readdirSync(results).join(', ')}`);
      const runDir = join(results, runDirs[0] as string);
      writeFileSync(join(dir, 'sidecar.log'), sidecarLog);
      const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as MergedSummary;
      const timeline = readFileSync(join(runDir, 'timeline.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as RunnerPodsRun['timeline'][number]);
      assert.ok(existsSync(join(runDir, 'report.md')) && existsSync(join(runDir, 'junit.xml')));

      // Down again as docs/kubernetes.md says (the runner Jobs are the operator's: by their labels).
      await kubectl('-n', NS, 'delete', 'jobs,services', '-l', `k6_cr=${name}`, '--wait=true');
      await kubectl('delete', '-f', join(out, '1-sidecar.yaml'), '--wait=true');
      await waitFor(
        'the sidecar and runner pods gone',
        async () =>
          (
            await clients.core.listNamespacedPod({
              namespace: NS,
              labelSelector: 'app.kubernetes.io/name notin (nats)',
            })
          ).items.length === 0,
        60_000,
        250,
      );
      return { name, codes, summary, timeline, sidecarLog };
    }

    it('3 runner pods against the sidecar pod, the leader pod deleted by the sidecar: one merged verdict, exact counts, every runner exits 0', async (t) => {
      const r = await runWithRunnerPods('runner-pods-r3', 3, { duration: '30s', plan: true });
      t.diagnostic(r.sidecarLog.split('\n').slice(-40).join('\n'));
      const a = r.summary.accounting;
      // One plan run, by the sidecar pod, through the API: the stream leader's pod.
      const executed = r.timeline.filter(
        (e) => e.source === 'plan' && e.kind === 'executed' && e.detail['action_id'] === 'delete-leader-pod',
      );
      assert.equal(executed.length, 1, 'the plan ran once');
      assert.equal(
        r.timeline.filter((e) => e.source === 'plan' && e.kind === 'executed').length,
        2,
        'its two actions (the deletion, the wait for the leader), once each',
      );
      assert.match(executed[0]?.target ?? '', new RegExp(`^${NS}/eventing-nats-[0-2]$`));
      assert.ok(
        r.timeline.some(
          (e) => e.source === 'kubernetes' && e.kind === 'pod-deleted' && e.target === executed[0]?.target,
        ),
        "the sidecar's pod watch saw the leader's pod deleted",
      );
      const registered = r.timeline.filter((e) => e.kind === 'runner-registered');
      assert.deepEqual(registered.map((e) => e.detail['segment']).sort(), ['0:1/3', '1/3:2/3', '2/3:1']);
      assert.deepEqual(registered.map((e) => String(e.detail['instance_id'])).sort(), ['1', '2', '3']);
      const finished = r.timeline.filter((e) => e.kind === 'runner-finished');
      assert.equal(finished.length, 3);
      // Exact merged accounting.
      const sent = finished.reduce((sum, e) => sum + Number(e.detail['iterations']), 0);
      assert.equal(a.attempted, sent, 'attempted is the sum of what each runner pod sent');
      assert.equal(a.acked + a.failed + a.unknown, sent, 'every event of every runner has one outcome');
      assert.equal(r.summary.metrics['iterations']?.values['count'], sent);
      assert.equal(
        r.summary.k6ha.merged.perRunner.reduce((sum, p) => sum + p.iterations, 0),
        sent,
        "the runners' own summaries add up",
      );
      assert.deepEqual(r.summary.k6ha.merged.summaries, [1, 2, 3], 'one summary from each runner pod');
      assert.ok(sent > 4000, `~150/s for 30 s: ${sent}`);
      assert.equal(a.lost, 0);
      assert.equal(a.duplicates, 0);
      assert.equal(a.unexpected, 0);
      // The merged verdict: every gate passed, and every runner pod exited 0 for it.
      const failedGates = Object.entries(r.summary.metrics).flatMap(([m, v]) =>
        Object.entries(v.thresholds ?? {})
          .filter(([, th]) => !th.ok)
          .map(([th]) => `${m}: ${th}`),
      );
      // R3 with lame duck: ha-strict passes (kube-kyma.test.ts, the seed's scenario 4); whichever way
      // it went, every runner's own thresholds judged the merged values, so every runner says the same.
      t.diagnostic(`merged gates failed: ${failedGates.join(', ') || 'none'}; runner exit codes ${r.codes.join(', ')}`);
      const verdict = failedGates.length === 0 ? 0 : 99;
      assert.deepEqual(r.codes, [verdict, verdict, verdict], 'each runner pod exits with the merged verdict');
      assert.equal(verdict, 0, `ha-strict passes on the merged values: ${failedGates.join(', ')}`);
      assert.match(
        r.sidecarLog,
        /k6-ha merged summary of 3 of 3 runner\(s\)/,
        'the merged verdict in the sidecar pod log',
      );
    });

    it('a runner pod killed mid-run (SIGKILL of its k6): the merged verdict fails closed (chaos_unmeasured), names the runner; the other exits 99', async () => {
      const r = await runWithRunnerPods('runner-pods-killed', 2, {
        duration: '20s',
        plan: false,
        duringLoad: async (pods) => {
          await new Promise((res) => setTimeout(res, 6000));
          const id = (pods[1]?.status?.containerStatuses?.[0]?.containerID ?? '').replace(/^containerd:\/\//, '');
          assert.match(id, /^[0-9a-f]{64}$/, "runner 2's container");
          await run('ctr', ['--address', node.containerdSocket, '-n', 'k8s.io', 'tasks', 'kill', '-s', 'SIGKILL', id]);
        },
      });
      assert.deepEqual(r.codes, [99, 137], 'runner 1 judged the merged values and failed; runner 2 was killed');
      const s = r.summary;
      assert.ok((s.metrics['chaos_unmeasured']?.values['count'] ?? 0) >= 1, 'chaos_unmeasured counts the lost runner');
      assert.equal(s.metrics['chaos_unmeasured']?.thresholds?.['count==0']?.ok, false, 'its gate failed');
      assert.deepEqual(
        s.k6ha.merged.lost.map((l) => l.index),
        [2],
      );
      assert.ok(
        s.k6ha.notes.some((n) => n.includes('runner 2/2 (segment 1/2:1)')),
        `a note names the runner: ${s.k6ha.notes.join(' | ')}`,
      );
      assert.equal(s.accounting.lost, 0, "a dead runner's unreported events are unknown, not lost");
      assert.equal(s.accounting.acked + s.accounting.failed + s.accounting.unknown, s.accounting.attempted);
      assert.ok(r.timeline.some((e) => e.kind === 'runner-lost' && e.detail['runner'] === 2));
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
