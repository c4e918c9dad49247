/**
 * Checks that need the workbench itself, driven like a person would: the screenshot of the Runs
 * view and the CodeLens after the host suites' runs, and the untrusted-workspace rule in a
 * window that really is untrusted (test runs are always trusted, see suite/4-trust.test.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Frame, Page } from 'playwright-core';

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

/**
 * Run one named check: its result is recorded and printed, never thrown, so the checks after it
 * still run. `onFail` (e.g. a screenshot of the window as it was) runs before the next check.
 */
export async function check(
  results: UiResult[],
  title: string,
  body: () => Promise<void>,
  onFail?: () => Promise<void>,
): Promise<boolean> {
  const t0 = Date.now();
  try {
    await body();
    results.push({ title, state: 'passed' });
    console.log(`  ✔ ${title} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return true;
  } catch (e) {
    results.push({ title, state: 'failed', error: String((e as Error).stack ?? e).slice(0, 2000) });
    console.log(`  ✖ ${title}: ${(e as Error).message}`);
    await onFail?.().catch(() => undefined);
    return false;
  }
}

/** Poll `probe` until it returns a truthy value; fail naming `what` and what it returned last. */
export async function until<T>(
  probe: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${JSON.stringify(last)})`,
  );
}

/** A webview page: the frame (nested inside the webview's host iframe) that holds `selector`. */
export function webviewFrame(page: Page, selector: string, what: string, timeoutMs = 30_000): Promise<Frame> {
  return until(
    async () => {
      for (const f of page.frames()) {
        if (f.isDetached()) continue;
        if (await f.$(selector).catch(() => null)) return f;
      }
      return undefined;
    },
    what,
    timeoutMs,
  );
}

/**
 * Switch the workbench theme the way an OS does: the window follows the colour scheme
 * (window.autoDetectColorScheme, set for this server by runHostTests.ts) and forced colours
 * (window.autoDetectHighContrast). The theme picker cannot be used offline here: it only shows
 * its failed marketplace search.
 */
export async function colorScheme(page: Page, scheme: 'dark' | 'light' | 'high-contrast'): Promise<void> {
  await page.emulateMedia(
    scheme === 'high-contrast'
      ? { colorScheme: 'dark', forcedColors: 'active' }
      : { colorScheme: scheme, forcedColors: 'none' },
  );
  const cls = scheme === 'dark' ? 'vs-dark' : scheme === 'light' ? 'vs' : 'hc-black';
  await until(
    async () => page.$eval('.monaco-workbench', (e, c) => e.classList.contains(c), cls),
    `the ${scheme} workbench`,
    15_000,
  );
}

/** The editor area as a picture (notifications cleared, the pointer parked where no tooltip shows). */
export async function shoot(page: Page, file: string): Promise<void> {
  await palette(page, 'Notifications: Clear All Notifications');
  await page.mouse.move(1000, 12); // the empty part of the tab bar: no hover tooltip over the picture
  await page.waitForTimeout(400);
  await page.locator('.part.editor').screenshot({ path: file });
}

/** An element's attribute in a webview's frame. */
export const attr = (frame: Frame, selector: string, name: string): Promise<string | null> =>
  frame.$eval(selector, (e, n) => e.getAttribute(n), name);

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
