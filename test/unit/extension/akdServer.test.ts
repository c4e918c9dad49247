/**
 * The language server over in-memory streams: diagnostics (pull and push), completion, hover
 * and quick fixes, as a client sees them. Fast: no editor, no child process.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildSync } from 'esbuild';

// ---- the bundled server (see extension/server/inMemory.ts for why it is bundled) -------------
interface Position {
  line: number;
  character: number;
}
interface Range {
  start: Position;
  end: Position;
}
interface Diagnostic {
  range: Range;
  message: string;
  code?: string | number;
  severity?: number;
  source?: string;
  data?: unknown;
}
interface TextEdit {
  range: Range;
  newText: string;
}
interface CodeAction {
  title: string;
  kind?: string;
  isPreferred?: boolean;
  edit?: { changes?: Record<string, TextEdit[]> };
}
interface Rpc {
  sendRequest(method: string, params: unknown): Promise<unknown>;
  sendNotification(method: string, params: unknown): Promise<void>;
  onNotification(method: string, handler: (params: unknown) => void): void;
}
interface Harness {
  startInMemoryServer(): { client: Rpc; dispose(): void };
  TextDocument: {
    create(uri: string, languageId: string, version: number, text: string): unknown;
    applyEdits(doc: unknown, edits: TextEdit[]): string;
  };
}

const root = path.resolve(__dirname, '..', '..', '..', '..');
let harness: Harness;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-lsp-'));

before(() => {
  const outfile = path.join(tmp, 'inMemory.js');
  buildSync({
    entryPoints: [path.join(root, 'extension', 'server', 'inMemory.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    logLevel: 'error',
    mainFields: ['module', 'main'],
  });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  harness = require(outfile) as Harness;
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---- fixtures -----------------------------------------------------------------------------
const VALID = `// a comment
{
  "name": "tiny",
  "data": { "dataset": "mnist", "trainLimit": 1000 },
  "teacher": { "model": { "type": "mlp", "hidden": [32] }, "epochs": 1, "optimizer": { "type": "adam", "learningRate": 0.001 } },
  "student": { "model": { "type": "mlp", "hidden": [8] } },
  "method": {
    "type": "annealing",
    "tauMax": 2,
    "phase1": { "epochs": 2, "optimizer": { "type": "adam", "learningRate": 0.001 } },
    "phase2": { "epochs": 1, "optimizer": { "type": "adam", "learningRate": 0.001 } }
  }
}
`;
const withUnknownKey = VALID.replace('"name": "tiny",', '"name": "tiny",\n  "colour": "blue",');
const notMultiple = VALID.replace('"phase1": { "epochs": 2,', '"phase1": { "epochs": 3,');
const noMethod = VALID.replace(/,\n {2}"method": \{[\s\S]*?\n {2}\}\n/, '\n');

function positionAt(text: string, offset: number): Position {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}

function uriFor(name: string): string {
  return `file://${path.join(tmp, name)}`;
}

async function initialize(client: Rpc, pull: boolean): Promise<{ capabilities: Record<string, unknown> }> {
  const result = (await client.sendRequest('initialize', {
    processId: null,
    rootUri: null,
    workspaceFolders: null,
    capabilities: pull ? { textDocument: { diagnostic: { dynamicRegistration: false } } } : {},
  })) as { capabilities: Record<string, unknown> };
  await client.sendNotification('initialized', {});
  return result;
}

async function open(client: Rpc, uri: string, text: string, version = 1): Promise<void> {
  await client.sendNotification('textDocument/didOpen', {
    textDocument: { uri, languageId: 'akd-json', version, text },
  });
}

async function pullDiagnostics(client: Rpc, uri: string): Promise<Diagnostic[]> {
  const report = (await client.sendRequest('textDocument/diagnostic', { textDocument: { uri } })) as {
    kind: string;
    items: Diagnostic[];
  };
  assert.equal(report.kind, 'full');
  return report.items;
}

function withServer(pull: boolean, body: (client: Rpc) => Promise<void>): () => Promise<void> {
  return async () => {
    const { client, dispose } = harness.startInMemoryServer();
    try {
      await initialize(client, pull);
      await body(client);
    } finally {
      dispose();
    }
  };
}

function applyFix(uri: string, text: string, fix: CodeAction): string {
  const edits = fix.edit?.changes?.[uri];
  assert.ok(edits && edits.length > 0, `fix "${fix.title}" has edits`);
  return harness.TextDocument.applyEdits(harness.TextDocument.create(uri, 'akd-json', 1, text), edits);
}

async function codeActions(client: Rpc, uri: string, diagnostics: Diagnostic[]): Promise<CodeAction[]> {
  return (await client.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: diagnostics[0].range,
    context: { diagnostics },
  })) as CodeAction[];
}

// ---- tests ----------------------------------------------------------------------------------
describe('akd language server', () => {
  it('announces pull diagnostics only to clients that support them', async () => {
    for (const pull of [true, false]) {
      const { client, dispose } = harness.startInMemoryServer();
      try {
        const init = await initialize(client, pull);
        assert.equal('diagnosticProvider' in init.capabilities, pull);
        assert.ok(init.capabilities.completionProvider);
        assert.equal(init.capabilities.hoverProvider, true);
      } finally {
        dispose();
      }
    }
  });

  it(
    'reports nothing on a valid config',
    withServer(true, async (client) => {
      const uri = uriFor('valid.akd.json');
      await open(client, uri, VALID);
      assert.deepEqual(await pullDiagnostics(client, uri), []);
    }),
  );

  it(
    "puts an unknown key's diagnostic on the key (pull)",
    withServer(true, async (client) => {
      const uri = uriFor('unknown.akd.json');
      await open(client, uri, withUnknownKey);
      const diags = await pullDiagnostics(client, uri);
      const d = diags.find((x) => x.code === 'unknown-key');
      assert.ok(d, JSON.stringify(diags));
      const keyOffset = withUnknownKey.indexOf('"colour"');
      assert.deepEqual(d.range, {
        start: positionAt(withUnknownKey, keyOffset),
        end: positionAt(withUnknownKey, keyOffset + '"colour"'.length),
      });
      assert.equal(d.source, 'akd');
      assert.equal(d.severity, 1);
    }),
  );

  it(
    'pushes diagnostics, debounced, to clients without pull support, and updates them on change',
    withServer(false, async (client) => {
      const uri = uriFor('push.akd.json');
      const received: Diagnostic[][] = [];
      let wake: () => void = () => {};
      client.onNotification('textDocument/publishDiagnostics', (p) => {
        const params = p as { uri: string; diagnostics: Diagnostic[] };
        if (params.uri === uri) {
          received.push(params.diagnostics);
          wake();
        }
      });
      const next = (): Promise<Diagnostic[]> =>
        new Promise((resolve, reject) => {
          const count = received.length;
          const timer = setTimeout(() => reject(new Error('no publishDiagnostics')), 3000);
          wake = () => {
            if (received.length > count) {
              clearTimeout(timer);
              resolve(received[received.length - 1]);
            }
          };
        });
      const first = next();
      await open(client, uri, withUnknownKey);
      assert.ok((await first).some((d) => d.code === 'unknown-key'));
      const second = next();
      await client.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [{ text: VALID }],
      });
      assert.deepEqual(await second, []);
    }),
  );

  it(
    'completes keys from the schema, with the method block as a snippet',
    withServer(true, async (client) => {
      const text = '{\n  "method": { "type": "annealing",  }\n}\n';
      const uri = uriFor('complete.akd.json');
      await open(client, uri, text);
      const inMethod = (await client.sendRequest('textDocument/completion', {
        textDocument: { uri },
        position: positionAt(text, text.indexOf(',  }') + 2),
      })) as { items: { label: string }[] };
      const labels = inMethod.items.map((i) => i.label);
      for (const key of ['tauMax', 'phase1', 'phase2'])
        assert.ok(labels.includes(key), `${key} in ${labels.join(',')}`);

      // A whole method block as a snippet, where the value goes.
      const valueText = '{\n  "method": \n}\n';
      const valueUri = uriFor('complete-value.akd.json');
      await open(client, valueUri, valueText);
      const atValue = (await client.sendRequest('textDocument/completion', {
        textDocument: { uri: valueUri },
        position: { line: 1, character: 12 },
      })) as { items: { label: string; insertText?: string }[] };
      const annealing = atValue.items.find((i) => i.label === 'annealing');
      assert.ok(annealing, atValue.items.map((i) => i.label).join(','));
      assert.match(annealing.insertText ?? '', /"tauMax": [^,]*4[\s\S]*"phase1"[\s\S]*"phase2"/);

      const rootText = '{\n  \n}\n';
      const rootUri = uriFor('complete-root.akd.json');
      await open(client, rootUri, rootText);
      const atRoot = (await client.sendRequest('textDocument/completion', {
        textDocument: { uri: rootUri },
        position: { line: 1, character: 2 },
      })) as { items: { label: string }[] };
      const rootLabels = atRoot.items.map((i) => i.label);
      for (const key of ['name', 'data', 'teacher', 'student', 'method', 'backend'])
        assert.ok(rootLabels.includes(key), `${key} in ${rootLabels.join(',')}`);
    }),
  );

  it(
    'hovers with the schema description',
    withServer(true, async (client) => {
      const uri = uriFor('hover.akd.json');
      await open(client, uri, VALID);
      const hover = (await client.sendRequest('textDocument/hover', {
        textDocument: { uri },
        position: positionAt(VALID, VALID.indexOf('"tauMax"') + 2),
      })) as { contents: unknown } | null;
      assert.ok(hover);
      assert.match(JSON.stringify(hover.contents), /temperatures/i);
    }),
  );

  it(
    'quick fix: phase1.epochs to a multiple of tauMax',
    withServer(true, async (client) => {
      const uri = uriFor('multiple.akd.json');
      await open(client, uri, notMultiple);
      const diags = (await pullDiagnostics(client, uri)).filter(
        (d) => d.code === 'epochs-not-multiple' || d.code === 'epochs-lt-taumax',
      );
      assert.equal(diags.length, 1, 'one epochs problem');
      const fixes = await codeActions(client, uri, diags);
      assert.equal(fixes.length, 1);
      assert.equal(fixes[0].kind, 'quickfix');
      const fixed = applyFix(uri, notMultiple, fixes[0]);
      assert.match(fixed, /"phase1": \{ "epochs": [24],/);
      await client.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [{ text: fixed }],
      });
      assert.deepEqual(
        (await pullDiagnostics(client, uri)).filter((d) => String(d.code).startsWith('epochs')),
        [],
      );
    }),
  );

  it(
    'quick fix: remove an unknown key, keeping the comments',
    withServer(true, async (client) => {
      const uri = uriFor('remove.akd.json');
      await open(client, uri, withUnknownKey);
      const diags = (await pullDiagnostics(client, uri)).filter((d) => d.code === 'unknown-key');
      const fixes = await codeActions(client, uri, diags);
      assert.match(fixes[0].title, /colour/);
      const fixed = applyFix(uri, withUnknownKey, fixes[0]);
      assert.ok(!fixed.includes('colour'));
      assert.ok(fixed.startsWith('// a comment'));
      await client.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [{ text: fixed }],
      });
      assert.deepEqual(await pullDiagnostics(client, uri), []);
    }),
  );

  it(
    'quick fix: create the missing method block',
    withServer(true, async (client) => {
      const uri = uriFor('nomethod.akd.json');
      await open(client, uri, noMethod);
      const diags = (await pullDiagnostics(client, uri)).filter((d) => d.code === 'missing-key');
      assert.equal(diags.length, 1, JSON.stringify(diags));
      // Only the opening brace of the object that lacks the key is underlined.
      const brace = noMethod.indexOf('{');
      assert.deepEqual(diags[0].range, {
        start: positionAt(noMethod, brace),
        end: positionAt(noMethod, brace + 1),
      });
      const fixes = await codeActions(client, uri, diags);
      assert.equal(fixes.length, 1);
      const fixed = applyFix(uri, noMethod, fixes[0]);
      await client.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [{ text: fixed }],
      });
      assert.deepEqual(await pullDiagnostics(client, uri), [], fixed);
    }),
  );
});
