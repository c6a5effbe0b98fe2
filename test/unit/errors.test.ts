import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exitCodeFor } from '../../lib/cli/main.ts';
import {
  ExperimentError,
  InvalidSettingError,
  KubeContextError,
  NamespaceRefusedError,
  PlanRefusedError,
  ScenarioEnvError,
  UsageError,
} from '../../lib/shared/errors.ts';

const cause = new Error('the reason');

interface Case {
  err: Error;
  name: string;
  usage: boolean;
  /** the class's own fields, as given */
  fields?: Record<string, unknown>;
}

// Every class, built the way its callers build it: (message, { cause, ...its own fields }).
const cases: Case[] = [
  { err: new UsageError('m', { cause }), name: 'UsageError', usage: true },
  { err: new InvalidSettingError('m', { setting: 'RATE', value: 'fast', allowed: 'a whole number', cause }), name: 'InvalidSettingError', usage: true, fields: { setting: 'RATE', value: 'fast', allowed: 'a whole number' } },
  { err: new ExperimentError('m', { file: 'x.json', cause }), name: 'ExperimentError', usage: true, fields: { file: 'x.json' } },
  { err: new ScenarioEnvError('m', { cause }), name: 'ScenarioEnvError', usage: true },
  { err: new PlanRefusedError('m', { cause }), name: 'PlanRefusedError', usage: true },
  { err: new KubeContextError('m', { cause }), name: 'KubeContextError', usage: true },
  { err: new NamespaceRefusedError('m', { namespace: 'prod', cause }), name: 'NamespaceRefusedError', usage: true, fields: { namespace: 'prod' } },
];

describe('lib/shared/errors.ts', () => {
  for (const c of cases) {
    it(`${c.name} keeps its name, message, cause and fields`, () => {
      assert.ok(c.err instanceof Error);
      assert.equal(c.err.name, c.name);
      assert.equal(c.err.constructor.name, c.name);
      assert.equal(c.err.message, 'm');
      assert.equal(c.err.cause, cause);
      assert.equal(Object.keys(c.err).includes('cause'), false, 'cause is not enumerable, as with Error(message, { cause })');
      for (const [key, value] of Object.entries(c.fields ?? {})) assert.deepEqual((c.err as unknown as Record<string, unknown>)[key], value, key);
      assert.match(String(c.err.stack), new RegExp(`^${c.name}: m`));
    });
  }

  it('instanceof UsageError holds exactly for the usage errors, and they exit 2', () => {
    for (const c of cases) {
      assert.equal(c.err instanceof UsageError, c.usage, c.name);
      assert.equal(exitCodeFor(c.err), c.usage ? 2 : 1, c.name);
    }
    assert.equal(exitCodeFor(new Error('m')), 1);
    assert.ok(new KubeContextError('m') instanceof PlanRefusedError);
    assert.ok(new NamespaceRefusedError('m', { namespace: 'prod' }) instanceof PlanRefusedError);
  });

  it('without options there is no cause, as with Error(message)', () => {
    for (const err of [new UsageError('m'), new PlanRefusedError('m'), new ExperimentError('m', { file: 'x.json' })]) {
      assert.equal('cause' in err, false, err.name);
    }
  });

  it('InvalidSettingError.format writes the usual message; the positional form still works', () => {
    const formatted = InvalidSettingError.format('RATE', 'fast', 'a whole number', { cause });
    assert.equal(formatted.message, 'invalid RATE="fast": a whole number');
    assert.deepEqual([formatted.setting, formatted.value, formatted.allowed, formatted.cause], ['RATE', 'fast', 'a whole number', cause]);
    const positional = new InvalidSettingError('RATE', 'fast', 'a whole number');
    assert.equal(positional.message, formatted.message);
    assert.deepEqual([positional.setting, positional.value, positional.allowed, 'cause' in positional], ['RATE', 'fast', 'a whole number', false]);
  });
});
