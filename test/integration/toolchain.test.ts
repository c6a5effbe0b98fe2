// What a machine without k6 and without Go gets: install instructions, exit 3, no stack trace.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli, scratchDir } from '../support/cli.ts';

describe('toolchain', () => {
  it('without k6 and without Go, says how to install k6 and exits 3', async () => {
    const res = await runCli(['run', 'experiments/steady-state.json', '--out-dir', scratchDir('notools')], {
      // An empty PATH directory: a k6 or Go installed in /usr/bin (apt) must not leak in.
      env: { PATH: scratchDir('empty-path'), K6HA_TOOLS_BIN: scratchDir('empty-tools') },
    });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /k6 not found, and Go is not installed to build it/);
    assert.match(res.stderr, /brew install k6/);
    assert.match(res.stderr, /winget install k6/);
    assert.match(res.stderr, /docker run --rm -i/);
    assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
  });
});
