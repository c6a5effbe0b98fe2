// Derived Kubernetes metrics on realistic sequences: the seed's Multi-Attach wait after a node
// loss, a StatefulSet pod rescheduled, a ReplicaSet replacement, and the s3gw probe's restart
// series with CrashLoopBackOff; plus the pod/node diffs the watches turn into events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  backoffWaitBounds,
  kubeletBackoffSeconds,
  parseBackoffSeconds,
  parseGoDurationSeconds,
  podRecoveries,
  restartSeries,
  seriesStats,
} from '../../lib/kube/kube-metrics.ts';
import { type ClusterEvent, diffNode, diffPod, type PodEvent, type PodLike } from '../../lib/kube/lifecycle.ts';

const T = Date.parse('2022-06-08T14:27:00Z');
const at = (s: number): number => T + s * 1000;

function podEvent(
  s: number,
  kind: PodEvent['kind'],
  pod: string,
  uid: string,
  extra: Partial<PodEvent> = {},
): PodEvent {
  return {
    at: at(s),
    kind,
    namespace: 'kyma-system',
    pod,
    uid,
    node: null,
    owner: 'StatefulSet/eventing-nats',
    ...extra,
  };
}

function clusterEvent(s: number, reason: string, pod: string, message = ''): ClusterEvent {
  return {
    at: at(s),
    namespace: 'kyma-system',
    reason,
    type: reason.startsWith('Failed') ? 'Warning' : 'Normal',
    message,
    objectKind: 'Pod',
    objectName: pod,
    objectUid: null,
    count: 1,
  };
}

describe('kubernetes metrics', () => {
  it("models the kubelet's CrashLoopBackOff: 0, 10, 20, 40, … s capped at 300 s, and the waits it allows", () => {
    assert.deepEqual(
      Array.from({ length: 10 }, (_, i) => kubeletBackoffSeconds(i + 1)),
      [0, 10, 20, 40, 80, 160, 300, 300, 300, 300],
    );
    assert.deepEqual(backoffWaitBounds(0), [0, 3]);
    assert.deepEqual(backoffWaitBounds(10), [9, 18]);
    assert.deepEqual(backoffWaitBounds(300), [299, 308]);
    assert.deepEqual(backoffWaitBounds(40, 60), [39, 63]);
  });

  it('series statistics: min / median / p95 / max (nearest rank)', () => {
    // The seed's s3gw EXIT-1 series, in seconds.
    assert.deepEqual(seriesStats([0, 15, 24, 42, 91, 174, 307, 302, 302, 304]), {
      count: 10,
      min: 0,
      median: 132.5,
      p95: 307,
      max: 307,
    });
    assert.deepEqual(seriesStats([4]), { count: 1, min: 4, median: 4, p95: 4, max: 4 });
    assert.equal(seriesStats([]), null);
  });

  it("parses the kubelet's Go durations and back-off messages", () => {
    assert.equal(parseGoDurationSeconds('10s'), 10);
    assert.equal(parseGoDurationSeconds('2m40s'), 160);
    assert.equal(parseGoDurationSeconds('5m0s'), 300);
    assert.equal(parseGoDurationSeconds('1.5s'), 1.5);
    assert.equal(parseGoDurationSeconds('soon'), null);
    assert.equal(parseBackoffSeconds('back-off 1m20s restarting failed container=radosgw pod=s3gw-0_s3gw(6f1c)'), 80);
    assert.equal(parseBackoffSeconds('Back-off restarting failed container'), null);
  });

  it('node lost with the leader (seed scenario 2): reschedule, Multi-Attach wait until the volume is attached, Ready', () => {
    const events: PodEvent[] = [
      podEvent(0.4, 'pod-terminating', 'eventing-nats-1', 'old', { node: 'worker-q5944' }),
      podEvent(1.1, 'pod-deleted', 'eventing-nats-1', 'old', { node: 'worker-q5944' }),
      podEvent(1.2, 'pod-created', 'eventing-nats-1', 'new'),
      podEvent(1.3, 'pod-scheduled', 'eventing-nats-1', 'new', { node: 'worker-5f68f' }),
      podEvent(62.0, 'pod-running', 'eventing-nats-1', 'new', { node: 'worker-5f68f' }),
      podEvent(65.5, 'pod-ready', 'eventing-nats-1', 'new', { node: 'worker-5f68f' }),
    ];
    const cluster = [
      clusterEvent(1.3, 'Scheduled', 'eventing-nats-1'),
      clusterEvent(
        1.4,
        'FailedAttachVolume',
        'eventing-nats-1',
        'Multi-Attach error for volume "pv--4fdf1474" Volume is already exclusively attached to one node',
      ),
      clusterEvent(
        31,
        'FailedMount',
        'eventing-nats-1',
        'Unable to attach or mount volumes: timed out waiting for the condition',
      ),
      clusterEvent(58.3, 'SuccessfulAttachVolume', 'eventing-nats-1', 'AttachVolume.Attach succeeded'),
    ];
    const [r] = podRecoveries(
      [
        {
          actionId: 'lose-leader-node',
          at: at(0),
          namespace: 'kyma-system',
          pod: 'eventing-nats-1',
          uid: 'old',
          node: 'worker-q5944',
          owner: 'StatefulSet/eventing-nats',
        },
      ],
      events,
      cluster,
    );
    assert.deepEqual(r, {
      actionId: 'lose-leader-node',
      namespace: 'kyma-system',
      pod: 'eventing-nats-1',
      node: 'worker-q5944',
      replacement: 'eventing-nats-1',
      replacementNode: 'worker-5f68f',
      goneSeconds: 1.1,
      rescheduleSeconds: 1.3,
      readySeconds: 65.5,
      volumeAttachSeconds: 57,
      failedScheduling: 0,
      volumeEvents: ['FailedAttachVolume', 'FailedMount', 'SuccessfulAttachVolume'],
    });
  });

  it('a ReplicaSet replacement (another name, same owner); each replacement is claimed once; no volume events → no volume figure', () => {
    const owner = 'ReplicaSet/epp-7d9f';
    const events: PodEvent[] = [
      podEvent(0.2, 'pod-created', 'epp-7d9f-aaaaa', 'r1', { owner }),
      podEvent(0.3, 'pod-created', 'epp-7d9f-bbbbb', 'r2', { owner }),
      podEvent(0.5, 'pod-scheduled', 'epp-7d9f-aaaaa', 'r1', { owner, node: 'n2' }),
      podEvent(0.6, 'pod-scheduled', 'epp-7d9f-bbbbb', 'r2', { owner, node: 'n3' }),
      podEvent(2.5, 'pod-ready', 'epp-7d9f-aaaaa', 'r1', { owner, node: 'n2' }),
      podEvent(3.0, 'pod-ready', 'epp-7d9f-bbbbb', 'r2', { owner, node: 'n3' }),
    ];
    const affected = ['x1', 'x2'].map((uid, i) => ({
      actionId: 'drain',
      at: at(0),
      namespace: 'kyma-system',
      pod: `epp-7d9f-old${i}`,
      uid,
      node: 'n1',
      owner,
    }));
    const rs = podRecoveries(affected, events, [
      clusterEvent(0.4, 'FailedScheduling', 'epp-7d9f-bbbbb', '0/3 nodes are available'),
    ]);
    assert.deepEqual(
      rs.map((r) => [r.replacement, r.replacementNode, r.readySeconds, r.volumeAttachSeconds]),
      [
        ['epp-7d9f-aaaaa', 'n2', 2.5, null],
        ['epp-7d9f-bbbbb', 'n3', 3, null],
      ],
    );
    assert.equal(rs[1]?.failedScheduling, 1);
    assert.equal(podRecoveries(affected.slice(0, 1), [], [])[0]?.replacement, null);
  });

  it('restart series (s3gw probe): kubelet timestamps give the durations, waiting messages the back-off, exit codes from lastState', () => {
    const base = {
      namespace: 's3gw',
      pod: 's3gw-0',
      uid: 'u',
      node: 'n1',
      owner: 'Deployment/s3gw',
      container: 'radosgw',
    };
    const events: PodEvent[] = [];
    let t = 0;
    const series = [0, 15, 24, 42, 91, 174, 307, 302];
    series.forEach((down, i) => {
      events.push({
        ...base,
        at: at(t + 0.2),
        kind: 'container-terminated',
        exitCode: 1,
        reason: 'Error',
        finishedAt: at(t),
        restartCount: i,
      });
      if (i >= 1)
        events.push({
          ...base,
          at: at(t + 0.5),
          kind: 'container-waiting',
          reason: 'CrashLoopBackOff',
          message: `back-off ${Math.min(300, 10 * 2 ** (i - 1))}s restarting failed container=radosgw pod=s3gw-0`,
          restartCount: i,
        });
      events.push({
        ...base,
        at: at(t + down + 0.3),
        kind: 'container-restarted',
        restartCount: i + 1,
        exitCode: 1,
        reason: 'Error',
        finishedAt: at(t),
        startedAt: at(t + down),
      });
      events.push({
        ...base,
        at: at(t + down + 0.3),
        kind: 'container-running',
        restartCount: i + 1,
        startedAt: at(t + down),
      });
      t += down + 5;
    });
    const [s] = restartSeries(events);
    assert.ok(s !== undefined);
    assert.equal(s.restarts, 8);
    assert.deepEqual(s.durationsSeconds, series);
    assert.deepEqual(s.backoffSeconds, [10, 20, 40, 80, 160, 300]);
    assert.deepEqual(s.exitCodes, [1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(s.stats, { count: 8, min: 0, median: 66.5, p95: 307, max: 307 });
    assert.deepEqual(s.growth.slice(2), [1.75, 2.17, 1.91, 1.76, 0.98]);
  });

  it("restart durations fall back to our own observations when the kubelet's timestamps are missing", () => {
    const base = { namespace: 'ns', pod: 'p', uid: 'u', node: null, owner: null, container: 'c' };
    const [s] = restartSeries([
      { ...base, at: at(10), kind: 'container-terminated', exitCode: 143 },
      {
        ...base,
        at: at(12.5),
        kind: 'container-restarted',
        restartCount: 1,
        exitCode: 143,
        finishedAt: null,
        startedAt: null,
      },
      { ...base, at: at(12.5), kind: 'container-running', restartCount: 1 },
    ]);
    assert.deepEqual(s?.durationsSeconds, [2.5]);
    assert.deepEqual(s?.exitCodes, [143]);
  });
});

describe('pod and node diffs (what the watches record)', () => {
  const pod = (
    over: Partial<PodLike['status']> & { node?: string; deleting?: boolean; uid?: string } = {},
  ): PodLike => ({
    metadata: {
      name: 'eventing-nats-1',
      namespace: 'kyma-system',
      uid: over.uid ?? 'u1',
      ownerReferences: [{ kind: 'StatefulSet', name: 'eventing-nats', controller: true }],
      ...(over.deleting ? { deletionTimestamp: '2022-06-08T14:27:01Z', deletionGracePeriodSeconds: 30 } : {}),
    },
    spec: { nodeName: over.node ?? null },
    status: {
      phase: over.phase ?? 'Pending',
      conditions: over.conditions ?? [],
      containerStatuses: over.containerStatuses ?? [],
    },
  });
  const kinds = (prev: PodLike | undefined, next: PodLike | undefined): string[] =>
    diffPod(prev, next, T).map((e) => e.kind + (e.reason ? `:${e.reason}` : ''));

  it('created → scheduled → waiting → running and Ready → terminating → deleted', () => {
    const created = pod();
    assert.deepEqual(kinds(undefined, created), ['pod-created']);
    const scheduled = pod({ node: 'n1' });
    assert.deepEqual(kinds(created, scheduled), ['pod-scheduled']);
    const waiting = pod({
      node: 'n1',
      containerStatuses: [{ name: 'nats', restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }],
    });
    assert.deepEqual(kinds(scheduled, waiting), ['container-waiting:ContainerCreating']);
    const running = pod({
      node: 'n1',
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'nats', restartCount: 0, state: { running: { startedAt: '2022-06-08T14:28:03Z' } } }],
    });
    assert.deepEqual(kinds(waiting, running), ['container-running', 'pod-running', 'pod-ready']);
    const terminating = { ...running, metadata: { ...running.metadata, deletionTimestamp: '2022-06-08T14:29:00Z' } };
    assert.deepEqual(kinds(running, terminating), ['pod-terminating']);
    assert.deepEqual(kinds(terminating, undefined), ['pod-deleted']);
    assert.equal(
      diffPod(undefined, running, T).find((e) => e.kind === 'pod-created')?.owner,
      'StatefulSet/eventing-nats',
    );
  });

  it('a restart: restartCount up, lastState terminated (exit code, finishedAt), running again', () => {
    const running = pod({
      node: 'n1',
      phase: 'Running',
      containerStatuses: [{ name: 'radosgw', restartCount: 2, state: { running: {} } }],
    });
    const crashed = pod({
      node: 'n1',
      phase: 'Running',
      containerStatuses: [
        {
          name: 'radosgw',
          restartCount: 2,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
          lastState: { terminated: { exitCode: 0, finishedAt: '2022-06-08T14:30:00Z' } },
        },
      ],
    });
    const back = pod({
      node: 'n1',
      phase: 'Running',
      containerStatuses: [
        {
          name: 'radosgw',
          restartCount: 3,
          state: { running: { startedAt: '2022-06-08T14:30:41Z' } },
          lastState: { terminated: { exitCode: 0, finishedAt: '2022-06-08T14:30:00Z' } },
        },
      ],
    });
    assert.deepEqual(kinds(running, crashed), ['container-waiting:CrashLoopBackOff']);
    const events = diffPod(crashed, back, T);
    const restarted = events.find((e) => e.kind === 'container-restarted');
    assert.equal(restarted?.exitCode, 0);
    assert.equal((restarted?.startedAt ?? 0) - (restarted?.finishedAt ?? 0), 41_000);
    assert.ok(events.some((e) => e.kind === 'container-running'));
  });

  it('nodes: NotReady, cordoned, out-of-service taint, deleted', () => {
    const ready = { metadata: { name: 'n1' }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
    const notReady = {
      metadata: { name: 'n1' },
      spec: {
        unschedulable: true,
        taints: [{ key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' }],
      },
      status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown' }] },
    };
    assert.deepEqual(
      diffNode(ready, notReady, T).map((e) => e.kind),
      ['node-not-ready', 'node-cordoned', 'node-tainted'],
    );
    assert.equal(diffNode(ready, notReady, T)[2]?.detail['taint'], 'node.kubernetes.io/out-of-service:NoExecute');
    assert.deepEqual(
      diffNode(notReady, ready, T).map((e) => e.kind),
      ['node-ready', 'node-uncordoned', 'node-untainted'],
    );
    assert.deepEqual(
      diffNode(ready, undefined, T).map((e) => e.kind),
      ['node-deleted'],
    );
  });
});
