// An experiment's k6 environment checked in Node before anything starts, by the very parsers the
// scenario runs at k6 init (its registry entry's parse, from lib/shared/scenario-config.ts). The env is handed to
// them through a Proxy that records every name they read: those are the scenario's known
// variables, so a typo (DURATON) is refused instead of silently falling back to a default.
import { InvalidSettingError, ScenarioEnvError } from '../shared/errors.ts';
import { summaryJsonPathFrom } from '../shared/scenario-config.ts';
import { type ScenarioName, SCENARIOS } from '../shared/scenarios.ts';

// Re-exported for the importers that predate lib/shared/errors.ts (the unit tests).
export { ScenarioEnvError };

/** Throws a ScenarioEnvError naming `env.<NAME>`, the value and what is allowed. */
export function checkScenarioEnv(scenario: ScenarioName, env: Record<string, string>, thresholds: string): void {
  const { parse, setByRunner } = SCENARIOS[scenario];
  const read = new Set<string>();
  const recorded = new Proxy<Record<string, string>>(
    { ...env, THRESHOLDS: thresholds },
    {
      get(target, name) {
        if (typeof name === 'string') read.add(name);
        return target[name as string];
      },
    },
  );
  try {
    parse(recorded);
    // Every scenario's handleSummary reads it (lib/k6/summary-handler.ts).
    summaryJsonPathFrom(recorded);
  } catch (err) {
    const setting = err instanceof Error && err.cause instanceof InvalidSettingError ? err.cause : null;
    if (setting === null) throw err;
    throw new ScenarioEnvError(
      `env.${setting.setting}: ${JSON.stringify(setting.value)} is not allowed — expected ${setting.allowed}`,
      { cause: err },
    );
  }
  const unknown = Object.keys(env).filter((name) => !read.has(name) && !setByRunner.includes(name));
  if (unknown.length > 0) {
    const known = [...read].filter((n) => !setByRunner.includes(n)).sort();
    throw new ScenarioEnvError(
      `env: unknown variable(s) ${unknown.join(', ')} for ${scenario} — known: ${known.join(', ')}`,
    );
  }
}
