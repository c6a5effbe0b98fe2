import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { rateFlagRefusal, SCENARIO_NAMES, SCENARIOS } from '../../lib/shared/scenarios.ts';
import { THRESHOLD_PROFILES } from '../../thresholds/index.ts';

describe('the scenario registry', () => {
  it('has one entry per scenarios/*.ts (the bundles k6-ha runs are build/<name>.js)', () => {
    const files = readdirSync(new URL('../../scenarios/', import.meta.url))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.slice(0, -3));
    assert.deepEqual([...SCENARIO_NAMES].sort(), files.sort());
  });

  it('defaults each scenario to a real gate profile, the one its parser picks when THRESHOLDS is unset', () => {
    for (const name of SCENARIO_NAMES) {
      const scenario = SCENARIOS[name];
      assert.ok(Object.hasOwn(THRESHOLD_PROFILES, scenario.defaultThresholds), name);
      assert.equal(scenario.parse({}).thresholds, scenario.defaultThresholds, name);
    }
  });

  it('lets --rate size only the rate-sized scenarios, and tells how to size the others', () => {
    assert.equal(rateFlagRefusal('jetstream-publish'), null);
    assert.equal(rateFlagRefusal('http-get'), null);
    assert.equal(rateFlagRefusal('s3-objects'), null);
    assert.equal(
      rateFlagRefusal('eventstore-streams'),
      '--rate applies to jetstream-publish, http-get, s3-objects (a fixed arrival rate); eventstore-streams is sized by -e VUS=…',
    );
  });
});
