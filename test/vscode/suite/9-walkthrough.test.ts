/**
 * The Getting Started walkthrough: contributed with five steps, each completing on a context key
 * the extension sets when the thing really happens; its first step walked here: the step's button
 * (Open Example Config) opens a config, and that editor becoming active is what completes it.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Walkthrough, WALKTHROUGH_ID } from '../../../extension/walkthrough';
import { api, EXTENSION_ID, waitUntil } from './helpers';

interface Step {
  id: string;
  description: string;
  completionEvents: string[];
  media: { image: string };
}

suite('walkthrough', function () {
  this.timeout(60_000);

  test('walkthrough: five steps, each completed by a real event (a context key the extension sets)', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    const walkthroughs = (
      ext?.packageJSON as { contributes: { walkthroughs: { id: string; steps: Step[] }[] } }
    ).contributes.walkthroughs;
    const w = walkthroughs.find((x) => `${EXTENSION_ID}#${x.id}` === WALKTHROUGH_ID);
    assert.ok(w, 'the walkthrough is contributed');
    assert.deepEqual(
      w.steps.map((s) => s.completionEvents),
      [
        ['onContext:annealKd.walkthrough.configOpened'],
        ['onContext:annealKd.walkthrough.runStarted'],
        ['onContext:annealKd.walkthrough.dashboardOpened'],
        ['onContext:annealKd.walkthrough.experimentsOpened'],
        ['onContext:annealKd.walkthrough.sweepStarted'],
      ],
    );
    for (const s of w.steps) assert.match(s.description, /\(command:annealKd\.\w+\)/, `${s.id} has a button`);
  });

  test('walkthrough: the first step completes when its button has opened a config', async () => {
    const { runs } = await api();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH_ID, false);
    // A fresh tracker, as in a new window: nothing done yet.
    const fresh = new Walkthrough(runs);
    try {
      assert.equal(fresh.done.has('configOpened'), false);
      const uri = await vscode.commands.executeCommand<vscode.Uri | undefined>('annealKd.openExample');
      assert.ok(uri?.fsPath.endsWith('.akd.json'), String(uri));
      await waitUntil(() => fresh.done.has('configOpened'), 'the step completed');
      assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, uri?.fsPath);
      assert.equal(
        fresh.done.has('runStarted'),
        runs.activeRuns().length > 0,
        'later steps wait for their own events',
      );
    } finally {
      fresh.dispose();
    }
  });
});
