// `npm test`: typecheck, lint, build, make sure the pinned tools exist (building them on a fresh
// machine), then the unit and integration tests with node's test runner — one file at a time,
// because integration tests run real clusters and real k6 on a 2-core machine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';

const only = process.argv.slice(2);

function step(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  process.stderr.write(`\n▶ ${name}\n`);
  const res = spawnSync(command, args, { cwd: PROJECT_ROOT, stdio: 'inherit', env });
  if (res.status !== 0) {
    process.stderr.write(`✗ ${name} failed (exit ${res.status ?? res.signal})\n`);
    process.exit(res.status ?? 1);
  }
}

const tsc = join(PROJECT_ROOT, 'node_modules', '.bin', 'tsc');
const eslint = join(PROJECT_ROOT, 'node_modules', '.bin', 'eslint');
const testFiles = (dir: string): string[] =>
  readdirSync(join(PROJECT_ROOT, 'test', dir))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join('test', dir, f));

if (only.length === 0) {
  step('typecheck (Node side)', tsc, ['--noEmit', '-p', 'tsconfig.json']);
  step('typecheck (k6 side, against @types/k6)', tsc, ['--noEmit', '-p', 'tsconfig.k6.json']);
  step('lint', eslint, ['.']);
  step('format (prettier --check; `npm run format` fixes it)', join(PROJECT_ROOT, 'node_modules', '.bin', 'prettier'), [
    '--check',
    '.',
  ]);
}
step('build scenarios', process.execPath, ['scripts/build.mjs']);
step('tools (k6, nats-server: found or built into .tools/bin)', process.execPath, [
  '--import',
  'tsx',
  'scripts/setup.ts',
]);
// The Kubernetes driver's tests run against a real kube-apiserver (+ etcd, controller-manager,
// scheduler, kwok) built once from the Go module proxy into .tools/kube (~20 min on a cold cache),
// and kube-{node,kyma,restarts} also against a real node: the kubelet comes from the same setup.sh
// (~3–6 min more), containerd/runc from Debian (.ci/run); the tests start and stop the node.
const files = only.length > 0 ? only : [...testFiles('unit'), ...testFiles('integration')];
// Only the files that drive a cluster need it (one unit file should not wait for a 20-min build).
if (files.some((f) => /integration\/kube-[\w-]+\.test\.ts$/.test(f))) {
  step('Kubernetes control plane and kubelet for the kube tests (scripts/kube/setup.sh)', 'bash', [
    'scripts/kube/setup.sh',
  ]);
}
// Every scratch directory the tests make (run dirs, stores, kubeconfigs) goes under one TMPDIR,
// removed when the tests pass and kept, with its path printed, when they fail.
const scratch = mkdtempSync(join(tmpdir(), 'k6-ha-test-'));
process.on('exit', (code) => {
  if (code === 0) rmSync(scratch, { recursive: true, force: true });
  else process.stderr.write(`test scratch directories kept for a look: ${scratch}\n`);
});
// node --test exits 0 when tests are skipped or marked todo, or when no test ran at all. Here a
// skip is not a pass: a TAP copy of the results is read back and any of those fails the run.
const tapFile = join(scratch, 'results.tap');
step(
  `tests (${files.length} files)`,
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-timeout=900000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  { ...process.env, TMPDIR: scratch },
);
const tap = readFileSync(tapFile, 'utf8');
const count = (name: string): number => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? NaN);
const [tests, skipped, todo] = [count('tests'), count('skipped'), count('todo')];
if (!(tests > 0) || skipped !== 0 || todo !== 0) {
  const notRun = tap
    .split('\n')
    .filter((l) => /^\s*(not )?ok \d+ .*# (SKIP|TODO)/i.test(l))
    .map((l) => `  ${l.trim()}`);
  process.stderr.write(
    `✗ tests: ${tests} in all, ${skipped} skipped, ${todo} todo — a test that did not run is not a pass\n${notRun.join('\n')}\n`,
  );
  process.exit(1);
}
process.stderr.write(`✓ ${tests} tests ran and passed, none skipped\n`);
