/**
 * The dashboard panel's host: one webview panel (dist/webview/dashboard.js, its own bundle) that
 * follows the selected run's events.jsonl and answers the page's requests.
 *
 * - Contract: webview/messages.ts, both directions. The page posts `ready` first; only then is
 *   `init` posted. Every incoming message is validated; a malformed one is logged to the Anneal KD
 *   output channel, answered with `rejected`, and otherwise ignored (the panel keeps working).
 * - Strict CSP with a nonce; `localResourceRoots` is dist/webview only; no remote content.
 * - Live: appended events are batched and posted at most every FLUSH_MS (the page redraws
 *   incrementally).
 * - Restores itself after a window reload (registerWebviewPanelSerializer + the page's setState).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { receiveMessage, rejectedMessageLine, webviewPage } from '../webviewPage';
import {
  applyEvents,
  EventTail,
  initialRunState,
  isActive,
  readEvents,
  RUN_FILES,
  type RunEvent,
  type RunState,
} from '../../runner/protocol';
import {
  rejectReason,
  parseWebviewMessage,
  type ChartId,
  type ExtensionToWebview,
  type RunAction,
  type WebviewToExtension,
} from '../../webview/messages';
import { metricsCsv } from './metricsCsv';
import type { RunManager } from '../runs/runManager';
import { defaultComparison, findSweeps, runList, thinProgress } from './dashboardData';

export const DASHBOARD_VIEW_TYPE = 'annealKd.dashboard';
export const COMPARE_COMMAND = 'annealKd.compareInDashboard';

/** Folders from a command argument: a path, a Uri, a tree node ({sweepDir} / {runDir} / {dir}), or a list of them. */
function dirsFrom(arg: unknown): string[] {
  if (Array.isArray(arg)) return arg.flatMap(dirsFrom);
  if (typeof arg === 'string') return [arg];
  if (arg instanceof vscode.Uri) return [arg.fsPath];
  if (typeof arg === 'object' && arg !== null) {
    const r = arg as Record<string, unknown>;
    for (const k of ['sweepDir', 'runDir', 'dir']) if (typeof r[k] === 'string') return [r[k] as string];
  }
  return [];
}
const FLUSH_MS = 200;
const POLL_MS = 500;

export interface DashboardOptions {
  /** The panel opened (or was restored): the walkthrough's step completes. */
  onDidOpen?: () => void;
  extensionUri: vscode.Uri;
  log: vscode.LogOutputChannel;
  /** Outside production (tests, F5): the page exposes a hook to post arbitrary messages. */
  testHooks?: boolean;
  /** The save dialog (host tests replace it). */
  saveDialog?: (options: vscode.SaveDialogOptions) => Thenable<vscode.Uri | undefined>;
}

export class DashboardPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private panelDisposables: vscode.Disposable[] = [];
  private runDir: string | undefined;
  private compare: string[] | undefined;
  /** The user ticked runs and pressed Compare (or a restored panel had a choice): no more defaults. */
  private compareChosen = false;
  /** The selected run's events.jsonl, read from its start at `init`, then what was appended. */
  private follower: EventTail | undefined;
  /** Bumped per comparison asked for: a slower, older answer is dropped. */
  private comparisonSeq = 0;
  private ready = false;
  private lastRunJson = '';
  private lastListJson = '';
  private flushTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** Messages the panel rejected (for tests and the log). */
  rejectedCount = 0;
  /** Where Export PNG/CSV ask for a file (host tests replace it; no dialog there). */
  saveDialog: (options: vscode.SaveDialogOptions) => Thenable<vscode.Uri | undefined>;

  constructor(
    private readonly runs: RunManager,
    private readonly options: DashboardOptions,
  ) {
    this.saveDialog = options.saveDialog ?? ((o) => vscode.window.showSaveDialog(o));
    this.disposables.push(runs.onDidChange(() => this.scheduleFlush()));
    this.disposables.push(
      vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel, state: unknown) => {
          this.restore(panel, state);
        },
      }),
    );
    // For the Runs view's "Compare Sweep" and other callers: the dashboard's comparison of these
    // folders (runs or sweeps). Internal: no palette entry.
    this.disposables.push(
      vscode.commands.registerCommand(COMPARE_COMMAND, (arg?: unknown) => {
        const dirs = dirsFrom(arg);
        if (dirs.length === 0) return false;
        this.compareDirs(dirs);
        return true;
      }),
    );
  }

  /** Open the dashboard with these runs or sweeps ticked and compared. */
  compareDirs(dirs: string[]): void {
    this.compare = dirs.map((d) => path.resolve(d));
    this.compareChosen = true;
    this.show(this.runDir); // posts init (with the comparison) once the page is ready
  }

  /** The open panel, if any (host tests). */
  get webviewPanel(): vscode.WebviewPanel | undefined {
    return this.panel;
  }
  get selectedRunDir(): string | undefined {
    return this.runDir;
  }

  /** Show the dashboard for a run (or the empty state); one panel, reused. */
  show(runDir: string | undefined): vscode.WebviewPanel {
    if (!this.panel) {
      const panel = vscode.window.createWebviewPanel(
        DASHBOARD_VIEW_TYPE,
        'Anneal KD Dashboard',
        vscode.ViewColumn.Active,
        this.webviewOptions(),
      );
      this.attach(panel);
    }
    this.select(runDir);
    this.panel!.reveal();
    return this.panel!;
  }

  private webviewOptions(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.options.extensionUri, 'dist', 'webview')],
      retainContextWhenHidden: false, // the page asks again with `ready` when it is shown again
      enableFindWidget: true,
    };
  }

  /** After a window reload: VS Code hands back the panel and the page's last setState. */
  private restore(panel: vscode.WebviewPanel, rawState: unknown): void {
    const state = parseWebviewMessage({ type: 'state', state: rawState });
    if (this.panel) this.panel.dispose();
    panel.webview.options = this.webviewOptions();
    this.attach(panel);
    const runDir = state?.type === 'state' && state.state.runDir ? state.state.runDir : undefined;
    if (state?.type === 'state' && state.state.compare.length > 0) {
      this.compare = state.state.compare;
      this.compareChosen = true;
    }
    this.options.log.info(`dashboard: restored after a reload${runDir ? ` (${path.basename(runDir)})` : ''}`);
    this.select(runDir);
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
        this.follower = undefined;
        for (const d of this.panelDisposables) d.dispose();
        this.panelDisposables = [];
        this.stopPolling();
      }),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        void this.handleMessage(raw);
      }),
    );
  }

  /**
   * Show `runDir`; without one (the palette's Open Dashboard), a run that trains, else the run
   * already shown (bringing the dashboard to front does not switch away from what a person
   * picked), else the first run known.
   */
  private select(runDir: string | undefined): void {
    const known = runDir ? this.runs.get(runDir) : undefined;
    const shown = this.runDir && fs.existsSync(this.runDir) ? this.runDir : undefined;
    this.runDir =
      known?.runDir ?? runDir ?? this.runs.activeRuns()[0]?.runDir ?? shown ?? this.runs.allRuns()[0]?.runDir;
    if (this.runDir) this.runDir = path.resolve(this.runDir);
    this.follower = undefined;
    const run = this.currentRun();
    if (this.panel) this.panel.title = run ? `Dashboard · ${run.name ?? run.runId}` : 'Anneal KD Dashboard';
    if (this.ready) this.postInit();
  }

  /**
   * The selected run: the run manager's state of it, else (a run folder it does not follow, e.g.
   * moved or not discovered yet) its state folded from its own events, so the header never says
   * "No run selected" above a run's charts.
   */
  private currentRun(): RunState | undefined {
    if (!this.runDir) return undefined;
    return this.runs.get(this.runDir) ?? this.folded;
  }
  private folded: RunState | undefined;

  /** The last `init` posted (host tests read what the page was told). */
  lastInit: Extract<ExtensionToWebview, { type: 'init' }> | undefined;

  private post(message: ExtensionToWebview): void {
    if (message.type === 'init') this.lastInit = message;
    if (this.panel) void this.panel.webview.postMessage(message);
  }

  private items(): ReturnType<typeof runList> {
    return runList(this.runs.allRuns(), findSweeps(this.runs.configs));
  }

  /** Everything about the selected run, from the start of its events.jsonl. */
  private postInit(): void {
    let events: RunEvent[] = [];
    this.folded = undefined;
    if (this.runDir) {
      this.follower = new EventTail(path.join(this.runDir, RUN_FILES.events));
      const all = this.follower.readNew();
      if (!this.runs.get(this.runDir) && all.length > 0)
        this.folded = applyEvents(initialRunState(path.basename(this.runDir), this.runDir), all);
      events = thinProgress(all);
    }
    const run = this.currentRun() ?? null;
    const runs = this.items();
    if (!this.compareChosen || !this.compare) this.compare = defaultComparison(this.runs.allRuns());
    this.lastRunJson = JSON.stringify(run);
    this.lastListJson = JSON.stringify(runs);
    this.post({ type: 'init', runDir: this.runDir ?? null, run, events, runs, compare: this.compare });
    this.postComparison(this.compare);
    this.updatePolling();
  }

  /** `akd compare DIRS --json`: the CLI's own reading and statistics (no run reader in the extension). */
  private postComparison(dirs: string[]): void {
    if (dirs.length === 0) return;
    const seq = ++this.comparisonSeq;
    const t0 = Date.now();
    void this.runs.compare(dirs).then((data) => {
      if (seq !== this.comparisonSeq) return;
      this.options.log.info(`dashboard: compared ${data.runs.length} run(s) in ${Date.now() - t0} ms`);
      this.post({ type: 'comparison', data });
    });
  }

  private scheduleFlush(): void {
    if (this.flushTimer || !this.panel || !this.ready) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, FLUSH_MS);
  }

  /** New events of the selected run, and the run list when it changed. */
  private flush(): void {
    if (!this.panel || !this.ready) return;
    if (this.runDir && this.follower) {
      const events = this.follower.readNew();
      if (this.folded && events.length > 0) this.folded = applyEvents(this.folded, events);
      const run = this.currentRun();
      const runJson = JSON.stringify(run);
      if (run && (events.length > 0 || runJson !== this.lastRunJson)) {
        this.lastRunJson = runJson;
        this.post({ type: 'events', runDir: this.runDir, run, events });
      }
    }
    const runs = this.items();
    const listJson = JSON.stringify(runs);
    if (listJson !== this.lastListJson) {
      this.lastListJson = listJson;
      // Until the user picks, the comparison follows the newest completed runs.
      const next = this.compareChosen && this.compare ? this.compare : defaultComparison(this.runs.allRuns());
      const changed = JSON.stringify(next) !== JSON.stringify(this.compare);
      this.compare = next;
      this.post({ type: 'runs', runs, compare: next });
      if (changed) this.postComparison(next);
    }
    this.updatePolling();
  }

  /** While the selected run goes, read its file twice a second too (the run may be another window's). */
  private updatePolling(): void {
    const active = Boolean(this.panel && this.currentRun() && isActive(this.currentRun()!.status));
    if (active && !this.pollTimer) this.pollTimer = setInterval(() => this.scheduleFlush(), POLL_MS);
    else if (!active) this.stopPolling();
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /** Validate, then act. Public for the host tests. */
  handleMessage(raw: unknown): Promise<void> {
    return receiveMessage(raw, {
      panel: 'dashboard',
      parse: parseWebviewMessage,
      rejectReason,
      reject: (r, why) => this.reject(r, why),
      act: (m) => this.act(m),
      log: this.options.log,
      notifyError: (text) => this.post({ type: 'notice', level: 'error', text }),
    });
  }

  private reject(raw: unknown, reason: string): void {
    this.rejectedCount++;
    this.options.log.warn(rejectedMessageLine('dashboard', raw, reason));
    this.post({ type: 'rejected', reason });
  }

  private knownRun(runDir: string): RunState | undefined {
    return this.runs.get(runDir);
  }

  private async act(message: WebviewToExtension): Promise<void> {
    switch (message.type) {
      case 'ready':
        this.ready = true;
        if (!this.runDir && message.state?.runDir && this.knownRun(message.state.runDir))
          this.runDir = path.resolve(message.state.runDir);
        this.postInit();
        return;
      case 'state':
        // The page's own view state (what the user ticked); kept for the next `init`.
        this.compare = message.state.compare;
        this.compareChosen = true;
        return;
      case 'selectRun':
        if (!this.knownRun(message.runDir)) return this.reject(message, 'selectRun: not a known run');
        this.select(message.runDir);
        return;
      case 'compare': {
        const allowed = new Set([...this.items().map((i) => path.resolve(i.dir))]);
        const unknown = message.dirs.filter((d) => !allowed.has(path.resolve(d)));
        if (unknown.length > 0) return this.reject(message, `compare: ${unknown.length} unknown folder(s)`);
        this.compare = message.dirs;
        if (message.dirs.length === 0) {
          this.comparisonSeq++;
          this.post({ type: 'comparison', data: { runs: [], groups: [], errors: [] } });
        } else this.postComparison(message.dirs);
        return;
      }
      case 'action': {
        const run = this.knownRun(message.runDir);
        if (!run) return this.reject(message, 'action: not a known run');
        return this.runAction(message.action, run);
      }
      case 'exportPng': {
        const base64 = message.dataUrl.slice(message.dataUrl.indexOf(',') + 1);
        await this.save(
          `${message.chart}.png`,
          { 'PNG image': ['png'] },
          Buffer.from(base64, 'base64'),
          message.chart,
        );
        return;
      }
    }
  }

  private async runAction(action: RunAction, run: RunState): Promise<void> {
    switch (action) {
      case 'stopRun':
      case 'resumeRun':
      case 'showRunLog':
      case 'revealRunFolder':
      case 'exportStudent':
        await vscode.commands.executeCommand(`annealKd.${action}`, run.runDir);
        this.scheduleFlush();
        return;
      case 'rerun': {
        if (!run.configPath) throw new Error('this run does not say which config it came from');
        const newRun = await vscode.commands.executeCommand<string | undefined>(
          'annealKd.runExperiment',
          vscode.Uri.file(run.configPath),
        );
        if (newRun) this.select(newRun);
        return;
      }
      case 'openConfig': {
        if (!run.configPath || !fs.existsSync(run.configPath)) {
          // The config moved or was deleted: the copy the run recorded.
          await vscode.window.showTextDocument(vscode.Uri.file(path.join(run.runDir, RUN_FILES.config)));
          return;
        }
        await vscode.window.showTextDocument(vscode.Uri.file(run.configPath));
        return;
      }
      case 'exportCsv': {
        const csv = metricsCsv(readEvents(path.join(run.runDir, RUN_FILES.events)));
        await this.save('metrics.csv', { CSV: ['csv'] }, Buffer.from(csv, 'utf8'), 'metrics');
        return;
      }
    }
  }

  private async save(
    fileName: string,
    filters: Record<string, string[]>,
    data: Buffer,
    what: ChartId | 'metrics',
  ): Promise<void> {
    const run = this.currentRun();
    const defaultUri = vscode.Uri.file(
      path.join(run?.runDir ?? this.runs.configs[0] ?? process.cwd(), `${run ? '' : 'akd-'}${fileName}`),
    );
    const target = await this.saveDialog({
      defaultUri,
      filters,
      saveLabel: what === 'metrics' ? 'Export CSV' : 'Export PNG',
    });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, data);
    this.options.log.info(`dashboard: saved ${what} to ${target.fsPath}`);
    this.post({ type: 'notice', level: 'info', text: `Saved ${path.basename(target.fsPath)}` });
  }

  private html(webview: vscode.Webview): string {
    return webviewPage(webview, {
      extensionUri: this.options.extensionUri,
      bundle: 'dashboard',
      title: 'Anneal KD Dashboard',
      testHooks: Boolean(this.options.testHooks),
    });
  }

  dispose(): void {
    this.stopPolling();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const d of this.disposables) d.dispose();
    this.panel?.dispose();
  }
}
