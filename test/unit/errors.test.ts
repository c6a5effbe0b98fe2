import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exitCodeFor } from '../../lib/cli/main.ts';
import {
  CommandActionError,
  ControlRequestError,
  type CommandResult,
  CompareInputError,
  CompareRunError,
  DrainError,
  SelectorError,
  ExecError,
  ExperimentError,
  InvalidCloudEventError,
  InvalidSettingError,
  KubeApiError,
  KubeContextError,
  NamespaceRefusedError,
  PlanRefusedError,
  ProbeError,
  ProcessStartError,
  ScenarioEnvError,
  StoreCorruptError,
  StoreWriteError,
  ToolMissingError,
  UsageError,
  WaitTimeoutError,
} from '../../lib/shared/errors.ts';

const cause = new Error('the reason');
const result: CommandResult = {
  exitCode: 1,
  signal: null,
  timedOut: false,
  durationMs: 12,
  stdoutTail: '',
  stderrTail: 'no',
};

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
  {
    err: new InvalidSettingError('m', { setting: 'RATE', value: 'fast', allowed: 'a whole number', cause }),
    name: 'InvalidSettingError',
    usage: true,
    fields: { setting: 'RATE', value: 'fast', allowed: 'a whole number' },
  },
  {
    err: new ExperimentError('m', { file: 'x.json', cause }),
    name: 'ExperimentError',
    usage: true,
    fields: { file: 'x.json' },
  },
  { err: new ScenarioEnvError('m', { cause }), name: 'ScenarioEnvError', usage: true },
  { err: new PlanRefusedError('m', { cause }), name: 'PlanRefusedError', usage: true },
  { err: new KubeContextError('m', { cause }), name: 'KubeContextError', usage: true },
  {
    err: new NamespaceRefusedError('m', { namespace: 'prod', cause }),
    name: 'NamespaceRefusedError',
    usage: true,
    fields: { namespace: 'prod' },
  },
  {
    err: new ToolMissingError('m', { tool: 'k6', cause }),
    name: 'ToolMissingError',
    usage: false,
    fields: { tool: 'k6' },
  },
  { err: new ProcessStartError('m', { cause }), name: 'ProcessStartError', usage: false },
  { err: new InvalidCloudEventError('m', { cause }), name: 'InvalidCloudEventError', usage: false },
  { err: new ProbeError('m', { cause }), name: 'ProbeError', usage: false },
  { err: new CommandActionError('m', { result, cause }), name: 'CommandActionError', usage: false, fields: { result } },
  {
    err: new ControlRequestError('m', { status: 409, cause }),
    name: 'ControlRequestError',
    usage: false,
    fields: { status: 409 },
  },
  {
    err: new DrainError('m', { blocked: ['ns/p'], cause }),
    name: 'DrainError',
    usage: false,
    fields: { blocked: ['ns/p'] },
  },
  { err: new SelectorError('m', { cause }), name: 'SelectorError', usage: false, fields: {} },
  { err: new KubeApiError('m', { code: 409, cause }), name: 'KubeApiError', usage: false, fields: { code: 409 } },
  { err: new ExecError('m', { cause }), name: 'ExecError', usage: false },
  { err: new WaitTimeoutError('m', { cause }), name: 'WaitTimeoutError', usage: false },
  { err: new CompareInputError('m', { cause }), name: 'CompareInputError', usage: false },
  { err: new CompareRunError('m', { cause }), name: 'CompareRunError', usage: false },
  { err: new StoreCorruptError('m', { cause }), name: 'StoreCorruptError', usage: false },
  { err: new StoreWriteError('m', { cause }), name: 'StoreWriteError', usage: false },
];

describe('lib/shared/errors.ts', () => {
  for (const c of cases) {
    it(`${c.name} keeps its name, message, cause and fields`, () => {
      assert.ok(c.err instanceof Error);
      assert.equal(c.err.name, c.name);
      assert.equal(c.err.constructor.name, c.name);
      assert.equal(c.err.message, 'm');
      assert.equal(c.err.cause, cause);
      assert.equal(
        Object.keys(c.err).includes('cause'),
        false,
        'cause is not enumerable, as with Error(message, { cause })',
      );
      for (const [key, value] of Object.entries(c.fields ?? {}))
        assert.deepEqual((c.err as unknown as Record<string, unknown>)[key], value, key);
      assert.match(String(c.err.stack), new RegExp(`^${c.name}: m`));
    });
  }

  it('instanceof UsageError holds exactly for the usage errors; they exit 2, a missing tool 3, the rest 1', () => {
    for (const c of cases) {
      assert.equal(c.err instanceof UsageError, c.usage, c.name);
      assert.equal(exitCodeFor(c.err), c.usage ? 2 : c.err instanceof ToolMissingError ? 3 : 1, c.name);
    }
    assert.deepEqual(
      cases.filter((c) => c.usage).map((c) => c.name),
      [
        'UsageError',
        'InvalidSettingError',
        'ExperimentError',
        'ScenarioEnvError',
        'PlanRefusedError',
        'KubeContextError',
        'NamespaceRefusedError',
      ],
    );
    assert.equal(exitCodeFor(new Error('m')), 1);
    assert.ok(new KubeContextError('m') instanceof PlanRefusedError);
    assert.ok(new NamespaceRefusedError('m', { namespace: 'prod' }) instanceof PlanRefusedError);
  });

  it('without options there is no cause, as with Error(message)', () => {
    for (const err of [
      new UsageError('m'),
      new PlanRefusedError('m'),
      new ExperimentError('m', { file: 'x.json' }),
      new ProcessStartError('m'),
      new KubeApiError('m'),
    ]) {
      assert.equal('cause' in err, false, err.name);
    }
    assert.equal(new KubeApiError('m').code, null, 'no status: a transport error');
  });

  it('InvalidSettingError.format writes the usual message; the positional form still works', () => {
    const formatted = InvalidSettingError.format('RATE', 'fast', 'a whole number', { cause });
    assert.equal(formatted.message, 'invalid RATE="fast": a whole number');
    assert.deepEqual(
      [formatted.setting, formatted.value, formatted.allowed, formatted.cause],
      ['RATE', 'fast', 'a whole number', cause],
    );
    const positional = new InvalidSettingError('RATE', 'fast', 'a whole number');
    assert.equal(positional.message, formatted.message);
    assert.deepEqual(
      [positional.setting, positional.value, positional.allowed, 'cause' in positional],
      ['RATE', 'fast', 'a whole number', false],
    );
  });
});
