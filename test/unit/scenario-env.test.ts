import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkScenarioEnv, ScenarioEnvError } from '../../lib/experiment/scenario-env.ts';
import { MAX_PUBLISH_VUS, publishVus } from '../../lib/shared/publish-load.ts';

describe("an experiment's k6 environment, checked in Node before anything starts", () => {
  it('accepts what the scenario accepts, and leaves no __ENV behind', () => {
    checkScenarioEnv('jetstream-publish', { RATE: '150', DURATION: '5m', CE_MODE: 'structured' }, 'ha-strict');
    checkScenarioEnv('eventstore-streams', { VUS: '10', DURATION: '30s', ES_BATCH: 'true' }, 'es-steady');
    checkScenarioEnv('eventstore-streams', { ES_REVERIFY_EVERY: '00', ES_ERROR_PAUSE: '0s' }, 'es-steady');
    assert.equal((globalThis as { __ENV?: unknown }).__ENV, undefined);
  });

  it('names the variable, the value and what is allowed', () => {
    assert.throws(
      () => checkScenarioEnv('jetstream-publish', { RATE: 'fast' }, 'steady'),
      (err: unknown) =>
        err instanceof ScenarioEnvError &&
        /^env\.RATE: "fast" is not allowed — expected a whole number from 1 to 100000$/.test(err.message),
    );
    assert.throws(
      () => checkScenarioEnv('jetstream-publish', { DURATION: '500ms' }, 'steady'),
      /env\.DURATION: "500ms" is not allowed — expected a duration from 1s to 168h/,
    );
    assert.throws(
      () => checkScenarioEnv('eventstore-streams', { ES_DIALECT: 'mongo' }, 'es-steady'),
      /env\.ES_DIALECT: "mongo" is not allowed — expected one of eventstore, kurrent/,
    );
    assert.throws(
      () => checkScenarioEnv('jetstream-publish', {}, 'toString'),
      /env\.THRESHOLDS: "toString" is not allowed/,
    );
  });

  it('refuses a variable the scenario does not read (a typo would silently fall back to a default)', () => {
    assert.throws(
      () => checkScenarioEnv('jetstream-publish', { DURATON: '5m' }, 'steady'),
      /env: unknown variable\(s\) DURATON for jetstream-publish — known: CE_MODE, DURATION, .*RATE/,
    );
    assert.throws(
      () => checkScenarioEnv('eventstore-streams', { RATE: '150' }, 'es-steady'),
      /unknown variable\(s\) RATE for eventstore-streams/,
    );
  });

  it('refuses a RATE × REQUEST_TIMEOUT whose VUs k6 could not hold, and says what would fit', () => {
    assert.equal(publishVus(150, 5000), 996);
    assert.ok(publishVus(3029, 5000) <= MAX_PUBLISH_VUS && publishVus(3030, 5000) > MAX_PUBLISH_VUS);
    checkScenarioEnv('jetstream-publish', { RATE: '3029' }, 'steady');
    assert.throws(
      () => checkScenarioEnv('jetstream-publish', { RATE: '3030' }, 'steady'),
      /env\.RATE: "3030" is not allowed — expected at most 3029 with REQUEST_TIMEOUT=5s/,
    );
    assert.throws(
      () => checkScenarioEnv('jetstream-publish', { RATE: '10', REQUEST_TIMEOUT: '10h' }, 'steady'),
      /env\.REQUEST_TIMEOUT: "10h" is not allowed — expected at most 1816s at RATE=10/,
    );
  });
});
