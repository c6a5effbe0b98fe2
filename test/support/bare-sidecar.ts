// A real Sidecar with nothing under test: for unit tests of the sidecar's own logic (the control
// API, artifacts, runner barriers) that need no stack, no k6 and no chaos target.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_RECOVERY_SIGNALS, NO_ROLES, type TargetUnderTest } from '../../lib/chaos/target.ts';
import { parseExperiment } from '../../lib/experiment/experiment.ts';
import { Sidecar } from '../../lib/sidecar/sidecar.ts';

/** A target with nothing to observe, act on or account. */
export const NOTHING_UNDER_TEST: TargetUnderTest = {
  kind: 'none',
  members: () => [],
  k6Env: () => ({}),
  bind: () => ({
    roles: NO_ROLES,
    accountant: null,
    recoverySignals: () => NO_RECOVERY_SIGNALS,
    prepare: async () => undefined,
    stop: async () => undefined,
  }),
  stop: async () => undefined,
};

/**
 * A sidecar for a one-member JetStream experiment named `name` (no plan), writing into `runDir`
 * (default: a new temporary directory), with `runners` k6 runners (default 1).
 */
export function bareSidecar(opts: { name: string; runDir?: string; runners?: number }): Sidecar {
  const experiment = parseExperiment(
    {
      name: opts.name,
      scenario: 'jetstream-publish',
      target: { kind: 'local', stack: 'jetstream', replicas: 1 },
      thresholds: 'ha-observe',
      ...(opts.runners === undefined ? {} : { runners: opts.runners }),
    },
    'inline',
  );
  return new Sidecar({
    runId: 'test-run',
    runDir: opts.runDir ?? mkdtempSync(join(tmpdir(), `k6ha-${opts.name}-`)),
    experiment,
    target: NOTHING_UNDER_TEST,
    k6ApiUrl: null,
    ...(opts.runners === undefined ? {} : { runners: opts.runners }),
  });
}
