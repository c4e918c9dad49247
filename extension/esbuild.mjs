// Bundles the extension (dist/extension.js), its language server (dist/server.js), the
// experiments table (dist/webview/experiments.js + .css) and the
// dashboard webview (dist/webview/dashboard.js + dashboard.css: a browser bundle of its own with
// chart.js and the toolkit; the panel's localResourceRoots is dist/webview only).
// `vscode` is provided by the host; everything else (languageclient/server, json-languageservice,
// the runner's config module and schema) is bundled, so the .vsix needs no node_modules for them.
// The runner itself is not bundled: it is spawned from out/runner (compiled by `tsc -p .`).
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  // ESM first: the UMD builds of jsonc-parser and vscode-json-languageservice require their
  // own files dynamically, which a bundle cannot follow.
  mainFields: ['module', 'main'],
};

const webview = {
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  entryPoints: ['webview/main.ts'],
  outfile: 'dist/webview/dashboard.js',
  // The page must never pull Node modules: fail the build if shaping code imports one.
  external: [],
  define: { 'process.env.NODE_ENV': production ? '"production"' : '"development"' },
};

// The experiments table: a second page of its own (dist/webview/experiments.js + .css).
const experiments = {
  ...webview,
  entryPoints: ['webview/experiments/main.ts'],
  outfile: 'dist/webview/experiments.js',
};

const builds = [
  { ...common, entryPoints: ['extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  { ...common, entryPoints: ['extension/server/server.ts'], outfile: 'dist/server.js', external: ['vscode'] },
  webview,
  experiments,
];

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  const t0 = Date.now();
  await Promise.all(builds.map((b) => esbuild.build(b)));
  console.log(
    `esbuild: dist/extension.js, dist/server.js, dist/webview/ (${Date.now() - t0} ms${production ? ', production' : ''})`,
  );
}
