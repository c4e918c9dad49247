/**
 * The experiments table's host side in the real extension host, on the runs the earlier suites
 * trained (tiny, slow, the sweep's two seeds): the rows it builds and posts to its page, groups,
 * Compare Configs in VS Code's diff editor, a run followed live, and 2,000 run folders read
 * without blocking the extension host. The page itself is checked in a real browser by
 * harness/experimentsChecks.ts.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { groupRows, varyingKeys, type ExperimentRow, type RunSummary } from '../../../runner/protocol';
import { summarize } from '../../../runner/protocol/stats';
import { removeManyRuns, writeManyRuns } from '../../helpers/manyRuns';
import { api, rowsSent, waitUntil, workspaceDir } from './helpers';

const ENDED = ['completed', 'failed', 'cancelled', 'interrupted'] as const;

function summaryOf(runDir: string): RunSummary {
  return JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as RunSummary;
}

suite('experiments', function () {
  this.timeout(180_000);

  suiteSetup(async () => {
    const { runs } = await api();
    await runs.refresh();
  });

  suiteTeardown(async () => {
    const { experiments } = await api();
    experiments.webviewPanel?.dispose();
  });

  test('experiments: Show Experiments lists every run with its varying keys and its metrics', async () => {
    const { runs, experiments } = await api();
    assert.equal(await vscode.commands.executeCommand('annealKd.showExperiments'), true);
    const panel = experiments.webviewPanel;
    assert.ok(panel, 'the table is open');
    assert.match(panel.webview.html, /Content-Security-Policy" content="default-src 'none';/);
    assert.match(panel.webview.html, /script-src 'nonce-[^']+'/);
    await waitUntil(() => experiments.timings.loadedMs !== undefined, 'the run folders read', 60_000);
    // What the page was sent: one row per run the window knows.
    const sent = await waitUntil(() => {
      const r = rowsSent(experiments.posted);
      return r.size >= runs.allRuns().length ? r : undefined;
    }, 'rows for every run');
    const completed = runs.allRuns().filter((r) => r.status === 'completed');
    assert.ok(completed.length >= 3, `completed runs from the earlier suites: ${completed.length}`);
    for (const run of completed) {
      const row = sent.get(run.runDir);
      assert.ok(row, `a row for ${run.runId}`);
      const s = summaryOf(run.runDir);
      assert.equal(row.status, 'completed');
      assert.equal(row.metrics.finalTest, s.student.testAccuracy);
      assert.equal(row.metrics.teacher, s.teacher.testAccuracy);
      assert.equal(row.metrics.studentParams, s.student.params);
      assert.equal(
        row.config.seed,
        JSON.parse(fs.readFileSync(path.join(run.runDir, 'config.json'), 'utf8')).seed,
      );
    }
    // The sweep's seeds and the configs' different teachers and trainLimits are what varies.
    const keys = varyingKeys([...sent.values()]);
    assert.ok(keys.includes('seed'), keys.join(' '));
    assert.ok(keys.includes('data.trainLimit'), keys.join(' '));
    assert.ok(!keys.includes('method.type') || new Set([...sent.values()].map((r) => r.method)).size > 1);
  });

  test('experiments: grouping folds a sweep\u2019s seeds into mean ± std (akd compare\u2019s statistics)', async function () {
    const { runs, experiments } = await api();
    const sweep = runs.allSweeps().find((s) => s.name === 'sweepy');
    if (!sweep) this.skip(); // the sweeps suite did not run (AKD_TEST_GREP)
    const rows = experiments.rows.all().filter((r) => r.sweepDir === sweep!.sweepDir);
    assert.equal(rows.length, 2, 'two seeds');
    const [g] = groupRows(rows, ['run:sweep', 'run:method'], ['metric:finalTest']);
    assert.equal(g.n, 2);
    const accs = rows.map((r) => summaryOf(r.runDir).student.testAccuracy as number);
    const s = summarize(accs);
    assert.ok(Math.abs(g.stats['metric:finalTest'].mean - s.mean) < 1e-12);
    assert.ok(Math.abs(g.stats['metric:finalTest'].std - Math.abs(accs[0] - accs[1]) / Math.SQRT2) < 1e-12);
    // The page's choice of groups is kept by the extension (the next panel opens grouped).
    const state = { ...experiments.viewState, groupBy: ['run:sweep', 'run:method'] };
    await experiments.handleMessage({ type: 'state', state });
    assert.deepEqual(experiments.viewState.groupBy, ['run:sweep', 'run:method']);
    await experiments.handleMessage({ type: 'state', state: { ...state, groupBy: [] } });
  });

  test("experiments: Compare Configs opens VS Code's diff editor on two runs' resolved config.json", async () => {
    const { runs, experiments } = await api();
    const [a, b] = runs.allRuns().filter((r) => r.status === 'completed');
    assert.ok(a && b, 'two completed runs');
    await experiments.handleMessage({ type: 'action', action: 'diffConfigs', runDirs: [a.runDir, b.runDir] });
    const tab = await waitUntil(() => {
      const t = vscode.window.tabGroups.activeTabGroup.activeTab;
      return t?.input instanceof vscode.TabInputTextDiff ? t : undefined;
    }, 'a diff editor');
    const input = tab.input as vscode.TabInputTextDiff;
    assert.equal(input.original.fsPath, path.join(a.runDir, 'config.json'));
    assert.equal(input.modified.fsPath, path.join(b.runDir, 'config.json'));
    assert.match(tab.label, /config\.json/);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    // Malformed or unknown: refused, counted, and the panel keeps working.
    const before = experiments.rejectedCount;
    await experiments.handleMessage({ type: 'action', action: 'diffConfigs', runDirs: ['/etc'] });
    await experiments.handleMessage({ type: 'action', action: 'rm -rf', runDirs: [a.runDir] });
    await experiments.handleMessage({ type: 'exportPng', plot: 'scatter', dataUrl: 'javascript:1' });
    assert.equal(experiments.rejectedCount, before + 3);
  });

  test('experiments: a running run updates live (status, phase, temperature, epoch, then its result)', async () => {
    const { runs, experiments } = await api();
    await vscode.commands.executeCommand('annealKd.showExperiments');
    // tiny.akd.json's whole anneal phase can take less than the table's 250 ms between row updates
    // on a quiet machine, so the page may never be shown it: a run whose phases last seconds.
    const file = path.join(workspaceDir(), 'live.akd.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        name: 'live',
        seed: 1,
        data: { dataset: 'mnist', trainLimit: 10000, testLimit: 500 },
        teacher: {
          model: { type: 'mlp', hidden: [32] },
          epochs: 1,
          optimizer: { type: 'adam', learningRate: 0.003 },
        },
        student: { model: { type: 'mlp', hidden: [8] } },
        method: {
          type: 'annealing',
          tauMax: 2,
          phase1: { epochs: 20, optimizer: { type: 'adam', learningRate: 0.003 } },
          phase2: { epochs: 1, optimizer: { type: 'adam', learningRate: 0.003 } },
        },
        batchSize: 64,
      }),
    );
    const uri = vscode.Uri.file(file);
    const from = experiments.posted.length;
    const runDir = await vscode.commands.executeCommand<string | undefined>('annealKd.runExperiment', uri);
    assert.ok(runDir);
    const seen = (pred: (r: ExperimentRow) => boolean): ExperimentRow | undefined => {
      for (const m of experiments.posted.slice(from)) {
        const rows = m.type === 'rows' ? m.upsert : m.type === 'init' ? m.rows : [];
        const r = rows.find((x) => x.runDir === runDir && pred(x));
        if (r) return r;
      }
      return undefined;
    };
    const running = await waitUntil(
      () => seen((r) => r.status === 'running' && r.phase !== undefined),
      'a running row',
      60_000,
    );
    assert.equal(running.name, 'live');
    assert.equal(running.config['method.tauMax'], 2, 'its settings come with it while it trains');
    await waitUntil(
      () => seen((r) => r.phase === 'anneal' && r.temperature !== undefined),
      'the row in the anneal phase with its T',
      60_000,
    );
    const done = await runs.waitFor(runDir, [...ENDED], 120_000);
    fs.rmSync(file, { force: true }); // later suites count the workspace's configs
    assert.equal(done.status, 'completed', done.error);
    const final = await waitUntil(
      () => seen((r) => r.status === 'completed' && r.metrics.finalTest !== null),
      'the completed row with its result',
      20_000,
    );
    assert.equal(final.metrics.finalTest, summaryOf(runDir).student.testAccuracy);
    assert.equal(final.phase, undefined);
  });

  test('experiments: 2,000 run folders are read in batches that never block the extension host', async () => {
    const { runs, experiments } = await api();
    const dir = path.join(workspaceDir(), 'scale');
    // Closed while the runs appear: the table reads all 2,000 folders when it opens, not before.
    experiments.webviewPanel?.dispose();
    fs.mkdirSync(dir, { recursive: true });
    const t0 = Date.now();
    writeManyRuns({ dir, count: 2000 });
    const writeMs = Date.now() - t0;
    try {
      // The run manager finds them (its own reading of events.jsonl, before the table's).
      const t1 = Date.now();
      await runs.refresh();
      const discoveryMs = Date.now() - t1;
      assert.ok(runs.allRuns().length >= 2000);
      // Event-loop lag while the table reads 2,000 config.json + summary.json.
      let lag = 0;
      let last = Date.now();
      const ticker = setInterval(() => {
        const now = Date.now();
        lag = Math.max(lag, now - last - 10);
        last = now;
      }, 10);
      experiments.rows.maxBatchMs = 0;
      await vscode.commands.executeCommand('annealKd.showExperiments');
      await waitUntil(() => (experiments.timings.rows ?? 0) >= 2000, '2,000 rows', 60_000);
      clearInterval(ticker);
      const { loadedMs, initMs } = experiments.timings;
      // From the page's `ready` to every row read: the extension's part. Before it, VS Code creates
      // the panel and the browser loads the page (the UI check times the whole, command to drawn).
      const readMs = (loadedMs ?? Infinity) - (initMs ?? 0);
      console.log(
        `    2,000 runs: written in ${writeMs} ms; run discovery ${discoveryMs} ms; panel ready after ${initMs} ms, then every row read in ${readMs} ms; longest batch ${experiments.rows.maxBatchMs} ms; worst event-loop lag ${lag} ms; load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`,
      );
      assert.ok(readMs < 2000, `read in ${readMs} ms`);
      // 250 ms on an idle machine. On a shared one (load above the core count) the host gets about
      // cores/load of a core, so a CPU-bound stall stretches by load/cores: so does the budget.
      const budget = 250 * Math.max(1, os.loadavg()[0] / os.cpus().length);
      assert.ok(lag < budget, `the extension host stalled ${lag} ms (budget ${Math.round(budget)} ms)`);
    } finally {
      experiments.webviewPanel?.dispose();
      removeManyRuns({ dir });
      fs.rmSync(dir, { recursive: true, force: true });
      await runs.refresh();
    }
  });
});
