// `k6-ha operator --host-network`: the manifests for a one-node cluster without pod networking
// (the sidecar on the node's 127.0.0.1, the runners' APIs one URL each, the API server's address
// for the in-cluster config), and the refusals of its options.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { operatorManifests } from '../../lib/run/operator.ts';
import { InvalidSettingError } from '../../lib/shared/errors.ts';

const FILE = 'experiments/kyma-r3-leader-pod-deleted.json';

type Doc = Record<string, unknown>;
const kind = (docs: Doc[], k: string): Doc => docs.find((d) => d['kind'] === k) as Doc;

describe('k6-ha operator --host-network', () => {
  it("puts the sidecar on the node's network at 127.0.0.1, with the runner URLs, the API server and no loopback warnings", async () => {
    const m = await operatorManifests({
      experimentFile: FILE,
      parallelism: '2',
      hostNetwork: true,
      sidecarPort: '18555',
      runnerApi: 'http://127.0.0.1:16001,http://127.0.0.1:16002',
      kubeApi: 'https://127.0.0.1:16443',
    });
    const pod = (kind(m.docs, 'Deployment')['spec'] as { template: { spec: Doc } }).template.spec;
    assert.equal(pod['hostNetwork'], true);
    const container = (pod['containers'] as Array<{ args: string[]; env: Array<{ name: string; value?: string }> }>)[0];
    const args = container?.args ?? [];
    const arg = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    assert.equal(arg('--listen'), '127.0.0.1');
    assert.equal(arg('--port'), '18555');
    assert.equal(arg('--public-url'), 'http://127.0.0.1:18555');
    assert.equal(arg('--runner-api'), 'http://127.0.0.1:16001,http://127.0.0.1:16002');
    assert.deepEqual(
      container?.env.filter((e) => e.name.startsWith('KUBERNETES_SERVICE_')),
      [
        { name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' },
        { name: 'KUBERNETES_SERVICE_PORT', value: '16443' },
      ],
    );
    const url = (kind(m.docs, 'Secret')['stringData'] as { url: string }).url;
    assert.match(url, /^http:\/\/127\.0\.0\.1:18555\/[0-9a-f]{32}$/);
    assert.ok(
      !m.warnings.some((w) => w.includes('points at 127.0.0.1') || w.includes('port-forward')),
      m.warnings.join('\n'),
    );
    assert.ok(m.warnings.some((w) => w.includes("k6-operator's own runner pods have their own network")));
  });

  it('keeps the cluster defaults without it: 0.0.0.0:8080, the operator Services, no API override', async () => {
    const m = await operatorManifests({ experimentFile: FILE, parallelism: '3' });
    const pod = (kind(m.docs, 'Deployment')['spec'] as { template: { spec: Doc } }).template.spec;
    assert.equal(pod['hostNetwork'], undefined);
    const container = (pod['containers'] as Array<{ args: string[]; env: Array<{ name: string }> }>)[0];
    const args = container?.args ?? [];
    assert.equal(args[args.indexOf('--listen') + 1], '0.0.0.0');
    assert.equal(args[args.indexOf('--port') + 1], '8080');
    assert.equal(
      args[args.indexOf('--runner-api') + 1],
      'http://kyma-r3-leader-pod-deleted-service-{i}.kyma-system.svc:6565',
    );
    assert.deepEqual(
      container?.env.map((e) => e.name),
      ['K6HA_SIDECAR_TOKEN'],
    );
  });

  it('refuses --host-network without --runner-api, a wrong number of URLs and a bad --kube-api, naming the option', async () => {
    await assert.rejects(
      operatorManifests({ experimentFile: FILE, parallelism: '2', hostNetwork: true }),
      (err: unknown) =>
        err instanceof InvalidSettingError &&
        err.setting === '--runner-api' &&
        /cannot all listen on 6565/.test(err.message),
    );
    await assert.rejects(
      operatorManifests({ experimentFile: FILE, parallelism: '3', runnerApi: 'http://127.0.0.1:1,http://127.0.0.1:2' }),
      (err: unknown) =>
        err instanceof InvalidSettingError && err.setting === '--runner-api' && /3 URL\(s\)/.test(err.message),
    );
    await assert.rejects(
      operatorManifests({ experimentFile: FILE, parallelism: '2', runnerApi: 'http://127.0.0.1:6565' }),
      (err: unknown) => err instanceof InvalidSettingError && /a URL with \{i\}/.test(err.message),
    );
    await assert.rejects(
      operatorManifests({ experimentFile: FILE, kubeApi: 'http://127.0.0.1:6443' }),
      (err: unknown) => err instanceof InvalidSettingError && err.setting === '--kube-api',
    );
    await assert.rejects(
      operatorManifests({ experimentFile: FILE, sidecarPort: '70000' }),
      (err: unknown) => err instanceof InvalidSettingError && err.setting === '--sidecar-port',
    );
  });
});
