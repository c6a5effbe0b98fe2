// What k6-operator's controller does with a TestRun, for a test cluster where the controller
// cannot be installed (no registry for its image): one runner Job and one Service per index,
// written after its NewRunnerJob / NewRunnerService (pkg/resources/jobs/runner.go), then — once
// every runner pod is Ready — its starter: PATCH /v1/status {"paused": false} to each runner's
// k6 REST API. Written in TypeScript from the operator's behaviour; no code of it is copied.
//
// What follows the operator exactly: the Job name <testrun>-<i> (1-based), backoffLimit 0,
// restartPolicy Never, the container "k6" with the command `k6 run --quiet
// [--execution-segment=… --execution-segment-sequence=…] <arguments> /test/<file>
// --address=0.0.0.0:6565 --paused --tag instance_id=<i> --tag testrun_name=<testrun>`, the script
// ConfigMap mounted at /test (volume k6-test-volume), runner.env, the labels app=k6,
// k6_cr=<testrun>, runner=true, the readiness probe GET /v1/status on the API port, and a Service
// <testrun>-service-<i> (port 6565, selector job-name=<testrun>-<i>).
// The one deviation, for a node without pod networking (`hostNetwork`): the pod is on the node's
// network and its k6 listens on 127.0.0.1:<its own port> instead of 0.0.0.0:6565 (every runner
// pod of the operator has its own network namespace; on the node's they would collide).
import type { KubeClients } from '../../lib/kube/client.ts';
import { segmentFlags, runnerSlot } from '../../lib/shared/runners.ts';
import { resumeK6 } from '../../lib/sidecar/k6-api.ts';

export interface TestRunDoc {
  metadata: { name: string; namespace: string };
  spec: {
    parallelism: number;
    script: { configMap: { name: string; file: string } };
    arguments?: string;
    paused?: string;
    quiet?: string;
    runner: { image?: string; env?: Array<Record<string, unknown>> };
  };
}

type Doc = Record<string, unknown>;

/** The runner Job of index i (1-based), as k6-operator creates it; `address` replaces 0.0.0.0:6565 on the node's network. */
export function runnerJob(testrun: TestRunDoc, index: number, hostNetwork?: { address: string }): Doc {
  const name = `${testrun.metadata.name}-${index}`;
  const spec = testrun.spec;
  const quiet = spec.quiet === undefined ? true : spec.quiet === 'true';
  const paused = spec.paused === undefined ? true : spec.paused === 'true';
  const address = hostNetwork?.address ?? '0.0.0.0:6565';
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const command = [
    'k6',
    'run',
    ...(quiet ? ['--quiet'] : []),
    ...(spec.parallelism > 1 ? segmentFlags(runnerSlot(index, spec.parallelism)) : []),
    ...(spec.arguments ?? '').split(/\s+/).filter((a) => a !== ''),
    `/test/${spec.script.configMap.file}`,
    `--address=${address}`,
    ...(paused ? ['--paused'] : []),
    '--tag',
    `instance_id=${index}`,
    '--tag',
    `testrun_name=${testrun.metadata.name}`,
  ];
  const labels = { app: 'k6', k6_cr: testrun.metadata.name, runner: 'true' };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: testrun.metadata.namespace, labels },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: true,
          serviceAccountName: 'default',
          hostname: name,
          restartPolicy: 'Never',
          ...(hostNetwork === undefined ? {} : { hostNetwork: true }),
          containers: [
            {
              name: 'k6',
              image: spec.runner.image ?? 'grafana/k6:latest',
              command,
              env: spec.runner.env ?? [],
              ports: [{ containerPort: port }],
              volumeMounts: [{ name: 'k6-test-volume', mountPath: '/test' }],
              readinessProbe: { httpGet: { path: '/v1/status', port, scheme: 'HTTP' } },
            },
          ],
          volumes: [{ name: 'k6-test-volume', configMap: { name: spec.script.configMap.name } }],
        },
      },
    },
  };
}

export function runnerService(testrun: TestRunDoc, index: number): Doc {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: `${testrun.metadata.name}-service-${index}`,
      namespace: testrun.metadata.namespace,
      labels: { app: 'k6', k6_cr: testrun.metadata.name, runner: 'true' },
    },
    spec: {
      ports: [{ name: 'http-api', port: 6565, protocol: 'TCP' }],
      selector: { 'job-name': `${testrun.metadata.name}-${index}` },
    },
  };
}

/** Creates the N runner Jobs and Services of a TestRun, as the controller does on a new TestRun. */
export async function createRunners(
  clients: KubeClients,
  testrun: TestRunDoc,
  hostNetworkAddresses?: string[],
): Promise<void> {
  const objects = clients.lib.KubernetesObjectApi.makeApiClient(clients.kubeConfig);
  for (let i = 1; i <= testrun.spec.parallelism; i++) {
    const address = hostNetworkAddresses?.[i - 1];
    await objects.create(runnerJob(testrun, i, address === undefined ? undefined : { address }) as never);
    await objects.create(runnerService(testrun, i) as never);
  }
}

/**
 * The starter: waits until every runner pod of the TestRun is Ready (its readiness probe is k6's
 * /v1/status: k6 initialised its VUs and waits paused), then resumes each runner's k6.
 */
export async function startRunners(
  clients: KubeClients,
  testrun: TestRunDoc,
  apis: string[],
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const selector = `app=k6,k6_cr=${testrun.metadata.name},runner=true`;
  for (;;) {
    const pods = (
      await clients.core.listNamespacedPod({ namespace: testrun.metadata.namespace, labelSelector: selector })
    ).items;
    const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    if (ready.length === testrun.spec.parallelism) break;
    if (Date.now() > deadline)
      throw new Error(
        `the starter waited ${timeoutMs / 1000} s for ${testrun.spec.parallelism} Ready runner pods; ${ready.length} are: ${pods
          .map(
            (p) => `${p.metadata?.name} ${p.status?.phase} ${JSON.stringify(p.status?.containerStatuses?.[0]?.state)}`,
          )
          .join('; ')}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
  const codes = await Promise.all(apis.map((a) => resumeK6(a)));
  if (codes.some((c) => c !== 200)) throw new Error(`resume answered ${codes.join(', ')} from ${apis.join(', ')}`);
}
