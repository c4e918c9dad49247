/**
 * The Runs view: each config, and under it its queued runs (by position), then its sweeps and
 * runs, newest first; a sweep groups its members (each shown like a run, or "pending" before it
 * starts). A run shows its status icon, the phase and temperature while it trains, the student's
 * accuracy when done, its star and note, and for a Slurm run its job id and queue state. The
 * item's contextValue (`akdConfig[.sweep]`, `akdQueued`, `akdRun.<status>[.slurm][.starred]`,
 * `akdSweep.<status>`, `akdMember.pending`) drives the context actions in package.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatAccuracy, formatAgo, progressText, resultText } from '../inline/resultFormat';
import { hasSweepBlock } from '../runs/launcher';
import { samePath, type QueuedItem, type RunManager } from '../runs/runManager';
import { queueFile, setText } from '../../runner/protocol/queue';
import {
  groupLabel,
  noteLine,
  pct,
  percent,
  REFERENCE_PROTOCOL_LABEL,
  sweepDescription,
  sweepGroups,
  type RunDisplayStatus,
  type RunState,
  type SweepDisplayStatus,
  type SweepState,
} from '../../runner/protocol';

export type RunsNode =
  | { kind: 'config'; configPath: string }
  | { kind: 'queued'; root: string; id: string; configPath: string }
  | { kind: 'run'; runDir: string; configPath: string }
  | { kind: 'starting'; configPath: string; index: number }
  | { kind: 'sweep'; sweepDir: string; configPath: string }
  | { kind: 'member'; sweepDir: string; runDir: string; memberId: string; configPath: string };

const SWEEP_ICONS: Record<SweepDisplayStatus, [string, string?]> = {
  starting: ['loading~spin'],
  running: ['sync~spin', 'charts.blue'],
  completed: ['pass-filled', 'testing.iconPassed'],
  stopped: ['debug-pause', 'list.warningForeground'],
};

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

/** Slurm's word for a job, for people: "pending (Priority)", "running on node1", "TIMEOUT (TimeLimit)". */
export function jobStateText(job: NonNullable<RunState['job']>): string {
  const state = job.state ?? 'submitted';
  const reason = job.reason && job.reason !== 'None' ? ` (${job.reason})` : '';
  if (state === 'PENDING') return `pending${reason}`;
  if (state === 'RUNNING') return `running${job.node ? ` on ${job.node}` : ''}`;
  if (state === 'COMPLETED') return 'done';
  return `${state.toLowerCase() === 'submitted' ? 'submitted' : state}${reason}`;
}

export function runDescription(run: RunState): string {
  const text = baseDescription(run);
  // A reference-protocol run's accuracy was picked on the test set: say so wherever it shows.
  return run.protocol === 'reference' ? `${text} · ${REFERENCE_PROTOCOL_LABEL}` : text;
}

function baseDescription(run: RunState): string {
  const job = run.job;
  switch (run.status) {
    case 'running':
      return job
        ? `Slurm ${job.id} ${jobStateText({ ...job, state: job.state ?? 'RUNNING' })} · ${progressText(run)}`
        : progressText(run);
    case 'starting':
      return progressText(run);
    case 'completed':
      return `student ${formatAccuracy(run.summary?.student.testAccuracy)} · teacher ${formatAccuracy(run.summary?.teacher.testAccuracy)}${job ? ` · Slurm ${job.id} ${job.final ? jobStateText(job) : 'done'}` : ''}`;
    default:
      return job ? `${run.status} · Slurm ${job.id}${job.final ? ` ${jobStateText(job)}` : ''}` : run.status;
  }
}

/** Whether a config file has a `sweep` block (read from disk; false when unreadable). */
export function configHasSweep(configPath: string): boolean {
  try {
    return hasSweepBlock(fs.readFileSync(configPath, 'utf8'));
  } catch {
    return false;
  }
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly runs: RunManager) {
    this.subscriptions = [
      runs.onDidChange(() => this.changed.fire(undefined)),
      runs.queue.onDidChange(() => this.changed.fire(undefined)),
    ];
  }

  /** A config's queued (not yet claimed) entries, in the order they will start. */
  private queuedOf(configPath: string): QueuedItem[] {
    return this.runs.queue.queued().filter((q) => samePath(q.entry.configPath, configPath));
  }

  /** Configs, plus the configs of runs whose config file is gone (so no run is hidden). */
  private configPaths(): string[] {
    const all = [...this.runs.configs];
    const owners = [
      ...this.runs
        .allRuns()
        .filter((r) => !r.sweepDir)
        .map((r) => r.configPath),
      ...this.runs.allSweeps().map((s) => s.configPath),
      ...this.runs.queue.queued().map((q) => q.entry.configPath),
    ];
    for (const c of owners) {
      if (c && !all.some((a) => samePath(a, c))) all.push(c);
    }
    return all;
  }

  getChildren(node?: RunsNode): RunsNode[] {
    if (!node) return this.configPaths().map((configPath) => ({ kind: 'config', configPath }));
    if (node.kind === 'sweep') {
      const sweep = this.runs.getSweep(node.sweepDir);
      return (sweep?.members ?? []).map((m): RunsNode => ({
        kind: 'member',
        sweepDir: node.sweepDir,
        runDir: m.runDir,
        memberId: m.id,
        configPath: node.configPath,
      }));
    }
    if (node.kind !== 'config') return [];
    const queued = this.queuedOf(node.configPath).map((q): RunsNode => ({
      kind: 'queued',
      root: q.root,
      id: q.entry.id,
      configPath: node.configPath,
    }));
    const starting = this.runs
      .startingConfigs()
      .filter((c) => samePath(c, node.configPath))
      .map((configPath, index): RunsNode => ({ kind: 'starting', configPath, index }));
    // Sweeps and runs together, newest first (both folder names start with the time).
    const dated: [string, RunsNode][] = [
      ...this.runs
        .sweepsOf(node.configPath)
        .map((s): [string, RunsNode] => [
          s.sweepId,
          { kind: 'sweep', sweepDir: s.sweepDir, configPath: node.configPath },
        ]),
      ...this.runs
        .runsOf(node.configPath)
        .map((r): [string, RunsNode] => [
          r.runId,
          { kind: 'run', runDir: r.runDir, configPath: node.configPath },
        ]),
    ];
    dated.sort((a, b) => b[0].localeCompare(a[0]));
    return [...queued, ...starting, ...dated.map(([, n]) => n)];
  }

  getParent(node: RunsNode): RunsNode | undefined {
    if (node.kind === 'config') return undefined;
    if (node.kind === 'member')
      return { kind: 'sweep', sweepDir: node.sweepDir, configPath: node.configPath };
    // queued, starting, run and sweep nodes sit under their config.
    return { kind: 'config', configPath: node.configPath };
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    if (node.kind === 'config') return this.configItem(node.configPath);
    if (node.kind === 'queued') return this.queuedItem(node);
    if (node.kind === 'sweep') {
      const sweep = this.runs.getSweep(node.sweepDir);
      return sweep ? this.sweepItem(sweep) : new vscode.TreeItem(path.basename(node.sweepDir));
    }
    if (node.kind === 'member') {
      const run = this.runs.get(node.runDir);
      if (run) {
        const item = this.runItem(run);
        item.label = node.memberId;
        return item;
      }
      const item = new vscode.TreeItem(node.memberId, vscode.TreeItemCollapsibleState.None);
      item.id = `member:${node.runDir}`;
      item.description = 'pending';
      item.iconPath = new vscode.ThemeIcon('circle-large-outline');
      item.contextValue = 'akdMember.pending';
      item.tooltip = `${node.memberId}: not started yet\n${node.runDir}`;
      return item;
    }
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
    const hasRuns =
      this.queuedOf(configPath).length > 0 ||
      this.runs.runsOf(configPath).length > 0 ||
      this.runs.sweepsOf(configPath).length > 0 ||
      this.runs.startingConfigs().some((c) => samePath(c, configPath));
    const item = new vscode.TreeItem(
      path.basename(configPath),
      hasRuns ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
    );
    item.id = `config:${configPath}`;
    item.resourceUri = uri;
    // The folder relative to the workspace, nothing for the workspace root.
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    item.description = folder
      ? path.relative(folder.uri.fsPath, path.dirname(configPath))
      : path.dirname(configPath);
    item.iconPath = new vscode.ThemeIcon('beaker');
    item.contextValue = configHasSweep(configPath) ? 'akdConfig.sweep' : 'akdConfig';
    item.tooltip = configPath;
    item.command = { command: 'vscode.open', title: 'Open Config', arguments: [uri] };
    return item;
  }

  private queuedItem(node: Extract<RunsNode, { kind: 'queued' }>): vscode.TreeItem {
    const q = this.runs.queue.find(node.root, node.id);
    const item = new vscode.TreeItem(
      q?.position !== undefined ? `queued #${q.position}` : 'queued',
      vscode.TreeItemCollapsibleState.None,
    );
    item.id = `queued:${node.root}:${node.id}`;
    const resumes = q?.entry.runDir ? `resumes ${path.basename(q.entry.runDir)}` : '';
    item.description = [setText(q?.entry ?? { set: [] }), resumes].filter(Boolean).join(' · ');
    item.iconPath = new vscode.ThemeIcon('clock');
    item.contextValue = 'akdQueued';
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(
      `**queued${q?.position !== undefined ? ` #${q.position}` : ''}** · entry \`${node.id}\`\n\n`,
    );
    if (q?.entry.set.length) tip.appendMarkdown(`\`${setText(q.entry)}\`\n\n`);
    if (q?.entry.returned) tip.appendMarkdown(`back in the queue: ${q.entry.returned}\n\n`);
    if (q?.entry.runDir) tip.appendMarkdown(`resumes \`${q.entry.runDir}\`\n\n`);
    if (q) tip.appendMarkdown(`added ${formatAgo(q.entry.addedAt)} · \`${queueFile(node.root)}\``);
    item.tooltip = tip;
    return item;
  }

  private sweepItem(sweep: SweepState): vscode.TreeItem {
    const status = this.runs.sweepStatus(sweep.sweepDir) ?? 'stopped';
    const members = this.runs.membersOf(sweep);
    const collapsed =
      status === 'running' || status === 'starting'
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(
      `sweep ${runLabel({ runId: sweep.sweepId, runDir: sweep.sweepDir, status: 'unknown' })}`,
      collapsed,
    );
    item.id = `sweep:${sweep.sweepDir}`;
    item.description = sweepDescription(sweep.members, members);
    const [icon, color] = SWEEP_ICONS[status];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    item.contextValue = `akdSweep.${status}`;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**sweep ${sweep.name}** · ${status}${sweep.slurm ? ' · Slurm' : ''}\n\n`);
    const groups = sweepGroups(sweep.members, members);
    if (groups.length > 0) {
      tip.appendMarkdown('| method | n | student (mean ± std) |\n|---|---|---|\n');
      for (const g of groups)
        tip.appendMarkdown(
          `| ${groupLabel(g)} | ${g.accuracies.length} | ${pct(g.mean)} ± ${percent(g.std)} |\n`,
        );
    }
    tip.appendMarkdown(`\n\`${sweep.sweepDir}\``);
    item.tooltip = tip;
    return item;
  }

  private runItem(run: RunState): vscode.TreeItem {
    const item = new vscode.TreeItem(runLabel(run), vscode.TreeItemCollapsibleState.None);
    item.id = `run:${run.runDir}`;
    item.description = [run.starred ? '★' : '', runDescription(run), noteLine(run.note, 40)]
      .filter(Boolean)
      .join(' · ');
    item.iconPath = statusIcon(run.status);
    item.contextValue = `akdRun.${run.status}${run.job ? '.slurm' : ''}${run.starred ? '.starred' : ''}`;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(
      `**${run.name ?? run.runId}** · ${run.method ?? ''} · $(${ICONS[run.status][0].replace('~spin', '')}) ${run.status}\n\n`,
    );
    tip.appendMarkdown(`${resultText(run)}\n\n`);
    if (run.protocol === 'reference')
      tip.appendMarkdown(
        `$(warning) ${REFERENCE_PROTOCOL_LABEL}: trained on the whole training set, checkpoints and the reported accuracy chosen on the test set (as the paper's code); not comparable with held-out runs\n\n`,
      );
    if (run.job) {
      const j = run.job;
      tip.appendMarkdown(
        `Slurm job \`${j.id}\`: ${j.state ?? 'submitted'}${j.reason && j.reason !== 'None' ? ` (${j.reason})` : ''}${j.node ? ` on ${j.node}` : ''}${j.exitCode ? `, exit code ${j.exitCode}` : ''}${j.final ? ' (final)' : ''}\n\n`,
      );
    }
    if (run.overrides)
      tip.appendMarkdown(
        `\`--set ${Object.entries(run.overrides)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(' --set ')}\`\n\n`,
      );
    if (run.note) tip.appendMarkdown(`${run.starred ? '★ ' : ''}_${run.note.replace(/[_*`]/g, '\\$&')}_\n\n`);
    if (run.startedAt) tip.appendMarkdown(`started ${formatAgo(run.startedAt)}`);
    tip.appendMarkdown(`\n\n\`${run.runId}\``);
    item.tooltip = tip;
    item.command = { command: 'annealKd.openDashboard', title: 'Open Dashboard', arguments: [run.runDir] };
    return item;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
  }
}
