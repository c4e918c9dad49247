/**
 * The dashboard, end to end in a real browser: run dash.akd.json from the command palette, open
 * the dashboard, and check from inside the webview's frame (nested iframes) that the phase steps
 * reach "done", the charts hold one point per epoch, the comparison lists the runs, a PNG export
 * lands on disk, a malformed message is rejected and logged while the panel keeps working, and
 * the panel comes back after a window reload. Screenshots in the dark, light and high-contrast
 * themes go to .test-results/ (dashboard-*.png).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { attr, check, colorScheme, palette, shoot, until, webviewFrame, type UiResult } from './uiChecks';

export interface DashboardCheckOptions {
  workspace: string;
  results: string;
  /** The server's user-data folder (the output channel's log file is searched there). */
  dataDir: string;
}

/** dash.akd.json: teacher 3 epochs, anneal T = 3, 2, 1 (2 epochs each), finetune 2. */
const EXPECTED = { steps: 5, epochs: 3 + 6 + 2, phiPoints: 3 + 6 };

/** The dashboard page: the frame (nested inside the webview's host iframe) holding #steps. */
export function dashboardFrame(page: Page, timeoutMs = 30_000): Promise<Frame> {
  return webviewFrame(page, '#steps', 'the dashboard webview', timeoutMs);
}

function runDirsOf(workspace: string, name: string): string[] {
  const root = path.join(workspace, '.akd', 'runs');
  return fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((n) => n.endsWith(`-${name}`))
        .sort()
        .map((n) => path.join(root, n))
    : [];
}

function findInFiles(dir: string, needle: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const hit = findInFiles(p, needle);
      if (hit) return hit;
    } else if (entry.isFile() && entry.name.endsWith('.log') && fs.readFileSync(p, 'utf8').includes(needle)) {
      return p;
    }
  }
  return undefined;
}

/**
 * A finished run of 10,000 epochs (teacher 500, anneal T = 10..1 with 900 each, finetune 500),
 * written as its events.jsonl alone: the Runs view and the dashboard pick it up from disk.
 */
export function writeBigRun(workspace: string): string {
  const runId = '20200101-000000-big';
  const runDir = path.join(workspace, '.akd', 'runs', runId);
  fs.mkdirSync(runDir, { recursive: true });
  const t0 = Date.parse('2020-01-01T00:00:00Z');
  let t = 0;
  const lines: string[] = [];
  const emit = (e: Record<string, unknown>): void => {
    lines.push(JSON.stringify({ v: 1, time: new Date(t0 + t * 1000).toISOString(), ...e }));
  };
  const opt = { type: 'adam', learningRate: 0.001 };
  const config = {
    name: 'big',
    seed: 1,
    data: { dataset: 'mnist', trainLimit: 1000 },
    teacher: { model: { type: 'mlp', hidden: [64] }, epochs: 500, optimizer: opt },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: {
      type: 'annealing',
      tauMax: 10,
      phase1: { epochs: 9000, optimizer: opt },
      phase2: { epochs: 500, optimizer: opt },
    },
  };
  const teacher = { type: 'mlp', params: 50890, source: 'trained' };
  const student = { type: 'mlp', params: 6370, source: 'trained' };
  emit({
    type: 'run-started',
    runId,
    runDir,
    configPath: path.join(workspace, 'big.akd.json'),
    config,
    backend: 'wasm',
    teacher,
    student,
    data: { train: 1000, validation: 100, test: 500, inputShape: [28, 28, 1], classes: 10 },
    pid: 999999,
  });
  const epoch = (phase: string, n: number, epochs: number, extra: Record<string, unknown> = {}): void => {
    t += 1;
    const x = n / epochs;
    emit({
      type: 'epoch-ended',
      phase,
      epoch: n,
      epochs,
      loss: 1 / (1 + 5 * x) + 0.02 * Math.sin(n / 7),
      trainAccuracy: 0.6 + 0.3 * x,
      valAccuracy: 0.55 + 0.3 * x + 0.02 * Math.sin(n / 11),
      samplesPerSecond: 900 + 100 * Math.sin(n / 50),
      lr: 0.001,
      seconds: 1,
      ...extra,
    });
  };
  emit({ type: 'phase-started', phase: 'teacher', epochs: 500 });
  for (let n = 1; n <= 500; n++) epoch('teacher', n, 500);
  for (let step = 0; step < 10; step++) {
    const temperature = 10 - step;
    const phi = (10 - temperature + 1) / 10;
    emit({ type: 'phase-started', phase: 'anneal', epochs: 900, temperature, phi, step, steps: 10 });
    for (let n = step * 900 + 1; n <= (step + 1) * 900; n++) epoch('anneal', n, 9000, { temperature, phi });
  }
  emit({ type: 'phase-started', phase: 'finetune', epochs: 500 });
  for (let n = 1; n <= 500; n++) epoch('finetune', n, 500);
  emit({
    type: 'run-completed',
    summary: {
      runId,
      name: 'big',
      status: 'completed',
      backend: 'wasm',
      method: 'annealing',
      teacher: { ...teacher, testAccuracy: 0.95 },
      student: { ...student, testAccuracy: 0.86 },
      compression: 50890 / 6370,
      phases: [],
      startedAt: new Date(t0).toISOString(),
      endedAt: new Date(t0 + t * 1000).toISOString(),
      seconds: t,
    },
  });
  fs.writeFileSync(path.join(runDir, 'events.jsonl'), lines.join('\n') + '\n');
  return runDir;
}

export async function dashboardChecks(page: Page, o: DashboardCheckOptions): Promise<UiResult[]> {
  const results: UiResult[] = [];
  const shot = (name: string): string => path.join(o.results, name);
  await page.setViewportSize({ width: 1400, height: 1050 });
  let runDir = '';
  let frame: Frame | undefined;

  const started = await check(
    results,
    'dashboard: Run Experiment from the palette, Open Dashboard follows the run live',
    async () => {
      await colorScheme(page, 'dark');
      const before = runDirsOf(o.workspace, 'dash');
      await palette(page, 'dash.akd.json', true);
      await page
        .locator('.tabs-container .tab', { hasText: 'dash.akd.json' })
        .first()
        .waitFor({ timeout: 20_000 });
      await page.waitForTimeout(1500); // the language server's diagnostics (Run refuses a config with errors)
      await palette(page, 'Anneal KD: Run Experiment');
      runDir = await until(
        async () => runDirsOf(o.workspace, 'dash').find((d) => !before.includes(d)),
        'the run folder',
        60_000,
      );
      await palette(page, 'View: Close Primary Side Bar');
      await palette(page, 'Anneal KD: Open Dashboard');
      frame = await dashboardFrame(page);
      const f = frame;
      await until(async () => (await attr(f, 'body', 'data-status')) === 'running', 'status running', 60_000);
      await until(
        async () => (await f.$('#steps li[data-state="running"]')) !== null,
        'a running step',
        30_000,
      );
      // The first epoch on the chart, then the picture of a run in progress.
      await until(
        async () => Number(await attr(f, '#chart-metrics', 'data-points')) >= 1,
        'a first epoch point',
        90_000,
      );
      const title = await f.textContent('#title');
      if (title !== 'dash') throw new Error(`dashboard title "${title}"`);
      await shoot(page, shot('dashboard-dark-running.png'));
    },
  );

  if (started && frame) {
    const f = frame;
    await check(
      results,
      'dashboard: the phase steps reach done and the charts hold one point per epoch',
      async () => {
        await until(
          async () => (await attr(f, 'body', 'data-status')) === 'completed',
          'status completed',
          180_000,
          500,
        );
        await until(
          async () => (await attr(f, '#steps', 'data-done')) === String(EXPECTED.steps),
          `${EXPECTED.steps} steps done`,
          10_000,
        );
        const states = await f.$$eval('#steps li', (lis) =>
          lis.map((li) => `${li.getAttribute('data-step')}:${li.getAttribute('data-state')}`),
        );
        if (states.length !== EXPECTED.steps || states.some((s) => !s.endsWith(':done')))
          throw new Error(`steps ${states.join(' ')}`);
        if (states.join(' ') !== 'teacher:done anneal-0:done anneal-1:done anneal-2:done finetune:done')
          throw new Error(`steps ${states.join(' ')}`);
        await until(
          async () =>
            (await attr(f, '#chart-metrics', 'data-counts')) ===
            // Each loss on its own series (MSE on its own scale), then the accuracies.
            `cross-entropy:${EXPECTED.epochs},anneal MSE (Phi(T)-scaled logits):${EXPECTED.epochs},val acc:${EXPECTED.epochs},train acc:${EXPECTED.epochs}`,
          `${EXPECTED.epochs} points per metric series`,
          10_000,
        );
        const phi = Number(await attr(f, '#chart-phi', 'data-points'));
        if (phi !== EXPECTED.phiPoints)
          throw new Error(`Phi(T) chart has ${phi} points, expected ${EXPECTED.phiPoints}`);
        // The time axis never repeats a label ("4s 4s 4.1s" was a tick every 0.05 s to one decimal).
        for (const id of ['phi', 'throughput']) {
          const ticks = ((await attr(f, `#chart-${id}`, 'data-x-ticks')) ?? '').split('|').filter(Boolean);
          if (ticks.length < 2 || new Set(ticks).size !== ticks.length)
            throw new Error(`${id} chart's time axis reads ${ticks.join(' ')}`);
        }
        const protocol = await f.textContent('#fact-protocol dd');
        if (!/held-out/.test(protocol ?? '')) throw new Error(`protocol "${protocol}"`);
        const throughput = Number(await attr(f, '#chart-throughput', 'data-points'));
        if (throughput < EXPECTED.epochs) throw new Error(`throughput chart has ${throughput} points`);
        const rendered = Number(await attr(f, '#chart-metrics', 'data-rendered'));
        if (rendered !== EXPECTED.epochs) throw new Error(`metrics chart drew ${rendered} points`);
        const student = await f.textContent('#fact-student-acc dd');
        if (!/^\d+\.\d\d%$/.test(student ?? '')) throw new Error(`student accuracy "${student}"`);
        const compression = await f.textContent('#fact-compression dd');
        if (!/^\d+\.\d×$/.test(compression ?? '')) throw new Error(`compression "${compression}"`);
        await shoot(page, shot('dashboard-dark.png'));
      },
    );

    await check(
      results,
      'dashboard: the comparison table lists the runs, and Compare redraws it for the ticked ones',
      async () => {
        await until(
          async () => Number(await attr(f, '#compare-table', 'data-rows')) >= 2,
          'comparison rows',
          20_000,
        );
        const dirs = await f.$$eval('#compare-table tr[data-run-dir]', (rows) =>
          rows.map((r) => r.getAttribute('data-run-dir') ?? ''),
        );
        if (!dirs.includes(runDir))
          throw new Error(`the dash run is not in the comparison: ${dirs.join(', ')}`);
        for (const d of dirs)
          if (!fs.existsSync(path.join(d, 'events.jsonl')))
            throw new Error(`comparison lists ${d}, not a run`);
        const counts = await attr(f, '#chart-compare', 'data-series');
        if (Number(counts) !== dirs.length)
          throw new Error(`comparison chart has ${counts} series for ${dirs.length} runs`);
        // Untick the first run (keyboard: focus, Space), Compare: one row fewer.
        const first = f
          .locator('#compare-choices vscode-checkbox[checked], #compare-choices vscode-checkbox.checked')
          .first();
        await first.focus();
        await page.keyboard.press('Space');
        await f.locator('#compare-button').click();
        await until(
          async () => Number(await attr(f, '#compare-table', 'data-rows')) === dirs.length - 1,
          `${dirs.length - 1} rows after unticking one`,
          20_000,
        );
        await f.evaluate('document.getElementById("compare").scrollIntoView()');
        await shoot(page, shot('dashboard-compare-dark.png'));
        await f.evaluate('window.scrollTo(0, 0)');
      },
    );

    await check(results, 'dashboard: Export PNG saves the chart through the save dialog', async () => {
      const target = path.join(runDir, 'metrics.png');
      await f.locator('#export-metrics').click();
      await page.locator('.quick-input-widget input').waitFor({ timeout: 15_000 });
      await page.waitForTimeout(500);
      await page.keyboard.press('Enter'); // the default: <run folder>/metrics.png
      await until(
        async () => fs.existsSync(target) && fs.statSync(target).size > 1000,
        'metrics.png on disk',
        20_000,
      );
      const magic = fs.readFileSync(target).subarray(0, 8).toString('hex');
      if (magic !== '89504e470d0a1a0a') throw new Error(`metrics.png is not a PNG (${magic})`);
    });

    await check(
      results,
      'dashboard: Export Student… (int8) from the summary: the dialogs, the verified result, the file listed',
      async () => {
        const target = path.join(runDir, 'export', 'student.int8.onnx');
        await f.locator('#action-exportStudent').click();
        const input = page.locator('.quick-input-widget input');
        await input.waitFor({ timeout: 15_000 });
        await input.fill('int8'); // the QuickPick: ONNX, int8 (static)
        await page.keyboard.press('Enter');
        await page.waitForTimeout(1000); // then the save dialog, at <run>/export/student.int8.onnx
        await page.keyboard.press('Enter');
        await until(async () => fs.existsSync(target), 'student.int8.onnx on disk', 90_000, 500);
        await page
          .locator('.notifications-toasts', { hasText: 'exported student.int8.onnx' })
          .first()
          .waitFor({ timeout: 30_000 });
        const listed = await until(
          async () => {
            const text = (await f.textContent('#exports')) ?? '';
            return /student\.int8\.onnx · [\d.]+ kB · int8 \(0\.\d\d× fp32\) · test/.test(text) && text;
          },
          'the export in the dashboard summary',
          30_000,
        );
        console.log(`    listed: ${listed}`);
        await f.evaluate('document.getElementById("summary").scrollIntoView()');
        await shoot(page, shot('dashboard-export-dark.png'));
        await f.evaluate('window.scrollTo(0, 0)');
      },
    );

    await check(
      results,
      'dashboard: readable in a narrow editor column (one column, no sideways scrolling)',
      async () => {
        await page.setViewportSize({ width: 560, height: 1050 });
        await page.waitForTimeout(1000);
        const overflow = await f.evaluate(
          'document.documentElement.scrollWidth - document.documentElement.clientWidth',
        );
        if (Number(overflow) > 1) throw new Error(`the page scrolls sideways by ${String(overflow)} px`);
        // Charts shown (the per-method chart's card is hidden while the comparison has no groups).
        const widths = await f.$$eval('canvas', (cs) =>
          cs.filter((c) => !c.closest('[hidden]')).map((c) => c.getBoundingClientRect().width),
        );
        const page0 = Number(await f.evaluate('document.documentElement.clientWidth'));
        if (widths.some((w) => w > page0 || w < page0 * 0.6))
          throw new Error(`chart widths ${widths.join(', ')} in a ${page0} px page`);
        await shoot(page, shot('dashboard-narrow-dark.png'));
        await page.setViewportSize({ width: 1400, height: 1050 });
        await page.waitForTimeout(500);
      },
    );

    await check(
      results,
      'dashboard: light and high-contrast themes (colours re-read from the --vscode-* variables)',
      async () => {
        if ((await attr(f, 'body', 'data-theme')) !== 'dark')
          throw new Error(`the webview was not dark before: ${await attr(f, 'body', 'data-theme')}`);
        const darkBackground = await f.evaluate('getComputedStyle(document.body).backgroundColor');
        await colorScheme(page, 'light');
        await until(
          async () => (await attr(f, 'body', 'data-theme')) === 'light',
          'the light theme in the webview',
          30_000,
        );
        const lightBackground = await f.evaluate('getComputedStyle(document.body).backgroundColor');
        if (lightBackground === darkBackground)
          throw new Error(`the background stayed ${String(lightBackground)}`);
        await page.waitForTimeout(500);
        await shoot(page, shot('dashboard-light.png'));
        await colorScheme(page, 'high-contrast');
        await until(
          async () => (await attr(f, 'body', 'data-theme')) === 'high-contrast',
          'the high-contrast theme in the webview',
          30_000,
        );
        await page.waitForTimeout(500);
        await shoot(page, shot('dashboard-high-contrast.png'));
        await colorScheme(page, 'light');
      },
    );

    await check(
      results,
      'dashboard: a malformed message from the webview is rejected and logged, and the panel keeps working',
      async () => {
        // The page's test hook (data-test-hooks: the extension runs in development mode here).
        await f.evaluate('window.akdTestPost({ type: "action", action: "rm -rf", runDir: "/" })');
        await until(
          async () => (await attr(f, 'body', 'data-rejected')) === '1',
          'the rejection reaching the page',
          15_000,
        );
        const notice = await f.textContent('#notice');
        if (!/ignored a malformed message/.test(notice ?? '')) throw new Error(`notice "${notice}"`);
        await until(
          async () => findInFiles(o.dataDir, 'rejected a malformed message from the webview'),
          'the line in the Anneal KD output channel log',
          20_000,
          500,
        );
        // Still working: Show Log reaches the extension and opens the run's log.
        await f.locator('#action-showRunLog').click();
        await page.locator('.tabs-container .tab', { hasText: '.log' }).first().waitFor({ timeout: 15_000 });
      },
    );

    await check(results, 'dashboard: the panel restores itself after a window reload', async () => {
      // The dashboard in front again: with no run training, Open Dashboard keeps the run it shows
      // (dash, from the checks above). If another run shows, pick dash in the page: a state set
      // just before the reload may not be saved by the browser in time (CI once restored
      // "sweepy", the run the palette had switched to, after dash was picked).
      await palette(page, 'Anneal KD: Open Dashboard');
      const f0 = await dashboardFrame(page, 30_000);
      if ((await f0.textContent('#title')) !== 'dash') {
        await f0.locator('#run-picker').click();
        await f0.locator('#run-picker vscode-option', { hasText: 'dash ' }).first().click();
      }
      await until(
        async () =>
          (await f0.textContent('#title')) === 'dash' &&
          (await attr(f0, 'body', 'data-status')) === 'completed',
        'the dash run shown before the reload',
        30_000,
      );
      await page.waitForTimeout(1500); // the page's setState reaches the workbench
      await page.reload();
      await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
      const g = await dashboardFrame(page, 60_000);
      await until(
        async () => (await attr(g, 'body', 'data-status')) === 'completed',
        'the restored dashboard showing the run',
        30_000,
      );
      const title = await g.textContent('#title');
      if (title !== 'dash') throw new Error(`restored dashboard shows "${title}"`);
      frame = g;
    });

    await check(
      results,
      'dashboard: a run of 10,000 epochs, picked in the run dropdown, draws at once (LTTB keeps the drawn points few)',
      async () => {
        const g = await dashboardFrame(page);
        const bigDir = writeBigRun(o.workspace);
        await until(
          async () =>
            (await g.$$eval('#run-picker vscode-option', (os) => os.map((x) => x.textContent ?? ''))).some(
              (t) => t.startsWith('big '),
            ),
          'the run in the dropdown',
          30_000,
        );
        await g.locator('#run-picker').click();
        await g.locator('#run-picker vscode-option', { hasText: 'big ' }).first().click();
        await until(async () => (await g.textContent('#title')) === 'big', 'the big run selected', 30_000);
        await until(
          async () => (await attr(g, '#chart-metrics', 'data-points')) === '10000',
          '10,000 epochs on the chart',
          30_000,
        );
        const rendered = Number(await attr(g, '#chart-metrics', 'data-rendered'));
        const width = await g.$eval('#chart-metrics', (c) => c.getBoundingClientRect().width);
        if (!(rendered < 10_000 && rendered <= Math.max(200, 2 * Math.round(width)) + 2))
          throw new Error(`drew ${rendered} of 10,000 points on a ${width} px canvas`);
        const ms = Number(await attr(g, 'body', 'data-full-render-ms'));
        console.log(`    10,000 epochs: ${rendered} points drawn, full render ${ms} ms`);
        if (!(ms < 1500)) throw new Error(`the full render took ${ms} ms`);
        const done = await attr(g, '#steps', 'data-done');
        if (done !== '12') throw new Error(`${done} of 12 steps done`);
        await shoot(page, shot('dashboard-10000-epochs.png'));
        fs.rmSync(bigDir, { recursive: true, force: true });
      },
    );
  }
  return results;
}
