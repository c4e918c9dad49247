/**
 * Above each config: `Run` · `Sweep` (only when the config has a `sweep` block) · `Dashboard` ·
 * `Experiments` ·
 * the last result ("student 97.1% · teacher 99.0% · annealing, 3 min ago"), or `Stop` and the
 * progress while a run trains; `Experiments` once it has runs (annealKd.codeLens.experiments). Off
 * with annealKd.codeLens.enabled.
 */
import * as vscode from 'vscode';
import { hasSweepBlock } from '../runs/launcher';
import type { RunManager } from '../runs/runManager';
import { isActive } from '../../runner/protocol';
import { resultText } from './resultFormat';

export class ConfigCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly runs: RunManager,
    private readonly enabled: () => boolean,
    private readonly experiments: () => boolean = () => true,
  ) {
    this.subscription = runs.onDidChange(() => this.changed.fire());
  }

  /** Settings changed: re-ask for lenses. */
  refresh(): void {
    this.changed.fire();
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    if (!this.enabled() || document.uri.scheme !== 'file') return [];
    // On the line of the opening brace, so comments above stay readable.
    const braceLine = Math.max(0, document.positionAt(Math.max(0, document.getText().indexOf('{'))).line);
    const range = new vscode.Range(braceLine, 0, braceLine, 0);
    const runs = this.runs.runsOf(document.uri.fsPath);
    const active = runs.find((r) => isActive(r.status));
    const latest = active ?? runs[0];
    const lenses: vscode.CodeLens[] = [];
    if (active) {
      lenses.push(
        new vscode.CodeLens(range, {
          title: '$(debug-stop) Stop',
          command: 'annealKd.stopRun',
          arguments: [active.runDir],
        }),
      );
    } else {
      lenses.push(
        new vscode.CodeLens(range, {
          title: '$(play) Run',
          command: 'annealKd.runExperiment',
          arguments: [document.uri],
        }),
      );
    }
    if (hasSweepBlock(document.getText())) {
      lenses.push(
        new vscode.CodeLens(range, {
          title: '$(run-all) Sweep',
          tooltip: "Run the config's sweep grid (akd sweep)",
          command: 'annealKd.runSweep',
          arguments: [document.uri],
        }),
      );
    }
    lenses.push(
      new vscode.CodeLens(range, {
        title: '$(graph) Dashboard',
        command: 'annealKd.openDashboard',
        arguments: latest ? [latest.runDir] : [],
      }),
    );
    if (this.experiments() && (runs.length > 0 || this.runs.sweepsOf(document.uri.fsPath).length > 0)) {
      lenses.push(
        new vscode.CodeLens(range, {
          title: '$(table) Experiments',
          tooltip: "This config's runs in the experiments table (settings and results side by side)",
          command: 'annealKd.showExperiments',
          arguments: [document.uri],
        }),
      );
    }
    if (latest) {
      lenses.push(
        new vscode.CodeLens(range, {
          title: resultText(latest),
          tooltip: `Run ${latest.runId}: show its log`,
          command: 'annealKd.showRunLog',
          arguments: [latest.runDir],
        }),
      );
    }
    return lenses;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
