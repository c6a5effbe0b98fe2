// The CLI commands other tests do not drive: `stack up` as a standing stack for plain k6, `run` on
// an EventStore experiment (the fixture as the target), and `compare` on two finished runs.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../../lib/stack/free-port.ts';
import { leftoverProcesses, onlyRunDir, readJson, runCli, scratchDir, startCli } from '../support/cli.ts';

describe('k6-ha stack up, run (EventStore), compare', { timeout: 300_000, concurrency: false }, () => {
  it('stack up: a standing local stack that acks CloudEvents until Ctrl-C, then nothing is left', async () => {
    const port = await freePort();
    const stack = startCli(['stack', 'up', '--port', String(port), '--replicas', '1'], { timeoutMs: 120_000 });
    try {
      await stack.waitForOutput(/Ctrl-C to stop/, 90_000);
      const res = await fetch(`http://127.0.0.1:${port}/publish`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': 'stack-up-1',
          'ce-type': 'order.created.v1',
          'ce-source': 'test',
        },
        body: '{}',
      });
      assert.equal(res.status, 204);
      stack.child.kill('SIGINT');
      const done = await stack.result;
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stderr, /stack stopped/);
      assert.deepEqual(await leftoverProcesses(stack.marker), [], 'members, publisher and sink stopped');
    } finally {
      stack.child.kill('SIGKILL');
    }
  });

  it('run on an EventStore experiment against the fixture, then compare two runs side by side', async () => {
    const dirs = [scratchDir('es-run-a'), scratchDir('es-run-b')];
    for (const dir of dirs) {
      const res = await runCli(
        ['run', 'experiments/eventstore-10vu.json', '--duration', '4s', '-e', 'VUS=3', '--out-dir', dir],
        { timeoutMs: 120_000 },
      );
      assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
      const summary = readJson<{ metrics: Record<string, unknown> }>(join(onlyRunDir(dir), 'summary.json'));
      assert.ok('es_appends_acked' in summary.metrics, Object.keys(summary.metrics).join(', '));
    }
    const [a, b] = dirs.map((d) => join(onlyRunDir(d), 'summary.json'));
    const out = scratchDir('compare');
    const cmp = await runCli([
      'compare',
      a as string,
      b as string,
      '--a-label',
      'pod-local storage',
      '--b-label',
      'persistent disk',
      '--out',
      out,
    ]);
    assert.equal(cmp.code, 0, cmp.stderr);
    assert.match(cmp.stdout, /^\| \| A: pod-local storage \| B: persistent disk \| B vs A \|$/m);
    assert.match(cmp.stdout, /^\| events acked \(201\) \| \d+ \| \d+ \|/m);
    assert.ok(existsSync(join(out, 'comparison.md')) && existsSync(join(out, 'comparison.json')));
    const one = await runCli(['compare', a as string, '--out', scratchDir('compare-one')]);
    assert.equal(one.code, 2, 'one summary file is a usage error');
    assert.match(one.stderr, /give two summary files/);
    assert.ok(readdirSync(out).length >= 2);
  });
});
