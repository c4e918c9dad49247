/**
 * Entry of dist/extension.js. Activation only wires things up: the language server starts
 * without being awaited, runs are read from disk in the background. The extension never trains;
 * it spawns the runner (`bin/akd.js`) and reads its events.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { registerCommands } from './commands';
import type { Ctx } from './context';
import { DashboardPanel } from './dashboard/dashboardPanel';
import { ExperimentsPanel } from './experiments/experimentsPanel';
import { ConfigCodeLensProvider } from './inline/codeLens';
import { ResultsHoverProvider } from './inline/resultsHover';
import { formatAccuracy } from './inline/resultFormat';
import { AKD_LANGUAGE_ID, createLanguageClient } from './languageClient';
import { RunManager } from './runs/runManager';
import { readSettings } from './settings';
import { RUN_LOG_SCHEME, RunLogDocumentProvider } from './views/runLogDocument';
import { RunsTreeProvider } from './views/runsTree';
import { RunStatusBar } from './views/statusBar';
import { Walkthrough } from './walkthrough';

/** What activate() returns: for the host test suites and other extensions. */
export interface AnnealKdApi {
  runs: RunManager;
  tree: RunsTreeProvider;
  statusBar: RunStatusBar;
  dashboard: DashboardPanel;
  experiments: ExperimentsPanel;
  walkthrough: Walkthrough;
  /** Resolves once the language client is running (rejects if it failed to start). */
  clientReady: Promise<void>;
}

let client: LanguageClient | undefined;

export function activate(context: vscode.ExtensionContext): AnnealKdApi {
  const log = vscode.window.createOutputChannel('Anneal KD', { log: true });
  let settings = readSettings();
  const runs = new RunManager({
    runnerScript: context.asAbsolutePath('bin/akd.js'),
    node: () => settings.nodePath || process.execPath,
    maxConcurrentRuns: () => settings.maxConcurrentRuns,
    stopTimeoutMs: () => settings.stopTimeoutSeconds * 1000,
    isTrusted: () => vscode.workspace.isTrusted,
    launcher: () => settings.launcher,
    queueAutoStart: () => settings.queueAutoStart,
    log,
  });
  client = createLanguageClient(context, () => settings.validationEnabled);
  const ctx: Ctx = {
    extension: context,
    log,
    runs,
    client,
    settings: () => settings,
    push: (...d) => {
      context.subscriptions.push(...d);
    },
  };
  ctx.push(log, runs);

  const tree = new RunsTreeProvider(runs);
  const view = vscode.window.createTreeView('annealKd.runs', {
    treeDataProvider: tree,
    showCollapseAll: true,
    // Delete several runs at once (Delete Run takes the selection).
    canSelectMany: true,
  });
  const codeLens = new ConfigCodeLensProvider(
    runs,
    () => settings.codeLensEnabled,
    () => settings.codeLensExperiments,
  );
  const statusBar = new RunStatusBar(runs, () => settings.statusBarEnabled);
  const walkthrough = new Walkthrough(runs);
  const dashboard = new DashboardPanel(runs, {
    extensionUri: context.extensionUri,
    log,
    onDidOpen: () => walkthrough.set('dashboardOpened'),
    testHooks: context.extensionMode !== vscode.ExtensionMode.Production,
  });
  const experiments = new ExperimentsPanel(runs, {
    extensionUri: context.extensionUri,
    log,
    onDidOpen: () => walkthrough.set('experimentsOpened'),
    workspaceState: context.workspaceState,
    testHooks: context.extensionMode !== vscode.ExtensionMode.Production,
  });
  const selector: vscode.DocumentSelector = { language: AKD_LANGUAGE_ID };
  ctx.push(
    tree,
    view,
    codeLens,
    statusBar,
    dashboard,
    experiments,
    walkthrough,
    vscode.languages.registerCodeLensProvider(selector, codeLens),
    vscode.languages.registerHoverProvider(
      selector,
      new ResultsHoverProvider(runs, () => settings.hoverEnabled),
    ),
    vscode.workspace.registerTextDocumentContentProvider(RUN_LOG_SCHEME, new RunLogDocumentProvider(runs)),
  );
  registerCommands(ctx, dashboard, experiments);

  ctx.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('annealKd')) return;
      settings = readSettings();
      codeLens.refresh();
      statusBar.update();
      // More slots, or the queue switched on: start what waits.
      runs.queue.scheduleDrain();
    }),
  );
  // Trust granted later: nothing to redo (the gate is checked at each start), but the views
  // may show different actions.
  ctx.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      void runs.refresh();
    }),
  );

  // A notification only when a run ends, and only for completion or failure.
  ctx.push(
    runs.onDidFinish(async ({ run }) => {
      if (!settings.notificationsEnabled) return;
      if (run.status === 'completed') {
        const s = run.summary;
        const choice = await vscode.window.showInformationMessage(
          `Anneal KD: ${run.name ?? run.runId} completed · student ${formatAccuracy(s?.student.testAccuracy)} · teacher ${formatAccuracy(s?.teacher.testAccuracy)}`,
          'Open Dashboard',
          'Show Log',
        );
        if (choice === 'Open Dashboard')
          await vscode.commands.executeCommand('annealKd.openDashboard', run.runDir);
        if (choice === 'Show Log') await vscode.commands.executeCommand('annealKd.showRunLog', run.runDir);
      } else if (run.status === 'failed' || run.status === 'interrupted') {
        const choice = await vscode.window.showErrorMessage(
          `Anneal KD: ${run.name ?? run.runId} ${run.status}${run.error ? `: ${run.error}` : ''}`,
          'Show Log',
        );
        if (choice) await vscode.commands.executeCommand('annealKd.showRunLog', run.runDir);
      }
    }),
  );

  void runs.refresh();
  const clientReady = client.start().catch((e: unknown) => {
    log.error(`language server failed to start: ${String(e)}`);
    throw e;
  });
  clientReady.catch(() => {
    /* reported above; the API caller may still await it */
  });
  return { runs, tree, statusBar, dashboard, experiments, walkthrough, clientReady };
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
