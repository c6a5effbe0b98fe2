// `compare --local` runs each side as a generated experiment through `k6-ha run`'s path: the
// experiment it writes must pass the same validation as a hand-written one (prepareExperiment:
// schema, plan offsets, the scenario's known env), with the kill as its plan. Starts nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type CompareRunOptions, localSideExperiment } from '../../lib/compare/run.ts';
import { ExperimentError } from '../../lib/shared/errors.ts';
import { prepareExperiment } from '../../lib/run/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'compare-local-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const compare = (over: Partial<CompareRunOptions>): CompareRunOptions => ({
  a: { label: 'memory', local: { storage: 'memory' } },
  b: { label: 'fsync', local: { storage: 'fsync' } },
  vus: 10,
  duration: '10s',
  env: {},
  ...over,
});

function prepared(opts: CompareRunOptions, side: 'a' | 'b' = 'a'): ReturnType<typeof prepareExperiment> {
  const target = opts[side].local;
  assert.ok(target !== undefined);
  const file = join(dir, `${side}-${Math.random().toString(36).slice(2)}.experiment.json`);
  const experiment = localSideExperiment({
    side,
    storage: target.storage,
    label: opts[side].label,
    opts,
    summaryPath: join(dir, `${side}.summary.json`),
  });
  writeFileSync(file, JSON.stringify(experiment));
  return prepareExperiment({ experimentFile: file });
}

describe('compare --local: the experiment of one side', () => {
  it('is the workload against the fixture with that storage, the kill as its plan, and the summary where compare reads it', () => {
    const { experiment: exp, previews } = prepared(
      compare({
        killAt: '5s',
        restartAfter: '2s',
        env: { ES_REVERIFY_EVERY: '2', THRESHOLDS: 'es-observe', ES_URL: 'http://elsewhere:2113' },
      }),
    );
    assert.equal(exp.name, 'compare-a');
    assert.equal(exp.scenario, 'eventstore-streams');
    assert.deepEqual(exp.target, { kind: 'local', stack: 'eventstore', storage: 'memory' });
    assert.equal(exp.thresholds, 'es-observe', '-e THRESHOLDS becomes the gate profile');
    assert.deepEqual(
      exp.env,
      { ES_REVERIFY_EVERY: '2', VUS: '10', DURATION: '10s', SUMMARY_JSON: join(dir, 'a.summary.json') },
      'the fixture sets ES_URL itself',
    );
    assert.deepEqual(exp.plan, [
      { at: '5s', action: 'kill', target: { name: 'eventstore-0' }, pick: 'one', restartAfter: '2s' },
    ]);
    assert.deepEqual(
      previews.map((p) => [p.action, p.candidates]),
      [['kill', ['eventstore-0']]],
    );
  });

  it("has no plan without --kill-at, and the scenario's default gates", () => {
    const { experiment: exp } = prepared(compare({}), 'b');
    assert.equal(exp.target.kind === 'local' && exp.target.stack === 'eventstore' ? exp.target.storage : null, 'fsync');
    assert.equal(exp.thresholds, 'es-steady');
    assert.deepEqual(exp.plan, []);
  });

  it('is refused like any experiment: a kill after the load ends, an unknown variable', () => {
    assert.throws(
      () => prepared(compare({ killAt: '20s' })),
      (err: unknown) => err instanceof ExperimentError && /plan\[0\]\.at: "20s" is not allowed/.test(err.message),
    );
    assert.throws(
      () => prepared(compare({ env: { DURATON: '5s' } })),
      (err: unknown) => err instanceof ExperimentError && /unknown variable\(s\) DURATON/.test(err.message),
    );
  });
});
