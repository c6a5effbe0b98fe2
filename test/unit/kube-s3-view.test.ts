// A kubernetes target loaded by s3-objects gets S3's view (lib/targets/kubernetes.ts → lib/s3/view.ts):
// before any load the scenario's S3_ENDPOINT is asked with its credentials, and an endpoint that
// does not answer is refused with exit 2 naming S3_ENDPOINT and how to point it at the gateway; a
// natsUrl (JetStream's view) next to s3-objects is refused naming target.natsUrl.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExperiment } from '../../lib/experiment/experiment.ts';
import type { KubernetesConnection } from '../../lib/kube/kube-target.ts';
import { ExperimentError, S3CredentialsError, UsageError } from '../../lib/shared/errors.ts';
import { freePort } from '../../lib/stack/free-port.ts';
import { kubernetesTarget } from '../../lib/targets/kubernetes.ts';
import type { KubernetesTargetSpec } from '../../lib/targets/target-module.ts';

const experiment = (env: Record<string, string>, target: Record<string, unknown> = {}) =>
  parseExperiment(
    {
      name: 'k-s3',
      scenario: 's3-objects',
      target: { kind: 'kubernetes', context: 's3gw', namespaces: ['s3gw'], ...target },
      env: { DURATION: '10s', ...env },
      thresholds: 's3-restarts',
      plan: [],
    },
    'k-s3.json',
  );

// start() asks nothing of the connection before the view's preflight passes.
const noConnection = {} as KubernetesConnection;

describe('kubernetes target with s3-objects: S3 view', () => {
  it('an S3_ENDPOINT that does not answer is refused before any load (exit 2), naming it and the port-forward', async () => {
    const port = await freePort();
    const exp = experiment({ S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_ACCESS_KEY: 'someone' });
    await assert.rejects(
      kubernetesTarget.start({
        experiment: exp,
        target: exp.target as KubernetesTargetSpec,
        runDir: '/nonexistent',
        log: () => undefined,
        kube: noConnection,
      }),
      (err: unknown) => {
        assert.ok(err instanceof S3CredentialsError, String(err));
        assert.ok(err instanceof UsageError, 'a UsageError: exit 2');
        assert.equal(err.setting, 'S3_ENDPOINT');
        assert.match(err.message, new RegExp(`invalid S3_ENDPOINT="http://127.0.0.1:${port}"`));
        assert.match(err.message, /ECONNREFUSED/);
        assert.match(err.message, /kubectl -n s3gw port-forward/);
        return true;
      },
    );
  });

  it('target.natsUrl with s3-objects is refused naming the field', async () => {
    const exp = experiment({ S3_ENDPOINT: 'http://127.0.0.1:7480' }, { natsUrl: 'nats://127.0.0.1:4222' });
    await assert.rejects(
      kubernetesTarget.start({
        experiment: exp,
        target: exp.target as KubernetesTargetSpec,
        runDir: '/nonexistent',
        log: () => undefined,
        kube: noConnection,
      }),
      (err: unknown) => {
        assert.ok(err instanceof ExperimentError, String(err));
        assert.match(err.message, /^target\.natsUrl: s3-objects writes objects/);
        return true;
      },
    );
  });
});
