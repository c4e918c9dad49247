/** The status bar item shown while a run trains: "$(sync~spin) name: anneal T=3 · epoch 2/4". */
import * as vscode from 'vscode';
import { progressText } from '../inline/resultFormat';
import type { RunManager } from '../runs/runManager';

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'annealKd.activeRun',
    vscode.StatusBarAlignment.Left,
    50,
  );
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly runs: RunManager,
    private readonly enabled: () => boolean,
  ) {
    this.item.name = 'Anneal KD: active run';
    this.subscriptions.push(runs.onDidChange(() => this.update()));
    this.update();
  }

  /** What the item shows now (undefined when hidden); for the host tests. */
  get text(): string | undefined {
    return this.visible ? this.item.text : undefined;
  }
  private visible = false;

  update(): void {
    const active = this.runs.activeRuns();
    if (!this.enabled() || active.length === 0) {
      this.item.hide();
      this.visible = false;
      return;
    }
    const run = active[0];
    const more = active.length > 1 ? ` (+${active.length - 1})` : '';
    this.item.text = `$(sync~spin) ${run.name ?? run.runId}: ${progressText(run)}${more}`;
    this.item.tooltip = `Anneal KD run ${run.runId}: open its dashboard`;
    this.item.command = {
      command: 'annealKd.openDashboard',
      title: 'Open Dashboard',
      arguments: [run.runDir],
    };
    this.item.show();
    this.visible = true;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.item.dispose();
  }
}
