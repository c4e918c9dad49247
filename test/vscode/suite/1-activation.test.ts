/** Activation and the contributed commands. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, diagnosticsOf, sleep, workspaceDir, EXTENSION_ID } from './helpers';

suite('activation and commands', () => {
  test('activates in a workspace with *.akd.json and starts the language server', async () => {
    const extensionApi = await api();
    assert.ok(extensionApi.runs);
    assert.equal(vscode.extensions.getExtension(EXTENSION_ID)?.isActive, true);
  });

  test('every command in package.json is registered', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    const contributed = (
      ext?.packageJSON as { contributes: { commands: { command: string }[] } }
    ).contributes.commands
      .map((c) => c.command)
      .sort();
    // The Runs view adds its own (annealKd.runs.focus, ...); ours are the rest.
    const registered = (await vscode.commands.getCommands(true))
      .filter((c) => c.startsWith('annealKd.') && !c.startsWith('annealKd.runs.'))
      .sort();
    assert.deepEqual(registered, contributed);
    for (const id of [
      'newExperiment',
      'runExperiment',
      'stopRun',
      'resumeRun',
      'openDashboard',
      'showRunLog',
      'deleteRun',
      'revealRunFolder',
    ]) {
      assert.ok(contributed.includes(`annealKd.${id}`), id);
    }
  });

  test('*.akd.json opens as akd-json', async () => {
    const doc = await vscode.workspace.openTextDocument(
      vscode.Uri.file(path.join(workspaceDir(), 'tiny.akd.json')),
    );
    assert.equal(doc.languageId, 'akd-json');
  });

  test('New Experiment writes a commented template that opens with no problems', async () => {
    await api();
    const uri = await vscode.commands.executeCommand<vscode.Uri>('annealKd.newExperiment', {
      name: 'from-template',
      folder: workspaceDir(),
    });
    assert.ok(uri && fs.existsSync(uri.fsPath));
    assert.equal(path.basename(uri.fsPath), 'from-template.akd.json');
    const doc = vscode.window.activeTextEditor?.document;
    assert.equal(doc?.uri.fsPath, uri.fsPath);
    assert.equal(doc?.languageId, 'akd-json');
    assert.match(doc.getText(), /^\/\/ /, 'starts with a comment');
    // The pipeline is live (a problem appears when one is typed) and the template itself is clean.
    const edit = new vscode.WorkspaceEdit();
    edit.insert(uri, doc.positionAt(doc.getText().indexOf('"seed"')), '"bogus": 1, ');
    await vscode.workspace.applyEdit(edit);
    for (let i = 0; i < 100 && diagnosticsOf(uri).length === 0; i++) await sleep(100);
    assert.equal(diagnosticsOf(uri).length, 1, 'the typed unknown key is reported');
    await vscode.commands.executeCommand('undo');
    for (let i = 0; i < 100 && diagnosticsOf(uri).length > 0; i++) await sleep(100);
    assert.deepEqual(
      diagnosticsOf(uri).map((d) => d.message),
      [],
    );
    await vscode.commands.executeCommand('workbench.action.files.save');
  });

  test('Open Dashboard opens the placeholder panel', async () => {
    assert.equal(await vscode.commands.executeCommand('annealKd.openDashboard'), true);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});
