import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../../lib/cli/main.ts';

// commander writes usage errors to stderr itself; these only check what the shell sees.
describe('k6-ha exit codes for usage errors (every subcommand inherits them)', () => {
  it('exits 2 for a usage error in any subcommand, 0 for --help and --version', async () => {
    const run = (...args: string[]): Promise<number> => main(['node', 'k6-ha', ...args]);
    const quiet = process.stderr.write;
    const stdout = process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      assert.equal(await run('run', 'a.json', 'extra'), 2, 'too many arguments');
      assert.equal(await run('validate', '--bogus', 'x.json'), 2, 'unknown option');
      assert.equal(await run('validate'), 2, 'missing argument');
      assert.equal(await run('stack', 'up', '--port', '0'), 2, 'a bad value');
      assert.equal(await run('nonsense'), 2, 'unknown command');
      assert.equal(await run('--version'), 0);
      assert.equal(await run('run', '--help'), 0);
    } finally {
      process.stderr.write = quiet;
      process.stdout.write = stdout;
    }
  });
});
