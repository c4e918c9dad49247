// The reference evaluation protocol (evaluation.protocol "reference", the Annealing-KD code's):
// it trains on the whole training set, selects the teacher's and phase 1's best epochs on the
// test set, and reports the best test epoch of the last phase; runs, events and compare say so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ExperimentConfig } from '../../../runner/protocol/configTypes';
import type { EpochEndedEvent, RunEvent, RunStartedEvent, RunSummary } from '../../../runner/protocol/events';
import { collectRuns, groupRuns } from '../../../runner/compare/collect';
import { EventLog } from '../../../runner/store/eventLog';
import { loadModel } from '../../../runner/store/modelFiles';
import { createRunDir } from '../../../runner/store/runStore';
import { runExperiment } from '../../../runner/training/runExperiment';
import { accuracy } from '../../../runner/training/evaluate';
import { loadDataset } from '../../../runner/data/dataset';
import { learningRateAt } from '../../../runner/training/optimizers';
import { tempDir } from '../../helpers/akdProcess';

const adam = (learningRate: number) => ({ type: 'adam' as const, learningRate });

function config(protocol: 'held-out' | 'reference'): ExperimentConfig {
  return {
    name: 'proto',
    seed: 3,
    data: { dataset: 'mnist', trainLimit: 1500, testLimit: 600, validationFraction: 0.2 },
    evaluation: { protocol },
    teacher: { model: { type: 'mlp', hidden: [48] }, epochs: 4, optimizer: adam(0.003) },
    student: { model: { type: 'mlp', hidden: [12] } },
    method: {
      type: 'annealing',
      tauMax: 2,
      phase1: { epochs: 4, optimizer: adam(0.003) },
      phase2: { epochs: 4, optimizer: adam(0.003) },
    },
    batchSize: 64,
    backend: 'wasm',
    threads: 1,
  };
}

async function run(
  root: string,
  c: ExperimentConfig,
): Promise<{ runDir: string; events: RunEvent[]; summary: RunSummary }> {
  const { runId, runDir } = createRunDir(root, c.name);
  const log = new EventLog(path.join(runDir, 'events.jsonl'));
  const events: RunEvent[] = [];
  log.onEvent((e) => events.push(e));
  fs.writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(c));
  try {
    const out = await runExperiment({
      config: c,
      configPath: path.join(root, 'x.akd.json'),
      runId,
      runDir,
      log,
      cancel: { cancelled: false },
    });
    assert.equal(out.status, 'completed', out.summary.error);
    return { runDir, events, summary: out.summary };
  } finally {
    log.close();
  }
}

test('reference protocol: whole training set, teacher and phase-1 checkpoints picked on test, best test epoch reported', async () => {
  const root = tempDir('reference-protocol');
  try {
    const r = await run(root, config('reference'));
    const started = r.events.find((e): e is RunStartedEvent => e.type === 'run-started')!;
    assert.equal(started.protocol, 'reference');
    assert.equal(started.data.validation, 0, 'nothing held out');
    assert.equal(started.data.train, 1500, 'trains on every training example');

    const epochs = r.events.filter((e): e is EpochEndedEvent => e.type === 'epoch-ended');
    assert.ok(
      epochs.every((e) => e.valAccuracy === null && typeof e.testAccuracy === 'number'),
      'epochs report test',
    );
    const of = (phase: string): number[] =>
      epochs.filter((e) => e.phase === phase).map((e) => e.testAccuracy!);
    const argmax = (xs: number[]): number => xs.indexOf(Math.max(...xs));

    // The teacher it distils from is its best test epoch (first best on ties), saved as teacher/.
    const teacherCurve = of('teacher');
    const teacherPhase = r.summary.phases.find((p) => p.phase === 'teacher')!;
    assert.equal(teacherPhase.selectedOn, 'test');
    assert.equal(teacherPhase.bestEpoch, argmax(teacherCurve) + 1);
    assert.equal(r.summary.teacher.testAccuracy, Math.max(...teacherCurve));
    const data = loadDataset(
      { dataset: 'mnist', trainLimit: 1500, testLimit: 600, validationFraction: 0 },
      root,
    );
    const teacher = await loadModel(path.join(r.runDir, 'teacher', 'model.json'));
    assert.equal(accuracy(teacher, data.test, data.inputShape, 1000), Math.max(...teacherCurve));
    teacher.dispose();

    // Phase 1's best epoch is picked on test; phase 2 reports its best test epoch, and the last one too.
    const anneal = r.summary.phases.find((p) => p.phase === 'anneal')!;
    assert.equal(anneal.bestEpoch, argmax(of('anneal')) + 1);
    const finetune = of('finetune');
    assert.equal(r.summary.protocol, 'reference');
    assert.equal(r.summary.student.testAccuracy, Math.max(...finetune));
    assert.equal(r.summary.student.finalTestAccuracy, finetune[finetune.length - 1]);
    const student = await loadModel(path.join(r.runDir, 'student', 'model.json'));
    assert.equal(
      accuracy(student, data.test, data.inputShape, 1000),
      Math.max(...finetune),
      'student/ is that epoch',
    );
    student.dispose();
    assert.ok(fs.existsSync(path.join(r.runDir, 'checkpoints', 'teacher-best', 'model.json')));
    assert.ok(fs.existsSync(path.join(r.runDir, 'checkpoints', 'student-best', 'model.json')));

    // The default protocol holds out validation data and reports the final student.
    const h = await run(root, config('held-out'));
    assert.equal(h.summary.protocol, 'held-out');
    assert.ok(
      h.events.some(
        (e) => e.type === 'epoch-ended' && e.valAccuracy !== null && e.testAccuracy === undefined,
      ),
    );
    assert.equal(h.summary.student.finalTestAccuracy, undefined);

    // compare labels the reference run and refuses to average it with held-out runs.
    const [g] = groupRuns(collectRuns([r.runDir]));
    assert.equal(g.protocol, 'reference');
    assert.match(g.label, /reference protocol: selected on test/);
    assert.equal(g.val.n, 0, 'no validation accuracy to tune on');
    assert.throws(() => groupRuns(collectRuns([r.runDir, h.runDir])), /mixes evaluation protocols/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
    tf.disposeVariables();
  }
});

test("step-schedule milestones start at floor(m * epochs), as the reference code's int(E / 2) and int(3E / 4)", () => {
  const sgd = {
    type: 'sgd' as const,
    learningRate: 0.1,
    schedule: { type: 'step' as const, milestones: [0.5, 0.75], gamma: 0.1 },
  };
  // E = 5: milestones at epochs 2 and 3 (round would give 3 and 4).
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((e) => Number(learningRateAt(sgd, e, 5).toPrecision(6))),
    [0.1, 0.1, 0.01, 0.001, 0.001],
  );
  // E = 200 (the paper): x0.1 from epoch 100, x0.01 from epoch 150.
  assert.equal(learningRateAt(sgd, 99, 200), 0.1);
  assert.equal(Number(learningRateAt(sgd, 100, 200).toPrecision(6)), 0.01);
  assert.equal(Number(learningRateAt(sgd, 150, 200).toPrecision(6)), 0.001);
});
