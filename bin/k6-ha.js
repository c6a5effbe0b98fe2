#!/usr/bin/env node
// The installed `k6-ha` command: the bundled CLI when it is built and current, else the
// TypeScript sources through tsx (a fresh checkout, or while developing).
import { existsSync, statSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'build', 'k6-ha.mjs');

// What build/k6-ha.mjs is made from (scripts/build.mjs bundles lib/cli/main.ts with everything it
// imports from lib/ and thresholds/, in the same run as scenarios/; package.json and the build
// script decide how): a bundle older than any of them is stale, e.g. after a new gate profile.
const BUNDLE_SOURCES = ['lib', 'thresholds', 'scenarios', 'package.json', join('scripts', 'build.mjs')];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted file only shows in its directory's mtime
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

const newestSource = Math.max(...BUNDLE_SOURCES.map((p) => newestMtime(join(root, p))));

if (existsSync(bundle) && statSync(bundle).mtimeMs >= newestSource) {
  await import(bundle);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../lib/cli/main.ts');
}
