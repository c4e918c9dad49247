/**
 * The shared run queue in the real editor: a run over annealKd.maxConcurrentRuns is queued,
 * shown in the Runs view with its position, moved and cancelled, and started when a slot frees;
 * the queue (a file shared with `akd queue`) survives the window going away; plus the other
 * run-management commands: stars and notes, Modify and Run, multi-select Delete, Clean Up Runs.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RunManager } from '../../../extension/runs/runManager';
import type { RunsNode } from '../../../extension/views/runsTree';
import { readQueue } from '../../../runner/protocol/queue';
import { api, rowsSent, waitUntil, workspaceDir } from './helpers';
import { REPO_ROOT } from './index';

const ENDED = ['completed', 'failed', 'cancelled', 'interrupted'] as (
  'completed' | 'failed' | 'cancelled' | 'interrupted'
)[];

function configUri(name: string): vscode.Uri {
  return vscode.Uri.file(path.join(workspaceDir(), name));
}

function queuedEntries(): { id: string; set: string[]; state: string }[] {
  return readQueue(workspaceDir()).entries;
}

interface Event {
  type: string;
  config?: { seed?: number };
}

function eventsOf(runDir: string): Event[] {
  return fs
    .readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Event);
}

suite('queue', function () {
  this.timeout(360_000);
  const settings = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('annealKd');

  suiteSetup(async () => {
    await api();
  });

  teardown(async () => {
    await settings().update('maxConcurrentRuns', undefined, vscode.ConfigurationTarget.Global);
    await settings().update('queue.autoStart', undefined, vscode.ConfigurationTarget.Global);
  });

  test('queue: a run over maxConcurrentRuns is queued, shown with its position, moved, cancelled, and starts when a slot frees', async () => {
    const { runs, tree } = await api();
    await settings().update('maxConcurrentRuns', 1, vscode.ConfigurationTarget.Global);
    const slow = await vscode.commands.executeCommand<string>(
      'annealKd.runExperiment',
      configUri('slow.akd.json'),
    );
    assert.equal(typeof slow, 'string', 'a free slot: it starts');
    await waitUntil(() => runs.get(slow)?.phase, 'the slow run training', 120_000);

    // No slot: Run Experiment queues; Queue Experiment and Modify and Queue add more.
    const tiny = configUri('tiny.akd.json');
    const first = await vscode.commands.executeCommand<{
      queued: { root: string; id: string; position: number };
    }>('annealKd.runExperiment', tiny);
    assert.equal(first.queued.position, 1);
    assert.equal(first.queued.root, workspaceDir());
    const second = await vscode.commands.executeCommand<{ id: string; position: number }>(
      'annealKd.queueExperiment',
      tiny,
    );
    assert.equal(second.position, 2);
    const third = await vscode.commands.executeCommand<{ queued: { id: string; position: number } }>(
      'annealKd.modifyAndQueue',
      tiny,
      { set: ['seed=5', 'method.phase1.epochs=2'] },
    );
    assert.equal(third.queued.position, 3);
    assert.deepEqual(
      queuedEntries().map((e) => e.id),
      [first.queued.id, second.id, third.queued.id],
    );

    // The Runs view: under the config, queued #1..#3 first, with the --set values.
    const configNode = tree.getChildren().find((n) => n.kind === 'config' && n.configPath === tiny.fsPath);
    assert.ok(configNode);
    const queuedNodes = (): Extract<RunsNode, { kind: 'queued' }>[] =>
      tree
        .getChildren(configNode)
        .filter((n): n is Extract<RunsNode, { kind: 'queued' }> => n.kind === 'queued');
    await waitUntil(() => queuedNodes().length === 3, 'three queued nodes');
    const items = queuedNodes().map((n) => tree.getTreeItem(n));
    assert.deepEqual(
      items.map((i) => i.label),
      ['queued #1', 'queued #2', 'queued #3'],
    );
    assert.ok(items.every((i) => i.contextValue === 'akdQueued'));
    assert.equal(items[2].description, '--set seed=5 --set method.phase1.epochs=2');
    assert.equal(tree.getChildren(configNode)[0].kind, 'queued', 'queued entries come first');

    // Move Down, Move Up, Cancel: through akd queue, on the shared file.
    assert.equal(await vscode.commands.executeCommand('annealKd.moveQueuedDown', queuedNodes()[0]), true);
    assert.deepEqual(
      queuedEntries().map((e) => e.id),
      [second.id, first.queued.id, third.queued.id],
    );
    const thirdNode = queuedNodes().find((n) => n.id === third.queued.id);
    assert.equal(await vscode.commands.executeCommand('annealKd.moveQueuedUp', thirdNode), true);
    assert.deepEqual(
      queuedEntries().map((e) => e.id),
      [second.id, third.queued.id, first.queued.id],
    );
    const cancelNode = queuedNodes().find((n) => n.id === first.queued.id);
    assert.equal(await vscode.commands.executeCommand('annealKd.cancelQueued', cancelNode), true);
    await waitUntil(() => queuedNodes().length === 2, 'the cancelled entry gone from the view');
    assert.equal(tree.getTreeItem(queuedNodes()[1]).label, 'queued #2');

    // Nothing starts while the slot is taken.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(queuedEntries().filter((e) => e.state === 'queued').length, 2);

    // The slot frees: the queue drains, one at a time, in its order.
    const before = new Set(runs.allRuns().map((r) => r.runDir));
    await vscode.commands.executeCommand('annealKd.stopRun', slow);
    const newRuns = await waitUntil(
      () => {
        const fresh = runs.allRuns().filter((r) => !before.has(r.runDir) && r.status === 'completed');
        return fresh.length === 2 && queuedEntries().length === 0 ? fresh : undefined;
      },
      'both queued runs to complete',
      300_000,
      500,
    );
    const bySeed = new Map(newRuns.map((r) => [eventsOf(r.runDir)[0].config?.seed, r]));
    assert.deepEqual([...bySeed.keys()].sort(), [1, 5]);
    const modified = bySeed.get(5);
    assert.ok(modified);
    const summary = JSON.parse(fs.readFileSync(path.join(modified.runDir, 'summary.json'), 'utf8'));
    assert.deepEqual(summary.overrides, { seed: 5, 'method.phase1.epochs': 2 });
    assert.deepEqual(modified.overrides, { seed: 5, 'method.phase1.epochs': 2 });
    // Never two at once (maxConcurrentRuns 1): the second started after the first ended.
    const [a, b] = newRuns.sort((x, y) => (x.startedAt ?? '').localeCompare(y.startedAt ?? ''));
    assert.ok((a.endedAt ?? '') <= (b.startedAt ?? ''), `${a.endedAt} <= ${b.startedAt}`);
    const finished = readQueue(workspaceDir()).finished.filter(
      (f) => f.id === second.id || f.id === third.queued.id,
    );
    assert.deepEqual(
      finished.map((f) => f.outcome),
      ['completed', 'completed'],
    );
    // The stopped run stays stopped (a run stopped by hand is not queued again).
    assert.equal(runs.get(slow)?.status, 'cancelled');
    fs.rmSync(slow, { recursive: true, force: true });
  });

  test('queue: the queue survives a reload; the next window shows the entries, re-attaches the running run and drains when a slot frees', async () => {
    // The activated extension does not drain during this test: two windows would share the work.
    await settings().update('queue.autoStart', false, vscode.ConfigurationTarget.Global);
    const log = vscode.window.createOutputChannel('Anneal KD (queue reload test)', { log: true });
    const options = {
      runnerScript: path.join(REPO_ROOT, 'bin', 'akd.js'),
      node: () => process.execPath,
      maxConcurrentRuns: () => 1,
      stopTimeoutMs: () => 15_000,
      isTrusted: () => true,
      queueAutoStart: () => true,
      queueRoots: () => [workspaceDir()],
      log,
    };
    const first = new RunManager(options);
    let second: RunManager | undefined;
    try {
      await first.refresh();
      const slow = await first.start(configUri('slow.akd.json').fsPath);
      await waitUntil(() => first.get(slow)?.phase, 'the slow run training', 120_000);
      const outcome = await first.startOrQueue(configUri('tiny.akd.json').fsPath, ['seed=7']);
      assert.ok('queued' in outcome, 'no slot: queued');
      const id = outcome.queued.id;
      first.dispose(); // the window goes away: the run goes on, the queue stays in its file

      second = new RunManager(options);
      await second.refresh();
      const mine = second.queued().find((q) => q.entry.id === id);
      assert.ok(mine, 'the new window lists the entry');
      assert.equal(mine.position, 1);
      assert.deepEqual(mine.entry.set, ['seed=7']);
      assert.equal(second.get(slow)?.status, 'running', 'the running run is re-attached');
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(readQueue(workspaceDir()).entries[0]?.state, 'queued', 'still waiting for the slot');

      await second.stop(slow);
      const done = await waitUntil(
        () => {
          const f = readQueue(workspaceDir()).finished.find((x) => x.id === id);
          return f?.runDir ? f : undefined;
        },
        'the entry to finish',
        300_000,
        500,
      );
      assert.equal(done.outcome, 'completed');
      const run = await second.waitFor(done.runDir as string, ENDED, 30_000);
      assert.equal(run.status, 'completed');
      assert.equal(eventsOf(done.runDir as string)[0].config?.seed, 7);
      assert.equal(eventsOf(slow).filter((e) => e.type === 'run-started').length, 1, 'not restarted');
      fs.rmSync(slow, { recursive: true, force: true });
    } finally {
      first.dispose();
      second?.dispose();
      log.dispose();
    }
  });

  test('runs: star and note show in the Runs view; Delete Run takes a multi-selection; Clean Up Runs shows the dry run first', async () => {
    const { runs, tree } = await api();
    const done = runs.allRuns().filter((r) => r.status === 'completed' && !r.sweepDir);
    assert.ok(done.length >= 2, 'completed runs from the tests before');
    const [a, b] = done;
    assert.equal(await vscode.commands.executeCommand('annealKd.starRun', a.runDir), true);
    assert.equal(
      await vscode.commands.executeCommand('annealKd.editRunNote', a.runDir, { note: 'best so far' }),
      'best so far',
    );
    await waitUntil(
      () => runs.get(a.runDir)?.starred && runs.get(a.runDir)?.note === 'best so far',
      'the star and note',
    );
    const node: RunsNode = { kind: 'run', runDir: a.runDir, configPath: a.configPath ?? '' };
    const item = tree.getTreeItem(node);
    assert.match(String(item.description), /^★ · student .* · best so far$/);
    assert.match(String(item.contextValue), /^akdRun\.completed\.starred$/);
    assert.deepEqual(
      JSON.parse(fs.readFileSync(path.join(a.runDir, 'meta.json'), 'utf8')).note,
      'best so far',
    );
    // The experiments table gets them too (its star and note columns, the starred-only filter).
    const { experiments } = await api();
    assert.equal(await vscode.commands.executeCommand('annealKd.showExperiments'), true);
    const row = await waitUntil(() => {
      const r = rowsSent(experiments.posted).get(a.runDir);
      return r?.starred && r.note === 'best so far' ? r : undefined;
    }, "the experiments table's row with the star and the note");
    assert.ok(!rowsSent(experiments.posted).get(b.runDir)?.starred, 'only the starred run');
    experiments.webviewPanel?.dispose();
    assert.ok(row);

    // Clean Up Runs: the dry run leaves everything; the real one keeps the starred run's checkpoints.
    const dry = await runs.gc(workspaceDir(), { dryRun: true });
    assert.ok(dry.removed.length > 0, 'completed runs have checkpoints to free');
    assert.ok(fs.existsSync(path.join(b.runDir, 'checkpoints')));
    assert.ok(dry.kept.some((k) => k.path === a.runDir && k.reason === 'starred'));
    const reports = await vscode.commands.executeCommand<{ removed: { path: string }[] }[]>(
      'annealKd.cleanUpRuns',
      {
        confirm: false,
      },
    );
    assert.ok(reports[0].removed.some((r) => r.path === path.join(b.runDir, 'checkpoints')));
    assert.ok(!fs.existsSync(path.join(b.runDir, 'checkpoints')));
    assert.ok(fs.existsSync(path.join(a.runDir, 'checkpoints')), 'a starred run is never touched');
    assert.ok(fs.existsSync(path.join(b.runDir, 'student', 'model.json')), 'final models stay');

    // Multi-select Delete: the view hands over the selection.
    await vscode.commands.executeCommand('annealKd.unstarRun', a.runDir);
    const nodes = [a, b].map((r): RunsNode => ({
      kind: 'run',
      runDir: r.runDir,
      configPath: r.configPath ?? '',
    }));
    assert.equal(
      await vscode.commands.executeCommand('annealKd.deleteRun', nodes[0], nodes, { confirm: false }),
      true,
    );
    assert.ok(!fs.existsSync(a.runDir) && !fs.existsSync(b.runDir), 'both folders removed');
    await waitUntil(() => !runs.get(a.runDir) && !runs.get(b.runDir), 'both runs gone from the view');
  });
});
