/** The language server in the real editor: diagnostics (exact ranges), completion, hover, quick fixes. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, diagnosticsOf, openConfig, rangeText, waitUntil, workspaceDir } from './helpers';

const VALID = `// language suite
{
  "name": "lang",
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

/** The range of the n-th occurrence of `needle` in `text`, as "line:col-line:col". */
function rangeOf(doc: vscode.TextDocument, needle: string): string {
  const offset = doc.getText().indexOf(needle);
  assert.ok(offset >= 0, needle);
  return rangeText(new vscode.Range(doc.positionAt(offset), doc.positionAt(offset + needle.length)));
}

async function problems(doc: vscode.TextDocument, atLeast = 1): Promise<vscode.Diagnostic[]> {
  return waitUntil(() => {
    const d = diagnosticsOf(doc.uri);
    return d.length >= atLeast ? d : undefined;
  }, `diagnostics on ${doc.uri.fsPath}`);
}

suite('language server', () => {
  suiteSetup(async () => {
    await api();
  });
  // Leave the workspace as the fixtures made it (the Runs view in the screenshot lists configs).
  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(path.join(workspaceDir(), 'lang'), { recursive: true, force: true });
  });

  test('unknown key: an error on the key', async () => {
    const doc = await openConfig(
      'lang/unknown-key.akd.json',
      VALID.replace('"name": "lang",', '"name": "lang",\n  "colour": "blue",'),
    );
    const [d] = await problems(doc);
    assert.equal(d.code, 'unknown-key');
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(rangeText(d.range), rangeOf(doc, '"colour"'));
  });

  test('phase1.epochs not a multiple of tauMax: on the epochs value', async () => {
    const doc = await openConfig(
      'lang/not-multiple.akd.json',
      VALID.replace('"phase1": { "epochs": 2,', '"phase1": { "epochs": 3,'),
    );
    const [d] = await problems(doc);
    assert.equal(d.code, 'epochs-not-multiple');
    const offset = doc.getText().indexOf('"epochs": 3') + '"epochs": '.length;
    assert.equal(
      rangeText(d.range),
      rangeText(new vscode.Range(doc.positionAt(offset), doc.positionAt(offset + 1))),
    );
  });

  test('JSON syntax error: where the parser stopped', async () => {
    const doc = await openConfig('lang/syntax.akd.json', VALID.replace('"tauMax": 2,', '"tauMax": 2'));
    const d = (await problems(doc)).find((x) => x.code === 'json-syntax');
    assert.ok(d);
    assert.equal(d.range.start.line, 9, rangeText(d.range));
  });

  test('a missing data file is reported relative to the config', async () => {
    const text = VALID.replace(
      '"data": { "dataset": "mnist", "trainLimit": 1000 }',
      '"data": { "format": "idx", "trainImages": "data/train-images", "trainLabels": "data/train-labels", "testImages": "data/t10k-images", "testLabels": "data/t10k-labels" }',
    );
    const doc = await openConfig('lang/missing-file.akd.json', text);
    const all = await problems(doc, 4);
    const d = all.find((x) => x.code === 'file-missing');
    assert.ok(d, JSON.stringify(all.map((x) => x.code)));
    assert.equal(rangeText(d.range), rangeOf(doc, '"data/train-images"'));
    assert.match(d.message, /train-images/);
  });

  test('completion offers the schema keys of the method block', async () => {
    const doc = await openConfig('lang/complete.akd.json', '{\n  "method": { "type": "annealing",  }\n}\n');
    const position = doc.positionAt(doc.getText().indexOf(',  }') + 2);
    const list = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider',
      doc.uri,
      position,
    );
    const labels = list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
    for (const key of ['tauMax', 'phase1', 'phase2'])
      assert.ok(labels.includes(key), `${key} in ${labels.join(', ')}`);
  });

  test('hover on tauMax shows the schema description', async () => {
    const doc = await openConfig('lang/hover.akd.json', VALID);
    const position = doc.positionAt(doc.getText().indexOf('"tauMax"') + 3);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      doc.uri,
      position,
    );
    const text = hovers
      .flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value)))
      .join('\n');
    assert.match(text, /temperatures/i);
  });

  test('quick fix: set phase1.epochs to a multiple of tauMax', async () => {
    const doc = await openConfig(
      'lang/fix.akd.json',
      VALID.replace('"phase1": { "epochs": 2,', '"phase1": { "epochs": 3,'),
    );
    const [d] = await problems(doc);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider',
      doc.uri,
      d.range,
      vscode.CodeActionKind.QuickFix.value,
    );
    const fix = actions.find((a) => /multiple of tauMax/.test(a.title));
    assert.ok(fix?.edit, actions.map((a) => a.title).join(', '));
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.match(doc.getText(), /"phase1": \{ "epochs": [24],/);
    await waitUntil(() => diagnosticsOf(doc.uri).length === 0, 'diagnostics cleared after the fix');
    await doc.save();
  });

  test('quick fix: remove an unknown key', async () => {
    const doc = await openConfig(
      'lang/fix-unknown.akd.json',
      VALID.replace('"name": "lang",', '"name": "lang",\n  "colour": "blue",'),
    );
    const [d] = await problems(doc);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider',
      doc.uri,
      d.range,
      vscode.CodeActionKind.QuickFix.value,
    );
    const fix = actions.find((a) => /colour/.test(a.title));
    assert.ok(fix?.edit);
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.ok(!doc.getText().includes('colour'));
    await waitUntil(() => diagnosticsOf(doc.uri).length === 0, 'diagnostics cleared after the fix');
    await doc.save();
  });

  test('annealKd.validation.enabled = false clears the diagnostics', async () => {
    const doc = await openConfig(
      'lang/toggle.akd.json',
      VALID.replace('"name": "lang",', '"name": "lang",\n  "colour": "blue",'),
    );
    await problems(doc);
    const config = vscode.workspace.getConfiguration('annealKd');
    await config.update('validation.enabled', false, vscode.ConfigurationTarget.Global);
    try {
      // Pull diagnostics are re-requested on change: touch the document.
      const edit = new vscode.WorkspaceEdit();
      edit.insert(doc.uri, new vscode.Position(0, 0), ' ');
      await vscode.workspace.applyEdit(edit);
      await waitUntil(() => diagnosticsOf(doc.uri).length === 0, 'no diagnostics with validation off');
      await doc.save(); // a dirty editor would be saved again after the teardown removed it
    } finally {
      await config.update('validation.enabled', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
