/** Debian's Chromium through playwright-core (never `npx playwright install`: no downloads here). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.AKD_CHROMIUM ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<BrowserContext> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 860 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // The throwaway profile (a few MB each launch) goes when the harness exits (Chromium may
  // still be writing to it right after the context closes).
  process.once('exit', () => {
    try {
      fs.rmSync(profile, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      /* best effort */
    }
  });
  return context;
}

/** The workbench URL; `payload` is the web workbench's way to pass dev/test extension paths. */
export function workbenchUrl(
  base: string,
  authority: string,
  folder: string,
  devPath: string,
  testsPath?: string,
): string {
  const payload: [string, string][] = [
    ['extensionDevelopmentPath', `vscode-remote://${authority}${devPath}`],
  ];
  if (testsPath) payload.push(['extensionTestsPath', `vscode-remote://${authority}${testsPath}`]);
  return `${base}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}
