/**
 * The workspace-trust gate. Under a test runner VS Code always trusts the workspace (it trusts
 * windows started with extensionTestsPath), so here the gate is exercised on a RunManager whose
 * trust source says "untrusted"; the harness's UI pass checks the same rule in a really
 * untrusted code-server window (test/vscode/harness/uiChecks.ts).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RunManager } from '../../../extension/runs/runManager';
import { api, workspaceDir } from './helpers';

suite('workspace trust', () => {
  test('untrusted: validation still runs, Run and Resume refuse with a clear message, nothing is spawned', async () => {
    const { runs: real } = await api();
    const log = vscode.window.createOutputChannel('Anneal KD trust test', { log: true });
    const manager = new RunManager({
      runnerScript: path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'akd.js'),
      node: () => process.execPath,
      maxConcurrentRuns: () => 4,
      stopTimeoutMs: () => 1000,
      isTrusted: () => false,
      log,
    });
    try {
      await manager.refresh();
      const before = fs.readdirSync(path.join(workspaceDir(), '.akd', 'runs')).length;
      await assert.rejects(manager.start(path.join(workspaceDir(), 'tiny.akd.json')), /not trusted/);
      const someRun = real.allRuns()[0];
      assert.ok(someRun);
      await assert.rejects(manager.resume(someRun.runDir), /completed|not trusted/);
      assert.equal(
        fs.readdirSync(path.join(workspaceDir(), '.akd', 'runs')).length,
        before,
        'no run folder was created',
      );
      assert.equal(manager.activeRuns().length, 0);
    } finally {
      manager.dispose();
      log.dispose();
    }
  });

  test('package.json declares limited support for untrusted workspaces', () => {
    const ext = vscode.extensions.getExtension('anneal-kd.anneal-kd');
    const caps = (ext?.packageJSON as { capabilities?: { untrustedWorkspaces?: { supported?: unknown } } })
      .capabilities;
    assert.equal(caps?.untrustedWorkspaces?.supported, 'limited');
  });
});
