/**
 * The shared queue (protocol/queue.ts, store/queueStore.ts, `akd queue`): its changes, claims
 * raced by real processes (each entry exactly once), stale claims recovered, two real drainers
 * on one queue, and drainers killed mid-run (SIGKILL): the entry is resumed, never lost, never
 * run twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readEvents } from '../../../runner/protocol/eventTail';
import type { RunEvent, RunStartedEvent } from '../../../runner/protocol/events';
import { queueFile, queuePosition, readQueue, type QueueEntry } from '../../../runner/protocol/queue';
import {
  addEntry,
  claimNext,
  finishEntry,
  moveEntry,
  mutateQueue,
  removeEntries,
  QueueError,
} from '../../../runner/store/queueStore';
import { acquireRunLock } from '../../../runner/store/runLock';
import { AKD, REPO, runAkd, tempDir, tinyScratchConfig, writeConfig } from '../../helpers/akdProcess';

const STORE = path.join(REPO, 'out', 'runner', 'store', 'queueStore.js');

/** A run of about a second (cpu backend, 600 images). */
function tinyConfig(dir: string, name = 'q'): string {
  return tinyScratchConfig(dir, name, { seed: 1 });
}

/** Long enough to be killed in the middle: 6 teacher epochs over 12,000 images (a few s each), a checkpoint after each. */
function slowConfig(dir: string): string {
  return writeConfig(dir, 'slow', {
    name: 'slow',
    seed: 2,
    data: { dataset: 'mnist', trainLimit: 12000, testLimit: 500 },
    teacher: {
      model: { type: 'mlp', hidden: [256] },
      epochs: 6,
      optimizer: { type: 'adam', learningRate: 0.001 },
    },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: { type: 'scratch', epochs: 1, optimizer: { type: 'adam', learningRate: 0.003 } },
    batchSize: 32,
    threads: 1,
    backend: 'wasm',
  });
}

/** A process identity that is certainly gone: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}

function runFolders(root: string): string[] {
  const runs = path.join(root, '.akd', 'runs');
  return fs.existsSync(runs) ? fs.readdirSync(runs).map((n) => path.join(runs, n)) : [];
}

function eventsOf(runDir: string): RunEvent[] {
  return readEvents(path.join(runDir, 'events.jsonl'));
}

async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

test('add, positions, move, remove: queued entries only; a damaged queue file is never overwritten', () => {
  const root = tempDir('queue-ops');
  const config = tinyConfig(root);
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) =>
    addEntry(root, { configPath: config, set: [`name="${n}"`] }),
  );
  const order = (): string[] =>
    readQueue(root)
      .entries.filter((e) => e.state === 'queued')
      .map((e) => e.id);
  assert.deepEqual(order(), [a.id, b.id, c.id, d.id]);
  assert.equal(queuePosition(readQueue(root), c.id), 3);
  assert.equal(moveEntry(root, c.id, 'up'), 2);
  assert.deepEqual(order(), [a.id, c.id, b.id, d.id]);
  assert.equal(moveEntry(root, a.id, 'down'), 2);
  assert.equal(moveEntry(root, d.id, 'top'), 1);
  assert.equal(moveEntry(root, d.id, 'bottom'), 4);
  assert.equal(moveEntry(root, b.id, 2), 2);
  assert.equal(moveEntry(root, b.id, 99), 4, 'clamped to the end');
  assert.equal(moveEntry(root, c.id, 'up'), 1);
  assert.equal(moveEntry(root, c.id, 'up'), 1, 'already first');
  assert.deepEqual(order(), [c.id, a.id, d.id, b.id]);

  // A claimed (running) entry keeps its place and cannot be moved or removed.
  const claim = claimNext(root);
  assert.equal(claim.entry?.id, c.id);
  assert.throws(() => moveEntry(root, c.id, 'down'), /is running .*cannot be moved/);
  assert.throws(() => removeEntries(root, [a.id, c.id]), QueueError);
  assert.equal(readQueue(root).entries.length, 4, 'all or nothing');
  assert.deepEqual(
    removeEntries(root, [a.id]).map((e) => e.id),
    [a.id],
  );
  assert.throws(() => removeEntries(root, ['nope']), /no entry nope/);
  finishEntry(root, c.id, 'completed');
  assert.throws(() => removeEntries(root, [c.id]), /already completed/);

  fs.writeFileSync(queueFile(root), '{"v": 1, "entries": [');
  assert.throws(() => addEntry(root, { configPath: config, set: [] }), /queue\.json: not JSON/);
  assert.equal(fs.readFileSync(queueFile(root), 'utf8'), '{"v": 1, "entries": [', 'left as it was');
});

test('claims raced by 6 real processes: every entry claimed exactly once', async () => {
  const root = tempDir('queue-race');
  const config = tinyConfig(root);
  const ids = Array.from(
    { length: 30 },
    (_, i) => addEntry(root, { configPath: config, set: [`seed=${i}`] }).id,
  );
  // Each process claims until nothing is left, finishing what it claimed (as a claimer does
  // after its run); they start together. It prints its pid and what it got.
  const script = `
    const { claimNext, finishEntry } = require(${JSON.stringify(STORE)});
    const got = [];
    // Loaded: say so, then wait for the common start time the test sends once all six are.
    process.stdout.write('ready\\n');
    process.stdin.once('data', (d) => {
      const start = Number(String(d).trim());
      while (Date.now() < start) {}
      for (;;) {
      const c = claimNext(${JSON.stringify(root)});
      if (!c.entry) break;
      if (c.entry.claim.pid !== process.pid) throw new Error('claimed for another process');
      got.push(c.entry.id);
      finishEntry(${JSON.stringify(root)}, c.entry.id, 'completed');
        // A run takes time between two claims; without it the holder re-takes the queue's lock
        // before a waiter's next poll, and one process claims everything (still exactly once).
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
      process.stdout.write(JSON.stringify(got));
      process.exit(0);
    });`;
  // A start time fixed before the processes load can pass before the slowest has loaded (one then
  // claims everything alone): the start is sent once all six are loaded, 300 ms ahead.
  const children = Array.from({ length: 6 }, () =>
    spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'] }),
  );
  let ready = 0;
  const outputs = await Promise.all(
    children.map(
      (child) =>
        new Promise<string[]>((resolve, reject) => {
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => {
            const had = out.includes('ready\n');
            out += d.toString();
            if (!had && out.includes('ready\n') && ++ready === children.length) {
              const start = String(Date.now() + 300);
              for (const c of children) c.stdin.write(`${start}\n`);
            }
          });
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          child.on('exit', (code) =>
            code === 0
              ? resolve(JSON.parse(out.slice(out.indexOf('ready\n') + 6)) as string[])
              : reject(new Error(err)),
          );
        }),
    ),
  );
  const all = outputs.flat();
  assert.equal(all.length, ids.length, `claims: ${JSON.stringify(outputs)}`);
  assert.deepEqual([...all].sort(), [...ids].sort());
  assert.ok(
    outputs.filter((o) => o.length > 0).length >= 2,
    `the claims were really shared: ${JSON.stringify(outputs)}`,
  );
  const q = readQueue(root);
  assert.deepEqual(q.entries, []);
  assert.deepEqual(q.finished.map((f) => f.id).sort(), [...ids].sort());
});

test('a claim whose process is gone is recovered: finished, back at the front, or resumed', () => {
  const root = tempDir('queue-stale');
  const config = tinyConfig(root);
  const dead = {
    pid: deadPid(),
    host: os.hostname(),
    startTime: 'boot:1',
    claimedAt: new Date().toISOString(),
  };
  const runs = path.join(root, '.akd', 'runs');
  const mkRun = (name: string, events: object[]): string => {
    const dir = path.join(runs, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), '{}');
    if (events.length)
      fs.writeFileSync(path.join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e) + '\n').join(''));
    return dir;
  };
  const started = {
    v: 1,
    time: '2026-01-01T00:00:00Z',
    type: 'run-started',
    runId: 'x',
    runDir: 'x',
    pid: dead.pid,
  };
  const completedRun = mkRun('done', [
    started,
    { v: 1, time: '2026-01-01T00:00:01Z', type: 'run-completed', summary: {} },
  ]);
  const crashedRun = mkRun('crashed', [started]);
  const unstartedRun = mkRun('unstarted', []);
  const queued = addEntry(root, { configPath: config, set: [] });
  mutateQueue(root, (q) => {
    const stale = (id: string, runDir?: string): QueueEntry => ({
      id,
      configPath: config,
      set: [],
      addedAt: '2026-01-01T00:00:00Z',
      state: 'running',
      claim: dead,
      ...(runDir ? { runDir } : {}),
    });
    q.entries.push(
      stale('s-none'),
      stale('s-done', completedRun),
      stale('s-crash', crashedRun),
      stale('s-new', unstartedRun),
    );
  });
  const first = claimNext(root);
  assert.ok(
    first.notes.some((n) => /s-done: .* the run had completed/.test(n)),
    first.notes.join('\n'),
  );
  const q = readQueue(root);
  assert.deepEqual(
    q.finished.map((f) => [f.id, f.outcome]),
    [['s-done', 'completed']],
  );
  // The stale ones went back to the front (in their order); the first of them is claimed now.
  assert.equal(first.entry?.id, 's-none');
  assert.equal(first.resume, false);
  assert.deepEqual(
    q.entries.filter((e) => e.state === 'queued').map((e) => e.id),
    ['s-crash', 's-new', queued.id],
  );
  assert.equal(fs.existsSync(unstartedRun), false, 'an empty run folder goes');
  const second = claimNext(root);
  assert.equal(second.entry?.id, 's-crash');
  assert.equal(second.resume, true, 'a started run is resumed, not started again');
  assert.equal(second.entry?.runDir, crashedRun);
  assert.equal(second.entry?.claim?.pid, process.pid);
  assert.equal(second.entry?.attempts, 1);
  // A live claim is never taken over.
  const third = claimNext(root);
  assert.equal(third.entry?.id, 's-new');
  assert.equal(claimNext(root).entry?.id, queued.id);
  assert.equal(claimNext(root).entry, undefined);
  assert.equal(readQueue(root).entries.filter((e) => e.state === 'running').length, 4);
});

test('two akd queue start drainers at once on one queue: each entry runs exactly once', async () => {
  const root = tempDir('queue-two');
  const config = tinyConfig(root);
  for (let i = 0; i < 5; i++) {
    const r = await runAkd(['queue', 'add', config, '--set', `seed=${i + 1}`, '--root', root]);
    assert.equal(r.code, 0, r.stderr);
  }
  const [one, two] = await Promise.all([
    runAkd(['queue', 'start', '--jobs', '2', '--root', root], { timeoutMs: 240_000 }),
    runAkd(['queue', 'start', '--jobs', '1', '--root', root], { timeoutMs: 240_000 }),
  ]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  const q = readQueue(root);
  assert.deepEqual(q.entries, [], 'the queue is empty');
  assert.equal(q.finished.length, 5);
  assert.ok(q.finished.every((f) => f.outcome === 'completed'));
  assert.equal(new Set(q.finished.map((f) => f.id)).size, 5);
  // One run folder per entry, each with one session that completed, with its own seed.
  const folders = runFolders(root);
  assert.equal(folders.length, 5);
  const seeds = folders.map((dir) => {
    const events = eventsOf(dir);
    assert.equal(events.filter((e) => e.type === 'run-started').length, 1, dir);
    assert.equal(events.filter((e) => e.type === 'run-completed').length, 1, dir);
    return (events[0] as RunStartedEvent).config.seed;
  });
  assert.deepEqual(seeds.sort(), [1, 2, 3, 4, 5]);
  assert.deepEqual([...new Set(q.finished.map((f) => f.runDir))].sort(), [...folders].sort());
  // Both drainers drained: each finished entry names the drainer that ran it.
  assert.equal(new Set(q.finished.map((f) => f.drainer)).size, 2);
});

test('a drainer killed mid-run (SIGKILL, with its run): the next drain resumes the entry; never lost, never run twice', async () => {
  const root = tempDir('queue-kill');
  const slow = slowConfig(root);
  const tiny = tinyConfig(root);
  assert.equal((await runAkd(['queue', 'add', slow, '--root', root])).code, 0);
  assert.equal((await runAkd(['queue', 'add', tiny, '--root', root])).code, 0);
  const drainer = spawn(process.execPath, [AKD, 'queue', 'start', '--root', root], { stdio: 'ignore' });
  // The run has trained an epoch (and checkpointed it): kill the drainer and the run, as a crash does.
  const runDir = await until(() => {
    const running = readQueue(root).entries.find((e) => e.state === 'running' && e.runDir);
    return (
      running?.runDir && eventsOf(running.runDir).some((e) => e.type === 'checkpoint-saved') && running.runDir
    );
  }, 'a checkpoint of the first run');
  const claimer = readQueue(root).entries.find((e) => e.runDir === runDir)?.claim?.pid;
  assert.ok(claimer && claimer !== drainer.pid, 'the run trains in its own claimer process');
  drainer.kill('SIGKILL');
  process.kill(claimer, 'SIGKILL');
  await exited(drainer);
  await until(() => {
    try {
      process.kill(claimer, 0);
      return false;
    } catch {
      return true;
    }
  }, 'the claimer to die');
  const stuck = readQueue(root).entries.find((e) => e.runDir === runDir);
  assert.equal(stuck?.state, 'running', 'left claimed by a dead process');
  assert.deepEqual(
    eventsOf(runDir)
      .filter((e) => e.type.startsWith('run-'))
      .map((e) => e.type),
    ['run-started'],
    'no end: it crashed',
  );

  // The next drain recovers it first (it was started first) and resumes it from its checkpoint.
  const again = await runAkd(['queue', 'start', '--root', root], { timeoutMs: 300_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /is gone; back at the front of the queue \(resumes /);
  const q = readQueue(root);
  assert.deepEqual(q.entries, []);
  assert.deepEqual(
    q.finished.map((f) => f.outcome),
    ['completed', 'completed'],
  );
  assert.equal(q.finished[0].runDir, runDir, 'the killed entry finished in its own run folder');
  const sessions = eventsOf(runDir).filter((e): e is RunStartedEvent => e.type === 'run-started');
  assert.equal(sessions.length, 2);
  assert.ok(sessions[1].resumedFrom, 'the second session resumed from the checkpoint');
  assert.equal(eventsOf(runDir).filter((e) => e.type === 'run-completed').length, 1);
  assert.equal(runFolders(root).length, 2, 'no second run folder for the killed entry');
});

test('an entry whose run folder another process writes (its run.lock) waits: not claimed until that writer is done', async () => {
  const root = tempDir('queue-locked');
  addEntry(root, { configPath: tinyConfig(root), set: [] });
  // A returned entry with its run folder, which a person meanwhile resumed by hand (that akd holds the lock).
  const runDir = path.join(root, '.akd', 'runs', 'held');
  fs.mkdirSync(runDir, { recursive: true });
  mutateQueue(root, (q) => {
    q.entries[0].runDir = runDir;
  });
  const lock = acquireRunLock(runDir, { command: 'resume' });
  try {
    const r = await runAkd(['queue', 'next', '--root', root]);
    assert.match(r.stderr, /nothing to run/);
    assert.equal(readQueue(root).entries[0]?.state, 'queued', 'still queued, not claimed');
    assert.deepEqual(fs.readdirSync(runDir), ['run.lock'], 'nothing of the run written by the queue');
  } finally {
    lock.release();
  }
  // The writer is done (it left nothing to resume): now the queue runs it, once.
  const r = await runAkd(['queue', 'next', '--root', root], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const q = readQueue(root);
  assert.deepEqual(q.entries, []);
  assert.equal(q.finished[0].outcome, 'completed');
  assert.equal(eventsOf(runDir).filter((e) => e.type === 'run-started').length, 1);
});

test('a drainer killed alone (SIGKILL): its run goes on in its own process and finishes the entry once', async () => {
  const root = tempDir('queue-kill-parent');
  const slow = slowConfig(root);
  assert.equal((await runAkd(['queue', 'add', slow, '--root', root, '--set', 'teacher.epochs=3'])).code, 0);
  const drainer = spawn(process.execPath, [AKD, 'queue', 'start', '--root', root], { stdio: 'ignore' });
  const runDir = await until(() => {
    const e = readQueue(root).entries.find((x) => x.state === 'running' && x.runDir);
    return e?.runDir && eventsOf(e.runDir).some((ev) => ev.type === 'epoch-ended') && e.runDir;
  }, 'the first epoch');
  drainer.kill('SIGKILL');
  await exited(drainer);
  await until(() => readQueue(root).finished.length === 1, 'the entry to finish', 300_000);
  assert.equal(readQueue(root).finished[0].outcome, 'completed');
  assert.equal(eventsOf(runDir).filter((e) => e.type === 'run-started').length, 1);
  const next = await runAkd(['queue', 'start', '--root', root]);
  assert.equal(next.code, 0);
  assert.match(next.stderr, /done: nothing to run/);
});

test('SIGINT to akd queue start: its run checkpoints, the entry goes back to the front and resumes next time', async () => {
  const root = tempDir('queue-sigint');
  const slow = slowConfig(root);
  assert.equal((await runAkd(['queue', 'add', slow, '--root', root, '--set', 'teacher.epochs=2'])).code, 0);
  let stderr = '';
  const drainer = spawn(process.execPath, [AKD, 'queue', 'start', '--root', root], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  drainer.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const runDir = await until(() => {
    const e = readQueue(root).entries.find((x) => x.state === 'running' && x.runDir);
    return (
      e?.runDir &&
      eventsOf(e.runDir).some((ev) => ev.type === 'progress' || ev.type === 'epoch-ended') &&
      e.runDir
    );
  }, 'training');
  drainer.kill('SIGINT');
  assert.equal(await exited(drainer), 130, stderr);
  assert.match(stderr, /stopped; \w+ back at the front of the queue/);
  const back = readQueue(root).entries[0];
  assert.equal(back.state, 'queued');
  assert.equal(back.runDir, runDir);
  assert.equal(eventsOf(runDir).at(-1)?.type, 'run-cancelled');
  const again = await runAkd(['queue', 'start', '--root', root], { timeoutMs: 300_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /resuming \w+ /);
  assert.equal(readQueue(root).finished.at(-1)?.outcome, 'completed');
  assert.equal(eventsOf(runDir).filter((e) => e.type === 'run-completed').length, 1);
  assert.equal(runFolders(root).length, 1);
});

test('akd queue add refuses an invalid config and a Slurm one; list --json has positions', async () => {
  const root = tempDir('queue-cli');
  const config = tinyConfig(root);
  const bad = await runAkd(['queue', 'add', config, '--set', 'method.epochz=3', '--root', root]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--set method\.epochz: unknown key/);
  assert.match(bad.stderr, /nothing was queued/);
  const slurm = await runAkd(['queue', 'add', config, '--set', 'launcher={"type":"slurm"}', '--root', root]);
  assert.equal(slurm.code, 2);
  assert.match(slurm.stderr, /Slurm, which queues jobs itself/);
  assert.equal(fs.existsSync(queueFile(root)), false, 'nothing was queued');
  await runAkd(['queue', 'add', config, '--root', root]);
  await runAkd(['queue', 'add', config, '--root', root, '--set', 'seed=4']);
  const list = await runAkd(['queue', 'list', '--json', '--root', root]);
  const data = JSON.parse(list.stdout) as { file: string; entries: (QueueEntry & { position: number })[] };
  assert.equal(data.file, queueFile(root));
  assert.deepEqual(
    data.entries.map((e) => [e.position, e.set]),
    [
      [1, []],
      [2, ['seed=4']],
    ],
  );
  const text = await runAkd(['queue', 'list', '--root', root]);
  assert.match(text.stdout, /^2 +\w{6} +queued +q\.akd\.json +--set seed=4$/m);
  const moved = await runAkd(['queue', 'move', data.entries[1].id, 'top', '--root', root]);
  assert.equal(moved.code, 0);
  assert.equal(readQueue(root).entries[0].id, data.entries[1].id);
  const removed = await runAkd(['queue', 'remove', data.entries[0].id, '--root', root]);
  assert.equal(removed.code, 0);
  assert.equal(readQueue(root).entries.length, 1);
  const missing = await runAkd(['queue', 'remove', 'zzzzzz', '--root', root]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no entry zzzzzz/);
});
