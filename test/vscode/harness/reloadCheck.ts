/**
 * A real window reload while a run trains (issue 4's re-attach, with the runner surviving its
 * stdout closing): Run Experiment from the palette, wait for training, Developer: Reload Window
 * (the extension host really goes away and a new one activates), then the Runs view must show the
 * same run going (re-attached through events.jsonl) and finally completed, and the runner must be
 * the same process from start to end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { palette, waitForWorkbench, type UiResult } from './uiChecks';

/**
 * About 25 s of training here (a CNN teacher: 2 epochs of 12,000 images at ~1,000 images/s):
 * long enough to reload the window in the middle of it. (An MLP teacher got too fast for that
 * once dense stacks were differentiated by hand.)
 */
const RELOAD_CONFIG = `// Trains long enough to reload the window in the middle (UI check)
{
  "name": "reload",
  "seed": 3,
  "data": { "dataset": "mnist", "trainLimit": 12000, "testLimit": 500 },
  "teacher": { "model": { "type": "cnn", "filters": [32, 64], "dense": [128] }, "epochs": 2, "optimizer": { "type": "adam", "learningRate": 0.001 } },
  "student": { "model": { "type": "mlp", "hidden": [16] } },
  "method": {
    "type": "annealing",
    "tauMax": 2,
    "phase1": { "epochs": 2, "optimizer": { "type": "adam", "learningRate": 0.003 } },
    "phase2": { "epochs": 1, "optimizer": { "type": "adam", "learningRate": 0.003 } }
  },
  "batchSize": 64
}
`;

interface Ev {
  type: string;
  pid?: number;
  runId?: string;
}

function events(runDir: string): Ev[] {
  try {
    return fs
      .readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Ev);
  } catch {
    return [];
  }
}

/** The parent of a process (Linux): the runner's is the extension host that spawned it, until that dies. */
function parentOf(pid: number): number | undefined {
  try {
    const m = /^PPid:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function reloadChecks(page: Page, workspace: string): Promise<UiResult[]> {
  const title =
    'ui: a run keeps training through a real window reload and the new window follows it to the end';
  const runsDir = path.join(workspace, '.akd', 'runs');
  let pid: number | undefined;
  try {
    fs.writeFileSync(path.join(workspace, 'reload.akd.json'), RELOAD_CONFIG);
    const before = new Set(fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : []);
    await waitForWorkbench(page);
    await palette(page, 'reload.akd.json', true);
    await page.waitForTimeout(1500); // the language server checks it first
    await palette(page, 'Anneal KD: Run Experiment');
    const runDir = await until(
      () => {
        const name = fs.existsSync(runsDir)
          ? fs.readdirSync(runsDir).find((n) => !before.has(n) && n.endsWith('-reload'))
          : undefined;
        return name && path.join(runsDir, name);
      },
      'the run folder',
      30_000,
    );
    await until(() => events(runDir).some((e) => e.type === 'epoch-ended'), 'a trained epoch', 60_000);
    const started = events(runDir).find((e) => e.type === 'run-started');
    pid = started?.pid;
    if (!pid) throw new Error('no run-started pid');
    // Its parent: the extension host that spawned it and reads its stdout.
    const host = process.platform === 'linux' ? parentOf(pid) : undefined;

    // The real thing: the extension host that spawned the runner goes away.
    await page.evaluate(() => {
      (globalThis as unknown as { akdBeforeReload?: boolean }).akdBeforeReload = true;
    });
    await palette(page, 'Developer: Reload Window');
    for (let i = 0; i < 150; i++) {
      const old = await page
        .evaluate(() => (globalThis as unknown as { akdBeforeReload?: boolean }).akdBeforeReload === true)
        .catch(() => false);
      if (!old) break;
      await page.waitForTimeout(200);
    }
    await waitForWorkbench(page);
    if (events(runDir).some((e) => e.type === 'run-completed'))
      throw new Error('the run ended before the window was back: make it longer');
    // The old extension host is gone (so nobody reads the runner's stdout any more and its next
    // writes hit a closed pipe), yet the runner lives on.
    const completed = (): boolean => events(runDir).some((e) => e.type === 'run-completed');
    if (host !== undefined && host > 1)
      await until(() => !alive(host), `the old extension host (pid ${host}) to exit`, 20_000);
    if (!alive(pid) && !completed()) throw new Error(`the runner (pid ${pid}) died with the window`);

    // The new window lists it going, then completed.
    await palette(page, 'Anneal KD: Focus on Runs View');
    const runId = started?.runId ?? path.basename(runDir);
    const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/.exec(runId);
    const label = m ? `${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}` : runId;
    const row = page.locator('.monaco-list-row', { hasText: label }).first();
    await row.waitFor({ timeout: 30_000 });
    await page
      .locator('.monaco-list-row', { hasText: label })
      .filter({ hasText: /epoch|student/ })
      .first()
      .waitFor({ timeout: 30_000 });
    await page
      .locator('.monaco-list-row', { hasText: label })
      .filter({ hasText: /student \d+\.\d%/ })
      .first()
      .waitFor({ timeout: 90_000 });
    const all = events(runDir);
    if (all[all.length - 1]?.type !== 'run-completed')
      throw new Error(`last event ${all[all.length - 1]?.type}`);
    if (all.filter((e) => e.type === 'run-started').length !== 1)
      throw new Error('the run was restarted, not followed');
    console.log(`  ✔ ${title}`);
    return [{ title, state: 'passed' }];
  } catch (e) {
    console.log(`  ✖ ${title}: ${(e as Error).message}`);
    if (pid && alive(pid))
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    return [{ title, state: 'failed', error: String((e as Error).stack ?? e).slice(0, 2000) }];
  }
}
