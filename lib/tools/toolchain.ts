// Finds or installs the real tools k6-ha drives: pinned k6 and nats-server (and the nats CLI for
// people who want to look inside the stream). Prefers .tools/bin, then PATH when the version
// fits, then builds from the Go module proxy with `go` into .tools/bin.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ToolMissingError } from '../shared/errors.ts';

const run = promisify(execFile);

/** The directory holding k6-ha's package.json: found upwards, so it is right from lib/ and from the bundled build/k6-ha.mjs alike. */
function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"k6-ha"/.test(readFileSync(pkg, 'utf8'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find k6-ha's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export const PROJECT_ROOT = findProjectRoot();
/** Overridable so tests can see what a machine without the tools gets. */
export const TOOLS_BIN = process.env['K6HA_TOOLS_BIN'] ?? join(PROJECT_ROOT, '.tools', 'bin');

export interface ToolSpec {
  bin: string;
  version: string;
  /** module@version fetched from the Go module proxy */
  module: string;
  /** main package built from it */
  pkg: string;
  versionArgs: string[];
  versionPattern: RegExp;
  /** whether a version found on PATH is good enough */
  fits(found: string): boolean;
  installHint: string;
  /** extra -ldflags, e.g. a version the module sets only through its Makefile */
  ldflags?: string[];
}

const major = (v: string): number => Number(v.replace(/^v/, '').split('.')[0]);
const minor = (v: string): number => Number(v.replace(/^v/, '').split('.')[1]);

export const TOOLS: Record<'k6' | 'nats-server' | 'nats' | 'versitygw' | 'nats-streaming-server', ToolSpec> = {
  k6: {
    bin: 'k6',
    version: 'v2.2.0',
    module: 'go.k6.io/k6/v2@v2.2.0',
    pkg: 'go.k6.io/k6/v2',
    versionArgs: ['version'],
    versionPattern: /k6 (v\d+\.\d+\.\d+)/,
    fits: (v) => major(v) === 2,
    installHint: [
      'k6 v2 is needed. Install it one of these ways:',
      '  macOS:   brew install k6',
      '  Debian:  sudo apt-get install k6   (after adding the k6 apt repository: https://grafana.com/docs/k6/latest/set-up/install-k6/)',
      '  Windows: winget install k6 --source winget',
      '  Docker:  docker run --rm -i --network host grafana/k6 run - <build/jetstream-publish.js',
      '  Go:      install Go 1.24+ and run `npm run setup` (builds go.k6.io/k6/v2@v2.2.0 into .tools/bin)',
    ].join('\n'),
  },
  'nats-server': {
    bin: 'nats-server',
    version: 'v2.15.2',
    module: 'github.com/nats-io/nats-server/v2@v2.15.2',
    pkg: 'github.com/nats-io/nats-server/v2',
    versionArgs: ['--version'],
    versionPattern: /v(\d+\.\d+\.\d+)/,
    fits: (v) => major(v) === 2 && minor(v) >= 10,
    installHint: [
      'nats-server 2.10+ is needed for the embedded local stack. Install it one of these ways:',
      '  macOS:   brew install nats-server',
      '  Go:      install Go 1.24+ and run `npm run setup` (builds nats-server v2.15.2 into .tools/bin)',
      '  Others:  https://docs.nats.io/running-a-nats-service/introduction/installation',
    ].join('\n'),
  },
  // NATS Streaming (STAN) reached its end of life in 2023 (security fixes ended June 2023); v0.25.6
  // is its last release and still on the Go module proxy. Built for the nats-streaming target only.
  'nats-streaming-server': {
    bin: 'nats-streaming-server',
    version: 'v0.25.6',
    module: 'github.com/nats-io/nats-streaming-server@v0.25.6',
    pkg: 'github.com/nats-io/nats-streaming-server',
    versionArgs: ['--version'],
    versionPattern: /nats-streaming-server version (\d+\.\d+\.\d+)/,
    fits: (v) => v === 'v0.25.6',
    installHint: [
      'nats-streaming-server v0.25.6 is needed for the nats-streaming target (NATS Streaming is end of life since 2023; this is its last release). Install it one of these ways:',
      '  Go:      install Go 1.24+ and run `npm run setup` (builds github.com/nats-io/nats-streaming-server@v0.25.6 into .tools/bin)',
      '  By hand: go build -o .tools/bin/nats-streaming-server github.com/nats-io/nats-streaming-server@v0.25.6 (in a module that requires it)',
    ].join('\n'),
  },
  nats: {
    bin: 'nats',
    version: 'v0.4.0',
    module: 'github.com/nats-io/natscli/nats@v0.4.0',
    pkg: 'github.com/nats-io/natscli/nats',
    versionArgs: ['--version'],
    versionPattern: /v?(\d+\.\d+\.\d+)/,
    fits: () => true,
    installHint:
      'the nats CLI is optional: brew install nats-io/nats-tools/nats, or `npm run setup -- --all` with Go installed',
  },
  // The S3 gateway of the s3-gateway target (seed 003): its Makefile stamps the version, so the build does too.
  versitygw: {
    bin: 'versitygw',
    version: 'v1.8.0',
    module: 'github.com/versity/versitygw@v1.8.0',
    pkg: 'github.com/versity/versitygw/cmd/versitygw',
    versionArgs: ['--version'],
    versionPattern: /Version\s*:\s*(v\d+\.\d+\.\d+)/,
    fits: (v) => major(v) === 1 && minor(v) >= 8,
    installHint: [
      'versitygw 1.8+ is needed for the s3-gateway target. Install it one of these ways:',
      '  Go:      install Go 1.24+ and run `npm run setup` (builds github.com/versity/versitygw v1.8.0 into .tools/bin)',
      '  Others:  https://github.com/versity/versitygw/releases (put versitygw on your PATH)',
    ].join('\n'),
    ldflags: ['-X main.Version=v1.8.0'],
  },
};

async function versionOf(path: string, spec: ToolSpec): Promise<string | null> {
  try {
    const { stdout, stderr } = await run(path, spec.versionArgs, { timeout: 15_000 });
    const m = spec.versionPattern.exec(`${stdout}\n${stderr}`);
    const v = m?.[1];
    return v === undefined ? null : v.startsWith('v') ? v : `v${v}`;
  } catch {
    return null;
  }
}

function onPath(bin: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, bin);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

export async function findGo(): Promise<string | null> {
  return onPath('go');
}

export interface EnsureOptions {
  /** build with go when nothing fitting is found (default true) */
  install?: boolean;
  log?: (line: string) => void;
}

/** The path of a fitting binary, building it when needed; ToolMissingError with install help otherwise. */
export async function ensureTool(name: keyof typeof TOOLS, opts: EnsureOptions = {}): Promise<string> {
  const spec = TOOLS[name];
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const local = join(TOOLS_BIN, spec.bin);
  if (existsSync(local) && (await versionOf(local, spec)) === spec.version) return local;
  const fromPath = onPath(spec.bin);
  if (fromPath !== null) {
    const v = await versionOf(fromPath, spec);
    if (v !== null && spec.fits(v)) return fromPath;
    log(
      `k6-ha: ${fromPath} is ${v ?? 'of unknown version'}, which does not fit; using a pinned ${spec.version} instead`,
    );
  }
  if (opts.install === false) throw new ToolMissingError(`${spec.bin} not found.\n${spec.installHint}`, { tool: name });
  const go = await findGo();
  if (go === null)
    throw new ToolMissingError(`${spec.bin} not found, and Go is not installed to build it.\n${spec.installHint}`, {
      tool: name,
    });
  await buildWithGo(go, spec, log);
  return local;
}

/**
 * Builds through a throwaway wrapper module rather than `go install pkg@version`: go install
 * also asks the proxy for the module's version list (deprecation check), which some proxies and
 * mirrors refuse, while fetching one pinned version works everywhere.
 */
async function buildWithGo(go: string, spec: ToolSpec, log: (line: string) => void): Promise<void> {
  const work = join(PROJECT_ROOT, '.tools', 'src', spec.bin);
  mkdirSync(work, { recursive: true });
  mkdirSync(TOOLS_BIN, { recursive: true });
  writeFileSync(join(work, 'go.mod'), 'module k6ha.local/toolbuild\n\ngo 1.24\n');
  const env = { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: process.env['GOTOOLCHAIN'] ?? 'local' };
  const started = Date.now();
  log(`k6-ha: building ${spec.bin} ${spec.version} with ${go} (once; cached in .tools/bin) ...`);
  try {
    await run(go, ['get', `${spec.pkg}@${spec.version}`], {
      cwd: work,
      env,
      timeout: 15 * 60_000,
      maxBuffer: 64 << 20,
    });
    const ldflags = ['-s', '-w', ...(spec.ldflags ?? [])].join(' ');
    await run(go, ['build', '-trimpath', `-ldflags=${ldflags}`, '-o', join(TOOLS_BIN, spec.bin), spec.pkg], {
      cwd: work,
      env,
      timeout: 30 * 60_000,
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr ?? (err as Error).message;
    throw new ToolMissingError(
      `building ${spec.module} failed:\n${detail.trim().split('\n').slice(-15).join('\n')}\n${spec.installHint}`,
      { tool: spec.bin, cause: err },
    );
  }
  log(`k6-ha: built ${spec.bin} ${spec.version} in ${Math.round((Date.now() - started) / 1000)} s`);
}
