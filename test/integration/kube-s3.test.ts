// Seed 003 on the real kubelet: a versitygw pod (the pinned .tools/bin/versitygw in a local image,
// posix backend on a hostPath volume — the seed's PV —, one replica of a Recreate Deployment — the
// "One Active pipeline") under real s3-objects load from real k6, through `k6-ha run`.
//
// 1. experiments/s3gw-restart-probe.json as shipped, with the test's own generated names and the
//    series shortened: execKill's `kill -s TERM 1` makes the gateway shut down (exit 0, the seed's
//    EXIT-0) again and again, the kubelet restarts it under CrashLoopBackOff; the report's restart
//    series must follow the kubelet's back-off (10 s · 2ⁿ within the pod worker's jitter), every
//    exit and restart must be on the timeline with the kubelet's BackOff events, and the sidecar's
//    read-back from the pod must find every acked object intact (0 lost, 0 corrupt) — also as files
//    on the volume.
// 2. The seed's "PV data corruption due to radosgw's anomalous exit": SIGKILLs of the gateway while
//    a PUT is being written (the exec waits until versitygw holds an unlinked O_TMPFILE, the body
//    of a PUT in flight, then kills it; the pod shares its PID namespace, so the kill is delivered —
//    PID 1 of a container ignores SIGKILL from inside) lose no acked object and corrupt none, and
//    k6's own samples show PUTs cut mid-request.
// The file ends by asserting the host is as it was. Needs root and the Debian packages; run under
// `flock /tmp/k6ha-cpu.lock` (4.0–4.3 min).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { filesUnder, putSamples } from '../support/s3-samples.ts';
import type { KubeClients } from '../../lib/kube/client.ts';
import { backoffWaitBounds, kubeletBackoffSeconds } from '../../lib/kube/kube-metrics.ts';
import { freePort } from '../../lib/stack/free-port.ts';
import type { Accounting, KubernetesReport, RecoveryReport } from '../../lib/shared/types.ts';
import { ensureTool, PROJECT_ROOT } from '../../lib/tools/toolchain.ts';
import type { KubeCluster, RealNode } from '../support/kube-cluster.ts';
import { captureHostStateWithNoNodeUp, hostChanges, type HostState } from '../support/host-state.ts';
import {
  onlyRunDir,
  readJson,
  readTimeline,
  requireK6,
  scratchDir,
  startCli,
  writeExperiment,
} from '../support/cli.ts';
import {
  createNamespace,
  readyPods,
  realNodeClusterForTests,
  TEST_CONTEXT,
  uniqueName,
} from '../support/kube-fixtures.ts';

const SYNC_FREQUENCY_S = 10; // node-up.sh's default K6HA_KUBE_SYNC_FREQUENCY
const ACCESS_KEY = 'k6ha-kube-access';
const SECRET_KEY = 'k6ha-kube-secret-0123456789';
/** exits in the shortened series: back-offs 0, 10, 20, 40 s (K6HA_S3GW_EXITS=10 runs the seed's full series, ~26 min) */
const EXITS = Number(process.env['K6HA_S3GW_EXITS'] ?? '4');

interface Summary {
  accounting: Accounting;
  recovery: RecoveryReport[];
  kubernetes: KubernetesReport;
  k6ha: { notes: string[] };
}

interface Gateway {
  label: string;
  selector: string;
  endpoint: string;
  dataDir: string;
}

describe(
  'seed 003 on the real kubelet: a versitygw pod under s3-objects load (root)',
  {
    timeout: EXITS > 4 ? 3_600_000 : 600_000,
    concurrency: false,
  },
  () => {
    let cluster: KubeCluster | null = null;
    let clients: KubeClients;
    let node: RealNode;
    let hostBefore: HostState;
    let ns: string;

    /**
     * One gateway pod: a Deployment of 1 replica, strategy Recreate (never two gateways on one
     * volume), hostNetwork on its own port, the posix backend on a hostPath directory that outlives
     * the container, the root credentials through the environment, Ready once it accepts connections.
     */
    async function startGateway(opts: { sharePid: boolean }): Promise<Gateway> {
      const label = uniqueName('s3gw');
      const port = await freePort();
      const dataDir = join((cluster as KubeCluster).dir, `${label}-volume`);
      mkdirSync(dataDir, { recursive: true });
      const labels = { 'app.kubernetes.io/name': label };
      await clients.apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: label, labels },
          spec: {
            replicas: 1,
            strategy: { type: 'Recreate' },
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: {
                nodeSelector: { 'kubernetes.io/hostname': node.name },
                hostNetwork: true,
                dnsPolicy: 'Default',
                shareProcessNamespace: opts.sharePid,
                terminationGracePeriodSeconds: 10,
                containers: [
                  {
                    name: 's3gw',
                    image: node.images.versitygw,
                    imagePullPolicy: 'Never',
                    args: ['--port', `127.0.0.1:${port}`, '--region', 'us-east-1', '--quiet', 'posix', '/data'],
                    env: [
                      { name: 'ROOT_ACCESS_KEY', value: ACCESS_KEY },
                      { name: 'ROOT_SECRET_KEY', value: SECRET_KEY },
                    ],
                    volumeMounts: [{ name: 'data', mountPath: '/data' }],
                    readinessProbe: { tcpSocket: { port }, periodSeconds: 1 },
                  },
                ],
                volumes: [{ name: 'data', hostPath: { path: dataDir, type: 'Directory' } }],
              },
            },
          },
        },
      });
      const selector = `app.kubernetes.io/name=${label}`;
      await readyPods(clients, ns, selector, 1, 60_000);
      return { label, selector, endpoint: `http://127.0.0.1:${port}`, dataDir };
    }

    const s3Env = (gw: Gateway): Record<string, string> => ({
      S3_ENDPOINT: gw.endpoint,
      S3_ACCESS_KEY: ACCESS_KEY,
      S3_SECRET_KEY: SECRET_KEY,
    });

    before(async () => {
      await requireK6();
      await ensureTool('versitygw', { install: false });
      ({ cluster, clients, node, hostBefore } = await realNodeClusterForTests());
      assert.ok(
        node.images.versitygw !== '',
        'the real node has no versitygw image: scripts/kube/images.sh builds it from .tools/bin/versitygw (npm run setup builds that)',
      );
      ns = await createNamespace(clients, 's3');
    });

    after(async () => {
      await cluster?.stop();
    });

    it(`k6-ha run experiments/s3gw-restart-probe.json (${EXITS} exits of the gateway pod): the kubelet's back-off, every exit on the timeline, 0 acked objects lost, 0 corrupt`, async (t) => {
      const gw = await startGateway({ sharePid: false });
      const shipped = JSON.parse(
        readFileSync(join(PROJECT_ROOT, 'experiments', 's3gw-restart-probe.json'), 'utf8'),
      ) as { target: Record<string, unknown>; env: Record<string, string>; plan: Array<Record<string, unknown>> };
      const backoffs = Array.from({ length: EXITS }, (_, i) => kubeletBackoffSeconds(i + 1));
      const atS = 3;
      // long enough for the slowest series the kubelet's bounds allow (plus the 1 s interval, the exec and the shutdown per round), then 10 s of steady load
      const durationS =
        atS + backoffs.reduce((sum, b) => sum + (backoffWaitBounds(b, SYNC_FREQUENCY_S)[1] ?? 0) + 3, 0) + 10;
      const exp = {
        ...shipped,
        name: 't-s3gw-restart-probe',
        target: { ...shipped.target, context: TEST_CONTEXT, namespaces: [ns] },
        env: { ...shipped.env, ...s3Env(gw), RATE: '20', DURATION: `${durationS}s`, REQUEST_TIMEOUT: '3s' },
        plan: shipped.plan.map((a) => ({
          ...a,
          at: `${atS}s`,
          target: { labelSelector: gw.selector },
          times: EXITS,
          expectExitCode: 0,
          restartTimeout: '7m',
        })),
      };
      const dir = scratchDir('kube-s3-series');
      const run = startCli(
        ['run', writeExperiment(dir, exp), '--out-dir', dir, '--kubeconfig', (cluster as KubeCluster).kubeconfig],
        { timeoutMs: (durationS + 180) * 1000 },
      );
      const res = await run.result;
      // k6-ha's own output next to the run directory (a kept TMPDIR shows what a user sees)
      writeFileSync(join(dir, 'k6-ha.out'), `${res.stderr}\n${res.stdout}`);
      const runDir = onlyRunDir(dir);
      const s = readJson<Summary>(join(runDir, 'summary.json'));
      const a = s.accounting;
      assert.ok(a !== null, `the read-back ran:\n${res.stderr.slice(-3000)}`);
      t.diagnostic(
        `accounting: attempted ${a.attempted}, acked ${a.acked}, unknown ${a.unknown}, failed ${a.failed}, readable ${a.inStream}, lost ${a.lost}, corrupt ${a.corrupt}, recovered ${a.recovered}`,
      );
      assert.equal(a.lost, 0, `acked objects lost: ${JSON.stringify(a.examples.lost)}`);
      assert.equal(a.corrupt, 0, `objects read back corrupt: ${JSON.stringify(a.examples.corrupt)}`);
      assert.equal(a.unexpected, 0, `unexpected objects: ${JSON.stringify(a.examples.unexpected)}`);
      assert.ok(a.acked > 100, `objects were written and acked (${a.acked})`);
      assert.ok(
        a.unknown > 0,
        `the exits cost PUTs (${a.unknown} unknown): the one active pipeline has no second gateway`,
      );
      assert.equal(
        res.code,
        0,
        `k6 passes the s3-restarts gates:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-2000)}`,
      );

      // The restart series the report derives from the pod's container statuses follows the kubelet.
      const series = s.kubernetes.restarts.find((r) => r.container === 's3gw');
      assert.ok(series !== undefined, JSON.stringify(s.kubernetes.restarts));
      t.diagnostic(`restart series: ${JSON.stringify(series)}`);
      assert.equal(series.restarts, EXITS, JSON.stringify(series));
      assert.deepEqual(series.exitCodes, Array(EXITS).fill(0), "versitygw's own shutdown exits 0 (the seed's EXIT-0)");
      assert.equal(series.durationsSeconds.length, EXITS);
      series.durationsSeconds.forEach((d, i) => {
        const b = kubeletBackoffSeconds(i + 1);
        const [lo, hi] = backoffWaitBounds(b, SYNC_FREQUENCY_S);
        assert.ok(d >= lo && d <= hi, `restart ${i + 1}: ${d} s, the kubelet's back-off ${b} s allows ${lo}–${hi} s`);
      });
      const announced = backoffs.slice(1).filter((b, i, all) => i === 0 || all[i - 1] !== b);
      assert.deepEqual(series.backoffSeconds, announced, 'the back-offs the kubelet announced (CrashLoopBackOff)');
      for (let i = 2; i < series.durationsSeconds.length; i++) {
        const [d0, d1] = [series.durationsSeconds[i - 1] ?? 0, series.durationsSeconds[i] ?? 0];
        assert.ok(
          d1 > d0,
          `restart ${i + 1} waited longer than restart ${i} (${JSON.stringify(series.durationsSeconds)})`,
        );
      }

      // The outage per round: the longest is the last back-off (plus the start), not the first round's second.
      const rec = s.recovery.find((r) => r.actionId === 'exit-series');
      const lastBackoff = kubeletBackoffSeconds(EXITS);
      assert.ok(
        rec !== undefined && rec.unavailableSeconds !== null && rec.unavailableSeconds >= lastBackoff - 1,
        `unavailability is the longest round's outage (≥ ${lastBackoff - 1} s): ${JSON.stringify(rec)}`,
      );
      assert.ok(
        s.k6ha.notes.some((n) => n.startsWith(`exit-series: ${EXITS} rounds, outages `)),
        JSON.stringify(s.k6ha.notes),
      );

      // Every exit and restart on the timeline: the plan's rounds, the pod watch, the kubelet's events.
      const timeline = readTimeline(runDir);
      const pod = (e: { target: string | null }): boolean => String(e.target).startsWith(`${ns}/${gw.label}-`);
      const rounds = timeline.filter((e) => e.kind === 'exec-kill');
      assert.equal(rounds.length, EXITS, JSON.stringify(rounds));
      const back = timeline.filter((e) => e.kind === 'container-back');
      assert.deepEqual(
        back.map((e) => e.detail['exit_code']),
        Array(EXITS).fill(0),
      );
      const terminated = timeline.filter((e) => e.kind === 'container-terminated' && pod(e));
      assert.ok(terminated.length >= EXITS, `every exit watched: ${JSON.stringify(terminated)}`);
      assert.ok(terminated.every((e) => e.detail['exit_code'] === 0));
      const restarted = timeline.filter((e) => e.kind === 'container-restarted' && pod(e));
      assert.deepEqual(
        restarted.map((e) => e.detail['restart_count']),
        Array.from({ length: EXITS }, (_, i) => i + 1),
      );
      assert.ok(
        timeline.some((e) => e.kind === 'container-waiting' && e.detail['reason'] === 'CrashLoopBackOff'),
        'the pod waited in CrashLoopBackOff',
      );
      const backOffEvents = timeline.filter((e) => e.kind === 'event' && e.detail['reason'] === 'BackOff');
      assert.ok(backOffEvents.length >= 1, "the kubelet's BackOff events are on the timeline");
      assert.ok((s.kubernetes.eventReasons['BackOff'] ?? 0) >= 1, JSON.stringify(s.kubernetes.eventReasons));
      assert.ok(timeline.some((e) => e.kind === 'load-started'));

      // The volume holds exactly the readable objects (posix: one file per key), acked and recovered.
      const runTag = String(timeline.find((e) => e.kind === 'load-started')?.detail['run_tag']);
      const onDisk = filesUnder(join(gw.dataDir, 'k6ha', 'k6ha', runTag));
      assert.equal(onDisk.length, a.inStream, `files on the volume: ${onDisk.length}, readable objects: ${a.inStream}`);
      assert.equal(a.inStream, a.acked + a.recovered, 'readable = acked + unknown that were stored intact');
    });

    it("SIGKILLs of the gateway pod's versitygw mid-write (the seed's anomalous exit) lose no acked object and corrupt none", async (t) => {
      const gw = await startGateway({ sharePid: true });
      // Wait (at most ~20 s) until versitygw holds a file open in <bucket>/.sgwtmp/ — the body of a
      // PUT being written: an unlinked O_TMPFILE ("#<inode> (deleted)"; the bucket's very first PUT
      // uses a named temp file there, renamed when complete) —, say which, then SIGKILL it; with the
      // PID namespace shared, versitygw is not PID 1.
      const killMidWrite = [
        'p=$(pidof versitygw) || exit 3',
        'i=0',
        'while [ $i -lt 4000 ]; do',
        "  f=$(ls -l /proc/$p/fd 2>/dev/null | grep '/.sgwtmp/' | head -n 1)",
        '  if [ -n "$f" ]; then echo "SIGKILL mid-write: $f" >&2; kill -s KILL $p; exit 0; fi',
        '  i=$((i+1))',
        'done',
        'echo "SIGKILL: no write in flight seen" >&2; kill -s KILL $p',
      ].join('\n');
      const KILLS = 2; // restarted at once, then after the kubelet's 10 s back-off
      const exp = {
        name: 't-s3gw-kill-mid-write',
        scenario: 's3-objects',
        target: { kind: 'kubernetes', context: TEST_CONTEXT, namespaces: [ns] },
        env: {
          ...s3Env(gw),
          RATE: '20',
          DURATION: '40s',
          REQUEST_TIMEOUT: '3s',
          S3_MIX: 'put=80,get=15,list=5',
          S3_SIZES: '4MiB,8MiB',
        },
        thresholds: 's3-restarts',
        blastRadius: 1,
        plan: [
          {
            id: 'crash-mid-write',
            at: '4s',
            action: 'execKill',
            target: { labelSelector: gw.selector },
            container: 's3gw',
            command: ['sh', '-c', killMidWrite],
            times: KILLS,
            interval: '2s',
            expectExitCode: 137,
            restartTimeout: '1m',
          },
        ],
      };
      const dir = scratchDir('kube-s3-kill');
      const samplesFile = join(dir, 'k6-samples.json.gz');
      const run = startCli(
        ['run', writeExperiment(dir, exp), '--out-dir', dir, '--kubeconfig', (cluster as KubeCluster).kubeconfig],
        { timeoutMs: 240_000, env: { K6_OUT: `json=${samplesFile}` } },
      );
      const res = await run.result;
      // k6-ha's own output next to the run directory (a kept TMPDIR shows what a user sees)
      writeFileSync(join(dir, 'k6-ha.out'), `${res.stderr}\n${res.stdout}`);
      const runDir = onlyRunDir(dir);
      const s = readJson<Summary>(join(runDir, 'summary.json'));
      const a = s.accounting;
      assert.ok(a !== null, `the read-back ran:\n${res.stderr.slice(-3000)}`);
      t.diagnostic(
        `accounting: attempted ${a.attempted}, acked ${a.acked}, unknown ${a.unknown}, readable ${a.inStream}, lost ${a.lost}, corrupt ${a.corrupt}, recovered ${a.recovered}`,
      );
      assert.equal(a.lost, 0, `acked objects lost: ${JSON.stringify(a.examples.lost)}`);
      assert.equal(a.corrupt, 0, `objects read back corrupt: ${JSON.stringify(a.examples.corrupt)}`);
      assert.equal(a.unexpected, 0, `unexpected objects: ${JSON.stringify(a.examples.unexpected)}`);
      assert.equal(
        res.code,
        0,
        `k6 passes the s3-restarts gates:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-2000)}`,
      );

      // Real SIGKILLs: exit code 137 each time, the kubelet restarting the container in place.
      const timeline = readTimeline(runDir);
      const rounds = timeline.filter((e) => e.kind === 'exec-kill');
      for (const r of rounds)
        t.diagnostic(
          `exec round ${String(r.detail['round'])}: ${String(r.detail['stderr_tail'] ?? '(no stderr: the exec went with the container)')}`,
        );
      assert.equal(rounds.length, KILLS);
      assert.deepEqual(
        timeline.filter((e) => e.kind === 'container-back').map((e) => e.detail['exit_code']),
        Array(KILLS).fill(137),
      );
      const series = s.kubernetes.restarts.find((r) => r.container === 's3gw');
      assert.ok(series !== undefined && series.restarts === KILLS, JSON.stringify(s.kubernetes.restarts));
      assert.deepEqual(series.exitCodes, Array(KILLS).fill(137));

      // Mid-write: PUTs that k6 had sent whose connection died under them (no dial error, no timeout).
      const puts = putSamples(samplesFile);
      const cut = puts.filter((p) => p.status === '0' && !/dial|timeout/i.test(p.error));
      t.diagnostic(
        `${puts.length} PUTs, ${cut.length} cut mid-request: ${[...new Set(cut.map((p) => p.error))].join(' | ')}`,
      );
      assert.ok(
        cut.length >= 1,
        `a PUT was cut mid-request by a kill (errors: ${[...new Set(puts.map((p) => p.error))].join(' | ')})`,
      );
      assert.equal(a.attempted, puts.length, 'every PUT k6 made is accounted for by key');
      assert.equal(a.acked, puts.filter((p) => p.status === '200').length, 'acked = the PUTs k6 saw answered 200');

      // On the volume: exactly the readable objects, and no temp file of a killed write left over.
      const runTag = String(timeline.find((e) => e.kind === 'load-started')?.detail['run_tag']);
      const onDisk = filesUnder(join(gw.dataDir, 'k6ha', 'k6ha', runTag));
      assert.equal(onDisk.length, a.inStream, `files on the volume: ${onDisk.length}, readable objects: ${a.inStream}`);
      assert.equal(a.inStream, a.acked + a.recovered);
      assert.deepEqual(filesUnder(join(gw.dataDir, 'k6ha', '.sgwtmp')), [], 'no temp file of a cut PUT on the volume');
    });

    it('teardown leaves the host as it was', async () => {
      const dir = (cluster as KubeCluster).dir;
      await (cluster as KubeCluster).stop();
      assert.deepEqual(hostChanges(hostBefore, await captureHostStateWithNoNodeUp([dir])), []);
    });
  },
);
