// The bundled CLI as users get it: build/k6-ha.mjs (what `npm start` runs) and bin/k6-ha.js (the
// installed `k6-ha` command). The other tests drive lib/cli/main.ts through tsx, so a bundling
// mistake (a missing file, a dynamic import esbuild cannot follow) would only show up here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../lib/tools/toolchain.ts';
import { type CliResult, scratchDir, startProcess } from '../support/cli.ts';

const bundle = join(PROJECT_ROOT, 'build', 'k6-ha.mjs');
const bin = join(PROJECT_ROOT, 'bin', 'k6-ha.js');
const run = (entry: string, args: string[]): Promise<CliResult> =>
  startProcess(process.execPath, [entry, ...args], { timeoutMs: 60_000 }).result;

describe('the bundled CLI (build/k6-ha.mjs, bin/k6-ha.js)', { timeout: 300_000 }, () => {
  it('prints its version and help', async () => {
    const version = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    for (const entry of [bundle, bin]) {
      const v = await run(entry, ['--version']);
      assert.equal(v.code, 0, v.stderr);
      assert.equal(v.stdout.trim(), version);
      const help = await run(entry, ['--help']);
      assert.equal(help.code, 0, help.stderr);
      for (const command of ['run', 'sidecar', 'validate', 'stack', 'setup', 'compare'])
        assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
      assert.match(help.stdout, /99 a gate failed/);
    }
  });

  it('validates every shipped experiment, starting nothing', async () => {
    const files = readdirSync(join(PROJECT_ROOT, 'experiments')).filter(
      (f) => f.endsWith('.json') && !f.endsWith('.schema.json'),
    );
    assert.ok(files.length >= 10, `experiments found: ${files.join(', ')}`);
    for (const f of files) {
      const res = await run(bundle, ['validate', join('experiments', f)]);
      assert.equal(res.code, 0, `${f}:\n${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, /dry run: nothing was started or changed|validated only: the cluster was not asked/, f);
    }
  });

  it('refuses a broken experiment with exit 2, naming the field, the value and what is allowed', async () => {
    const dir = scratchDir('bundle-invalid');
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 't-bad',
        scenario: 'jetstream-publish',
        target: { kind: 'local', stack: 'jetstream', replicas: 2 },
        plan: [],
      }),
    );
    const res = await run(bundle, ['validate', file]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /target\.replicas/);
    assert.match(res.stderr, /\b2\b/);
    assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
  });
});
