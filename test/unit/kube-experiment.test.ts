// Experiment files with kubernetes targets: the new actions and selectors parse with defaults;
// local-only actions on kubernetes targets (and vice versa), namespaces outside the allow-list,
// leaderOf without a NATS URL and node deletion without consent are refused naming the field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExperimentError, parseExperiment } from '../../lib/experiment/experiment.ts';

const kube = (plan: unknown[], target: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'k',
  scenario: 'jetstream-publish',
  target: {
    kind: 'kubernetes',
    context: 'kyma',
    namespaces: ['kyma-system'],
    natsUrl: 'nats://127.0.0.1:4222',
    ...target,
  },
  env: { DURATION: '5m', PUBLISH_URL: 'http://127.0.0.1:18080/publish' },
  thresholds: 'ha-observe',
  plan,
});

const refused = (input: unknown, pattern: RegExp): void => {
  assert.throws(
    () => parseExperiment(input, 'k.json'),
    (err: unknown) => {
      assert.ok(err instanceof ExperimentError, String(err));
      assert.match(err.message, pattern);
      return true;
    },
  );
};

describe('experiment files: kubernetes targets', () => {
  it('parses every kubernetes action with its defaults', () => {
    const exp = parseExperiment(
      kube(
        [
          { at: '3m', action: 'deletePod', target: { leaderOf: 'sap' } },
          { at: '3m', action: 'deleteNode', target: { nodeOf: { leaderOf: 'sap' } }, outOfService: true },
          {
            at: '3m',
            action: 'drain',
            target: { nodeOf: { labelSelector: 'nats_cluster=eventing-nats' }, notNodeOf: { leaderOf: 'sap' } },
          },
          { at: '3m', action: 'cordon', target: { name: 'worker-1' }, uncordonAfter: '1m' },
          { at: '3m', action: 'uncordon', target: { labelSelector: 'pool=a' }, pick: 'all' },
          { at: '3m', action: 'scale', target: { deployment: 'postgres-replica' }, replicas: 1, restoreAfter: '30s' },
          { at: '3m', action: 'rolloutRestart', target: { statefulSet: 'eventing-nats' } },
          { at: '3m', action: 'waitRollout', target: { deployment: 'backend' } },
          { at: '3m', action: 'execKill', target: { labelSelector: 'app=s3gw' }, times: 10 },
          { at: '3m', action: 'command', command: ['gcloud', 'compute', 'instances', 'delete', 'vm-1'] },
          { at: '3m', action: 'wait', until: 'leader' },
        ],
        { allowNodeDeletion: true },
      ),
      'k.json',
    );
    assert.equal(exp.target.kind === 'kubernetes' && exp.target.stream, 'sap');
    const [del, node, drain, , , , , wait, exec, command] = exp.plan;
    assert.equal(del?.action === 'deletePod' && del.pick, 'one');
    assert.equal(node?.action === 'deleteNode' && node.outOfService, true);
    assert.equal(drain?.action === 'drain' && drain.timeout, '2m');
    assert.equal(wait?.action === 'waitRollout' && wait.timeout, '5m');
    assert.deepEqual(exec?.action === 'execKill' && [exec.signal, exec.interval, exec.restartTimeout], [
      'TERM',
      '0s',
      '10m',
    ]);
    assert.deepEqual(command?.action === 'command' && [command.timeout, command.expectExitCode], ['2m', 0]);
  });

  it('refuses local-only actions on kubernetes targets and kubernetes actions on local ones, naming the field', () => {
    refused(
      kube([{ at: '1m', action: 'kill', target: { leaderOf: 'sap' } }]),
      /plan\[0\]\.action: "kill" is for target kind "local" .*target\.kind is "kubernetes" — use deletePod, execKill or scale/,
    );
    refused(
      kube([{ at: '1m', action: 'wipe', target: { name: 'eventing-nats-0' } }]),
      /plan\[0\]\.action: "wipe" is for target kind "local"/,
    );
    refused(
      { ...kube([{ at: '1m', action: 'execKill', target: { leaderOf: 'sap' } }]), target: { kind: 'local' } },
      /plan\[0\]\.action: "execKill" is for target kind "kubernetes"; target\.kind is "local" \(local actions: kill, stop, restart, wipe, start, scale, deletePod, wait, command\)/,
    );
  });

  it('deletePod means `kubectl delete pod` on both kinds of target: valid on a local one, without namespace or labelSelector', () => {
    const local = (plan: unknown[]): Record<string, unknown> => ({ ...kube(plan), target: { kind: 'local' } });
    const exp = parseExperiment(
      local([{ at: '1m', action: 'deletePod', target: { leaderOf: 'sap' }, gracePeriod: '20s' }]),
      'x.json',
    );
    assert.deepEqual(exp.plan[0], {
      at: '1m',
      action: 'deletePod',
      target: { leaderOf: 'sap' },
      pick: 'one',
      gracePeriod: '20s',
    });
    refused(
      local([{ at: '1m', action: 'deletePod', target: { name: 'eventing-nats-1', namespace: 'kyma-system' } }]),
      /plan\[0\]\.target\.namespace: "kyma-system" is for target kind "kubernetes"; local members have no namespace/,
    );
    refused(
      local([{ at: '1m', action: 'deletePod', target: { labelSelector: 'app=nats' } }]),
      /plan\[0\]\.target: labelSelector is for target kind "kubernetes"/,
    );
  });

  it('refuses namespaces outside target.namespaces, leaderOf without natsUrl, deleteNode without allowNodeDeletion', () => {
    refused(
      kube([{ at: '1m', action: 'deletePod', target: { name: 'coredns-1', namespace: 'kube-system' } }]),
      /plan\[0\]\.target: namespace "kube-system" is not allowed — expected one of target\.namespaces \(kyma-system\)/,
    );
    refused(
      kube([{ at: '1m', action: 'scale', target: { deployment: 'x', namespace: 'default' }, replicas: 0 }]),
      /plan\[0\]\.target: namespace "default" is not allowed/,
    );
    refused(
      kube([{ at: '1m', action: 'drain', target: { nodeOf: { name: 'p', namespace: 'other' } } }]),
      /plan\[0\]\.target: namespace "other" is not allowed/,
    );
    refused(
      kube([{ at: '1m', action: 'deletePod', target: { leaderOf: 'sap' } }], { natsUrl: undefined }),
      /plan\[0\]\.target: leaderOf\/notLeaderOf need JetStream's view — set target\.natsUrl/,
    );
    refused(
      kube([{ at: '1m', action: 'deleteNode', target: { nodeOf: { leaderOf: 'sap' } } }]),
      /plan\[0\]\.action: "deleteNode" is refused — set target\.allowNodeDeletion to true/,
    );
    refused(kube([{ at: '1m', action: 'deletePod', target: { name: 'Bad_Name' } }]), /plan\[0\]\.target/);
    refused(kube([], { namespaces: [] }), /target\.namespaces/);
    refused(kube([], { natsUrl: 'http://x' }), /target\.natsUrl: "http:\/\/x" is not allowed — expected a NATS URL/);
  });
});
