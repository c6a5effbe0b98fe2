// Lint: the recommended JS and typescript-eslint rules over everything we write, plus the one
// direction imports flow in (README, "Architecture"): a folder may import only the folders below it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * lib/ folders from the top down; each may import the ones listed after it (and thresholds/).
 * Folders on one line are peers and may not import each other.
 */
const LAYERS = [
  ['cli'],
  ['compare'],
  ['run'],
  ['sidecar', 'targets'],
  ['kube'],
  ['jetstream', 's3'],
  ['measure'],
  ['chaos'],
  ['experiment'],
  ['fixtures'],
  ['stack'],
  ['tools'],
  ['report'],
  ['shared'],
];
const ALL = LAYERS.flat();
const RULE =
  'cli → compare → run → {sidecar, targets} → kube → {jetstream, s3} → measure → chaos → experiment → fixtures → stack → tools → report → shared; lib/k6 → shared; scenarios → lib/k6, shared';

/** One no-restricted-imports block: `files` may not import any of `folders` (lib/<folder>/…). */
function forbid(files, folders, who) {
  return {
    files,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: folders.map((f) => ({
            group: [`../${f}/*`, `../../${f}/*`, `../lib/${f}/*`, `../../lib/${f}/*`],
            message: `${who} may not import lib/${f}: imports flow one way (${RULE}).`,
          })),
        },
      ],
    },
  };
}

const layerRules = LAYERS.flatMap((layer, i) => {
  const below = LAYERS.slice(i + 1).flat();
  return layer.map((folder) =>
    forbid(
      [`lib/${folder}/**/*.ts`],
      [...ALL.filter((f) => f !== folder && !below.includes(f)), 'k6'],
      `lib/${folder}`,
    ),
  );
});

export default tseslint.config(
  { ignores: ['build/', 'node_modules/', '.tools/', 'results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        AbortSignal: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        __ENV: 'readonly',
        crypto: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        Buffer: 'readonly',
        performance: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layerRules,
  // Inside k6 only k6 modules and our own k6-safe code run: lib/k6 builds on lib/shared alone.
  forbid(
    ['lib/k6/**/*.ts'],
    ALL.filter((f) => f !== 'shared'),
    'lib/k6 (runs inside k6)',
  ),
  forbid(
    ['scenarios/**/*.ts', 'thresholds/**/*.ts'],
    ALL.filter((f) => f !== 'shared'),
    'a k6 scenario or gate profile',
  ),
);
