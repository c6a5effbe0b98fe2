// Before anything starts: a fixed-rate run whose VUs would need more open files than k6 may
// open is refused, with the RATE that fits and the limit to set.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExperiment } from '../../lib/experiment/experiment.ts';
import { openFilesLimit, openFilesProblem } from '../../lib/run/prepare.ts';

const experiment = (env: Record<string, string>, scenario = 'jetstream-publish') =>
  parseExperiment(
    {
      name: 't-files',
      scenario,
      target:
        scenario === 'jetstream-publish'
          ? { kind: 'local', stack: 'jetstream' }
          : { kind: 'local', stack: 'eventstore' },
      env,
      thresholds: scenario === 'jetstream-publish' ? 'ha-observe' : 'es-observe',
    },
    'inline',
  );

describe('open files for a fixed-rate run', () => {
  it('refuses 2,000/s at a 5 s timeout under a limit of 20,000, naming what fits', () => {
    const problem = openFilesProblem(experiment({ RATE: '2000', REQUEST_TIMEOUT: '5s' }), 20_000);
    assert.equal(
      problem,
      'RATE=2000 with REQUEST_TIMEOUT=5s pre-allocates 13,206 VUs, and during an outage each holds a connection to the target and one to the sidecar: k6 needs up to 26,924 open files, and this shell allows 20,000 (ulimit -n). Raise the limit (ulimit -n 26924) or lower RATE to at most 1,475 (or REQUEST_TIMEOUT)',
    );
  });

  it('lets the suggested rate through, and 1,000/s', () => {
    assert.equal(openFilesProblem(experiment({ RATE: '1475', REQUEST_TIMEOUT: '5s' }), 20_000), null);
    assert.equal(openFilesProblem(experiment({ RATE: '1000' }), 20_000), null);
  });

  it('does not apply to closed-loop scenarios or where no limit can be read', () => {
    assert.equal(openFilesProblem(experiment({ VUS: '10000' }, 'eventstore-streams'), 1000), null);
    assert.equal(openFilesProblem(experiment({ RATE: '3000' }), null), null);
  });

  it("reads this process's limit on Linux", () => {
    const limit = openFilesLimit();
    assert.ok(
      process.platform !== 'linux' || (typeof limit === 'number' && limit > 0) || limit === null,
      `limit ${limit}`,
    );
  });
});
