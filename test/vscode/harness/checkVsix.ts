/**
 * `npm run test:vsix`: the packaged extension as a user gets it. Installs anneal-kd.vsix into a
 * fresh code-server (`--install-extension`), opens a workspace with a config, checks that the
 * extension activated (its CodeLens appears), clicks `Run` and waits for the result: the runner
 * shipped inside the .vsix (bin/akd.js, out/runner, node_modules) trained a model; then that
 * runner exports it to int8 ONNX (onnxruntime-node's binary and ONNX's schema ship too).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { launchBrowser } from './browser';
import { startCodeServer } from './codeServer';
import { installCodeServer } from './installCodeServer';
import { palette, waitForWorkbench } from './uiChecks';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

async function main(): Promise<number> {
  const t0 = Date.now();
  const vsix = path.resolve(process.argv[2] ?? path.join(ROOT, 'anneal-kd.vsix'));
  if (!fs.existsSync(vsix)) throw new Error(`${vsix} not found: run \`npm run package\` first`);
  const { bin } = installCodeServer(ROOT);
  const data = path.join(ROOT, '.vscode-test', 'data', 'vsix');
  const workspace = path.join(ROOT, '.test-results', 'vsix-workspace');
  for (const d of [data, workspace]) fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(workspace, { recursive: true });
  fs.copyFileSync(
    path.join(ROOT, 'test', 'vscode', 'fixtures', 'workspace', 'tiny.akd.json'),
    path.join(workspace, 'tiny.akd.json'),
  );
  fs.mkdirSync(path.join(data, 'user'), { recursive: true });
  execFileSync(
    process.execPath,
    [
      bin,
      '--extensions-dir',
      path.join(data, 'ext'),
      '--user-data-dir',
      path.join(data, 'user'),
      '--install-extension',
      vsix,
    ],
    { stdio: 'inherit' },
  );
  const installed = fs.readdirSync(path.join(data, 'ext')).find((n) => n.startsWith('anneal-kd.anneal-kd-'));
  if (!installed) throw new Error('not installed');
  console.log(`installed ${installed} (${(fs.statSync(vsix).size / 1e6).toFixed(1)} MB .vsix)`);

  const server = await startCodeServer({ bin, dataDir: data, disableTrust: true });
  const browser = await launchBrowser();
  let ok = false;
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
    await waitForWorkbench(page);
    await palette(page, 'tiny.akd.json', true);
    const run = page.locator('.contentWidgets .codelens-decoration a', { hasText: 'Run' }).first();
    await run.waitFor({ timeout: 30_000 });
    console.log('activated: the CodeLens is there');
    await run.click();
    const result = page.locator('.contentWidgets .codelens-decoration', { hasText: 'student' }).first();
    await result.waitFor({ timeout: 120_000 });
    console.log(`ran from the installed extension: "${(await result.innerText()).replace(/\s+/g, ' ')}"`);
    await page.screenshot({ path: path.join(ROOT, '.test-results', 'vsix.png') });
    // The runner inside the .vsix exports that run: ONNX Runtime's binary and ONNX's schema ship too.
    const runs = path.join(workspace, '.akd', 'runs');
    const runDir = path.join(runs, fs.readdirSync(runs)[0]);
    const exported = execFileSync(
      process.execPath,
      [path.join(data, 'ext', installed, 'bin', 'akd.js'), 'export', runDir, '--quantize', 'int8'],
      { encoding: 'utf8' },
    );
    console.log(`exported with the installed runner: ${exported.split('\n')[0]}`);
    ok = true;
  } catch (e) {
    console.log(`vsix check: ${(e as Error).message}`);
  } finally {
    await browser.close();
    await server.stop();
  }
  console.log(`vsix check ${ok ? 'passed' : 'failed'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(ok ? '1 passed, 0 failed' : '0 passed, 1 failed');
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
