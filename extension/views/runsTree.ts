/**
 * The Runs view: each config, and under it its runs, newest first. A run shows its status icon,
 * the phase and temperature while it trains, the student's accuracy when done. The item's
 * contextValue (`akdConfig`, `akdRun.<status>`) drives the context actions in package.json.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatAccuracy, formatAgo, progressText, resultText } from '../inline/resultFormat';
import { samePath, type RunManager } from '../runs/runManager';
import type { RunDisplayStatus, RunState } from '../runs/runState';

export type RunsNode =
  | { kind: 'config'; configPath: string }
  | { kind: 'run'; runDir: string; configPath: string }
  | { kind: 'starting'; configPath: string; index: number };

const ICONS: Record<RunDisplayStatus, [string, string?]> = {
  starting: ['loading~spin'],
  running: ['sync~spin', 'charts.blue'],
  completed: ['pass-filled', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  cancelled: ['circle-slash', 'disabledForeground'],
  interrupted: ['warning', 'list.warningForeground'],
  unknown: ['question'],
};

export function statusIcon(status: RunDisplayStatus): vscode.ThemeIcon {
  const [id, color] = ICONS[status];
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}

/** "11-28 07:30:12" from a run id "20261128-073012-name" (the year is in the tooltip). */
export function runLabel(run: RunState): string {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/.exec(run.runId);
  return m ? `${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}` : run.runId;
}

export function runDescription(run: RunState): string {
  switch (run.status) {
    case 'running':
    case 'starting':
      return progressText(run);
    case 'completed':
      return `student ${formatAccuracy(run.summary?.student.testAccuracy)} · teacher ${formatAccuracy(run.summary?.teacher.testAccuracy)}`;
    default:
      return run.status;
  }
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly runs: RunManager) {
    this.subscription = runs.onDidChange(() => this.changed.fire(undefined));
  }

  /** Configs, plus the configs of runs whose config file is gone (so no run is hidden). */
  private configPaths(): string[] {
    const all = [...this.runs.configs];
    for (const r of this.runs.allRuns()) {
      if (r.configPath && !all.some((c) => samePath(c, r.configPath))) all.push(r.configPath);
    }
    return all;
  }

  getChildren(node?: RunsNode): RunsNode[] {
    if (!node) return this.configPaths().map((configPath) => ({ kind: 'config', configPath }));
    if (node.kind !== 'config') return [];
    const starting = this.runs.startingConfigs().filter((c) => samePath(c, node.configPath))
      .map((configPath, index): RunsNode => ({ kind: 'starting', configPath, index }));
    const runs = this.runs.runsOf(node.configPath).map((r): RunsNode => ({ kind: 'run', runDir: r.runDir, configPath: node.configPath }));
    return [...starting, ...runs];
  }

  getParent(node: RunsNode): RunsNode | undefined {
    return node.kind === 'config' ? undefined : { kind: 'config', configPath: node.configPath };
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    if (node.kind === 'config') return this.configItem(node.configPath);
    if (node.kind === 'starting') {
      const item = new vscode.TreeItem('starting…', vscode.TreeItemCollapsibleState.None);
      item.iconPath = statusIcon('starting');
      item.contextValue = 'akdRun.starting';
      return item;
    }
    const run = this.runs.get(node.runDir);
    if (!run) return new vscode.TreeItem(path.basename(node.runDir));
    return this.runItem(run);
  }

  private configItem(configPath: string): vscode.TreeItem {
    const uri = vscode.Uri.file(configPath);
    const hasRuns = this.runs.runsOf(configPath).length > 0 || this.runs.startingConfigs().some((c) => samePath(c, configPath));
    const item = new vscode.TreeItem(path.basename(configPath), hasRuns ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    item.id = `config:${configPath}`;
    item.resourceUri = uri;
    // The folder relative to the workspace, nothing for the workspace root.
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    item.description = folder ? path.relative(folder.uri.fsPath, path.dirname(configPath)) : path.dirname(configPath);
    item.iconPath = new vscode.ThemeIcon('beaker');
    item.contextValue = 'akdConfig';
    item.tooltip = configPath;
    item.command = { command: 'vscode.open', title: 'Open Config', arguments: [uri] };
    return item;
  }

  private runItem(run: RunState): vscode.TreeItem {
    const item = new vscode.TreeItem(runLabel(run), vscode.TreeItemCollapsibleState.None);
    item.id = `run:${run.runDir}`;
    item.description = runDescription(run);
    item.iconPath = statusIcon(run.status);
    item.contextValue = `akdRun.${run.status}`;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**${run.name ?? run.runId}** · ${run.method ?? ''} · $(${ICONS[run.status][0].replace('~spin', '')}) ${run.status}\n\n`);
    tip.appendMarkdown(`${resultText(run)}\n\n`);
    if (run.startedAt) tip.appendMarkdown(`started ${formatAgo(run.startedAt)}`);
    tip.appendMarkdown(`\n\n\`${run.runId}\``);
    item.tooltip = tip;
    item.command = { command: 'annealKd.openDashboard', title: 'Open Dashboard', arguments: [run.runDir] };
    return item;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
