// ESLint for the TypeScript sources (typescript-eslint's recommended rules, no type information:
// fast enough for every `npm run lint`). Formatting is Prettier's; the import rules (rooms,
// the contract, no circles) are dependency-cruiser's (.dependency-cruiser.cjs).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'out/',
      'dist/',
      '.vscode-test/',
      '.test-results/',
      '.bench-cache/',
      '.scratch/',
      '**/.akd/',
      // Generated from runner/backend/simd/gemm.c by build.sh.
      'runner/backend/simd/gemmWasm.ts',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // `import tfjs = require('@tensorflow/tfjs')`: the backend patches TF.js's CommonJS instance.
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
      // `_x`: deliberately unused (a parameter a signature needs, a destructured rest).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The contract has no runtime dependencies: its chart definitions (runner/protocol/charts) name
    // chart.js and its plugins' types only; the renderers (CLI, webviews) load the code.
    files: ['runner/protocol/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: ['chart.js', 'chartjs-chart-error-bars', 'chartjs-plugin-annotation'].map((name) => ({
            name,
            allowTypeImports: true,
            message: 'runner/protocol imports chart.js and its plugins as types only (import type).',
          })),
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: globals.node, sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },
);
