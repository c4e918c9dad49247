/**
 * A real window reload while a run trains (issue 4's re-attach, with the runner surviving its
 * stdout closing): Run Experiment from the palette, wait for training, Developer: Reload Window
 * (the extension host really goes away and a new one activates), then the Runs view must show the
 * same run going (re-attached through events.jsonl) and finally completed, and the runner must be
 * the same process from start to end. In the same reload, the queue: with one slot
 * (annealKd.maxConcurrentRuns 1) taken by that run, `akd queue add --set` from a terminal queues a
 * second run; the new window must show it as `queued #1` and start it once the first run ends.
 */
import { execFileSync } from 'node:child_process';
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

const REPO = path.resolve(__dirname, '..', '..', '..', '..');

interface QueueFile {
  entries: { id: string; state: string }[];
  finished: { id: string; outcome: string; runDir?: string }[];
}

function queueOf(workspace: string): QueueFile {
  try {
    return JSON.parse(fs.readFileSync(path.join(workspace, '.akd', 'queue.json'), 'utf8')) as QueueFile;
  } catch {
    return { entries: [], finished: [] };
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
  const queueTitle =
    'ui: queue: an entry queued from a terminal while no slot is free survives a real window reload, shows as queued #1 in the new window and starts when the slot frees';
  const runsDir = path.join(workspace, '.akd', 'runs');
  let pid: number | undefined;
  // The queue's part: its first failure is kept and its later steps skipped; the run's part goes on.
  const queue: { error?: Error; id?: string } = {};
  const queueStep = async (step: () => unknown): Promise<void> => {
    if (queue.error) return;
    try {
      await step();
    } catch (e) {
      queue.error = e as Error;
    }
  };
  const settingsFile = path.join(workspace, '.vscode', 'settings.json');
  const settingsBefore = fs.existsSync(settingsFile) ? fs.readFileSync(settingsFile, 'utf8') : undefined;
  try {
    fs.writeFileSync(path.join(workspace, 'reload.akd.json'), RELOAD_CONFIG);
    // One slot: the run below takes it, so what is queued waits.
    fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
    fs.writeFileSync(
      settingsFile,
      JSON.stringify({ ...JSON.parse(settingsBefore ?? '{}'), 'annealKd.maxConcurrentRuns': 1 }, null, 2),
    );
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
    // Its process first, so that a failure below never leaves it training.
    const started = await until(
      () => events(runDir).find((e) => e.type === 'run-started'),
      'run-started',
      60_000,
    );
    pid = started.pid;
    if (!pid) throw new Error('no run-started pid');
    const runner = pid;
    // Waits on the run's own events, failing as soon as the runner is gone: on a loaded machine
    // (2 shared cores) training is slower, and a fixed guess of how long an epoch takes fails there.
    const whileRunning = (what: (e: Ev[]) => boolean, name: string) => (): boolean => {
      if (what(events(runDir))) return true;
      if (!alive(runner)) throw new Error(`the runner (pid ${runner}) exited before ${name}`);
      return false;
    };
    // Training under way: the reload lands in the middle of the teacher's epochs.
    await until(
      whileRunning((all) => all.some((e) => e.type === 'progress'), 'training'),
      'training',
      10 * 60_000,
    );
    // Its parent: the extension host that spawned it and reads its stdout.
    const host = process.platform === 'linux' ? parentOf(pid) : undefined;

    // From a terminal, while the slot is taken: a smaller run of the same config, queued.
    await queueStep(async () => {
      const out = execFileSync(
        process.execPath,
        [
          path.join(REPO, 'bin', 'akd.js'),
          'queue',
          'add',
          'reload.akd.json',
          '--set',
          'seed=11',
          '--set',
          'data.trainLimit=2000',
          '--json',
        ],
        { cwd: workspace, encoding: 'utf8' },
      );
      queue.id = (JSON.parse(out) as { id: string }).id;
      await page.waitForTimeout(1500); // the window sees the file change and has no slot for it
      const entry = queueOf(workspace).entries.find((e) => e.id === queue.id);
      if (entry?.state !== 'queued')
        throw new Error(`before the reload the entry is ${entry?.state ?? 'gone'}`);
    });

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
    // The queued entry, read back from the shared file by the new window, under its config.
    await queueStep(async () => {
      if (events(runDir).some((e) => e.type === 'run-completed')) return; // it may have started already
      await page
        .locator('.monaco-list-row', { hasText: 'queued #1' })
        .filter({ hasText: 'seed=11' })
        .first()
        .waitFor({ timeout: 30_000 });
    });
    await page
      .locator('.monaco-list-row', { hasText: label })
      .filter({ hasText: /epoch|student/ })
      .first()
      .waitFor({ timeout: 30_000 });
    await until(
      whileRunning((all) => all.some((e) => e.type === 'run-completed'), 'completing'),
      'the run to complete',
      20 * 60_000,
    );
    await page
      .locator('.monaco-list-row', { hasText: label })
      .filter({ hasText: /student \d+\.\d%/ })
      .first()
      .waitFor({ timeout: 30_000 });
    const all = events(runDir);
    if (all[all.length - 1]?.type !== 'run-completed')
      throw new Error(`last event ${all[all.length - 1]?.type}`);
    if (all.filter((e) => e.type === 'run-started').length !== 1)
      throw new Error('the run was restarted, not followed');
    console.log(`  ✔ ${title}`);

    // The slot is free: the new window starts the queued run, exactly once, with its --set values.
    await queueStep(async () => {
      const done = await until(
        () => {
          const q = queueOf(workspace);
          const f = q.finished.find((x) => x.id === queue.id);
          if (!f && !q.entries.some((e) => e.id === queue.id)) throw new Error('the entry left the queue');
          return f;
        },
        'the queued entry to finish',
        20 * 60_000,
      );
      if (done.outcome !== 'completed' || !done.runDir)
        throw new Error(`the queued run ended ${done.outcome}`);
      const started = events(done.runDir).filter((e) => e.type === 'run-started') as (Ev & {
        config?: { seed?: number; data?: { trainLimit?: number } };
      })[];
      if (started.length !== 1) throw new Error(`the queued run started ${started.length} times`);
      if (started[0].config?.seed !== 11 || started[0].config.data?.trainLimit !== 2000)
        throw new Error('the queued run lost its --set values');
    });
    if (queue.error) console.log(`  ✖ ${queueTitle}: ${queue.error.message}`);
    else console.log(`  ✔ ${queueTitle}`);
    return [
      { title, state: 'passed' },
      queue.error
        ? {
            title: queueTitle,
            state: 'failed',
            error: String(queue.error.stack ?? queue.error).slice(0, 2000),
          }
        : { title: queueTitle, state: 'passed' },
    ];
  } catch (e) {
    console.log(`  ✖ ${title}: ${(e as Error).message}`);
    if (pid && alive(pid))
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    return [
      { title, state: 'failed', error: String((e as Error).stack ?? e).slice(0, 2000) },
      { title: queueTitle, state: 'failed', error: `not reached: ${(e as Error).message}` },
    ];
  } finally {
    if (settingsBefore === undefined) fs.rmSync(settingsFile, { force: true });
    else fs.writeFileSync(settingsFile, settingsBefore);
  }
}
