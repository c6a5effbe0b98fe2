// Parsers shared by k6 scenarios (reading __ENV) and the Node CLI (reading flags), so that
// "5m", "150" or "binary" mean exactly the same thing on both sides. No k6 or Node imports here.

import { InvalidSettingError } from './errors.ts';

// Re-exported for the importers that predate lib/shared/errors.ts (lib/shared/scenario-config.ts, the unit tests).
export { InvalidSettingError };

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const DURATION_WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

/** Parses a k6-style duration ("90s", "5m", "1m30s", "250ms") into milliseconds. */
export function parseDurationMs(setting: string, raw: string): number {
  const text = raw.trim();
  if (!DURATION_WHOLE.test(text)) {
    throw InvalidSettingError.format(setting, raw, 'a duration such as 30s, 5m, 1m30s or 500ms');
  }
  let total = 0;
  for (const match of text.matchAll(DURATION_PART)) {
    total += Number(match[1]) * (DURATION_UNITS_MS[match[2] ?? 's'] ?? 1000);
  }
  if (total <= 0) throw InvalidSettingError.format(setting, raw, 'a duration greater than zero');
  return total;
}

/** A load's length: k6 refuses a scenario shorter than 1 s and cannot parse ~290 years. */
export function parseRunDurationMs(setting: string, raw: string): number {
  const ms = parseDurationMs(setting, raw);
  if (ms < 1000 || ms > 168 * 3_600_000)
    throw InvalidSettingError.format(setting, raw, 'a duration from 1s to 168h, such as 30s, 5m or 1h');
  return ms;
}

/** Formats milliseconds as the k6 duration string k6 itself accepts. */
export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${Math.round(ms)}ms`;
}

export function parsePositiveInt(setting: string, raw: string, max = Number.MAX_SAFE_INTEGER): number {
  const text = raw.trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw InvalidSettingError.format(setting, raw, `a whole number from 1 to ${max}`);
  }
  return value;
}

export function parseChoice<T extends string>(setting: string, raw: string, choices: readonly T[]): T {
  const found = choices.find((c) => c === raw.trim());
  if (found === undefined) throw InvalidSettingError.format(setting, raw, `one of ${choices.join(', ')}`);
  return found;
}

export function parseHttpUrl(setting: string, raw: string, example = 'http://127.0.0.1:18080/publish'): string {
  const text = raw.trim();
  // No URL class inside k6: host, optional [IPv6] and port, checked by hand.
  const m = /^https?:\/\/(?:[^\s/:[\]@]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(\/\S*)?$/.exec(text);
  const port = m?.[1] === undefined ? null : Number(m[1]);
  if (m === null || (port !== null && (port < 1 || port > 65535))) {
    throw InvalidSettingError.format(setting, raw, `an http:// or https:// URL (port 1–65535) such as ${example}`);
  }
  return text.replace(/\/+$/, '');
}

/** Event types become NATS subjects, so they must be dot-separated tokens without wildcards or spaces. */
export function parseEventType(setting: string, raw: string): string {
  const text = raw.trim();
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(text)) {
    throw InvalidSettingError.format(
      setting,
      raw,
      'dot-separated tokens of letters, digits, - and _ (e.g. order.created.v1)',
    );
  }
  return text;
}

/** A TCP port on 127.0.0.1: 1–65535, or 0 (any free port) where `allowZero`. */
export function parsePort(name: string, value: string, opts: { allowZero?: boolean } = {}): number {
  const n = Number(value);
  const min = opts.allowZero === true ? 0 : 1;
  if (!/^\d+$/.test(value) || n < min || n > 65535) {
    throw InvalidSettingError.format(
      name,
      value,
      `a port from ${min} to 65535${min === 0 ? ' (0: any free port)' : ''}`,
    );
  }
  return n;
}
