/**
 * The dashboard's host side, inside the extension host: the panel follows a run, validates every
 * message from its page (unknown shapes and unknown folders are refused and counted), and exports
 * the metrics as CSV and a chart as PNG through the save dialog (replaced here). The page itself
 * is checked in a real browser by harness/dashboardChecks.ts.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { findSweeps } from '../../../extension/dashboard/dashboardData';
import { api, completedRunDir, waitUntil } from './helpers';

// A 1x1 PNG.
const PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

suite('dashboard', function () {
  this.timeout(60_000);
  let runDir: string;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-dashboard-'));

  suiteSetup(async () => {
    runDir = await completedRunDir();
  });

  suiteTeardown(async () => {
    const { dashboard } = await api();
    dashboard.saveDialog = (o) => vscode.window.showSaveDialog(o);
    dashboard.webviewPanel?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('Open Dashboard on a run shows it in one panel, titled by the run', async function () {
    this.timeout(120_000);
    const { dashboard, runs } = await api();
    dashboard.lastInit = undefined; // an earlier suite's page may have been told about this run
    assert.equal(await vscode.commands.executeCommand('annealKd.openDashboard', runDir), true);
    const panel = dashboard.webviewPanel;
    assert.ok(panel, 'a panel is open');
    assert.equal(dashboard.selectedRunDir, runDir);
    assert.match(panel.title, new RegExp(`Dashboard · ${runs.get(runDir)?.name ?? ''}`));
    assert.equal(panel.webview.options.enableScripts, true);
    const roots = (panel.webview.options.localResourceRoots ?? []).map((u) => u.fsPath);
    assert.equal(roots.length, 1);
    assert.match(roots[0], /dist[\\/]webview$/);
    assert.match(panel.webview.html, /Content-Security-Policy" content="default-src 'none';/);
    // No remote content: every URL is a webview resource (the bundle and its stylesheet).
    const urls = [...panel.webview.html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(urls.length, 2, urls.join(' '));
    for (const u of urls) assert.match(u, /vscode-(?:resource|webview|cdn)/, u);
    assert.match(panel.webview.html, /script-src 'nonce-[^']+'/);
    // Opening again reuses the panel.
    await vscode.commands.executeCommand('annealKd.openDashboard', runDir);
    assert.equal(dashboard.webviewPanel, panel);
    // The page loads and says `ready`; the panel answers with `init`. The window's first webview
    // also registers its service worker: once over 20 s in CI on a loaded 2-core machine, so the
    // wait is generous here and the next tests start from a page that answers.
    await waitUntil(
      () => dashboard.lastInit?.runDir === runDir,
      "the page's ready answered with the run's init",
      90_000,
    );
  });

  test('the header names a run the window does not follow, from its own events (never "No run selected" above its charts)', async () => {
    const { dashboard, runs } = await api();
    // A copy of a finished run outside any .akd/runs: the run manager does not know it.
    const copy = path.join(tmp, 'moved-run');
    fs.cpSync(runDir, copy, { recursive: true });
    assert.equal(runs.get(copy), undefined);
    dashboard.show(copy);
    const init = await waitUntil(
      () => (dashboard.lastInit?.runDir === copy ? dashboard.lastInit : undefined),
      'the page told about the moved run',
    );
    assert.ok(init.run, 'a run state, folded from its events');
    assert.equal(init.run.name, runs.get(runDir)?.name);
    assert.equal(init.run.status, 'completed');
    assert.ok(init.events.length > 0);
    dashboard.show(runDir);
  });

  test('Open Dashboard with no run named keeps the run it shows while no run trains', async () => {
    const { dashboard, runs } = await api();
    assert.equal(runs.activeRuns().length, 0, 'no run trains now');
    // A run that is not the first one known (which an empty Open Dashboard used to switch to).
    const first = runs.allRuns()[0]?.runDir;
    const other = runs.allRuns().find((r) => r.status === 'completed' && r.runDir !== first);
    assert.ok(other, 'two completed runs from the earlier suites');
    await vscode.commands.executeCommand('annealKd.openDashboard', other.runDir);
    assert.equal(dashboard.selectedRunDir, path.resolve(other.runDir));
    await vscode.commands.executeCommand('annealKd.openDashboard');
    assert.equal(dashboard.selectedRunDir, path.resolve(other.runDir), 'still the run picked');
    dashboard.show(runDir);
  });

  test('annealKd.compareInDashboard opens the dashboard with those runs to compare', async () => {
    const { dashboard } = await api();
    assert.equal(await vscode.commands.executeCommand('annealKd.compareInDashboard', [runDir]), true);
    assert.ok(dashboard.webviewPanel);
    assert.equal(
      await vscode.commands.executeCommand('annealKd.compareInDashboard'),
      false,
      'nothing to compare',
    );
  });

  test("a sweep compares as mean ± std over its seeds (runner/compare's grouping and statistics)", async function () {
    const { runs } = await api();
    const sweeps = findSweeps(runs.configs);
    const sweep = sweeps.find((d) => path.basename(d).includes('sweepy')) ?? sweeps[0];
    if (!sweep) this.skip(); // the sweeps suite did not run (AKD_TEST_GREP)
    // What the dashboard shows: `akd compare --json`, spawned by the run manager.
    const data = await runs.compare([sweep!]);
    assert.deepEqual(data.errors, []);
    assert.equal(data.runs.length, 2, 'both seeds');
    assert.ok(data.runs.every((r) => r.curve.length > 0 && r.finalAccuracy !== null));
    assert.equal(data.groups.length, 1);
    const g = data.groups[0];
    assert.equal(g.n, 2);
    const accs = data.runs.map((r) => r.finalAccuracy as number);
    const mean = (accs[0] + accs[1]) / 2;
    assert.ok(Math.abs((g.mean ?? NaN) - mean) < 1e-9);
    assert.ok(
      Math.abs((g.std ?? NaN) - Math.abs(accs[0] - accs[1]) / Math.SQRT2) < 1e-9,
      'sample std over the two seeds',
    );
    assert.equal(await vscode.commands.executeCommand('annealKd.compareInDashboard', sweep), true);
  });

  test('malformed messages and unknown folders are refused, and the panel keeps answering', async () => {
    const { dashboard } = await api();
    const before = dashboard.rejectedCount;
    for (const bad of [
      null,
      'ready',
      { type: 'bogus' },
      { type: 'action', action: 'deleteRun', runDir },
      { type: 'exportPng', chart: 'metrics', dataUrl: 'javascript:alert(1)' },
    ]) {
      await dashboard.handleMessage(bad);
    }
    assert.equal(dashboard.rejectedCount, before + 5);
    // Well-formed, but not a run this window knows: refused too.
    await dashboard.handleMessage({ type: 'action', action: 'revealRunFolder', runDir: os.tmpdir() });
    await dashboard.handleMessage({ type: 'selectRun', runDir: '/etc' });
    await dashboard.handleMessage({ type: 'compare', dirs: ['/etc'] });
    assert.equal(dashboard.rejectedCount, before + 8);
    await dashboard.handleMessage({ type: 'selectRun', runDir });
    assert.equal(dashboard.selectedRunDir, runDir);
  });

  test('Export CSV writes one line per epoch; Export PNG writes the decoded image', async () => {
    const { dashboard } = await api();
    const csv = path.join(tmp, 'metrics.csv');
    const png = path.join(tmp, 'chart.png');
    let asked: vscode.SaveDialogOptions | undefined;
    dashboard.saveDialog = async (o) => {
      asked = o;
      return vscode.Uri.file(o.filters?.CSV ? csv : png);
    };
    await dashboard.handleMessage({ type: 'action', action: 'exportCsv', runDir });
    assert.equal(
      path.dirname(asked?.defaultUri?.fsPath ?? ''),
      runDir,
      'the dialog starts in the run folder',
    );
    const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
    const epochs = fs
      .readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"epoch-ended"')).length;
    assert.ok(epochs > 0);
    assert.equal(lines.length, 1 + epochs);
    assert.match(lines[0], /^x,phase,epoch,epochs,temperature,phi,loss,train_accuracy,val_accuracy/);
    await dashboard.handleMessage({
      type: 'exportPng',
      chart: 'metrics',
      dataUrl: `data:image/png;base64,${PNG_BASE64}`,
    });
    assert.deepEqual(fs.readFileSync(png), Buffer.from(PNG_BASE64, 'base64'));
  });
});
