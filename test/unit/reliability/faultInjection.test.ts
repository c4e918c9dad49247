/**
 * Fault injection on real runs (tiny MLPs on an MNIST subset, real akd processes): SIGKILL at
 * random moments across every phase, SIGKILL inside a checkpoint swap and half-way through an
 * event line, a disk that fills up at a random moment (a real tmpfs), and concurrent starters on a
 * crashed run's stale lock. After every fault: nothing stuck "running"; at the end: the run
 * completes with exactly the accuracies of an uninterrupted run (nothing lost, nothing run twice),
 * no resume ever started further back than the current epoch, no temp files left.
 *
 * Random moments come from a seeded generator: AKD_FAULT_SEED=<n> replays a failure (the seed is
 * printed as a test diagnostic).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  PHASES,
  parseEventLine,
  type CheckpointPosition,
  type RunCompletedEvent,
  type RunEvent,
  type RunStartedEvent,
} from '../../../runner/protocol/events';
import { RUN_LOCK_FILE } from '../../../runner/protocol/runLock';
import { loadResumeState } from '../../../runner/store/checkpoint';
import { readEventsReport } from '../../../runner/protocol/eventTail';
import { AKD, runAkd, tempDir, writeConfig, type AkdResult } from '../../helpers/akdProcess';
import { mountSmallDisk, tempLeftovers } from './tmpfs';

const SEED = Number(process.env.AKD_FAULT_SEED ?? Date.now() % 1_000_000);

/** mulberry32: a small seeded generator, so a failing sequence of faults can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const adam = (learningRate: number): object => ({ type: 'adam', learningRate });
/** Teacher (2 epochs), anneal T=2..1 (4 epochs), finetune (2): every phase, a checkpoint each epoch. */
function faultConfig(dir: string): string {
  return writeConfig(dir, 'fault', {
    name: 'fault',
    seed: 7,
    data: { dataset: 'mnist', trainLimit: 600, testLimit: 300, validationFraction: 0.1 },
    teacher: { model: { type: 'mlp', hidden: [16] }, epochs: 2, optimizer: adam(0.003) },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: {
      type: 'annealing',
      tauMax: 2,
      phase1: { epochs: 4, optimizer: adam(0.003) },
      phase2: { epochs: 2, optimizer: adam(0.001) },
    },
    batchSize: 64,
    backend: 'wasm',
    threads: 1,
  });
}

/** Start akd; SIGKILL it after `killAfterMs` (if given). */
function akd(args: string[], o: { killAfterMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<AkdResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AKD, ...args], {
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer =
      o.killAfterMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), o.killAfterMs) : undefined;
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`akd ${args.join(' ')} hung; stderr:\n${stderr}`));
    }, 180_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      const events = stdout
        .split('\n')
        .map(parseEventLine)
        .filter((e): e is RunEvent => e !== undefined);
      resolve({ code, signal, events, stdout, stderr });
    });
  });
}

interface Reference {
  teacher: number | null;
  student: number | null;
  ms: number;
}
let reference: Reference;

before(async () => {
  const dir = tempDir('fault-ref');
  const t0 = Date.now();
  const r = await akd(['run', faultConfig(dir), '--out', path.join(dir, 'runs'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const done = r.events[r.events.length - 1] as RunCompletedEvent;
  reference = {
    teacher: done.summary.teacher.testAccuracy,
    student: done.summary.student.testAccuracy,
    ms: Date.now() - t0,
  };
});

const posIndex = (p: CheckpointPosition): number[] => [PHASES.indexOf(p.phase), p.epoch, p.batch];
function atOrAfter(a: CheckpointPosition, b: CheckpointPosition): boolean {
  const [x, y] = [posIndex(a), posIndex(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i];
  return true;
}

/** The only run folder under `runs` that holds events (a kill before any may leave an empty one). */
function theRun(runs: string): string | undefined {
  if (!fs.existsSync(runs)) return undefined;
  const found = fs.readdirSync(runs).filter((n) => fs.existsSync(path.join(runs, n, 'events.jsonl')));
  assert.ok(found.length <= 1, `one run folder: ${found.join(' ')}`);
  return found[0] && path.join(runs, found[0]);
}

/** After a fault: nothing reads "running" (akd show), and the lock left behind does not block a resume. */
async function assertNotStuck(runDir: string): Promise<void> {
  const show = await runAkd(['show', runDir]);
  assert.equal(show.code, 0, show.stderr);
  assert.doesNotMatch(show.stdout, /status\s+running/, `a dead run reads running:\n${show.stdout}`);
}

/**
 * The whole history of a run that completed through faults: every session started no further back
 * than the last checkpoint before it (at most the current epoch redone), every epoch of every
 * phase was trained, the result equals the uninterrupted run's, and no temp files are left.
 */
function assertCompletedLikeReference(runDir: string): void {
  const { events } = readEventsReport(path.join(runDir, 'events.jsonl'));
  const end = events[events.length - 1] as RunCompletedEvent;
  assert.equal(end.type, 'run-completed', `last event ${end.type}`);
  assert.equal(end.summary.teacher.testAccuracy, reference.teacher, 'teacher as in the uninterrupted run');
  assert.equal(end.summary.student.testAccuracy, reference.student, 'student as in the uninterrupted run');
  assert.equal(events.filter((e) => e.type === 'run-completed').length, 1, 'completed once');

  let lastCheckpoint: CheckpointPosition | undefined;
  let lastEpoch: { phase: string; epoch: number } | undefined;
  for (const e of events) {
    if (e.type === 'checkpoint-saved' && e.path === path.join('checkpoints', 'latest'))
      lastCheckpoint = e.position;
    if (e.type === 'epoch-ended') lastEpoch = { phase: e.phase, epoch: e.epoch };
    if (e.type === 'run-started' && lastCheckpoint)
      assert.ok((e as RunStartedEvent).resumedFrom, 'a session after a checkpoint restarted from scratch');
    if (e.type === 'run-started' && (e as RunStartedEvent).resumedFrom) {
      const from = (e as RunStartedEvent).resumedFrom!;
      if (lastCheckpoint)
        assert.ok(
          atOrAfter(from, lastCheckpoint),
          `resumed from ${JSON.stringify(from)}, before the last checkpoint ${JSON.stringify(lastCheckpoint)}`,
        );
      if (lastEpoch && lastEpoch.phase === from.phase)
        assert.ok(
          from.epoch >= lastEpoch.epoch - 1,
          `lost more than the current epoch: ${JSON.stringify(from)}`,
        );
    }
  }
  const trained = new Set(
    events.filter((e) => e.type === 'epoch-ended').map((e) => `${e.phase}/${(e as { epoch: number }).epoch}`),
  );
  for (const [phase, n] of [
    ['teacher', 2],
    ['anneal', 4],
    ['finetune', 2],
  ] as const)
    for (let k = 1; k <= n; k++) assert.ok(trained.has(`${phase}/${k}`), `${phase} epoch ${k} was trained`);
  assert.deepEqual(tempLeftovers(runDir), [], 'no temp files left');
  assert.ok(!fs.existsSync(path.join(runDir, RUN_LOCK_FILE)), 'no lock left');
}

test('kill -9 at random moments across every phase: each resume continues; the run completes as if never killed', async (t) => {
  t.diagnostic(`AKD_FAULT_SEED=${SEED}`);
  const random = rng(SEED);
  const dir = tempDir('fault-kill');
  const config = faultConfig(dir);
  const runs = path.join(dir, 'runs');
  let kills = 0;
  for (let session = 0; ; session++) {
    assert.ok(session < 20, 'completes within 20 sessions');
    const runDir = theRun(runs);
    // The first 8 sessions are killed at a random moment of a full run's time (many die before
    // they finish); later ones run to the end.
    const killAfterMs = session < 8 ? Math.round(random() * reference.ms * 0.8) : undefined;
    const r = await akd(runDir ? ['resume', runDir, '--json'] : ['run', config, '--out', runs, '--json'], {
      killAfterMs,
    });
    if (r.code === 0) break;
    assert.equal(r.signal, 'SIGKILL', `only our kills end a session: exit ${r.code}\n${r.stderr}`);
    kills++;
    t.diagnostic(`session ${session} killed after ${killAfterMs} ms`);
    const after = theRun(runs);
    if (!after) {
      // Killed before the run folder had events: nothing started, nothing to resume.
      fs.rmSync(runs, { recursive: true, force: true });
      continue;
    }
    await assertNotStuck(after);
  }
  t.diagnostic(`${kills} kills`);
  assertCompletedLikeReference(theRun(runs)!);
});

test('kill -9 between the two renames of a checkpoint swap, in each phase: resume recovers the swap', async () => {
  // The swaps of a run: latest after each epoch and at phase ends, phase1-best, teacher/, student/.
  for (const nth of [2, 5, 9, 13]) {
    const dir = tempDir(`fault-swap-${nth}`);
    const runs = path.join(dir, 'runs');
    const killed = await akd(['run', faultConfig(dir), '--out', runs, '--json'], {
      env: { AKD_FAULT_KILL_AT: `checkpoint-swap:${nth}` },
    });
    assert.equal(killed.signal, 'SIGKILL', `swap ${nth}: ${killed.stderr}`);
    const runDir = theRun(runs)!;
    const parked = tempLeftovers(runDir);
    assert.ok(
      parked.some((p) => /\.(old|tmp)-\d+$/.test(p)),
      `swap ${nth} left its folders: ${parked.join(' ')}`,
    );
    await assertNotStuck(runDir);
    const resumed = await akd(['resume', runDir, '--json']);
    assert.equal(resumed.code, 0, `swap ${nth}: ${resumed.stderr}`);
    assertCompletedLikeReference(runDir);
  }
});

test('kill -9 half-way through an event line: the next session starts on a new line; show reports the torn line', async (t) => {
  const random = rng(SEED + 1);
  const nth = 3 + Math.floor(random() * 20);
  t.diagnostic(`killed in event write ${nth}`);
  const dir = tempDir('fault-torn');
  const runs = path.join(dir, 'runs');
  const killed = await akd(['run', faultConfig(dir), '--out', runs, '--json'], {
    env: { AKD_FAULT_KILL_AT: `event-write:${nth}` },
  });
  assert.equal(killed.signal, 'SIGKILL');
  const runDir = theRun(runs)!;
  assert.ok(!fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8').endsWith('\n'), 'a torn last line');
  await assertNotStuck(runDir);
  const resumed = await akd(['resume', runDir, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(readEventsReport(path.join(runDir, 'events.jsonl')).torn.length, 1);
  assert.match((await runAkd(['show', runDir])).stdout, /problem\s+.*line \d+ is not a complete event/);
  assertCompletedLikeReference(runDir);
});

test('four akd resume on a crashed run (its stale lock left behind): exactly one takes over', async () => {
  const dir = tempDir('fault-starters');
  const runs = path.join(dir, 'runs');
  const killed = await akd(['run', faultConfig(dir), '--out', runs, '--json'], {
    env: { AKD_FAULT_KILL_AT: 'checkpoint-swap:6' },
  });
  assert.equal(killed.signal, 'SIGKILL');
  const runDir = theRun(runs)!;
  assert.ok(fs.existsSync(path.join(runDir, RUN_LOCK_FILE)), 'the killed run left its lock');
  const before = readEventsReport(path.join(runDir, 'events.jsonl')).events.length;
  const all = await Promise.all([0, 1, 2, 3].map(() => akd(['resume', runDir, '--json'])));
  const codes = all.map((r) => r.code).sort();
  assert.deepEqual(codes, [0, 75, 75, 75], all.map((r) => r.stderr).join('\n'));
  const after = readEventsReport(path.join(runDir, 'events.jsonl')).events.slice(before);
  assert.equal(after.filter((e) => e.type === 'run-started').length, 1, 'one session');
  assertCompletedLikeReference(runDir);
});

test('the disk fills up at a random moment: failed with one line or completed; never torn, never stuck; resumes to the same result', async (t) => {
  const random = rng(SEED + 2);
  for (let round = 0; round < 2; round++) {
    const dir = tempDir(`fault-full-${round}`);
    const disk = mountSmallDisk(dir, 8 * 1024 * 1024);
    if (typeof disk === 'string') return t.skip(disk);
    try {
      const runs = path.join(disk.dir, 'runs');
      // Fill the disk when the run has written a random number of events (any phase).
      const at = 4 + Math.floor(random() * 24);
      t.diagnostic(`round ${round}: disk full after ${at} events`);
      let filler: string | undefined;
      const poll = setInterval(() => {
        const runDir = !filler && theRun(runs);
        if (runDir && readEventsReport(path.join(runDir, 'events.jsonl')).events.length >= at)
          filler = disk.fill(8 * 1024);
      }, 5);
      const r = await akd(['run', faultConfig(dir), '--out', runs]);
      clearInterval(poll);
      const runDir = theRun(runs)!;
      assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      const report = readEventsReport(path.join(runDir, 'events.jsonl'));
      assert.deepEqual(report.torn, [], 'no torn line');
      assert.deepEqual(tempLeftovers(runDir), [], 'no temp files');
      await assertNotStuck(runDir);
      t.diagnostic(
        `round ${round}: exit ${r.code}${r.code === 1 ? `: ${r.stderr.split('\n').find((l) => /disk full/.test(l))}` : ''}`,
      );
      if (r.code === 1) {
        assert.match(r.stderr, /^(failed|akd): (disk full|.*disk full)/m, r.stderr);
        loadResumeState(runDir); // the last checkpoint is intact (throws if not)
        if (filler) fs.rmSync(filler);
        const resumed = await akd(['resume', runDir, '--json']);
        assert.equal(resumed.code, 0, resumed.stderr);
      }
      assertCompletedLikeReference(runDir);
    } finally {
      disk.unmount();
    }
  }
});
