// The OS packages the postgres-haproxy stack runs: PostgreSQL (initdb, pg_basebackup, postgres),
// HAProxy, nginx and dnsmasq. Found on PATH or, for PostgreSQL, in /usr/lib/postgresql/<n>/bin
// (Debian) or Homebrew's postgresql@<n>. Missing ones: ToolMissingError (exit 3) naming them and
// the install line, before anything is started.
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ToolMissingError } from '../../shared/errors.ts';

export interface StackBinaries {
  initdb: string;
  pgBasebackup: string;
  postgres: string;
  haproxy: string;
  nginx: string;
  dnsmasq: string;
}

/** Tests (and users with their own builds) can name the only directories searched. */
const ONLY = process.env['K6HA_STACK_BIN_PATH'];
const SEARCH_PATH =
  ONLY !== undefined
    ? ONLY.split(delimiter)
    : [
        ...(process.env['PATH'] ?? '').split(delimiter),
        '/usr/sbin',
        '/sbin',
        '/usr/local/sbin',
        '/opt/homebrew/sbin',
        '/opt/homebrew/bin',
      ];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(bin: string, dirs: string[] = SEARCH_PATH): string | null {
  for (const dir of dirs) {
    if (dir === '') continue;
    const file = join(dir, bin);
    if (executable(file)) return file;
  }
  return null;
}

/** PostgreSQL's server binaries are not on PATH on Debian: /usr/lib/postgresql/<major>/bin, newest first. */
function postgresDirs(): string[] {
  const dirs: string[] = [];
  if (ONLY !== undefined) return dirs;
  for (const root of ['/usr/lib/postgresql', '/opt/homebrew/opt', '/usr/local/opt']) {
    if (!existsSync(root)) continue;
    const versions = readdirSync(root).filter((d) =>
      root === '/usr/lib/postgresql' ? /^\d+$/.test(d) : /^postgresql@\d+$/.test(d),
    );
    versions.sort((a, b) => Number(b.replace(/\D/g, '')) - Number(a.replace(/\D/g, '')));
    for (const v of versions) dirs.push(join(root, v, 'bin'));
  }
  return dirs;
}

export const INSTALL_HINT = [
  'the postgres-haproxy stack runs the OS packages of PostgreSQL, HAProxy, nginx and dnsmasq:',
  '  Debian/Ubuntu: sudo apt-get install -y postgresql haproxy nginx dnsmasq',
  '  macOS:         brew install postgresql@16 haproxy nginx dnsmasq',
].join('\n');

function lookUp(pgDirs: string[]): Record<keyof StackBinaries, string | null> {
  const pg = (bin: string): string | null => onPath(bin, pgDirs) ?? onPath(bin);
  return {
    initdb: pg('initdb'),
    pgBasebackup: pg('pg_basebackup'),
    postgres: pg('postgres'),
    haproxy: onPath('haproxy'),
    nginx: onPath('nginx'),
    dnsmasq: onPath('dnsmasq'),
  };
}

/** For `k6-ha setup`: each binary by its command name, with its path or null, and the install line when any is missing. */
export function stackBinariesReport(): {
  binaries: Array<{ name: string; path: string | null }>;
  installHint: string | null;
} {
  const found = lookUp(postgresDirs());
  const binaries = Object.entries(found).map(([k, path]) => ({
    name: k === 'pgBasebackup' ? 'pg_basebackup' : k,
    path,
  }));
  return { binaries, installHint: binaries.some((b) => b.path === null) ? INSTALL_HINT : null };
}

/** Every binary of the stack, or ToolMissingError listing all that are missing. */
export function findStackBinaries(): StackBinaries {
  const pgDirs = postgresDirs();
  const found = lookUp(pgDirs);
  const missing = Object.entries(found)
    .filter(([, v]) => v === null)
    .map(
      ([k]) =>
        (({ initdb: 'initdb', pgBasebackup: 'pg_basebackup', postgres: 'postgres' }) as Record<string, string>)[k] ?? k,
    );
  if (missing.length > 0) {
    throw new ToolMissingError(
      `${missing.join(', ')} not found (searched PATH${pgDirs.length > 0 ? ` and ${pgDirs.join(', ')}` : ' and /usr/lib/postgresql/*/bin'}).\n${INSTALL_HINT}`,
      { tool: missing.join(',') },
    );
  }
  return found as StackBinaries;
}
