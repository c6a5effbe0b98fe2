import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PlanRefusedError, preflightPlan } from '../../lib/chaos/chaos.ts';
import { applyPreset, ExperimentError, loadExperiment, parseExperiment } from '../../lib/experiment/experiment.ts';
import { localPreflightWorld } from '../../lib/run/run.ts';

const valid = {
  name: 'x',
  scenario: 'jetstream-publish',
  target: { kind: 'local', replicas: 3 },
  env: { DURATION: '30s' },
  thresholds: 'ha-strict',
  plan: [{ at: '10s', action: 'kill', target: { leaderOf: 'sap' }, restartAfter: '5s' }],
};

describe('experiment files', () => {
  it('accepts a valid experiment and fills defaults', () => {
    const exp = parseExperiment(valid, 'x.json');
    assert.equal(exp.blastRadius, 1);
    assert.equal(exp.target.kind === 'local' && exp.target.stack, 'jetstream');
    assert.equal(exp.plan[0]?.action === 'kill' && exp.plan[0].pick, 'one');
  });

  it('names the field path, the value and what is allowed', () => {
    const bad = { ...valid, plan: [{ at: '3x', action: 'explode', target: { leaderOf: 'sap' } }] };
    assert.throws(
      () => parseExperiment(bad, 'bad.json'),
      (err: unknown) => {
        assert.ok(err instanceof ExperimentError);
        assert.match(err.message, /invalid experiment bad\.json/);
        assert.match(err.message, /plan\[0\]\.action: "explode" is not allowed/);
        return true;
      },
    );
    assert.throws(
      () => parseExperiment({ ...valid, plan: [{ at: '3x', action: 'kill', target: { leaderOf: 'sap' } }] }, 'b.json'),
      /plan\[0\]\.at: "3x" is not allowed — expected a duration such as 30s/,
    );
    assert.throws(
      () => parseExperiment({ ...valid, thresholds: 'nope' }, 'b.json'),
      /thresholds: "nope" is not allowed — expected one of steady, ha-strict/,
    );
    assert.throws(
      () => parseExperiment({ ...valid, target: { kind: 'local', replicas: 2 } }, 'b.json'),
      /target\.replicas: 2 is not allowed — expected 1 or 3/,
    );
    const { thresholds: _dropped, ...noThresholds } = valid;
    assert.throws(
      () => parseExperiment(noThresholds, 'b.json'),
      /thresholds: missing — required: a gate profile: one of steady, ha-strict/,
    );
    assert.throws(
      () => parseExperiment({ ...valid, blastRadius: 0 }, 'b.json'),
      /blastRadius: 0 is not allowed — expected a number >= 1$/m,
    );
    assert.throws(
      () => parseExperiment({ ...valid, env: { RATE: true } }, 'b.json'),
      /env\.RATE: true is not allowed — expected a string or a number$/m,
    );
    assert.throws(
      () => parseExperiment({ ...valid, plan: [{ at: '3s', action: 'explode' }] }, 'b.json'),
      /plan\[0\]\.action: "explode" is not allowed — expected one of 'kill' \| 'stop' .*'execKill'$/m,
    );
    assert.throws(
      () => parseExperiment({ ...valid, plan: [{ at: '3s', action: 'kill' }] }, 'b.json'),
      /plan\[0\]\.target: missing — required: a target: \{ "name": … \}/,
    );
    assert.throws(() => parseExperiment({ ...valid, surprise: true }, 'b.json'), /unknown field\(s\) "surprise"/);
    assert.throws(
      () => parseExperiment({ ...valid, plan: [{ ...valid.plan[0], at: '40s' }] }, 'b.json'),
      /plan\[0\]\.at: "40s" is not allowed — expected an offset before the end of the load/,
    );
  });

  it('holds the blast radius across the plan: members down at the same time, not only per action', () => {
    const world = localPreflightWorld(parseExperiment(valid, 'x.json'));
    const kill = (at: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      at,
      action: 'kill',
      target: { notLeaderOf: 'sap' },
      pick: 'one',
      ...extra,
    });
    const plan = (...actions: Array<Record<string, unknown>>): Parameters<typeof preflightPlan>[0] =>
      parseExperiment({ ...valid, plan: actions }, 'p.json').plan;
    // Three kills a second apart, none restarted: the whole R3 cluster down with blastRadius 1.
    assert.throws(
      () => preflightPlan(plan(kill('5s'), kill('6s'), kill('7s')), world, 1),
      /a1-kill, a2-kill: 2 members would be down at once at 6s, more than blastRadius 1/,
    );
    // Each back before the next goes down: one at a time.
    preflightPlan(plan(kill('5s', { restartAfter: '1s' }), kill('6s', { restartAfter: '1s' }), kill('7s')), world, 1);
    // Overlapping, but the experiment allows two.
    preflightPlan(plan(kill('5s'), kill('6s')), world, 2);
    // An explicit start may bring a stopped member back before the next action.
    preflightPlan(
      plan(
        { at: '5s', action: 'stop', target: { name: 'eventing-nats-1' } },
        { at: '8s', action: 'start', target: { name: 'eventing-nats-1' } },
        kill('9s'),
      ),
      world,
      1,
    );
  });

  it("counts a local deletePod as down for its grace period (60 s, the NATS chart's, unless given)", () => {
    const world = localPreflightWorld(parseExperiment(valid, 'x.json'));
    const del = (at: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      at,
      action: 'deletePod',
      target: { leaderOf: 'sap' },
      ...extra,
    });
    const plan = (...actions: Array<Record<string, unknown>>): Parameters<typeof preflightPlan>[0] =>
      parseExperiment({ ...valid, env: { DURATION: '2m' }, plan: actions }, 'p.json').plan;
    assert.throws(
      () => preflightPlan(plan(del('5s'), del('50s')), world, 1),
      /a1-deletePod, a2-deletePod: 2 members would be down at once at 50s, more than blastRadius 1 \(give each a restartAfter \(deletePod: a gracePeriod\)/,
    );
    preflightPlan(plan(del('5s'), del('70s')), world, 1);
    preflightPlan(plan(del('5s', { gracePeriod: '20s' }), del('30s')), world, 1);
    const [preview] = preflightPlan(plan(del('5s')), world, 1);
    assert.deepEqual(preview?.candidates, ['eventing-nats-0', 'eventing-nats-1', 'eventing-nats-2']);
  });

  it('refuses selectors that match nothing or exceed the blast radius, before anything starts', () => {
    const exp = parseExperiment(valid, 'x.json');
    const world = localPreflightWorld(exp);
    assert.throws(
      () => preflightPlan([{ at: '1s', action: 'kill', target: { name: 'eventing-nats-7' }, pick: 'one' }], world, 1),
      (err: unknown) => err instanceof PlanRefusedError && /name=eventing-nats-7 matches nothing/.test(err.message),
    );
    assert.throws(
      () => preflightPlan([{ at: '1s', action: 'kill', target: { leaderOf: 'orders' }, pick: 'one' }], world, 1),
      /stream "orders" is not under test/,
    );
    assert.throws(
      () => preflightPlan([{ at: '1s', action: 'kill', target: { notLeaderOf: 'sap' }, pick: 'all' }], world, 1),
      /would touch 2 members, more than blastRadius 1/,
    );
    const previews = preflightPlan(exp.plan, world, 1);
    assert.deepEqual(previews[0]?.candidates, ['eventing-nats-0', 'eventing-nats-1', 'eventing-nats-2']);
  });

  it('applies presets and rejects unknown ones', () => {
    const exp = parseExperiment(
      {
        ...valid,
        presets: {
          seed: { env: { DURATION: '5m' }, plan: [{ at: '3m', action: 'kill', target: { leaderOf: 'sap' } }] },
        },
      },
      'x.json',
    );
    const seeded = applyPreset(exp, 'seed', 'x.json');
    assert.equal(seeded.env['DURATION'], '5m');
    assert.equal(seeded.plan[0]?.at, '3m');
    assert.throws(() => applyPreset(exp, 'fast', 'x.json'), /--preset "fast" is not defined in x\.json; presets: seed/);
  });

  it('every shipped experiment file is valid', () => {
    const files = readdirSync('experiments').filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'));
    assert.ok(files.length >= 5);
    for (const f of files) {
      const exp = loadExperiment(`experiments/${f}`);
      assert.equal(`${exp.name}.json`, f, `experiment name matches its file name: ${f}`);
      if (exp.target.kind === 'local') preflightPlan(exp.plan, localPreflightWorld(exp), exp.blastRadius);
      for (const preset of Object.keys(exp.presets)) applyPreset(exp, preset, f);
    }
  });
});
