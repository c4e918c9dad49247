/**
 * Checks that need the workbench itself, driven like a person would: the screenshot of the Runs
 * view and the CodeLens after the host suites' runs, and the untrusted-workspace rule in a
 * window that really is untrusted (test runs are always trusted, see suite/4-trust.test.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';

export interface UiResult {
  title: string;
  state: 'passed' | 'failed';
  error?: string;
}

export async function waitForWorkbench(page: Page): Promise<void> {
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  await page.waitForSelector('.statusbar', { timeout: 60_000 });
  await page.waitForTimeout(2500);
}

/** F1, then a command (or, with `file`, Quick Open on a file name); `beforeEnter`: just before it runs. */
export async function palette(
  page: Page,
  text: string,
  file = false,
  beforeEnter?: () => void,
): Promise<void> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget input', { timeout: 15_000 });
  if (file) await page.keyboard.press('Backspace'); // drop the ">" prefix: files, not commands
  await page.keyboard.type(text, { delay: 15 });
  // Enter only once the list shows the match (a busy machine filters slowly).
  const name = text.split('/').pop() ?? text;
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: name })
    .first()
    .waitFor({ timeout: 15_000 })
    .catch(() => undefined);
  await page.waitForTimeout(300);
  beforeEnter?.();
  await page.keyboard.press('Enter');
}

async function check(results: UiResult[], title: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
    results.push({ title, state: 'passed' });
    console.log(`  ✔ ${title}`);
  } catch (e) {
    results.push({ title, state: 'failed', error: String((e as Error).stack ?? e).slice(0, 2000) });
    console.log(`  ✖ ${title}: ${(e as Error).message}`);
  }
}

/** Trusted window, after the host suites: CodeLens and Runs tree show the result; screenshot. */
export async function screenshotChecks(page: Page, screenshot: string): Promise<UiResult[]> {
  const results: UiResult[] = [];
  await waitForWorkbench(page);
  // slow.akd.json: its run (stopped, resumed, completed) has a student worth showing.
  await check(results, 'ui: the CodeLens above slow.akd.json shows the last result', async () => {
    await palette(page, 'slow.akd.json', true);
    const lens = page.locator('.contentWidgets .codelens-decoration', { hasText: 'student' }).first();
    await lens.waitFor({ timeout: 30_000 });
    const text = await lens.innerText();
    if (!/student \d+\.\d% · teacher \d+\.\d% · annealing/.test(text))
      throw new Error(`CodeLens reads "${text}"`);
  });
  await check(results, 'ui: the Runs view lists the completed run with its accuracy', async () => {
    await palette(page, 'Anneal KD: Focus on Runs View');
    const row = page.locator('.monaco-list-row', { hasText: 'student' }).first();
    await row.waitFor({ timeout: 20_000 });
    // Widen the side bar so the run descriptions are readable (drag its sash).
    const sidebar = await page.locator('.part.sidebar').boundingBox();
    if (sidebar) {
      const x = sidebar.x + sidebar.width;
      await page.mouse.move(x, sidebar.y + 300);
      await page.mouse.down();
      await page.mouse.move(x + 170, sidebar.y + 300, { steps: 5 });
      await page.mouse.up();
    }
    await page.mouse.move(700, 600); // no hover tooltip over the picture
    await page.waitForTimeout(800);
    await page.screenshot({ path: screenshot });
  });
  return results;
}

/** Untrusted window: the config is still checked, Run Experiment refuses and starts nothing. */
export async function untrustedChecks(page: Page, workspace: string): Promise<UiResult[]> {
  const results: UiResult[] = [];
  const runsDir = path.join(workspace, '.akd', 'runs');
  const before = fs.existsSync(runsDir) ? fs.readdirSync(runsDir).length : 0;
  await waitForWorkbench(page);
  await check(results, 'ui untrusted: the window is in restricted mode', async () => {
    await page.locator('.statusbar', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 20_000 });
  });
  await check(results, 'ui untrusted: configs are still validated', async () => {
    await palette(page, 'invalid.akd.json', true);
    await page.locator('.squiggly-error').first().waitFor({ state: 'attached', timeout: 30_000 });
  });
  await check(
    results,
    'ui untrusted: Run Experiment refuses with a clear message and starts nothing',
    async () => {
      await palette(page, 'tiny.akd.json', true);
      await page.waitForTimeout(1000);
      await palette(page, 'Anneal KD: Run Experiment');
      const toast = page.locator('.notifications-toasts', { hasText: 'not trusted' }).first();
      await toast.waitFor({ timeout: 20_000 });
      await page.waitForTimeout(3000);
      const after = fs.existsSync(runsDir) ? fs.readdirSync(runsDir).length : 0;
      if (after !== before) throw new Error(`a run folder was created (${before} -> ${after})`);
    },
  );
  return results;
}
