/**
 * `akd sweep` end to end through the real CLI, on tiny MNIST subsets with MLPs: the shared
 * teacher is trained exactly once, a failing member does not stop the others, a stopped sweep
 * resumes, and a later sweep reuses the cached teacher.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent, RunSummary } from '../../../runner/protocol/events';
import type { MemberEndedEvent, SweepEndedEvent, SweepEvent } from '../../../runner/protocol/sweepEvents';
import { type SweepManifest } from '../../../runner/protocol/sweepManifest';
import { readEvents } from '../../../runner/protocol/eventTail';
import { runAkd, tempDir, writeConfig } from '../../helpers/akdProcess';

const adam = (learningRate: number) => ({ type: 'adam', learningRate });

function tinyConfig(
  name: string,
  sweep: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    seed: 7,
    data: { dataset: 'mnist', trainLimit: 1500, testLimit: 500, validationFraction: 0.1 },
    teacher: { model: { type: 'mlp', hidden: [64] }, epochs: 2, optimizer: adam(0.003) },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: {
      type: 'annealing',
      tauMax: 2,
      phase1: { epochs: 2, optimizer: adam(0.005) },
      phase2: { epochs: 1, optimizer: adam(0.002) },
    },
    batchSize: 64,
    backend: 'wasm',
    sweep,
    ...extra,
  };
}

const sweepEvents = (events: RunEvent[]): SweepEvent[] => events as unknown as SweepEvent[];
const ended = (events: SweepEvent[]): MemberEndedEvent[] =>
  events.filter((e): e is MemberEndedEvent => e.type === 'member-ended');
const sweepDirOf = (events: SweepEvent[]): string => {
  const s = events.find((e) => e.type === 'sweep-started');
  assert.ok(s && s.type === 'sweep-started');
  return s.sweepDir;
};

function teacherPhaseCount(sweepDir: string, manifest: SweepManifest): number {
  let n = 0;
  for (const m of manifest.members) {
    n += readEvents(path.join(sweepDir, m.runDir, 'events.jsonl')).filter(
      (e) => e.type === 'phase-started' && e.phase === 'teacher',
    ).length;
  }
  return n;
}

test('a 4-member sweep trains its teacher once; a diverging member fails alone; the next sweep reuses the cached teacher', async () => {
  const dir = tempDir('sweep');
  const config = writeConfig(
    dir,
    'gap',
    tinyConfig('gap', {
      seeds: [1],
      methods: ['scratch', 'kd', 'annealing'],
      // The second scratch member diverges on purpose: SGD with a learning rate of 1e30 overflows to a NaN loss.
      grid: { 'scratch.optimizer': [adam(0.005), { type: 'sgd', learningRate: 1e30 }] },
      concurrency: 2,
    }),
  );
  const r = await runAkd(['sweep', config, '--json', '--out', path.join(dir, 'sweep-a')]);
  assert.equal(r.code, 1, r.stderr);
  const events = sweepEvents(r.events);
  const sweepDir = sweepDirOf(events);
  const manifest = JSON.parse(fs.readFileSync(path.join(sweepDir, 'sweep.json'), 'utf8')) as SweepManifest;
  assert.equal(manifest.members.length, 4);
  assert.equal(manifest.teachers.length, 1);

  // Failure isolation: exactly the diverging member failed, with the reason; the other three completed.
  const byId = new Map(ended(events).map((e) => [e.id, e]));
  assert.equal(byId.size, 4);
  const failed = ended(events).filter((e) => e.status === 'failed');
  assert.deepEqual(
    failed.map((e) => e.id),
    ['scratch-optimizersgd-1e_30-s1'],
  );
  assert.match(failed[0].error ?? '', /loss became NaN|loss became Infinity/);
  assert.equal(ended(events).filter((e) => e.status === 'completed').length, 3);
  const end = events[events.length - 1] as SweepEndedEvent;
  assert.equal(end.type, 'sweep-ended');
  assert.equal(end.status, 'failed');
  assert.deepEqual(end.counts, { completed: 3, failed: 1, cancelled: 0, skipped: 0, pending: 0 });

  // The teacher: trained exactly once over all members, by the first one; the rest load it from the cache.
  assert.equal(teacherPhaseCount(sweepDir, manifest), 1);
  const trainer = manifest.members.find((m) => m.trainsTeacher)!;
  assert.equal(trainer.id, manifest.members[0].id);
  const cacheDir = manifest.teachers[0].cacheDir;
  assert.equal(path.dirname(cacheDir), path.join(dir, '.akd', 'teachers'));
  assert.ok(fs.existsSync(path.join(cacheDir, 'model.json')));
  const teacherAcc = (
    JSON.parse(fs.readFileSync(path.join(sweepDir, trainer.runDir, 'summary.json'), 'utf8')) as RunSummary
  ).teacher.testAccuracy;
  for (const m of manifest.members.filter(
    (x) => !x.trainsTeacher && byId.get(x.id)?.status === 'completed',
  )) {
    const s = JSON.parse(
      fs.readFileSync(path.join(sweepDir, m.runDir, 'summary.json'), 'utf8'),
    ) as RunSummary;
    assert.equal(s.teacher.source, 'checkpoint');
    assert.equal(s.teacher.teacherFromRun, trainer.id, `${m.id} says which run's teacher it used`);
    assert.equal(s.teacher.testAccuracy, teacherAcc);
    assert.equal(s.method, m.method);
  }
  const ready = events.filter((e) => e.type === 'teacher-ready');
  assert.equal(ready.length, 1);
  assert.ok(
    ready[0].type === 'teacher-ready' && ready[0].source === 'trained' && ready[0].fromRun === trainer.id,
  );

  // A second sweep of the same teacher and data trains no teacher at all.
  const config2 = writeConfig(
    dir,
    'again',
    tinyConfig('again', { seeds: [3], methods: ['kd', 'takd'], concurrency: 2 }),
  );
  const r2 = await runAkd(['sweep', config2, '--json']);
  assert.equal(r2.code, 0, r2.stderr);
  const events2 = sweepEvents(r2.events);
  const dir2 = sweepDirOf(events2);
  assert.equal(path.dirname(dir2), path.join(dir, '.akd', 'sweeps'));
  const manifest2 = JSON.parse(fs.readFileSync(path.join(dir2, 'sweep.json'), 'utf8')) as SweepManifest;
  assert.equal(manifest2.teachers[0].key, manifest.teachers[0].key);
  assert.equal(teacherPhaseCount(dir2, manifest2), 0);
  const ready2 = events2.find((e) => e.type === 'teacher-ready');
  assert.ok(ready2 && ready2.type === 'teacher-ready' && ready2.source === 'cache');
  // TAKD: teacher -> assistant -> student, the assistant reported in the summary.
  const takd = manifest2.members.find((m) => m.method === 'takd')!;
  const s = JSON.parse(fs.readFileSync(path.join(dir2, takd.runDir, 'summary.json'), 'utf8')) as RunSummary;
  assert.deepEqual(
    s.phases.map((p) => p.phase),
    ['assistant', 'kd'],
  );
  assert.ok(
    s.assistant && s.assistant.params > s.student.params && s.assistant.testAccuracy! > 0.5,
    JSON.stringify(s.assistant),
  );
  assert.ok(s.student.testAccuracy! > 0.3);
});

test('SIGTERM stops a sweep (members checkpoint); resume skips the completed and finishes the rest', async () => {
  const dir = tempDir('sweep-stop');
  const config = writeConfig(
    dir,
    'stop',
    tinyConfig(
      'stop',
      {
        seeds: [1, 2],
        methods: ['scratch', 'annealing'],
        concurrency: 2,
      },
      {
        method: {
          type: 'annealing',
          tauMax: 4,
          phase1: { epochs: 8, optimizer: adam(0.005) },
          phase2: { epochs: 4, optimizer: adam(0.002) },
        },
        data: { dataset: 'mnist', trainLimit: 3000, testLimit: 500, validationFraction: 0.1 },
      },
    ),
  );
  let signalled = false;
  const first = await runAkd(['sweep', config, '--json', '--out', path.join(dir, 'sw')], {
    onEvent: (e, child) => {
      const se = e as unknown as SweepEvent;
      // Stop once a member that does not train the teacher is mid-run (it has finished an epoch).
      if (se.type === 'member-started' && !se.trainsTeacher && !signalled) {
        const file = path.join(se.runDir, 'events.jsonl');
        const poll = setInterval(() => {
          if (signalled) {
            clearInterval(poll);
            return;
          }
          if (readEvents(file).some((x) => x.type === 'epoch-ended')) {
            signalled = true;
            clearInterval(poll);
            child.kill('SIGTERM');
          }
        }, 50);
      }
    },
  });
  assert.equal(first.code, 143, first.stderr);
  const events = sweepEvents(first.events);
  const sweepDir = sweepDirOf(events);
  const end = events[events.length - 1] as SweepEndedEvent;
  assert.equal(end.status, 'cancelled');
  const cancelled = ended(events).filter((e) => e.status === 'cancelled');
  assert.ok(cancelled.length >= 1, JSON.stringify(ended(events)));
  for (const c of cancelled) {
    const runDir = path.join(sweepDir, c.id);
    assert.ok(
      fs.existsSync(path.join(runDir, 'checkpoints', 'latest', 'state.json')),
      `${c.id} checkpointed`,
    );
    assert.equal(readEvents(path.join(runDir, 'events.jsonl')).pop()?.type, 'run-cancelled');
  }
  const doneBefore = new Set(
    ended(events)
      .filter((e) => e.status === 'completed')
      .map((e) => e.id),
  );

  const second = await runAkd(['resume', sweepDir, '--json']);
  assert.equal(second.code, 0, second.stderr);
  const events2 = sweepEvents(second.events);
  const started2 = events2.filter((e) => e.type === 'member-started');
  for (const s of started2)
    assert.ok(s.type === 'member-started' && !doneBefore.has(s.id), 'completed members are not run again');
  for (const c of cancelled) {
    const s = started2.find((x) => x.type === 'member-started' && x.id === c.id);
    assert.ok(s && s.type === 'member-started' && s.resumed, `${c.id} resumed`);
    const runs = readEvents(path.join(sweepDir, c.id, 'events.jsonl'))
      .filter((e) => e.type.startsWith('run-'))
      .map((e) => e.type);
    assert.deepEqual(runs, ['run-started', 'run-cancelled', 'run-started', 'run-completed']);
  }
  const end2 = events2[events2.length - 1] as SweepEndedEvent;
  assert.deepEqual(end2.counts, { completed: 4, failed: 0, cancelled: 0, skipped: 0, pending: 0 });
  const manifest = JSON.parse(fs.readFileSync(path.join(sweepDir, 'sweep.json'), 'utf8')) as SweepManifest;
  assert.equal(teacherPhaseCount(sweepDir, manifest), 1, 'the teacher is trained once across both sessions');
});

test('a teacher that fails to train fails its trainer and skips the members waiting for it, with the reason', async () => {
  const dir = tempDir('sweep-teacher-fails');
  const config = writeConfig(
    dir,
    'bad-teacher',
    tinyConfig(
      'bad-teacher',
      { seeds: [1], methods: ['scratch', 'kd', 'annealing'], concurrency: 2 },
      {
        // Diverges on the first batches: SGD with a learning rate of 1e30.
        teacher: {
          model: { type: 'mlp', hidden: [64] },
          epochs: 1,
          optimizer: { type: 'sgd', learningRate: 1e30 },
        },
      },
    ),
  );
  const r = await runAkd(['sweep', config, '--json', '--out', path.join(dir, 'sw')]);
  assert.equal(r.code, 1, r.stderr);
  const events = sweepEvents(r.events);
  const byStatus = (s: string): string[] =>
    ended(events)
      .filter((e) => e.status === s)
      .map((e) => e.id);
  assert.deepEqual(byStatus('failed'), ['scratch-s1']);
  assert.deepEqual(byStatus('skipped').sort(), ['annealing-s1', 'kd-s1']);
  for (const e of ended(events).filter((x) => x.status === 'skipped'))
    assert.match(e.error ?? '', /scratch-s1, which trains its teacher, ended failed/);
  const end = events[events.length - 1] as SweepEndedEvent;
  assert.deepEqual(end.counts, { completed: 0, failed: 1, cancelled: 0, skipped: 2, pending: 0 });
  assert.equal(
    events.filter((e) => e.type === 'member-started').length,
    1,
    'nobody else started without a teacher',
  );
});

test('akd stop SWEEP_DIR on a running local sweep stops it: no pending member starts afterwards', async () => {
  const dir = tempDir('sweep-akd-stop');
  const config = writeConfig(
    dir,
    'astop',
    tinyConfig(
      'astop',
      {
        seeds: [1, 2],
        methods: ['scratch', 'annealing'],
        concurrency: 1,
      },
      {
        method: {
          type: 'annealing',
          tauMax: 4,
          phase1: { epochs: 8, optimizer: adam(0.005) },
          phase2: { epochs: 4, optimizer: adam(0.002) },
        },
        data: { dataset: 'mnist', trainLimit: 3000, testLimit: 500, validationFraction: 0.1 },
      },
    ),
  );
  let stopper: Promise<Awaited<ReturnType<typeof runAkd>>> | undefined;
  const sweep = await runAkd(['sweep', config, '--json', '--out', path.join(dir, 'sw')], {
    onEvent: (e) => {
      const se = e as unknown as SweepEvent;
      // Once a member that does not train the teacher is mid-run, stop the sweep from another process.
      if (se.type === 'member-started' && !se.trainsTeacher && !stopper) {
        const file = path.join(se.runDir, 'events.jsonl');
        const sweepDir = path.dirname(se.runDir);
        stopper = new Promise((resolve) => {
          const poll = setInterval(() => {
            if (readEvents(file).some((x) => x.type === 'epoch-ended')) {
              clearInterval(poll);
              resolve(runAkd(['stop', sweepDir]));
            }
          }, 50);
        });
      }
    },
  });
  assert.ok(stopper, 'the sweep reached a second member');
  const stop = await stopper;
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(sweep.code, 143, sweep.stderr);
  const events = sweepEvents(sweep.events);
  const end = events[events.length - 1] as SweepEndedEvent;
  assert.equal(end.status, 'cancelled');
  assert.ok(end.counts.pending >= 1, `members still pending after the stop: ${JSON.stringify(end.counts)}`);
  const cancelled = ended(events).filter((e) => e.status === 'cancelled');
  assert.equal(cancelled.length, 1);
  const runDir = path.join(sweepDirOf(events), cancelled[0].id);
  assert.ok(
    fs.existsSync(path.join(runDir, 'checkpoints', 'latest', 'state.json')),
    'the stopped member checkpointed',
  );
});
