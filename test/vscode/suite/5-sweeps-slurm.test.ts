/**
 * Sweeps, the Slurm launcher and re-attaching, in the real extension host:
 * - a real `akd sweep` started by Run Sweep, grouped in the Runs tree, stopped, resumed, compared;
 * - the tree's rendering of a Slurm run's job-* events, from a run folder this test writes the
 *   way the runner does (a real Slurm is not started here: the runner's own suites submit real
 *   jobs to a single-node Slurm, test/unit/launch/slurmRuns.test.ts);
 * - annealKd.launcher reaching `akd run` (and a config's own launcher block winning);
 * - a run started by a run manager that then goes away (its stdout closed, as on a window reload)
 *   keeps training and is re-attached by the next manager to its end.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RunManager } from '../../../extension/runs/runManager';
import type { RunsNode } from '../../../extension/views/runsTree';
import { api, openConfig, waitUntil, workspaceDir } from './helpers';
import { REPO_ROOT } from './index';

const ENDED = ['completed', 'failed', 'cancelled', 'interrupted'] as (
  'completed' | 'failed' | 'cancelled' | 'interrupted'
)[];

/** Two members (seeds 1 and 2), one at a time; long enough to be stopped while the first trains. */
const SWEEP_CONFIG = `// A sweep over two seeds (host test)
{
  "name": "sweepy",
  "seed": 1,
  "data": { "dataset": "mnist", "trainLimit": 6000, "testLimit": 500 },
  "teacher": { "model": { "type": "mlp", "hidden": [256] }, "epochs": 8, "optimizer": { "type": "adam", "learningRate": 0.003 } },
  "student": { "model": { "type": "mlp", "hidden": [8] } },
  "method": {
    "type": "annealing",
    "tauMax": 2,
    "phase1": { "epochs": 2, "optimizer": { "type": "adam", "learningRate": 0.003 } },
    "phase2": { "epochs": 1, "optimizer": { "type": "adam", "learningRate": 0.003 } }
  },
  "batchSize": 64,
  "sweep": { "seeds": [1, 2], "concurrency": 1 }
}
`;

let treeRef: Awaited<ReturnType<typeof api>>['tree'] | undefined;

function item(node: RunsNode): vscode.TreeItem {
  assert.ok(treeRef);
  return treeRef.getTreeItem(node);
}

/** Name the step a command failed in (the workbench's errors do not say). */
async function labelled<T>(what: string, p: Thenable<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw new Error(`${what}: ${String((e as Error)?.message ?? e)}`, { cause: e });
  }
}

function event(payload: Record<string, unknown>): string {
  return JSON.stringify({ v: 1, time: new Date().toISOString(), ...payload }) + '\n';
}

suite('sweeps, Slurm, re-attach', function () {
  this.timeout(150_000);

  suiteSetup(async () => {
    treeRef = (await api()).tree;
  });

  test('Run Sweep: the Runs tree groups the members under the sweep; Stop Sweep, Resume Sweep and Compare work', async () => {
    const { runs, tree } = await api();
    const doc = await openConfig('sweepy.akd.json', SWEEP_CONFIG);
    const uri = doc.uri;
    // CodeLens: Sweep only above a config with a sweep block.
    const lenses = await waitUntil(async () => {
      const ls = await labelled(
        'lenses of sweepy',
        vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri),
      );
      return ls.some((l) => l.command?.title === '$(run-all) Sweep') ? ls : undefined;
    }, 'the Sweep CodeLens');
    assert.ok(lenses.some((l) => l.command?.title === '$(play) Run'));
    await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(workspaceDir(), 'tiny.akd.json')));
    const tinyLenses = await labelled(
      'lenses of tiny',
      vscode.commands.executeCommand<vscode.CodeLens[]>(
        'vscode.executeCodeLensProvider',
        vscode.Uri.file(path.join(workspaceDir(), 'tiny.akd.json')),
      ),
    );
    assert.ok(
      !tinyLenses.some((l) => l.command?.title.includes('Sweep')),
      'no Sweep lens without a sweep block',
    );
    await runs.refresh();
    const configNode = tree.getChildren().find((n) => n.kind === 'config' && n.configPath === uri.fsPath);
    assert.ok(configNode);
    assert.equal(item(configNode).contextValue, 'akdConfig.sweep');

    const sweepDir = await labelled(
      'runSweep',
      vscode.commands.executeCommand<string | undefined>('annealKd.runSweep', uri),
    );
    assert.ok(
      sweepDir && fs.existsSync(path.join(sweepDir, 'sweep.json')),
      'Run Sweep returns the sweep folder',
    );
    const sweep = runs.getSweep(sweepDir);
    assert.ok(sweep);
    assert.equal(sweep.members.length, 2);

    // Stop while the first member trains: it checkpoints, the second never starts.
    const first = sweep.members[0];
    await waitUntil(() => runs.get(first.runDir)?.epoch, 'the first member training', 60_000);
    const sweepNode = (): Extract<RunsNode, { kind: 'sweep' }> => {
      const n = tree
        .getChildren(configNode)
        .find(
          (c): c is Extract<RunsNode, { kind: 'sweep' }> => c.kind === 'sweep' && c.sweepDir === sweepDir,
        );
      assert.ok(n, 'the sweep is a child of its config');
      return n;
    };
    assert.equal(item(sweepNode()).contextValue, 'akdSweep.running');
    assert.equal(
      await labelled('stopSweep', vscode.commands.executeCommand('annealKd.stopSweep', sweepDir)),
      'stopped',
    );
    assert.equal(runs.get(first.runDir)?.status, 'cancelled');
    assert.equal(runs.get(sweep.members[1].runDir), undefined, 'the second member did not start');
    const stoppedMembers = tree.getChildren(sweepNode()).map((n) => item(n));
    assert.deepEqual(
      stoppedMembers.map((i) => i.label),
      sweep.members.map((m) => m.id),
    );
    assert.deepEqual(
      stoppedMembers.map((i) => i.contextValue),
      ['akdRun.cancelled', 'akdMember.pending'],
    );
    assert.equal(item(sweepNode()).contextValue, 'akdSweep.stopped');
    assert.equal(item(sweepNode()).description, '2 runs · 0 done');

    // Resume: the cancelled member continues from its checkpoint, the other runs.
    assert.equal(
      await labelled('resumeSweep', vscode.commands.executeCommand('annealKd.resumeSweep', sweepDir)),
      sweepDir,
    );
    await waitUntil(
      () =>
        runs.sweepStatus(sweepDir) !== 'running' &&
        runs.sweepStatus(sweepDir) !== 'starting' &&
        sweep.members.every((m) => runs.get(m.runDir)?.status === 'completed'),
      'both members completed',
      90_000,
      250,
    );
    const sweepItem = item(sweepNode());
    assert.equal(sweepItem.contextValue, 'akdSweep.completed');
    assert.match(String(sweepItem.description), /^2 runs · 2 done · annealing \d+\.\d±\d+\.\d best$/);
    for (const child of tree.getChildren(sweepNode())) {
      const i = item(child);
      assert.equal(i.contextValue, 'akdRun.completed');
      assert.equal((i.iconPath as vscode.ThemeIcon).id, 'pass-filled');
      assert.match(String(i.description), /^student \d+\.\d% · teacher \d+\.\d%$/);
    }
    // Members are not counted as the config's own runs.
    assert.equal(runs.runsOf(uri.fsPath).length, 0);

    // Compare: the dashboard's comparison when it offers one, else akd compare --md, opened.
    const opened = await labelled(
      'compareSweep',
      vscode.commands.executeCommand<string | undefined>('annealKd.compareSweep', sweepDir),
    );
    assert.ok(opened === sweepDir || opened?.endsWith('.md'), `Compare returns what it opened: ${opened}`);
    // The Markdown path (what Compare opens without the dashboard).
    const md = await runs.compareSweep(sweepDir);
    const text = fs.readFileSync(md, 'utf8');
    assert.match(text, /annealing/);
    assert.match(text, /\| *2 *\|/, 'n = 2 seeds');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('Slurm: the tree shows the job id and queue state from the job-* events, and a job Slurm ended never stays running', async () => {
    const { runs, tree } = await api();
    const configPath = path.join(workspaceDir(), 'tiny.akd.json');
    const runDir = path.join(workspaceDir(), '.akd', 'runs', '20200102-000000-slurmfix');
    const file = path.join(runDir, 'events.jsonl');
    fs.mkdirSync(runDir, { recursive: true });
    const find = (): vscode.TreeItem => {
      const configNode = tree.getChildren().find((n) => n.kind === 'config' && n.configPath === configPath);
      assert.ok(configNode);
      const node = tree.getChildren(configNode).find((n) => n.kind === 'run' && n.runDir === runDir);
      assert.ok(node, 'the Slurm run is listed under its config');
      return item(node);
    };
    try {
      // Submitted, then pending (what `akd run --launcher slurm` and its follower write).
      fs.writeFileSync(
        file,
        event({
          type: 'job-submitted',
          launcher: 'slurm',
          jobId: '4242',
          runDir,
          configPath,
          script: 'job.sbatch',
          output: path.join(runDir, 'slurm-4242.out'),
          resume: false,
        }) +
          event({
            type: 'job-state',
            launcher: 'slurm',
            jobId: '4242',
            state: 'PENDING',
            reason: 'Priority',
            source: 'follower',
          }),
      );
      await runs.refresh();
      let i = find();
      assert.equal(runs.get(runDir)?.status, 'starting');
      assert.equal(i.description, 'Slurm job 4242 pending (Priority)');
      assert.equal(i.contextValue, 'akdRun.starting.slurm', 'Cancel Slurm Job is offered');

      // The job starts on a node: its pid is on that node, so no local pid check applies.
      fs.appendFileSync(
        file,
        event({
          type: 'job-state',
          launcher: 'slurm',
          jobId: '4242',
          state: 'RUNNING',
          node: 'node7',
          source: 'job',
        }) +
          event({
            type: 'run-started',
            runId: '20200102-000000-slurmfix',
            runDir,
            configPath,
            config: { name: 'tiny', method: { type: 'annealing', tauMax: 2 } },
            backend: 'cpu',
            teacher: {},
            student: {},
            data: {},
            pid: 2 ** 22 + 12345,
          }) +
          event({ type: 'phase-started', phase: 'anneal', epochs: 2, temperature: 2 }),
      );
      await waitUntil(() => runs.get(runDir)?.temperature === 2, 'the tailed RUNNING state', 5000);
      i = find();
      assert.equal(runs.get(runDir)?.status, 'running');
      assert.equal(i.description, 'Slurm 4242 running on node7 · anneal T=2 · epoch 0/2');
      assert.equal(i.contextValue, 'akdRun.running.slurm');

      // Slurm kills it (time limit) before the run writes an end: failed with Slurm's reason at once,
      // the way the runner's follower settles it (its run-failed follows).
      fs.appendFileSync(
        file,
        event({
          type: 'job-state',
          launcher: 'slurm',
          jobId: '4242',
          state: 'TIMEOUT',
          reason: 'TimeLimit',
          exitCode: '0:15',
          final: true,
          source: 'follower',
        }),
      );
      await waitUntil(() => runs.get(runDir)?.status === 'failed', 'failed from the final job state', 5000);
      assert.match(runs.get(runDir)?.error ?? '', /Slurm job 4242 ended TIMEOUT \(TimeLimit\)/);
      i = find();
      assert.equal(i.description, 'failed · Slurm 4242 TIMEOUT (TimeLimit)');
      assert.equal(i.contextValue, 'akdRun.failed.slurm', 'resumable, no Cancel');
      fs.appendFileSync(
        file,
        event({
          type: 'run-failed',
          error: {
            message:
              'Slurm job 4242 ended TIMEOUT (reason TimeLimit): it reached its time limit (launcher.time), before the run reported an end',
          },
        }),
      );
      await runs.refresh();
      assert.equal(runs.get(runDir)?.status, 'failed');

      // A resubmitted session that completes: done, with its job.
      fs.appendFileSync(
        file,
        event({
          type: 'job-submitted',
          launcher: 'slurm',
          jobId: '4243',
          runDir,
          configPath,
          script: 'job.sbatch',
          output: path.join(runDir, 'slurm-4243.out'),
          resume: true,
        }),
      );
      await waitUntil(
        async () => {
          await runs.refresh();
          return runs.get(runDir)?.status === 'starting';
        },
        'queued again',
        5000,
      );
      assert.equal(find().description, 'Slurm job 4243 submitted');
      fs.appendFileSync(
        file,
        event({
          type: 'job-state',
          launcher: 'slurm',
          jobId: '4243',
          state: 'RUNNING',
          node: 'node7',
          source: 'job',
        }) +
          event({
            type: 'run-completed',
            summary: { method: 'annealing', student: { testAccuracy: 0.5 }, teacher: { testAccuracy: 0.75 } },
          }) +
          event({
            type: 'job-state',
            launcher: 'slurm',
            jobId: '4243',
            state: 'COMPLETED',
            reason: 'None',
            exitCode: '0:0',
            final: true,
            source: 'follower',
          }),
      );
      await waitUntil(() => runs.get(runDir)?.job?.final, 'the final COMPLETED state', 5000);
      assert.equal(runs.get(runDir)?.status, 'completed');
      assert.equal(find().description, 'student 50.0% · teacher 75.0% · Slurm 4243 done');
      assert.equal(find().contextValue, 'akdRun.completed.slurm');
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
      await runs.refresh();
    }
  });

  test("annealKd.launcher is passed to akd run; a config's own launcher block wins", async () => {
    const { runs } = await api();
    const settings = vscode.workspace.getConfiguration('annealKd');
    await settings.update('launcher', 'slurm', vscode.ConfigurationTarget.Global);
    try {
      // No launcher block: submitted to Slurm, which is not set up in this test machine's default
      // configuration, so the runner refuses with Slurm's error and leaves no run folder.
      const runsDir = path.join(workspaceDir(), '.akd', 'runs');
      const before = fs.readdirSync(runsDir).length;
      await assert.rejects(runs.start(path.join(workspaceDir(), 'tiny.akd.json')), /sbatch|Slurm/);
      assert.equal(fs.readdirSync(runsDir).length, before);
      // A launcher block of its own ("local"): runs here despite the setting.
      const local = JSON.parse(
        fs.readFileSync(path.join(workspaceDir(), 'tiny.akd.json'), 'utf8').replace(/^\/\/.*$/m, ''),
      ) as Record<string, unknown>;
      const doc = await openConfig(
        'local-launcher.akd.json',
        JSON.stringify({ ...local, name: 'local-launcher', launcher: { type: 'local' } }, null, 2),
      );
      const runDir = await runs.start(doc.uri.fsPath);
      const done = await runs.waitFor(runDir, ENDED, 60_000);
      assert.equal(done.status, 'completed', done.error);
      assert.equal(done.job, undefined, 'not a Slurm run');
    } finally {
      await settings.update('launcher', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }
  });

  test('a run outlives the manager that started it (its stdout closed, as on a window reload) and the next manager follows it to the end', async () => {
    const log = vscode.window.createOutputChannel('Anneal KD (re-attach test)', { log: true });
    const options = {
      runnerScript: path.join(REPO_ROOT, 'bin', 'akd.js'),
      node: () => process.execPath,
      maxConcurrentRuns: () => 4,
      stopTimeoutMs: () => 15_000,
      isTrusted: () => true,
      log,
    };
    const first = new RunManager(options);
    let second: RunManager | undefined;
    try {
      // A few seconds of training: the sweep test's config, run once.
      const doc = await openConfig(
        'reattach.akd.json',
        SWEEP_CONFIG.replace('"sweepy"', '"reattach"').replace(/,\n {2}"sweep": .*\n/, '\n'),
      );
      const runDir = await first.start(doc.uri.fsPath);
      await waitUntil(() => first.get(runDir)?.phase, 'the first phase', 60_000);
      const pid = first.get(runDir)?.pid;
      assert.ok(pid);
      first.dispose(); // the window goes away: its pipes to the runner close, the runner is not stopped
      const detachedAt = new Date().toISOString();

      second = new RunManager(options);
      await second.refresh();
      assert.equal(second.get(runDir)?.status, 'running', 'found going: re-attached');
      assert.equal(second.get(runDir)?.pid, pid);
      const done = await second.waitFor(runDir, ENDED, 120_000);
      assert.equal(done.status, 'completed', done.error);
      const events = fs
        .readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; time: string });
      const after = events.filter((e) => e.time > detachedAt && e.type === 'epoch-ended');
      assert.ok(after.length >= 1, 'epochs trained after the pipes closed');
      assert.equal(events[events.length - 1].type, 'run-completed');
      fs.rmSync(runDir, { recursive: true, force: true });
    } finally {
      first.dispose();
      second?.dispose();
      log.dispose();
    }
  });
});
