// `k6-ha operator <experiment>`: writes the manifests of a k6-operator run with k6-ha's sidecar
// (lib/run/operator.ts). Applies nothing.
import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { operatorManifests, operatorYaml } from '../run/operator.ts';

interface OperatorFlags {
  parallelism?: string;
  namespace?: string;
  natsUrl?: string;
  image?: string;
  runnerImage?: string;
  sidecarPort?: string;
  runnerApi?: string;
  hostNetwork?: boolean;
  kubeApi?: string;
  preset?: string;
  duration?: string;
  rate?: string;
  thresholds?: string;
  env?: string[];
  outDir: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerOperatorCommand(program: Command): void {
  program
    .command('operator')
    .description(
      "write the manifests to run an experiment with k6-operator: a TestRun of N runners and k6-ha's sidecar (Deployment, Service, RBAC, experiment and script ConfigMaps) that merges their verdict",
    )
    .argument('<experiment>', 'experiment file with a kubernetes target, e.g. experiments/kyma-leader-pod-deleted.json')
    .option('--parallelism <N>', 'k6 runner pods (the TestRun parallelism; default: the experiment runners, else 1)')
    .option('--namespace <ns>', 'one of target.namespaces for the sidecar and the runners (default: the first)')
    .option(
      '--nats-url <url>',
      'NATS client URL inside the cluster (replaces target.natsUrl, e.g. nats://eventing-nats.kyma-system.svc:4222)',
    )
    .option('--image <image>', 'the k6-ha image the sidecar runs (deploy/Dockerfile)', 'k6-ha:local')
    .option('--runner-image <image>', 'the k6 image of the runner pods', 'grafana/k6:2.2.0')
    .option('--sidecar-port <port>', "the sidecar's control API port", '8080')
    .option(
      '--runner-api <url>',
      "each runner's k6 REST API as the sidecar reaches it: a URL with {i}, or N URLs separated by commas (default: k6-operator's Services, http://<testrun>-service-{i}.<ns>.svc:6565)",
    )
    .option(
      '--host-network',
      "the sidecar on the node's network, on 127.0.0.1 (a one-node cluster without pod networking, Services or cluster DNS); needs --runner-api",
    )
    .option(
      '--kube-api <url>',
      "the API server as the sidecar reaches it (https://host:port), when the kubernetes Service's address does not work from its pod (hostNetwork without kube-proxy)",
    )
    .option('--preset <name>', 'apply a preset from the experiment file')
    .option('-d, --duration <duration>', 'load duration (overrides DURATION)')
    .option('-r, --rate <events/s>', 'total arrival rate of all runners (overrides RATE)')
    .option('--thresholds <profile>', 'gate profile (overrides the experiment)')
    .option(
      '-e, --env <KEY=VALUE>',
      'scenario environment for the runners (repeatable), e.g. PUBLISH_URL of the in-cluster service',
      collect,
    )
    .option('-o, --out-dir <dir>', 'where 1-sidecar.yaml and 2-testrun.yaml go', 'k6-ha-operator')
    .action(async (file: string, flags: OperatorFlags) => {
      const { outDir, ...rest } = flags;
      const manifests = await operatorManifests({ experimentFile: file, ...rest });
      const parallelism = Number(
        (manifests.docs.find((d) => d['kind'] === 'TestRun')?.['spec'] as { parallelism?: number } | undefined)
          ?.parallelism ?? 1,
      );
      const yaml = await operatorYaml(manifests, parallelism);
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, '1-sidecar.yaml'), yaml.sidecar);
      writeFileSync(join(outDir, '2-testrun.yaml'), yaml.testrun);
      const dir = relative(process.cwd(), outDir) || outDir;
      for (const w of manifests.warnings) process.stderr.write(`k6-ha: warning: ${w}\n`);
      process.stdout.write(
        [
          `wrote ${dir}/1-sidecar.yaml and ${dir}/2-testrun.yaml (${manifests.name}, ${parallelism} runner(s), namespace ${manifests.namespace})`,
          `  kubectl apply --server-side -f ${dir}/1-sidecar.yaml && kubectl -n ${manifests.namespace} rollout status deploy/${manifests.name}-sidecar`,
          `  kubectl apply --server-side -f ${dir}/2-testrun.yaml && kubectl -n ${manifests.namespace} get testrun ${manifests.name} -w`,
          `  kubectl -n ${manifests.namespace} logs -f deploy/${manifests.name}-sidecar      # the merged verdict`,
          '',
        ].join('\n'),
      );
    });
}
