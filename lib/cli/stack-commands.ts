// `k6-ha stack up` and `k6-ha setup`: the local stack on its own, and the toolchain.
import { ensureK6WithKubernetes, XK6_KUBERNETES } from '../tools/xk6.ts';
import type { Command } from 'commander';
import { join, relative } from 'node:path';
import { mkdirSync } from 'node:fs';
import { parsePort } from '../shared/env-parse.ts';
import { InvalidSettingError } from '../shared/errors.ts';
import { LocalStack } from '../stack/local-stack.ts';
import { StanHostServices } from '../stack/stan/stan-stack.ts';
import { DEFAULT_RESULTS_DIR_HELP, resultsDir } from '../sidecar/artifacts.ts';
import { ensureTool, TOOLS } from '../tools/toolchain.ts';
import { stackBinariesReport } from '../stack/postgres-haproxy/binaries.ts';

export function registerStackCommands(program: Command): void {
  const stack = program
    .command('stack')
    .description('the embedded local stack (3 nats-server members, publisher, sink)');
  stack
    .command('up')
    .description(
      `start the local JetStream stack and keep it running until Ctrl-C (for \`k6 run build/jetstream-publish.js\`); logs go to stack-<timestamp>/ in ${DEFAULT_RESULTS_DIR_HELP}`,
    )
    .option('--replicas <1|3>', 'stream replicas', '3')
    .option('--port <port>', "publisher port on 127.0.0.1 (the scenario's default PUBLISH_URL uses 18080)", '18080')
    .action(async (flags: { replicas: string; port: string }) => {
      if (flags.replicas !== '1' && flags.replicas !== '3')
        throw InvalidSettingError.format('--replicas', flags.replicas, '1 or 3');
      const port = parsePort('--port', flags.port);
      const log = (line: string): void => void process.stderr.write(`k6-ha: ${line}\n`);
      const runDir = join(resultsDir(), `stack-${Date.now()}`);
      mkdirSync(runDir, { recursive: true });
      const natsServerBin = await ensureTool('nats-server', { log });
      const s = await LocalStack.start({
        runDir,
        natsServerBin,
        replicas: Number(flags.replicas) as 1 | 3,
        publisherPort: port,
        log,
      });
      process.stdout.write(
        `stack up (logs in ${relative(process.cwd(), runDir)}); NATS: ${s.cluster.clientUrls.join(',')}\n  k6 run -e PUBLISH_URL=${s.publishUrl} build/jetstream-publish.js\nCtrl-C to stop.\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await s.stop();
      log('stack stopped');
    });

  stack
    .command('stan-services')
    .description(
      "k6-ha's publisher with its STAN backend and the durable-subscription sink against a NATS Streaming FT group elsewhere (the pods of a `stan` StatefulSet, through port-forwards), until Ctrl-C; prints the target.stan lines for a kubernetes experiment",
    )
    .requiredOption(
      '--nats-url <urls>',
      "the FT group's client URL(s), comma-separated, e.g. nats://127.0.0.1:4222,nats://127.0.0.1:4223",
    )
    .option('--cluster-id <id>', "the streaming id (the seed's)", 'test-cluster')
    .option('--port <port>', 'publisher port on 127.0.0.1', '18080')
    .option('--sink-port <port>', 'sink port on 127.0.0.1', '18081')
    .option('--no-republish', 'do not publish again after an ack timeout')
    .action(
      async (flags: { natsUrl: string; clusterId: string; port: string; sinkPort: string; republish: boolean }) => {
        const port = parsePort('--port', flags.port);
        const sinkPort = parsePort('--sink-port', flags.sinkPort);
        const urls = flags.natsUrl.split(',');
        const bad = urls.find((u) => !/^(?:nats|tls):\/\/[^\s,]+$/.test(u));
        if (bad !== undefined)
          throw InvalidSettingError.format(
            '--nats-url',
            flags.natsUrl,
            'NATS URLs such as nats://127.0.0.1:4222, comma-separated',
          );
        const log = (line: string): void => void process.stderr.write(`k6-ha: ${line}\n`);
        const runDir = join(resultsDir(), `stan-services-${Date.now()}`);
        mkdirSync(runDir, { recursive: true });
        const s = StanHostServices.create({
          runDir,
          natsUrls: urls,
          clusterId: flags.clusterId,
          republish: flags.republish,
          publisherPort: port,
          sinkPort,
        });
        try {
          await s.start();
        } catch (err) {
          await s.stop();
          throw err;
        }
        log(
          `publisher (STAN backend) on ${s.publishUrl}, sink on ${s.sinkUrl}; logs in ${relative(process.cwd(), runDir)}`,
        );
        process.stdout.write(
          `in the experiment: "env": { "PUBLISH_URL": "${s.publishUrl}" }, "target": { …, "sinkUrl": "${s.sinkUrl}", "stan": { …, "natsUrl": "${flags.natsUrl}", "publisherUrl": "${s.publisherUrl}" } }\nCtrl-C to stop.\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await s.stop();
        log('stopped');
      },
    );

  program
    .command('setup')
    .description(
      'find or build the pinned tools (k6, nats-server, versitygw, nats-streaming-server; --all adds the nats CLI) into .tools/bin; report the OS packages the postgres-haproxy stack runs',
    )
    .option('--all', 'also build the nats CLI')
    .option(
      '--xk6-kubernetes',
      'only build a k6 with the xk6-kubernetes extension (k6/x/kubernetes) for the in-k6 chaos scenario into .tools/bin/k6-xk6-kubernetes',
    )
    .action(async (flags: { all?: boolean; xk6Kubernetes?: boolean }) => {
      if (flags.xk6Kubernetes === true) {
        const path = await ensureK6WithKubernetes((line) => process.stderr.write(`${line}\n`));
        process.stdout.write(
          `${XK6_KUBERNETES.bin} ${XK6_KUBERNETES.k6} + ${XK6_KUBERNETES.module}@${XK6_KUBERNETES.version} ${path}\n`,
        );
        return;
      }
      const names =
        flags.all === true
          ? (Object.keys(TOOLS) as Array<keyof typeof TOOLS>)
          : (['k6', 'nats-server', 'versitygw', 'nats-streaming-server'] as const);
      for (const name of names) {
        const path = await ensureTool(name);
        process.stdout.write(`${name.padEnd(22)} ${TOOLS[name].version.padEnd(8)} ${path}\n`);
      }
      // Not built here: the OS's own packages, found or the line that installs them.
      const pg = stackBinariesReport();
      process.stdout.write('postgres-haproxy stack (OS packages):\n');
      for (const b of pg.binaries) process.stdout.write(`  ${b.name.padEnd(14)} ${b.path ?? 'not found'}\n`);
      if (pg.installHint !== null) process.stdout.write(`${pg.installHint}\n`);
    });
}
