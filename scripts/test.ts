// `npm test`: typecheck, lint, build, make sure the pinned tools exist (building them on a fresh
// machine), then the unit and integration tests with node's test runner — one file at a time,
// because integration tests run real clusters and real k6 on a 2-core machine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
  readdirSync(join(PROJECT_ROOT, 'test', dir)).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test', dir, f));

if (only.length === 0) {
  step('typecheck (Node side)', tsc, ['--noEmit', '-p', 'tsconfig.json']);
  step('typecheck (k6 side, against @types/k6)', tsc, ['--noEmit', '-p', 'tsconfig.k6.json']);
  step('lint', eslint, ['.']);
}
step('build scenarios', process.execPath, ['scripts/build.mjs']);
step('tools (k6, nats-server: found or built into .tools/bin)', process.execPath, ['--import', 'tsx', 'scripts/setup.ts']);
// The Kubernetes driver's tests run against a real kube-apiserver (+ etcd, controller-manager,
// scheduler, kwok) built once from the Go module proxy into .tools/kube (~20 min on a cold cache).
step('Kubernetes control plane for the driver tests (scripts/kube/setup.sh)', 'bash', ['scripts/kube/setup.sh']);
const files = only.length > 0 ? only : [...testFiles('unit'), ...testFiles('integration')];
// Every scratch directory the tests make (run dirs, stores, kubeconfigs) goes under one TMPDIR,
// removed when the tests pass and kept, with its path printed, when they fail.
const scratch = mkdtempSync(join(tmpdir(), 'k6-ha-test-'));
process.on('exit', (code) => {
  if (code === 0) rmSync(scratch, { recursive: true, force: true });
  else process.stderr.write(`test scratch directories kept for a look: ${scratch}\n`);
});
step(`tests (${files.length} files)`, process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=900000', ...files], { ...process.env, TMPDIR: scratch });
