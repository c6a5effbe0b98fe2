// `k6-ha operator <experiment> --parallelism N`: the manifests that run an experiment with
// k6-operator — N runner pods of the built scenario (a TestRun) and k6-ha's sidecar in the
// cluster (Deployment + Service), which registers the runners, runs the chaos plan once, merges
// their outcomes and gives every runner the same merged chaos_* metrics, so each runner's
// thresholds judge the whole run. Writes YAML only; `kubectl apply --server-side -f` does the rest
// (server-side: a client-side apply keeps a copy of each object in an annotation, and the script
// ConfigMap's bundle is over the annotation's 256 KiB limit)
// (docs/kubernetes.md). Nothing here talks to a cluster.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExperimentError, InvalidSettingError } from '../shared/errors.ts';
import { MAX_RUNNERS } from '../shared/runners.ts';
import { parsePort, parsePositiveInt } from '../shared/env-parse.ts';
import type { Experiment } from '../experiment/experiment.ts';
import { PROJECT_ROOT } from '../tools/toolchain.ts';
import { IN_CLUSTER_CONTEXT } from '../kube/client.ts';
import { buildScenarios, scenarioScript } from './k6-process.ts';
import { prepareExperiment, type RunOptions } from './prepare.ts';

export interface OperatorOptions extends Pick<
  RunOptions,
  'experimentFile' | 'preset' | 'env' | 'namespace' | 'duration' | 'rate' | 'thresholds'
> {
  parallelism?: string;
  /** the k6-ha image the sidecar runs (deploy/Dockerfile) */
  image?: string;
  /** the k6 image of the runner pods (k6-operator's default: grafana/k6:latest; pin one) */
  runnerImage?: string;
  /** NATS client URL for the sidecar inside the cluster (the Service), replacing target.natsUrl */
  natsUrl?: string;
  /** the sidecar's control API port (default 8080) */
  sidecarPort?: string;
  /**
   * each runner's k6 REST API as the sidecar reaches it: a URL with {i}, or N URLs separated by
   * commas (default: k6-operator's Services, http://<testrun>-service-{i}.<ns>.svc:6565)
   */
  runnerApi?: string;
  /**
   * the sidecar on the node's network (hostNetwork), listening on 127.0.0.1: for a one-node
   * cluster without pod networking, Services or cluster DNS (a dev kubelet); the runners must then
   * be on the node's network too, each on its own port (--runner-api)
   */
  hostNetwork?: boolean;
  /** the API server as the sidecar reaches it (https://host:port), when the kubernetes Service's address does not work (hostNetwork without kube-proxy) */
  kubeApi?: string;
}

export const SIDECAR_PORT = 8080;
export const K6_OPERATOR_API = 'k6.io/v1alpha1';

type Doc = Record<string, unknown>;

export interface OperatorManifests {
  /** the documents, in apply order */
  docs: Doc[];
  namespace: string;
  name: string;
  /** things the user must look at before applying (URLs that only work outside the cluster) */
  warnings: string[];
}

const LOOPBACK = /\/\/(?:127\.0\.0\.1|localhost)(?::|\/|$)/;

/** --runner-api: a URL with {i}, or one URL per runner separated by commas; required with --host-network. */
function runnerApiOption(
  opts: OperatorOptions,
  parallelism: number,
  hostNetwork: boolean,
  operatorServices: string,
): string {
  const value = opts.runnerApi;
  if (value === undefined) {
    if (hostNetwork)
      throw InvalidSettingError.format(
        '--runner-api',
        '',
        `with --host-network, ${parallelism} URL(s) separated by commas, e.g. http://127.0.0.1:6565,http://127.0.0.1:6566 — runner pods on the node's network cannot all listen on 6565`,
      );
    return operatorServices;
  }
  const urls = value.split(',');
  const ok = (u: string): boolean => /^https?:\/\/[^/\s]+\/?$/.test(u.replaceAll('{i}', '1'));
  if (
    value.includes(',')
      ? urls.length !== parallelism || !urls.every(ok)
      : !(ok(value) && (parallelism === 1 || value.includes('{i}')))
  )
    throw InvalidSettingError.format(
      '--runner-api',
      value,
      `a URL with {i} for the runner index, or ${parallelism} URL(s) separated by commas (http://host:port, no path)`,
    );
  return value;
}

/** --kube-api https://host:port → the in-cluster config's KUBERNETES_SERVICE_HOST / _PORT. */
function kubeApiOption(value: string | undefined): { host: string; port: string } | null {
  if (value === undefined) return null;
  const m = /^https:\/\/(\[[0-9a-fA-F:]+\]|[^/:\s]+)(?::(\d+))?\/?$/.exec(value);
  if (m === null)
    throw InvalidSettingError.format('--kube-api', value, 'https://host:port of the API server (no path)');
  const port = m[2] ?? '443';
  parsePort('--kube-api', port);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** The RBAC of deploy/rbac-namespaced.yaml for the sidecar's namespace, its Role repeated in every namespace of the allow-list. */
function rbacDocs(loadAll: (text: string) => unknown[], namespace: string, allowList: string[]): Doc[] {
  const template = readFileSync(join(PROJECT_ROOT, 'deploy', 'rbac-namespaced.yaml'), 'utf8');
  const docs: Doc[] = [];
  for (const [i, ns] of allowList.entries()) {
    const parsed = (loadAll(template.replaceAll('kyma-system', ns)) as Array<Doc | null>).filter(
      (d): d is Doc => d !== null,
    );
    for (const d of parsed) {
      if (d['kind'] === 'ServiceAccount') {
        if (i === 0) docs.push({ ...d, metadata: { ...(d['metadata'] as Doc), namespace } });
        continue;
      }
      if (d['kind'] === 'RoleBinding') {
        const subjects = (d['subjects'] as Doc[]).map((s) => ({ ...s, namespace }));
        docs.push({ ...d, subjects });
        continue;
      }
      docs.push(d);
    }
  }
  return docs;
}

export async function operatorManifests(opts: OperatorOptions): Promise<OperatorManifests> {
  const file = opts.experimentFile;
  const prepared = prepareExperiment({
    experimentFile: file,
    ...(opts.preset === undefined ? {} : { preset: opts.preset }),
    ...(opts.env === undefined ? {} : { env: opts.env }),
    ...(opts.namespace === undefined ? {} : { namespace: opts.namespace }),
    ...(opts.duration === undefined ? {} : { duration: opts.duration }),
    ...(opts.rate === undefined ? {} : { rate: opts.rate }),
    ...(opts.thresholds === undefined ? {} : { thresholds: opts.thresholds }),
    ...(opts.parallelism === undefined ? {} : { runners: opts.parallelism }),
  });
  const exp: Experiment = prepared.experiment;
  if (exp.target.kind !== 'kubernetes')
    throw new ExperimentError(
      `target.kind: "${exp.target.kind}" is not allowed for \`k6-ha operator\` — expected "kubernetes": the runner pods and the sidecar run in the cluster the plan acts on`,
      { file },
    );
  const parallelism =
    opts.parallelism === undefined
      ? (exp.runners ?? 1)
      : parsePositiveInt('--parallelism', opts.parallelism, MAX_RUNNERS);
  const namespace = exp.target.namespaces[0] as string;
  const name = exp.name.slice(0, 40).replace(/-+$/, '');
  const sidecarName = `${name}-sidecar`;
  const warnings: string[] = [];
  // Inside the cluster the sidecar's kube context is the service account's (as deploy/job.yaml says).
  const natsUrl = opts.natsUrl ?? exp.target.natsUrl;
  if (natsUrl !== undefined && LOOPBACK.test(natsUrl) && opts.hostNetwork !== true)
    warnings.push(
      `target.natsUrl ${natsUrl} is a port-forward: inside the sidecar pod 127.0.0.1 is the pod itself — pass --nats-url nats://<nats-service>.<ns>.svc:4222`,
    );
  for (const [k, v] of Object.entries(exp.env))
    if (LOOPBACK.test(v) && opts.hostNetwork !== true)
      warnings.push(
        `${k}=${v} points at 127.0.0.1: inside a runner pod that is the pod itself — pass -e ${k}=http://<service>.<ns>.svc/…`,
      );
  const inCluster = {
    ...exp,
    runners: parallelism,
    target: { ...exp.target, context: IN_CLUSTER_CONTEXT, ...(natsUrl === undefined ? {} : { natsUrl }) },
  };
  await buildScenarios();
  const script = readFileSync(scenarioScript(exp.scenario), 'utf8');
  const scriptFile = `${exp.scenario}.js`;
  const token = randomBytes(16).toString('hex');
  const hostNetwork = opts.hostNetwork === true;
  const sidecarPort = opts.sidecarPort === undefined ? SIDECAR_PORT : parsePort('--sidecar-port', opts.sidecarPort);
  const sidecarBase = hostNetwork
    ? `http://127.0.0.1:${sidecarPort}`
    : `http://${sidecarName}.${namespace}.svc:${sidecarPort}`;
  const runnerApi = runnerApiOption(opts, parallelism, hostNetwork, `http://${name}-service-{i}.${namespace}.svc:6565`);
  const kubeApi = kubeApiOption(opts.kubeApi);
  if (hostNetwork)
    warnings.push(
      `--host-network: the sidecar listens on the node's 127.0.0.1:${sidecarPort} and expects the runners at ${runnerApi}; k6-operator's own runner pods have their own network and all listen on 0.0.0.0:6565, so with this option start the runner pods on the node's network yourself (docs/kubernetes.md, "On one node without pod networking")`,
    );
  const labels = { 'app.kubernetes.io/name': 'k6-ha', 'app.kubernetes.io/instance': name };
  const scenarioEnv = Object.entries({ ...exp.env, THRESHOLDS: exp.thresholds });
  const { loadAllYaml } = await import('@kubernetes/client-node');

  const docs: Doc[] = [
    ...rbacDocs(loadAllYaml, namespace, exp.target.namespaces),
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${name}-sidecar-token`, namespace, labels },
      type: 'Opaque',
      // the control API's path token: the sidecar reads `token`, the runners `url`
      stringData: { token, url: `${sidecarBase}/${token}` },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${name}-experiment`, namespace, labels },
      data: { 'experiment.json': `${JSON.stringify(inCluster, null, 2)}\n` },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${name}-script`, namespace, labels },
      data: { [scriptFile]: script },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: sidecarName, namespace, labels },
      spec: {
        replicas: 1,
        // one sidecar per run: never two at once during a rollout
        strategy: { type: 'Recreate' },
        selector: { matchLabels: { ...labels, 'app.kubernetes.io/component': 'sidecar' } },
        template: {
          metadata: { labels: { ...labels, 'app.kubernetes.io/component': 'sidecar' } },
          spec: {
            serviceAccountName: 'k6-ha',
            ...(hostNetwork ? { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' } : {}),
            containers: [
              {
                name: 'sidecar',
                image: opts.image ?? 'k6-ha:local',
                args: [
                  'sidecar',
                  '/experiment/experiment.json',
                  '--listen',
                  // on the node's network, only the node itself (its hostNetwork runner pods) may reach it
                  hostNetwork ? '127.0.0.1' : '0.0.0.0',
                  '--port',
                  String(sidecarPort),
                  '--public-url',
                  sidecarBase,
                  '--runners',
                  String(parallelism),
                  '--runner-api',
                  // default: k6-operator's Service per runner, <testrun>-service-<i>, port 6565
                  runnerApi,
                  '--out-dir',
                  '/results',
                  '--linger',
                ],
                env: [
                  {
                    name: 'K6HA_SIDECAR_TOKEN',
                    valueFrom: { secretKeyRef: { name: `${name}-sidecar-token`, key: 'token' } },
                  },
                  // the in-cluster config reads these (set by the kubelet from the kubernetes Service)
                  ...(kubeApi === null
                    ? []
                    : [
                        { name: 'KUBERNETES_SERVICE_HOST', value: kubeApi.host },
                        { name: 'KUBERNETES_SERVICE_PORT', value: kubeApi.port },
                      ]),
                ],
                ports: [{ name: 'control', containerPort: sidecarPort }],
                readinessProbe: { tcpSocket: { port: sidecarPort }, periodSeconds: 2 },
                resources: { requests: { cpu: '500m', memory: '256Mi' }, limits: { memory: '1Gi' } },
                volumeMounts: [
                  { name: 'experiment', mountPath: '/experiment' },
                  { name: 'results', mountPath: '/results' },
                ],
              },
            ],
            volumes: [
              { name: 'experiment', configMap: { name: `${name}-experiment` } },
              { name: 'results', emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: sidecarName, namespace, labels },
      spec: {
        selector: { ...labels, 'app.kubernetes.io/component': 'sidecar' },
        ports: [{ name: 'control', port: sidecarPort, targetPort: sidecarPort }],
      },
    },
    {
      apiVersion: K6_OPERATOR_API,
      kind: 'TestRun',
      metadata: { name, namespace, labels },
      spec: {
        parallelism,
        script: { configMap: { name: `${name}-script`, file: scriptFile } },
        // the scenario's environment as k6 flags; SIDECAR_URL (with its token) from the Secret
        // (the operator splits `arguments` on spaces: a value with a space goes into runner.env instead)
        arguments: scenarioEnv
          .filter(([, v]) => !/\s/.test(v))
          .map(([k, v]) => `-e ${k}=${v}`)
          .join(' '),
        // the operator's own defaults, written out: runners wait paused until its starter resumes them all
        paused: 'true',
        quiet: 'true',
        runner: {
          image: opts.runnerImage ?? 'grafana/k6:2.2.0',
          env: [
            {
              name: 'SIDECAR_URL',
              valueFrom: { secretKeyRef: { name: `${name}-sidecar-token`, key: 'url' } },
            },
            ...scenarioEnv.filter(([, v]) => /\s/.test(v)).map(([k, v]) => ({ name: k, value: v })),
          ],
        },
      },
    },
  ];
  return { docs, namespace, name, warnings };
}

/**
 * The manifests as two multi-document YAML files, applied in this order: the sidecar (RBAC,
 * Secret, ConfigMaps, Deployment, Service) and, once it is ready, the TestRun — a runner that
 * starts before the sidecar answers would run without it.
 */
export async function operatorYaml(
  m: OperatorManifests,
  parallelism: number,
): Promise<{ sidecar: string; testrun: string }> {
  const { dumpYaml } = await import('@kubernetes/client-node');
  const header = (what: string): string =>
    [
      `# k6-ha operator: ${m.name}, ${parallelism} k6 runner(s) (k6-operator TestRun, ${K6_OPERATOR_API}) and k6-ha's sidecar — ${what}`,
      '# docs/kubernetes.md: kubectl apply --server-side -f 1-sidecar.yaml, wait for the sidecar, then 2-testrun.yaml (needs k6-operator installed).',
      ...m.warnings.map((w) => `# WARNING: ${w}`),
      '',
    ].join('\n');
  const dump = (docs: Doc[]): string => docs.map((d) => `---\n${dumpYaml(d)}`).join('');
  const testrun = m.docs.filter((d) => d['kind'] === 'TestRun');
  const sidecar = m.docs.filter((d) => d['kind'] !== 'TestRun');
  return { sidecar: header('the sidecar') + dump(sidecar), testrun: header('the runners') + dump(testrun) };
}
