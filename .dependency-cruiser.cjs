// The import rules of the tree, checked by `npm run lint` (depcruise). Paths are relative to the
// repository root. What each rule protects is its `comment`; test/unit/lint/importRules.test.ts
// shows each one failing on a deliberate violation.

/** Rooms of the runner, lowest first: a room may import its own and lower rooms only. */
const RUNNER_LAYERS = [
  ['protocol'],
  ['models', 'data', 'backend', 'store'],
  ['config'],
  ['training'],
  ['sweep', 'compare', 'export'],
  ['launch'],
  ['cli'],
];

const higher = (i) => RUNNER_LAYERS.slice(i + 1).flat();
const layerRules = RUNNER_LAYERS.slice(0, -1).map((rooms, i) => ({
  name: `runner-layer-${rooms.join('-')}`,
  severity: 'error',
  comment: `runner/{${rooms.join(',')}} must not import a higher room (${higher(i).join(', ')}): arrows go down only.`,
  from: { path: `^runner/(${rooms.join('|')})/` },
  to: {
    path: `^runner/(${higher(i).join('|')})/`,
  },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'protocol-is-a-leaf',
      severity: 'error',
      comment:
        'runner/protocol is the contract every room shares: it imports nothing of the project but itself, and no TensorFlow.',
      from: { path: '^runner/protocol/' },
      to: { pathNot: '^runner/protocol/|^node_modules/@types/node/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'extension-through-the-contract',
      severity: 'error',
      comment:
        'The extension imports the runner only through runner/protocol and runner/config (the language server); it spawns akd for the rest.',
      from: { path: '^extension/' },
      to: { path: '^runner/', pathNot: '^runner/(protocol|config)/' },
    },
    {
      name: 'extension-webview-contract-only',
      severity: 'error',
      comment:
        "Of the webview, the extension imports the message contracts only (webview/messages.ts, the dashboard's; webview/experiments/messages.ts, the table's).",
      from: { path: '^extension/' },
      to: { path: '^webview/', pathNot: '^webview/(experiments/)?messages\\.ts$' },
    },
    {
      name: 'webview-not-extension',
      severity: 'error',
      comment: 'The webview never imports the extension (what both need lives in runner/protocol).',
      from: { path: '^webview/' },
      to: { path: '^extension/' },
    },
    {
      name: 'webview-through-the-protocol',
      severity: 'error',
      comment:
        'The dashboard page imports the runner only through runner/protocol, and not its barrel (index.ts re-exports the Node-only tailer).',
      from: { path: '^webview/' },
      to: { path: '^runner/', pathNot: '^runner/protocol/(?!index\\.ts$)' },
    },
    {
      name: 'runner-never-vscode',
      severity: 'error',
      comment: 'The runner runs without an editor: no vscode import.',
      from: { path: '^runner/' },
      to: {
        path: '^vscode$|^node_modules/vscode',
        dependencyTypes: ['core', 'npm', 'unknown', 'undetermined'],
      },
    },
    {
      name: 'extension-never-trains',
      severity: 'error',
      comment: 'The extension never trains: no TensorFlow in its bundle.',
      from: { path: '^(extension|webview)/' },
      to: { path: '@tensorflow', reachable: true },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import circles.',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(out|dist|node_modules|\\.vscode-test)/' },
    // Type-only imports are arrows too.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
