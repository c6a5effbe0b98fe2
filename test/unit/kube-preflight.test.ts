// The preflight of a Kubernetes plan: the plan-wide blast radius that local plans follow (what is
// down at the same time over the plan, not only per action), with the selectors resolved through
// the real client library against undici's MockAgent. Every request must be a read.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as lib from '@kubernetes/client-node';
import { AppsV1Api, CoreV1Api, KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { MockAgent } from 'undici';
import { KUBE_ACTIONS } from '../../lib/kube/actions.ts';
import { NamespaceGuard } from '../../lib/kube/client.ts';
import { KubernetesDriver } from '../../lib/kube/driver.ts';
import { TargetResolver } from '../../lib/kube/resolve.ts';
import { PlanRefusedError } from '../../lib/chaos/chaos.ts';
import { COMMON_ACTIONS, KUBERNETES_ACTIONS } from '../../lib/experiment/experiment.ts';
import { plan } from '../support/kube-fixtures.ts';

const SERVER = 'https://kube.test:6443';
const NS = 'kyma-system';

class MockedKubeConfig extends KubeConfig {
  constructor(private readonly agent: MockAgent) {
    super();
    this.loadFromOptions({
      clusters: [{ name: 'c', server: SERVER, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'kyma', cluster: 'c', user: 'u' }],
      currentContext: 'kyma',
    });
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    context.setDispatcher(this.agent);
  }
}

const natsPod = (name: string, node: string): Record<string, unknown> => ({
  metadata: {
    name,
    namespace: NS,
    uid: `uid-${name}`,
    ownerReferences: [{ kind: 'StatefulSet', name: 'eventing-nats', controller: true }],
  },
  spec: { nodeName: node, containers: [{ name: 'nats' }] },
  status: { phase: 'Running' },
});

/**
 * A cluster of three NATS pods on n0..n2 and a Deployment with two replicas; `methods` collects
 * every request's method, so a test can check that the preflight only read.
 */
function mockCluster(opts: { blastRadius: number; allowNodeDeletion?: boolean }): {
  driver: KubernetesDriver;
  methods: string[];
} {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const pool = agent.get(SERVER);
  const methods: string[] = [];
  const reply = (method: string, path: string, body: unknown, query = ''): void => {
    pool
      .intercept({ method, path: (p: string) => p.split('?')[0] === path && decodeURIComponent(p).includes(query) })
      .reply(
        200,
        () => {
          methods.push(method);
          return body as object;
        },
        { headers: { 'content-type': 'application/json' } },
      )
      .persist();
  };
  const pods = [0, 1, 2].map((i) => natsPod(`eventing-nats-${i}`, `n${i}`));
  for (const p of pods) reply('GET', `/api/v1/namespaces/${NS}/pods/${(p['metadata'] as { name: string }).name}`, p);
  for (const i of [0, 1, 2]) reply('GET', `/api/v1/nodes/n${i}`, { metadata: { name: `n${i}` }, spec: {} });
  // podsOnNode lists by field selector; the mock answers every node with the pod of n0.
  reply(
    'GET',
    `/api/v1/namespaces/${NS}/pods`,
    { items: [pods[0]], metadata: { resourceVersion: '1' } },
    'fieldSelector=spec.nodeName=',
  );
  reply(
    'GET',
    `/api/v1/namespaces/${NS}/pods`,
    { items: [], metadata: { resourceVersion: '1' } },
    'labelSelector=app=nothing',
  );
  reply('GET', `/apis/apps/v1/namespaces/${NS}/statefulsets/eventing-nats/scale`, {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    spec: { replicas: 3 },
  });
  reply('GET', `/apis/apps/v1/namespaces/${NS}/deployments/eventing-publisher-proxy/scale`, {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    spec: { replicas: 2 },
  });
  const kc = new MockedKubeConfig(agent);
  const clients = {
    kubeConfig: kc,
    context: 'kyma',
    server: SERVER,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    lib,
  };
  const driver = new KubernetesDriver({
    clients,
    resolver: new TargetResolver({ clients, guard: new NamespaceGuard([NS]) }),
    blastRadius: opts.blastRadius,
    allowNodeDeletion: opts.allowNodeDeletion ?? false,
    world: { waitUntil: async () => true, currentLeader: () => null },
  });
  return { driver, methods };
}

const deletePod = (at: string, pod: string): Record<string, unknown> => ({
  at,
  action: 'deletePod',
  target: { name: pod },
});
const refusedWith =
  (pattern: RegExp) =>
  (err: unknown): boolean => {
    assert.ok(err instanceof PlanRefusedError, String(err));
    assert.match(err.message, /^plan refused, nothing was started:/);
    assert.match(err.message, pattern);
    return true;
  };

describe('kubernetes preflight: the blast radius across the plan', () => {
  it('has a handler for every action a kubernetes plan may hold', () => {
    assert.deepEqual(Object.keys(KUBE_ACTIONS).sort(), [...KUBERNETES_ACTIONS, ...COMMON_ACTIONS].sort());
  });

  it('refuses three deletePods of distinct pods whose windows overlap under blastRadius 1, with read-only calls', async () => {
    const { driver, methods } = mockCluster({ blastRadius: 1 });
    // Nothing brings the first pod back before the second goes: the R3 cluster would lose quorum.
    await assert.rejects(
      driver.preview(
        plan([
          deletePod('5s', 'eventing-nats-0'),
          deletePod('6s', 'eventing-nats-1'),
          deletePod('7s', 'eventing-nats-2'),
        ]),
      ),
      refusedWith(
        /a1-deletePod, a2-deletePod: 2 pods would be down at once at 6s, more than blastRadius 1 \(let each come back before the next goes/,
      ),
    );
    assert.ok(methods.length > 0 && methods.every((m) => m === 'GET'), methods.join(','));
    // Each action alone is within the cap; only the plan as a whole is refused.
    await driver.preview(plan([deletePod('5s', 'eventing-nats-0')]));
  });

  it('allows the same deletions one after another: a wait until recovered or a waitRollout in between, once its timeout has passed', async () => {
    const { driver } = mockCluster({ blastRadius: 1 });
    const previews = await driver.preview(
      plan([
        deletePod('5s', 'eventing-nats-0'),
        { at: '6s', action: 'wait', until: 'recovered', timeout: '10s' },
        deletePod('20s', 'eventing-nats-1'),
        { at: '21s', action: 'waitRollout', target: { statefulSet: 'eventing-nats' }, timeout: '5s' },
        deletePod('30s', 'eventing-nats-2'),
      ]),
    );
    assert.deepEqual(
      previews.filter((p) => p.action === 'deletePod').map((p) => p.candidates),
      [[`${NS}/eventing-nats-0`], [`${NS}/eventing-nats-1`], [`${NS}/eventing-nats-2`]],
    );
    // Before the wait's timeout the first pod may still be down.
    await assert.rejects(
      driver.preview(
        plan([
          deletePod('5s', 'eventing-nats-0'),
          { at: '6s', action: 'wait', until: 'recovered', timeout: '10s' },
          deletePod('12s', 'eventing-nats-1'),
        ]),
      ),
      refusedWith(/a1-deletePod, a3-deletePod: 2 pods would be down at once at 12s/),
    );
    // A new leader says nothing about the deleted replica.
    await assert.rejects(
      driver.preview(
        plan([
          deletePod('5s', 'eventing-nats-0'),
          { at: '6s', action: 'wait', until: 'leader', timeout: '1s' },
          deletePod('20s', 'eventing-nats-1'),
        ]),
      ),
      refusedWith(/a1-deletePod, a3-deletePod: 2 pods would be down at once at 20s/),
    );
    // A waitRollout of another workload says nothing about these pods either.
    await assert.rejects(
      driver.preview(
        plan([
          deletePod('5s', 'eventing-nats-0'),
          { at: '6s', action: 'waitRollout', target: { deployment: 'eventing-publisher-proxy' }, timeout: '1s' },
          deletePod('20s', 'eventing-nats-1'),
        ]),
      ),
      refusedWith(/2 pods would be down at once at 20s/),
    );
  });

  it('counts a scale-down until its restoreAfter, and the node of a node action as one', async () => {
    const { driver } = mockCluster({ blastRadius: 1, allowNodeDeletion: true });
    const scale = {
      at: '5s',
      action: 'scale',
      target: { deployment: 'eventing-publisher-proxy' },
      replicas: 1,
      restoreAfter: '5s',
    };
    await driver.preview(plan([scale, deletePod('10s', 'eventing-nats-0')]));
    await assert.rejects(
      driver.preview(plan([scale, deletePod('8s', 'eventing-nats-0')])),
      refusedWith(/a1-scale, a2-deletePod: 2 pods would be down at once at 8s/),
    );
    await assert.rejects(
      driver.preview(
        plan([{ at: '5s', action: 'deleteNode', target: { name: 'n0' } }, deletePod('6s', 'eventing-nats-1')]),
      ),
      refusedWith(/a1-deleteNode, a2-deletePod: 1 pod and 1 node would be down at once at 6s, more than blastRadius 1/),
    );
    // A drain's node is back at its uncordonAfter; a cordon takes nothing down.
    await driver.preview(
      plan([
        { at: '5s', action: 'drain', target: { name: 'n0' }, uncordonAfter: '2s' },
        { at: '6s', action: 'cordon', target: { name: 'n1' } },
        deletePod('8s', 'eventing-nats-1'),
      ]),
    );
  });

  it('checks each action on its own first: a selector matching nothing is named, not the plan-wide count', async () => {
    const { driver } = mockCluster({ blastRadius: 1 });
    await assert.rejects(
      driver.preview(
        plan([
          deletePod('5s', 'eventing-nats-0'),
          deletePod('6s', 'eventing-nats-1'),
          { at: '7s', action: 'deletePod', target: { labelSelector: 'app=nothing' } },
        ]),
      ),
      (err: unknown) =>
        refusedWith(/plan\[2\] \(a3-deletePod\): target labelSelector=app=nothing matches nothing right now/)(err) &&
        !/would be down at once/.test((err as Error).message),
    );
  });
});
