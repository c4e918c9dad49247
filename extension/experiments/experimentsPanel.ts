/**
 * The experiments table's host: one webview editor (dist/webview/experiments.js, its own bundle)
 * listing every run of the workspace with its settings and results, live while runs train.
 *
 * - Contract: webview/experiments/messages.ts. The page posts `ready` first; then `init` carries
 *   the rows read so far, and `rows` what changes after (batched, at most every FLUSH_MS). Every
 *   message from the page is validated; a malformed one is logged, answered with `rejected`,
 *   and otherwise ignored.
 * - Strict CSP with a nonce; localResourceRoots is dist/webview only; no remote content.
 * - The page's view (columns, sort, filters, groups, plot) is kept in workspaceState, so the
 *   column choice persists across panels and reloads; the panel restores itself after a reload.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { receiveMessage, rejectedMessageLine, webviewPage } from '../webviewPage';
import { RUN_FILES } from '../../runner/protocol';
import {
  DEFAULT_VIEW_STATE,
  experimentsRejectReason,
  parseExperimentsMessage,
  parseViewState,
  type ExperimentsToExtension,
  type ExperimentsViewState,
  type ExtensionToExperiments,
  type RowAction,
} from '../../webview/experiments/messages';
import type { RunManager } from '../runs/runManager';
import { COMPARE_COMMAND } from '../dashboard/dashboardPanel';
import { ExperimentRows } from './experimentRows';

export const EXPERIMENTS_VIEW_TYPE = 'annealKd.experiments';
const STATE_KEY = 'annealKd.experiments.view';
const FLUSH_MS = 300;
/** While reading: rows posted at most this often. */
const LOAD_POST_MS = 250;

export interface ExperimentsOptions {
  /** The panel opened (or was restored): the walkthrough's step completes. */
  onDidOpen?: () => void;
  extensionUri: vscode.Uri;
  log: vscode.LogOutputChannel;
  workspaceState: vscode.Memento;
  testHooks?: boolean;
  saveDialog?: (options: vscode.SaveDialogOptions) => Thenable<vscode.Uri | undefined>;
}

export class ExperimentsPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private panelDisposables: vscode.Disposable[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  readonly rows: ExperimentRows;
  private ready = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Messages the panel rejected (tests, the log). */
  rejectedCount = 0;
  /** Messages posted to the page (host tests read what the table was told). */
  readonly posted: ExtensionToExperiments[] = [];
  /** When `init` was posted and when the last folder was read (ms since the panel was asked for). */
  timings: { initMs?: number; loadedMs?: number; rows?: number } = {};
  saveDialog: (options: vscode.SaveDialogOptions) => Thenable<vscode.Uri | undefined>;
  private openedAt = 0;

  constructor(
    private readonly runs: RunManager,
    private readonly options: ExperimentsOptions,
  ) {
    this.rows = new ExperimentRows(runs);
    this.saveDialog = options.saveDialog ?? ((o) => vscode.window.showSaveDialog(o));
    this.disposables.push(runs.onDidChange(() => this.scheduleFlush()));
    this.disposables.push(
      vscode.window.registerWebviewPanelSerializer(EXPERIMENTS_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel) => {
          if (this.panel) this.panel.dispose();
          panel.webview.options = this.webviewOptions();
          this.attach(panel);
          this.options.log.info('experiments: restored after a reload');
        },
      }),
    );
  }

  get webviewPanel(): vscode.WebviewPanel | undefined {
    return this.panel;
  }

  get viewState(): ExperimentsViewState {
    return parseViewState(this.options.workspaceState.get(STATE_KEY)) ?? DEFAULT_VIEW_STATE;
  }

  /** Open (or reveal) the table; `filter`: start with this text filter (e.g. a config's name). */
  show(filter?: string): vscode.WebviewPanel {
    this.openedAt = Date.now();
    this.timings = {};
    if (filter !== undefined) void this.saveViewState({ ...this.viewState, text: filter });
    if (!this.panel) {
      const panel = vscode.window.createWebviewPanel(
        EXPERIMENTS_VIEW_TYPE,
        'Experiments',
        vscode.ViewColumn.Active,
        this.webviewOptions(),
      );
      this.attach(panel);
    } else if (this.ready) {
      this.postInit();
    }
    this.panel!.reveal();
    return this.panel!;
  }

  private webviewOptions(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.options.extensionUri, 'dist', 'webview')],
      retainContextWhenHidden: false,
      enableFindWidget: true,
    };
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    this.ready = false;
    this.options.onDidOpen?.();
    panel.iconPath = vscode.Uri.joinPath(this.options.extensionUri, 'extension', 'media', 'anneal-kd.svg');
    panel.webview.html = this.html(panel.webview);
    this.panelDisposables.push(
      panel.onDidDispose(() => {
        this.panel = undefined;
        this.ready = false;
        for (const d of this.panelDisposables) d.dispose();
        this.panelDisposables = [];
      }),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        void this.handleMessage(raw);
      }),
    );
  }

  private post(message: ExtensionToExperiments): void {
    if (!this.panel) return;
    this.posted.push(message);
    if (this.posted.length > 200) this.posted.splice(0, this.posted.length - 200);
    void this.panel.webview.postMessage(message);
  }

  /** What is known now, then the folders not read yet, in batches (each batch posted as rows). */
  private postInit(): void {
    const first = this.rows.size === 0;
    this.rows.markSent();
    this.post({ type: 'init', rows: this.rows.all(), state: this.viewState, loading: true });
    this.timings.initMs = Date.now() - this.openedAt;
    let lastPost = 0;
    void this.rows
      .update((p) => {
        // Rows go to the page a few times a second while folders are read, not after every batch.
        if (p.ms - lastPost < LOAD_POST_MS) return;
        lastPost = p.ms;
        this.post({ type: 'progress', loaded: p.loaded, total: p.total, ms: p.ms });
        this.flush();
      })
      .then(() => {
        this.flush();
        this.timings.loadedMs = Date.now() - this.openedAt;
        this.timings.rows = this.rows.size;
        this.post({
          type: 'progress',
          loaded: this.rows.size,
          total: this.rows.size,
          ms: this.timings.loadedMs,
        });
        if (first)
          this.options.log.info(
            `experiments: ${this.rows.size} run(s) read in ${this.timings.loadedMs} ms (longest batch ${this.rows.maxBatchMs} ms)`,
          );
      });
  }

  private scheduleFlush(): void {
    if (this.flushTimer || !this.panel || !this.ready) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      // New runs (and runs whose status changed) are read; the rest follow the run state.
      void this.rows.update().then(() => this.flush());
    }, FLUSH_MS);
  }

  private flush(): void {
    if (!this.panel || !this.ready) return;
    const { upsert, remove } = this.rows.changes();
    if (upsert.length > 0 || remove.length > 0) this.post({ type: 'rows', upsert, remove });
  }

  /** Validate, then act. Public for the host tests. */
  handleMessage(raw: unknown): Promise<void> {
    return receiveMessage(raw, {
      panel: 'experiments',
      parse: parseExperimentsMessage,
      rejectReason: experimentsRejectReason,
      reject: (r, why) => this.reject(r, why),
      act: (m) => this.act(m),
      log: this.options.log,
      notifyError: (text) => this.post({ type: 'notice', level: 'error', text }),
    });
  }

  private reject(raw: unknown, reason: string): void {
    this.rejectedCount++;
    this.options.log.warn(rejectedMessageLine('experiments', raw, reason));
    this.post({ type: 'rejected', reason });
  }

  private saveViewState(state: ExperimentsViewState): Thenable<void> {
    return this.options.workspaceState.update(STATE_KEY, state);
  }

  private async act(message: ExperimentsToExtension): Promise<void> {
    switch (message.type) {
      case 'ready':
        this.ready = true;
        this.postInit();
        return;
      case 'state':
        await this.saveViewState(message.state);
        return;
      case 'action': {
        const known = message.runDirs.filter((d) => this.runs.get(d));
        if (known.length !== message.runDirs.length)
          return this.reject(
            message,
            `action: ${message.runDirs.length - known.length} unknown run folder(s)`,
          );
        return this.runAction(message.action, known);
      }
      case 'exportCsv':
        return this.save('experiments.csv', { CSV: ['csv'] }, Buffer.from(message.csv, 'utf8'), 'CSV');
      case 'exportPng': {
        const base64 = message.dataUrl.slice(message.dataUrl.indexOf(',') + 1);
        return this.save(
          `experiments-${message.plot}.png`,
          { 'PNG image': ['png'] },
          Buffer.from(base64, 'base64'),
          'PNG',
        );
      }
    }
  }

  /** The toolbar's actions on the selected runs: the existing commands, one run at a time. */
  async runAction(action: RowAction, runDirs: string[]): Promise<void> {
    switch (action) {
      case 'plot':
        await vscode.commands.executeCommand(COMPARE_COMMAND, runDirs);
        return;
      case 'diffConfigs': {
        if (runDirs.length !== 2) throw new Error('Compare Configs needs exactly two runs selected');
        const [a, b] = runDirs.map((d) => vscode.Uri.file(path.join(d, RUN_FILES.config)));
        await vscode.commands.executeCommand(
          'vscode.diff',
          a,
          b,
          `${path.basename(runDirs[0])} ↔ ${path.basename(runDirs[1])} (resolved config.json)`,
        );
        return;
      }
      case 'openConfig':
        for (const d of runDirs) {
          const run = this.runs.get(d);
          const file =
            run?.configPath && fs.existsSync(run.configPath)
              ? run.configPath
              : path.join(d, RUN_FILES.config);
          await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: runDirs.length === 1 });
        }
        return;
      case 'openDashboard':
        await vscode.commands.executeCommand('annealKd.openDashboard', runDirs[0]);
        return;
      case 'revealRunFolder':
        await vscode.commands.executeCommand('annealKd.revealRunFolder', runDirs[0]);
        return;
      case 'stopRun':
      case 'resumeRun':
        for (const d of runDirs) await vscode.commands.executeCommand(`annealKd.${action}`, d);
        return;
      case 'deleteRun': {
        const answer = await vscode.window.showWarningMessage(
          `Delete ${runDirs.length === 1 ? `run ${path.basename(runDirs[0])}` : `${runDirs.length} runs`}? Their folders (models, checkpoints, events) are removed from disk.`,
          { modal: true },
          'Delete',
        );
        if (answer !== 'Delete') return;
        for (const d of runDirs)
          await vscode.commands.executeCommand('annealKd.deleteRun', d, { confirm: false });
        return;
      }
    }
  }

  private async save(
    fileName: string,
    filters: Record<string, string[]>,
    data: Buffer,
    what: string,
  ): Promise<void> {
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
    const target = await this.saveDialog({
      defaultUri: vscode.Uri.file(path.join(root, fileName)),
      filters,
      saveLabel: `Export ${what}`,
    });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, data);
    this.options.log.info(`experiments: saved ${what} to ${target.fsPath}`);
    this.post({ type: 'notice', level: 'info', text: `Saved ${path.basename(target.fsPath)}` });
  }

  private html(webview: vscode.Webview): string {
    return webviewPage(webview, {
      extensionUri: this.options.extensionUri,
      bundle: 'experiments',
      title: 'Experiments',
      testHooks: Boolean(this.options.testHooks),
    });
  }

  dispose(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const d of this.disposables) d.dispose();
    this.panel?.dispose();
  }
}
