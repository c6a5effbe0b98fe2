// Bundles every scenarios/*.ts into build/<name>.js: one self-contained ES module per scenario,
// so `k6 run build/x.js` works on a laptop, in CI and with `k6 cloud run --local-execution`.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const scenarios = readdirSync(join(root, 'scenarios')).filter((f) => f.endsWith('.ts'));

await build({
  entryPoints: scenarios.map((f) => join(root, 'scenarios', f)),
  outdir: join(root, 'build'),
  // One output file per scenario, everything it imports (lib/, thresholds/) inlined.
  bundle: true,
  // k6 runs ES modules natively.
  format: 'esm',
  // k6's JS runtime (sobek) supports ES2021 syntax reliably; lower features are transpiled.
  target: 'es2021',
  // `k6` covers `k6/http`, `k6/metrics`, … : these modules are provided by k6 itself at run time.
  external: ['k6'],
  // Stack traces in k6 point at the .ts source lines.
  sourcemap: 'inline',
  // Keep names so k6 errors and exported lifecycle functions stay recognisable.
  minify: false,
  // No Node built-ins exist inside k6; fail the build if one sneaks into lib/k6.
  platform: 'neutral',
  outExtension: { '.js': '.js' },
  logLevel: 'warning',
});

// The same scenarios for a k6 built with xk6-kubernetes (`k6-ha setup --xk6-kubernetes`): the in-k6
// chaos scenario reaches the API server through k6/x/kubernetes instead of k6/http. A separate
// output, build/xk6-kubernetes/<name>.js: plain k6 refuses a script importing an unknown k6/x/ module.
const xk6Backend = {
  name: 'xk6-kubernetes-backend',
  setup(b) {
    b.onResolve({ filter: /\/kube-backend\.ts$/ }, (args) =>
      args.importer.endsWith('kube-backend-xk6.ts')
        ? undefined
        : { path: join(root, 'lib', 'k6', 'kube-backend-xk6.ts') },
    );
  },
};
await build({
  entryPoints: scenarios.map((f) => join(root, 'scenarios', f)),
  outdir: join(root, 'build', 'xk6-kubernetes'),
  bundle: true,
  format: 'esm',
  target: 'es2021',
  external: ['k6'],
  sourcemap: 'inline',
  minify: false,
  platform: 'neutral',
  outExtension: { '.js': '.js' },
  logLevel: 'warning',
  plugins: [xk6Backend],
});

// The CLI (and the sidecar inside it) as one Node module: no TypeScript loader at run time, which
// keeps the sidecar's memory down (tsx alone is ~30 MB) and its start fast.
await build({
  entryPoints: [join(root, 'lib', 'cli', 'main.ts')],
  outfile: join(root, 'build', 'k6-ha.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // npm dependencies stay in node_modules, resolved at run time.
  packages: 'external',
  sourcemap: 'inline',
  logLevel: 'warning',
});

console.log(
  `built build/k6-ha.mjs, ${scenarios.map((f) => `build/${basename(f, '.ts')}.js`).join(', ')} (and build/xk6-kubernetes/ for a k6 with k6/x/kubernetes)`,
);
