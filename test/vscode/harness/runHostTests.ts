/**
 * `npm run test:vscode`: runs the host suites (test/vscode/suite) inside a real VS Code extension
 * host (code-server 4.100.3, installed on demand into .vscode-test/) driven by Debian's Chromium,
 * then the UI checks (screenshot, untrusted window). Results: .test-results/host.json and
 * .test-results/ui.json; the last line is "N passed, N failed".
 * On a desktop with VS Code, test/vscode/runTest.ts runs the same suites with @vscode/test-electron.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'node:util';
import { launchBrowser, workbenchUrl } from './browser';
import { startCodeServer, type CodeServer } from './codeServer';
import { installCodeServer } from './installCodeServer';
import { reloadChecks } from './reloadCheck';
import { dashboardChecks } from './dashboardChecks';
import { experimentsChecks } from './experimentsChecks';
import { removeManyRuns, writeManyRuns } from '../../helpers/manyRuns';
import { screenshotChecks, untrustedChecks, waitForWorkbench, type UiResult } from './uiChecks';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const RESULTS = path.join(ROOT, '.test-results');
const WORKSPACE = path.join(RESULTS, 'workspace');
const HOST_TIMEOUT_MS = Number(process.env.AKD_HOST_TIMEOUT_MS ?? 20 * 60_000);

interface HostResults {
  passed: number;
  failed: number;
  tests: { title: string; state: string; error?: string }[];
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function freshWorkspace(): void {
  fs.rmSync(WORKSPACE, { recursive: true, force: true });
  fs.cpSync(path.join(ROOT, 'test', 'vscode', 'fixtures', 'workspace'), WORKSPACE, { recursive: true });
}

async function runHostSuites(server: CodeServer): Promise<{ code: number | string; results?: HostResults }> {
  const browser = await launchBrowser();
  const consoleLog = fs.createWriteStream(path.join(RESULTS, 'host-console.log'));
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    let exit: (code: number) => void = () => {};
    const exited = new Promise<number>((r) => {
      exit = r;
    });
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      const line = format(...(Array.isArray(args) ? args : [args]));
      consoleLog.write(`[${type}] ${line}\n`);
      // The mocha reporter's lines as they happen; not the marketplace look-ups (no network here).
      // (mocha's lines are indented; the workbench's own info lines are not).
      if (!/open-vsx\.org|^\s+at /.test(line) && (type === 'error' || /^\s+\S/.test(line)))
        process.stdout.write(`  ${line}\n`);
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => exit(code));
    const testsPath = path.join(ROOT, 'out', 'test', 'vscode', 'suite', 'index.js');
    await page.goto(workbenchUrl(server.url, server.authority, WORKSPACE, ROOT, testsPath));
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r('timeout'), HOST_TIMEOUT_MS)),
    ]);
    if (code !== 0)
      await page.screenshot({ path: path.join(RESULTS, 'host-failure.png') }).catch(() => undefined);
    const file = path.join(RESULTS, 'host.json');
    const results = fs.existsSync(file)
      ? (JSON.parse(fs.readFileSync(file, 'utf8')) as HostResults)
      : undefined;
    return { code, results };
  } finally {
    consoleLog.end();
    await browser.close();
  }
}

async function runUi(
  server: CodeServer,
  body: (page: import('playwright-core').Page) => Promise<UiResult[]>,
): Promise<UiResult[]> {
  const browser = await launchBrowser();
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(workbenchUrl(server.url, server.authority, WORKSPACE, ROOT));
    return await body(page);
  } catch (e) {
    return [{ title: 'ui: workbench session', state: 'failed', error: String(e) }];
  } finally {
    await browser.close();
  }
}

async function main(): Promise<number> {
  const t0 = Date.now();
  fs.mkdirSync(RESULTS, { recursive: true });
  for (const f of [
    'host.json',
    'ui.json',
    'host-failure.png',
    'dashboard-dark-running.png',
    'dashboard-dark.png',
    'dashboard-compare-dark.png',
    'dashboard-light.png',
    'dashboard-high-contrast.png',
    'dashboard-narrow-dark.png',
    'dashboard-10000-epochs.png',
    'experiments-dark.png',
    'experiments-light.png',
    'experiments-group-dark.png',
    'experiments-group-light.png',
    'experiments-plot-dark.png',
    'experiments-parallel-dark.png',
    'experiments-parallel-light.png',
    'experiments-scale.json',
  ])
    fs.rmSync(path.join(RESULTS, f), { force: true });

  const install = installCodeServer(ROOT);
  console.log(
    `code-server ${install.installSeconds ? `installed in ${install.installSeconds.toFixed(0)} s` : 'cached'} (${install.bin})`,
  );
  if (
    !fs.existsSync(path.join(ROOT, 'bin', 'akd.js')) ||
    !fs.existsSync(path.join(ROOT, 'out', 'runner', 'cli', 'akd.js'))
  ) {
    console.warn(
      'warning: the runner (bin/akd.js, out/runner/cli/akd.js) is missing: run `tsc -p .`; the run suites will fail',
    );
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'extension.js')))
    throw new Error('the extension is not bundled: run `node extension/esbuild.mjs` first');
  freshWorkspace();
  const dataRoot = path.join(ROOT, '.vscode-test', 'data');
  fs.rmSync(dataRoot, { recursive: true, force: true });

  // 1. Host suites, trusted window.
  const t1 = Date.now();
  const trustedDir = path.join(dataRoot, 'trusted');
  let server = await startCodeServer({
    bin: install.bin,
    dataDir: trustedDir,
    disableTrust: true,
    env: { AKD_TEST_RESULTS: RESULTS },
    // The theme follows the browser's colour scheme: the dashboard checks switch it with emulateMedia.
    settings: {
      'window.autoDetectColorScheme': true,
      'workbench.preferredDarkColorTheme': 'Default Dark Modern',
      'workbench.preferredLightColorTheme': 'Default Light Modern',
      'workbench.preferredHighContrastColorTheme': 'Default High Contrast',
    },
  });
  console.log(`code-server ready at ${server.url}; host suites:`);
  // AKD_UI_ONLY=trusted,dashboard,experiments,reload,untrusted: only those UI groups (to work on one).
  const only = process.env.AKD_UI_ONLY?.split(',');
  const want = (group: string): boolean => !only || only.includes(group);
  let host: Awaited<ReturnType<typeof runHostSuites>>;
  const ui: UiResult[] = [];
  try {
    // AKD_SKIP_HOST=1: straight to the UI checks (for working on them; the runs the suites make are missing).
    host = process.env.AKD_SKIP_HOST
      ? { code: 0, results: { passed: 0, failed: 0, tests: [] } }
      : await runHostSuites(server);
    console.log(
      `host suites: exit ${host.code}, ${host.results?.passed ?? 0} passed, ${host.results?.failed ?? '?'} failed (${seconds(t1)})`,
    );
    for (const t of host.results?.tests ?? [])
      if (t.state === 'failed')
        console.log(`  FAILED ${t.title}\n    ${(t.error ?? '').split('\n').slice(0, 6).join('\n    ')}`);

    // 2. The same window as a person sees it, for the README screenshot.
    if (process.env.AKD_SKIP_UI) return finish(t0, host, ui);
    const t2 = Date.now();
    if (want('trusted'))
      ui.push(
        ...(await runUi(server, (page) => screenshotChecks(page, path.join(RESULTS, 'workbench-runs.png')))),
      );
    console.log(`ui (trusted): ${seconds(t2)}`);
    // 2b. The dashboard: a run from the palette, followed live, in both themes (a fresh window).
    const t2b = Date.now();
    if (want('dashboard'))
      ui.push(
        ...(await runUi(server, async (page) => {
          // Dark from the start: its first check needs no theme switch on a busy machine.
          await page.emulateMedia({ colorScheme: 'dark', forcedColors: 'none' });
          await waitForWorkbench(page);
          return dashboardChecks(page, {
            workspace: WORKSPACE,
            results: RESULTS,
            dataDir: trustedDir,
          });
        })),
      );
    console.log(`ui (dashboard): ${seconds(t2b)}`);
    // 2b'. The experiments table: the suites' runs plus 2,000 written before the window loads.
    const t2e = Date.now();
    const scaleDir = path.join(WORKSPACE, 'scale');
    const SCALE_RUNS = 2000;
    if (want('experiments')) {
      writeManyRuns({ dir: scaleDir, count: SCALE_RUNS });
      try {
        ui.push(
          ...(await runUi(server, async (page) => {
            // Dark from the start: no theme switch while the window reads 2,000 runs.
            await page.emulateMedia({ colorScheme: 'dark', forcedColors: 'none' });
            await waitForWorkbench(page);
            return experimentsChecks(page, { workspace: WORKSPACE, results: RESULTS }, SCALE_RUNS);
          })),
        );
      } finally {
        removeManyRuns({ dir: scaleDir });
        fs.rmSync(scaleDir, { recursive: true, force: true });
      }
    }
    console.log(`ui (experiments): ${seconds(t2e)}`);
    // 2c. A real window reload while a run trains: the runner goes on, the new window re-attaches.
    const t2c = Date.now();
    if (want('reload')) ui.push(...(await runUi(server, (page) => reloadChecks(page, WORKSPACE))));
    console.log(`ui (reload): ${seconds(t2c)}`);
  } finally {
    await server.stop();
  }

  // 3. Untrusted window: trust on, the folder never trusted.
  const t3 = Date.now();
  if (!want('untrusted')) return finish(t0, host, ui);
  server = await startCodeServer({
    bin: install.bin,
    dataDir: path.join(dataRoot, 'untrusted'),
    disableTrust: false,
  });
  try {
    ui.push(...(await runUi(server, (page) => untrustedChecks(page, WORKSPACE))));
    console.log(`ui (untrusted): ${seconds(t3)}`);
  } finally {
    await server.stop();
  }
  return finish(t0, host, ui);
}

/** ui.json, the totals, and the closing "N passed, N failed" line. */
function finish(t0: number, host: { code: number | string; results?: HostResults }, ui: UiResult[]): number {
  const uiPassed = ui.filter((t) => t.state === 'passed').length;
  const uiFailed = ui.length - uiPassed;
  fs.writeFileSync(
    path.join(RESULTS, 'ui.json'),
    JSON.stringify({ passed: uiPassed, failed: uiFailed, tests: ui }, null, 2) + '\n',
  );
  const passed = (host.results?.passed ?? 0) + uiPassed;
  // A host that never reported (crash, timeout) counts as one failure.
  const failed = (host.results?.failed ?? 0) + uiFailed + (host.code !== 0 && !host.results?.failed ? 1 : 0);
  console.log(`total ${seconds(t0)}`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && host.code === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(2);
  },
);
