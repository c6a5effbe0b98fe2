// An experiment's k6 environment checked in Node before anything starts, by the very parsers the
// scenario runs at k6 init (lib/k6/env.ts). They read a global __ENV, so they are handed one for
// the call; the names they read are also the scenario's known variables, so a typo (DURATON) is
// refused instead of silently falling back to a default.
import { InvalidSettingError, ScenarioEnvError } from '../shared/errors.ts';
import { eventstoreConfig, publishConfig, summaryJsonPath } from '../k6/env.ts';

type Scenario = 'jetstream-publish' | 'eventstore-streams';

/** Names the sidecar runner sets itself (the stack's URL, the gate profile, the control URL). */
const SET_BY_RUNNER = ['SIDECAR_URL', 'THRESHOLDS'];

// Re-exported for the importers that predate lib/shared/errors.ts (the unit tests).
export { ScenarioEnvError };

/** Throws a ScenarioEnvError naming `env.<NAME>`, the value and what is allowed. */
export function checkScenarioEnv(scenario: Scenario, env: Record<string, string>, thresholds: string): void {
  const read = new Set<string>();
  const recorded = new Proxy({ ...env, THRESHOLDS: thresholds } as Record<string, string>, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return target[name as string];
    },
  });
  const global = globalThis as { __ENV?: Record<string, string> };
  const saved = global.__ENV;
  global.__ENV = recorded;
  try {
    if (scenario === 'jetstream-publish') publishConfig();
    else eventstoreConfig();
    summaryJsonPath();
  } catch (err) {
    const setting = err instanceof Error && err.cause instanceof InvalidSettingError ? err.cause : null;
    if (setting === null) throw err;
    throw new ScenarioEnvError(`env.${setting.setting}: ${JSON.stringify(setting.value)} is not allowed — expected ${setting.allowed}`, { cause: err });
  } finally {
    global.__ENV = saved;
  }
  const unknown = Object.keys(env).filter((name) => !read.has(name) && !SET_BY_RUNNER.includes(name));
  if (unknown.length > 0) {
    const known = [...read].filter((n) => !SET_BY_RUNNER.includes(n)).sort();
    throw new ScenarioEnvError(`env: unknown variable(s) ${unknown.join(', ')} for ${scenario} — known: ${known.join(', ')}`);
  }
}
