// Request shapes, in addition to (never instead of) the tests against a real kube-apiserver:
// undici's MockAgent answers the client library's HTTP calls, so content types, bodies, uid
// preconditions and the 429 retry of evictions are checked exactly; the exec request (which kwok
// cannot serve) goes through client-node's real Exec and WebSocketHandler into a fake socket.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as lib from '@kubernetes/client-node';
import { AppsV1Api, CoreV1Api, Exec, KubeConfig, type RequestContext } from '@kubernetes/client-node';
// Not re-exported by the package index; the real handler turns the exec path into the socket URI.
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import { MockAgent } from 'undici';
import { connectKube, KubeContextError, NamespaceGuard } from '../../lib/kube/client.ts';
import { KubernetesDriver } from '../../lib/kube/driver.ts';
import { ClientExecRunner, killCommand } from '../../lib/kube/exec-kill.ts';
import { TargetResolver } from '../../lib/kube/resolve.ts';
import { plan, runPlan, scratchTimeline } from '../support/kube-fixtures.ts';

const SERVER = 'https://kube.test:6443';

/** A KubeConfig whose every request goes to the MockAgent. */
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

interface Seen {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
}

function mockCluster(): {
  agent: MockAgent;
  seen: Seen[];
  pool: ReturnType<MockAgent['get']>;
  driver: (opts?: { blastRadius?: number }) => KubernetesDriver;
} {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const seen: Seen[] = [];
  const pool = agent.get(SERVER);
  const kc = new MockedKubeConfig(agent);
  const clients = {
    kubeConfig: kc,
    context: 'kyma',
    server: SERVER,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    lib,
  };
  const driver = (opts: { blastRadius?: number } = {}): KubernetesDriver =>
    new KubernetesDriver({
      clients,
      resolver: new TargetResolver({ clients, guard: new NamespaceGuard(['kyma-system']) }),
      blastRadius: opts.blastRadius ?? 1,
      allowNodeDeletion: false,
      evictionRetryMs: 10,
    });
  return { agent, seen, pool, driver };
}

function reply(
  pool: ReturnType<MockAgent['get']>,
  seen: Seen[],
  method: string,
  path: string | RegExp,
  status: number,
  body: unknown,
  times = 1,
): void {
  pool
    .intercept({ method, path: (p: string) => (typeof path === 'string' ? p.split('?')[0] === path : path.test(p)) })
    .reply(
      status,
      (opts) => {
        const headers = opts.headers as Record<string, string>;
        seen.push({
          method,
          path: opts.path,
          contentType: headers['content-type'] ?? headers['Content-Type'],
          body: typeof opts.body === 'string' ? JSON.parse(opts.body) : undefined,
        });
        return body as object;
      },
      { headers: { 'content-type': 'application/json' } },
    )
    .times(times);
}

describe('kubernetes request shapes (MockAgent)', () => {
  it('scale: reads the scale subresource, then a merge patch of spec.replicas; restore patches the original back', async () => {
    const { pool, seen, driver } = mockCluster();
    const path = '/apis/apps/v1/namespaces/kyma-system/deployments/postgres-replica/scale';
    reply(pool, seen, 'GET', path, 200, { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 2 } });
    reply(pool, seen, 'PATCH', path, 200, { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 1 } }, 2);
    const d = driver();
    const timeline = scratchTimeline('mock-scale');
    const { executed } = await runPlan(
      d,
      plan([{ id: 'phase-a', at: '1ms', action: 'scale', target: { deployment: 'postgres-replica' }, replicas: 1 }]),
      timeline,
    );
    assert.equal(executed[0]?.error, null);
    assert.deepEqual(await d.restore('test'), ['deployment/kyma-system/postgres-replica scaled back to 2']);
    const patches = seen.filter((s) => s.method === 'PATCH');
    assert.deepEqual(
      patches.map((p) => [p.contentType, p.body]),
      [
        ['application/merge-patch+json', { spec: { replicas: 1 } }],
        ['application/merge-patch+json', { spec: { replicas: 2 } }],
      ],
    );
    timeline.close();
  });

  it('deletePod: the uid precondition and the grace period go with the DELETE', async () => {
    const { pool, seen, driver } = mockCluster();
    reply(pool, seen, 'GET', '/api/v1/namespaces/kyma-system/pods/eventing-nats-1', 200, {
      metadata: { name: 'eventing-nats-1', namespace: 'kyma-system', uid: 'uid-1' },
      spec: { nodeName: 'n1', containers: [] },
    });
    reply(pool, seen, 'DELETE', '/api/v1/namespaces/kyma-system/pods/eventing-nats-1', 200, {
      kind: 'Status',
      status: 'Success',
    });
    const timeline = scratchTimeline('mock-delete');
    const { executed } = await runPlan(
      driver(),
      plan([{ at: '1ms', action: 'deletePod', target: { name: 'eventing-nats-1' }, gracePeriod: '5s' }]),
      timeline,
    );
    assert.equal(executed[0]?.error, null);
    const del = seen.find((s) => s.method === 'DELETE');
    assert.match(del?.path ?? '', /gracePeriodSeconds=5/);
    assert.deepEqual(del?.body, { preconditions: { uid: 'uid-1' } });
    timeline.close();
  });

  it('drain: cordon by merge patch, Eviction bodies, 429 retried until the budget allows it', async () => {
    const { pool, seen, driver } = mockCluster();
    reply(pool, seen, 'GET', '/api/v1/nodes/n1', 200, { metadata: { name: 'n1' }, spec: {} }, 2);
    reply(pool, seen, 'PATCH', '/api/v1/nodes/n1', 200, { metadata: { name: 'n1' }, spec: { unschedulable: true } });
    reply(pool, seen, 'GET', '/api/v1/pods', 403, { kind: 'Status', code: 403, message: 'forbidden' });
    reply(pool, seen, 'GET', '/api/v1/namespaces/kyma-system/pods', 200, {
      items: [
        {
          metadata: { name: 'epp-1', namespace: 'kyma-system', uid: 'e1' },
          spec: { nodeName: 'n1', containers: [] },
          status: { phase: 'Running' },
        },
      ],
      metadata: { resourceVersion: '10' },
    });
    const eviction = '/api/v1/namespaces/kyma-system/pods/epp-1/eviction';
    reply(
      pool,
      seen,
      'POST',
      eviction,
      429,
      { kind: 'Status', code: 429, message: "Cannot evict pod as it would violate the pod's disruption budget." },
      2,
    );
    reply(pool, seen, 'POST', eviction, 201, { kind: 'Status', status: 'Success' });
    // Then the drain lists the node's pods again, watching until they are gone: none left.
    reply(pool, seen, 'GET', '/api/v1/namespaces/kyma-system/pods', 200, {
      items: [],
      metadata: { resourceVersion: '12' },
    });
    const d = driver();
    const timeline = scratchTimeline('mock-drain');
    const { executed } = await runPlan(
      d,
      plan([{ at: '1ms', action: 'drain', target: { name: 'n1' }, timeout: '1s' }]),
      timeline,
    );
    assert.equal(
      seen.find((s) => s.method === 'PATCH')?.contentType,
      'application/merge-patch+json',
      `${JSON.stringify(seen)} ${executed[0]?.error}`,
    );
    assert.deepEqual(seen.find((s) => s.method === 'PATCH')?.body, { spec: { unschedulable: true } });
    const posts = seen.filter((s) => s.method === 'POST');
    assert.equal(posts.length, 3, 'two refusals, then the eviction');
    assert.deepEqual(posts[0]?.body, {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'epp-1', namespace: 'kyma-system' },
    });
    const blocked = timeline.events.find((e) => e.kind === 'eviction-blocked');
    assert.match(String(blocked?.detail['message']), /disruption budget/);
    assert.equal(timeline.events.find((e) => e.kind === 'evicted')?.detail['refused'], 2);
    assert.ok(timeline.events.some((e) => e.kind === 'drain-skipped' && e.detail['pods'] === 'not visible (RBAC)'));
    assert.equal(executed[0]?.error, null);
    assert.ok(timeline.events.some((e) => e.kind === 'drained'));
    timeline.close();
  });
});

describe('kube context check', () => {
  it("refuses a current context other than the plan's, and an unknown --context; accepts an explicit one", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k6ha-kubeconfig-'));
    const file = join(dir, 'config');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'dev',
        clusters: [
          { name: 'dev', cluster: { server: 'https://dev:6443' } },
          { name: 'prod', cluster: { server: 'https://prod:6443' } },
        ],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [
          { name: 'dev', context: { cluster: 'dev', user: 'u' } },
          { name: 'kyma-prod', context: { cluster: 'prod', user: 'u' } },
        ],
      }),
    );
    await assert.rejects(
      connectKube({ planContext: 'kyma-prod', kubeconfigFile: file }),
      (err: unknown) =>
        err instanceof KubeContextError &&
        /the kube context is "dev" but the experiment names "kyma-prod"/.test(err.message),
    );
    await assert.rejects(
      connectKube({ planContext: 'kyma-prod', contextOverride: 'staging', kubeconfigFile: file }),
      /--context "staging" is not in the kubeconfig \(contexts: dev, kyma-prod\)/,
    );
    const c = await connectKube({ planContext: 'dev', contextOverride: 'kyma-prod', kubeconfigFile: file });
    assert.equal(c.context, 'kyma-prod');
    assert.equal(c.server, 'https://prod:6443');
    assert.equal((await connectKube({ planContext: 'dev', kubeconfigFile: file })).context, 'dev');
  });

  it('says there is no kubeconfig, instead of naming the context client-node invents for that case', async () => {
    const saved = {
      HOME: process.env['HOME'],
      KUBECONFIG: process.env['KUBECONFIG'],
      KUBERNETES_SERVICE_HOST: process.env['KUBERNETES_SERVICE_HOST'],
    };
    process.env['HOME'] = mkdtempSync(join(tmpdir(), 'k6ha-home-'));
    delete process.env['KUBECONFIG'];
    delete process.env['KUBERNETES_SERVICE_HOST'];
    try {
      await assert.rejects(
        connectKube({ planContext: 'kyma-prod' }),
        (err: unknown) =>
          err instanceof KubeContextError &&
          /^no kubeconfig: KUBECONFIG is not set and .*\.kube\/config does not exist; pass --kubeconfig <file>/.test(
            err.message,
          ),
      );
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('execKill request (client-node Exec; kwok cannot exec, so this is the only check of the socket side)', () => {
  class FakeSocket extends EventEmitter {
    readonly CLOSED = 3;
    readyState = 1;
    onopen: (() => void) | null = null;
    onmessage: ((m: { data: Buffer }) => void) | null = null;
    onerror: ((e: unknown) => void) | null = null;
    close(): void {
      this.readyState = this.CLOSED;
      this.emit('close');
    }
  }

  it('builds /exec with the container and `sh -c kill -s <signal> 1`, and reads the exit code from the status channel', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://kube.test:6443' }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'k', cluster: 'c', user: 'u' }],
      currentContext: 'k',
    });
    const uris: string[] = [];
    const handler = new WebSocketHandler(kc, (uri) => {
      uris.push(uri);
      const socket = new FakeSocket();
      setImmediate(() => {
        socket.onopen?.();
        // Channel 3 carries the V1Status: a non-zero exit of the kill command itself.
        const status = {
          status: 'Failure',
          reason: 'NonZeroExitCode',
          details: { causes: [{ reason: 'ExitCode', message: '137' }] },
        };
        socket.onmessage?.({ data: Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(status))]) });
      });
      return socket as never;
    });
    const runner = new ClientExecRunner(new Exec(kc, handler));
    const outcome = await runner.run('s3gw', 's3gw-0', 'radosgw', killCommand('TERM'), 2000);
    assert.equal(uris.length, 1);
    const url = new URL(uris[0] as string);
    assert.equal(url.protocol, 'wss:');
    assert.equal(url.pathname, '/api/v1/namespaces/s3gw/pods/s3gw-0/exec');
    assert.deepEqual(url.searchParams.getAll('command'), ['sh', '-c', 'kill -s TERM 1']);
    assert.equal(url.searchParams.get('container'), 'radosgw');
    assert.equal(url.searchParams.get('stdin'), 'false');
    assert.deepEqual([outcome.status, outcome.exitCode], ['Failure', 137]);
    assert.deepEqual(killCommand('KILL', ['curl', '-X', 'PUT', 'localhost:7480/die?mode=EXIT_1']), [
      'curl',
      '-X',
      'PUT',
      'localhost:7480/die?mode=EXIT_1',
    ]);
  });
});
