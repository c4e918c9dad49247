/**
 * The Getting Started walkthrough (package.json contributes.walkthroughs): each step completes on
 * the real event, through a context key set here when it happens (`onContext:` completion
 * events), not when its button is clicked:
 *   annealKd.walkthrough.configOpened       an *.akd.json editor is active
 *   annealKd.walkthrough.runStarted         a run is training (started here or found going)
 *   annealKd.walkthrough.dashboardOpened    the dashboard panel opened
 *   annealKd.walkthrough.experimentsOpened  the experiments table opened
 *   annealKd.walkthrough.sweepStarted       a sweep is running
 * The step buttons are ordinary commands; `annealKd.openExample` opens the workspace's first
 * config, or writes the example (New Experiment's template) when there is none.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { experimentTemplate } from './commands/experimentTemplate';
import type { RunManager } from './runs/runManager';

export const WALKTHROUGH_ID = 'anneal-kd.anneal-kd#annealKd.gettingStarted';
export const WALKTHROUGH_KEYS = [
  'configOpened',
  'runStarted',
  'dashboardOpened',
  'experimentsOpened',
  'sweepStarted',
] as const;
export type WalkthroughKey = (typeof WALKTHROUGH_KEYS)[number];

export class Walkthrough implements vscode.Disposable {
  /** What has happened in this window (the host tests read it; the context keys say the same). */
  readonly done = new Set<WalkthroughKey>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly runs: RunManager) {
    const onEditor = (e: vscode.TextEditor | undefined): void => {
      if (e && (e.document.languageId === 'akd-json' || e.document.uri.fsPath.endsWith('.akd.json')))
        this.set('configOpened');
    };
    onEditor(vscode.window.activeTextEditor);
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor(onEditor),
      runs.onDidChange(() => {
        if (this.runs.activeRuns().length > 0) this.set('runStarted');
        if (
          this.runs
            .allSweeps()
            .some((s) => ['running', 'starting'].includes(this.runs.sweepStatus(s.sweepDir) ?? ''))
        )
          this.set('sweepStarted');
      }),
    );
  }

  set(key: WalkthroughKey): void {
    if (this.done.has(key)) return;
    this.done.add(key);
    void vscode.commands.executeCommand('setContext', `annealKd.walkthrough.${key}`, true);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

/** The walkthrough's first button: the workspace's first config, or the example written into it. */
export function openExample(runs: RunManager) {
  return async (): Promise<vscode.Uri | undefined> => {
    const existing = runs.configs[0];
    let file = existing;
    if (!file) {
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      if (!folder) {
        void vscode.window.showErrorMessage(
          'Anneal KD: open a folder first; the example config is written into it.',
        );
        return undefined;
      }
      file = path.join(folder, 'mnist-example.akd.json');
      if (!fs.existsSync(file))
        await fs.promises.writeFile(file, experimentTemplate('mnist-example'), { flag: 'wx' });
    }
    const uri = vscode.Uri.file(file);
    await vscode.window.showTextDocument(uri);
    return uri;
  };
}
