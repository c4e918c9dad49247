// Data-parallel training (runner/training/dataParallel.ts): a step over 2 replicas (main + one
// worker thread, each with its own wasm instance) gives the single-thread update up to float
// tolerance, the replicas stay identical, nothing leaks, workers stop; a 2-thread run trains
// end to end, cancels at a batch boundary with a checkpoint and resumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../runner/backend/selectBackend';
import { fusedBatchNormInstalled } from '../../../runner/backend/fusedBatchNorm';
import { buildModel } from '../../../runner/models/buildModel';
import type { ModelConfig } from '../../../runner/protocol/configTypes';
import { createOptimizer } from '../../../runner/training/optimizers';
import type { Objective } from '../../../runner/training/objective';
import { trainStep } from '../../../runner/training/stepGradients';
import { TrainingThreads, autoReplicas } from '../../../runner/training/dataParallel';
import { gatherBatch, gatherRows, type HostSplit } from '../../../runner/training/batches';
import { accuracy, predictLogits } from '../../../runner/training/evaluate';
import type { RunCompletedEvent, RunStartedEvent } from '../../../runner/protocol/events';
import { runAkd, tempDir, writeConfig } from '../../helpers/akdProcess';

function rand(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 32;
  }
  return v;
}

function split(n: number, shape: number[], classes: number, seed: number): HostSplit {
  const size = shape.reduce((a, b) => a * b, 1);
  const y = new Int32Array(n);
  const r = rand(n, seed + 1);
  for (let i = 0; i < n; i++) y[i] = Math.floor(r[i] * classes);
  return { x: rand(n * size, seed), y, n };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-12);
}

const weightsOf = (m: tf.LayersModel): Float32Array[] =>
  m.trainableWeights.map((w) => w.read().dataSync() as Float32Array);

interface Case {
  name: string;
  model: ModelConfig;
  shape: [number, number, number];
  objective: Objective;
  logits: boolean;
}

const cases: Case[] = [
  {
    name: 'MLP, annealing loss',
    model: { type: 'mlp', hidden: [16] },
    shape: [8, 8, 1],
    logits: true,
    objective: { kind: 'anneal', steps: [{ step: 0, temperature: 2, phi: 0.5, epochs: 1, firstEpoch: 0 }] },
  },
  {
    name: 'small CNN, cross-entropy',
    model: { type: 'cnn', filters: [4, 8], dense: [16] },
    shape: [10, 10, 1],
    logits: false,
    objective: { kind: 'ce' },
  },
  {
    name: 'MLP, Hinton KD with weight decay',
    model: { type: 'mlp', hidden: [12, 8] },
    shape: [6, 6, 2],
    logits: true,
    objective: { kind: 'kd', temperature: 3, alpha: 0.7 },
  },
];

test.before(async () => {
  await selectBackend('wasm');
});

test('inference on the training threads gives the very logits and accuracy of one thread', async () => {
  const shape: [number, number, number] = [10, 10, 1];
  const classes = 5;
  const data = split(230, shape, classes, 21);
  const model = buildModel(
    { type: 'cnn', filters: [4, 8], dense: [16] },
    { inputShape: shape, classes, seed: 5, name: 'm' },
  );
  // 2 threads asked for: the pool uses both whatever the model's size ("auto" would keep this small one on one).
  const threads = new TrainingThreads(2, 'wasm');
  try {
    const alone = predictLogits(model, data, shape, classes, 50);
    const both = await threads.predictLogits(model, data, shape, classes, 50);
    assert.equal(both.threads, 2);
    assert.equal(threads.workerCount, 1);
    assert.deepEqual(both.logits, alone, 'bit-identical: each batch is computed as on one thread');
    assert.equal(await threads.accuracy(model, data, shape, 50), accuracy(model, data, shape, 50));
    // Fewer batches than threads: main alone, no message round.
    const one = await threads.predictLogits(model, { ...data, n: 40 }, shape, classes, 50);
    assert.equal(one.threads, 1);
  } finally {
    await threads.close();
    model.dispose();
  }
  assert.equal(threads.workerCount, 0, 'workers stopped');
});

for (const c of cases) {
  test(`a data-parallel step (2 replicas) equals the single-thread step: ${c.name}`, async () => {
    const classes = 5;
    const data = split(100, c.shape, classes, 11);
    const teacherLogits = c.logits ? rand(100 * classes, 5).map((v) => 4 * v - 2) : undefined;
    const opt = {
      type: 'adam' as const,
      learningRate: 0.01,
      ...(c.objective.kind === 'kd' ? { weightDecay: 1e-3 } : {}),
    };
    const build = (): tf.LayersModel =>
      buildModel(c.model, { inputShape: c.shape, classes, seed: 3, name: 'm' });
    const single = build();
    const parallel = build();
    const so = createOptimizer(opt);
    const po = createOptimizer(opt);
    const vars = single.trainableWeights.map((w) => w.read() as tf.Variable);
    const threads = new TrainingThreads(2, 'wasm');
    try {
      const replicas = await threads.startPhase({
        model: parallel,
        optimizer: po,
        objective: c.objective,
        plan: {
          train: data,
          targets: teacherLogits ? { kind: 'cached', logits: teacherLogits } : undefined,
          inputShape: c.shape,
          classes,
        },
        batchSize: 40,
        replicas: 2,
      });
      if (!replicas) throw new Error('expected two replicas');
      assert.equal(threads.workerCount, 1);
      const order = Int32Array.from({ length: 100 }, (_, i) => (i * 37) % 100);
      // Batches of 32, 32 and an odd 37 (shards 19 + 18); then 32 again.
      const batches = [
        order.subarray(0, 32),
        order.subarray(32, 64),
        order.subarray(63, 100),
        order.subarray(10, 42),
      ];
      let tensorsAfterFirst = 0;
      for (const [i, ids] of batches.entries()) {
        const b = gatherBatch(data, c.shape[0] * c.shape[1] * c.shape[2], ids, 0, ids.length);
        const targets = teacherLogits ? gatherRows(teacherLogits, classes, ids) : undefined;
        const s = trainStep(
          single,
          c.objective,
          so,
          vars,
          { x: b.x, y: b.y, targets },
          c.shape,
          classes,
          0.5,
        );
        const p: { loss: number; correct: number } = await replicas.step(ids, 0.5, 0);
        assert.ok(
          Math.abs(p.loss - s.loss) <= 1e-5 * Math.max(1, Math.abs(s.loss)),
          `step ${i}: loss ${p.loss} vs ${s.loss}`,
        );
        assert.equal(p.correct, s.correct, `step ${i}: correct`);
        if (i === 0) tensorsAfterFirst = tf.memory().numTensors;
      }
      assert.equal(tf.memory().numTensors, tensorsAfterFirst, 'no tensor leak per data-parallel step');
      const ws = weightsOf(single);
      const wp = weightsOf(parallel);
      ws.forEach((w, i) => {
        const e = maxRelDiff(wp[i], w);
        assert.ok(
          e < 2e-5,
          `weight ${i}: relative difference ${e.toExponential(2)} vs the single-thread step`,
        );
      });
      // Every replica applied the same averaged update: bit-identical.
      const [mine, worker] = await replicas.replicaWeights();
      mine.forEach((w, i) => assert.deepEqual(worker[i].values, w.values, `replica weights ${w.name}`));
      await replicas.end();
    } finally {
      await threads.close();
      assert.equal(threads.workerCount, 0, 'workers stopped');
      single.dispose();
      parallel.dispose();
      so.optimizer.dispose();
      po.optimizer.dispose();
    }
  });
}

test('ResNet (batchnorm) on 2 replicas: they stay identical; per-shard moving statistics get averaged', async () => {
  assert.ok(fusedBatchNormInstalled(), 'the fused batchnorm is installed on this thread');
  const shape: [number, number, number] = [8, 8, 3];
  const classes = 4;
  const data = split(64, shape, classes, 21);
  const model = buildModel(
    { type: 'resnet', depth: 8, width: 4 },
    { inputShape: shape, classes, seed: 2, name: 'r' },
  );
  const optimizer = createOptimizer({ type: 'adam', learningRate: 0.01 });
  const threads = new TrainingThreads(2, 'wasm');
  try {
    const replicas = await threads.startPhase({
      model,
      optimizer,
      objective: { kind: 'ce' },
      plan: { train: data, inputShape: shape, classes },
      batchSize: 32,
      replicas: 2,
    });
    if (!replicas) throw new Error('expected two replicas');
    const before = model.nonTrainableWeights.map((w) => w.read().dataSync().slice() as Float32Array);
    for (let i = 0; i < 3; i++) {
      const r = await replicas.step(
        Int32Array.from({ length: 32 }, (_, j) => (i * 32 + j * 7) % 64),
        1,
        0,
      );
      assert.ok(Number.isFinite(r.loss), `step ${i}: loss ${r.loss}`);
    }
    const [mine, worker] = await replicas.replicaWeights();
    mine.forEach((w, i) => assert.deepEqual(worker[i].values, w.values, `replica weights ${w.name}`));
    // Each replica's moving statistics come from its own shard until they are averaged.
    const moved = model.nonTrainableWeights.map((w) => w.read().dataSync().slice() as Float32Array);
    assert.ok(
      moved.some((m, i) => maxRelDiff(m, before[i]) > 0),
      'the moving statistics moved',
    );
    await replicas.syncStatistics();
    const synced = model.nonTrainableWeights.map((w) => w.read().dataSync() as Float32Array);
    assert.ok(
      synced.some((m, i) => maxRelDiff(m, moved[i]) > 0),
      "averaging changed replica 0's statistics",
    );
    await replicas.end();
  } finally {
    await threads.close();
    model.dispose();
    optimizer.optimizer.dispose();
  }
});

test('"auto" keeps the tiny MLP student on one thread and splits the CNN teacher', () => {
  const mlp = buildModel(
    { type: 'mlp', hidden: [32] },
    { inputShape: [28, 28, 1], classes: 10, seed: 1, name: 'a' },
  );
  const cnn = buildModel(
    { type: 'cnn', filters: [32, 64], dense: [128] },
    { inputShape: [28, 28, 1], classes: 10, seed: 1, name: 'b' },
  );
  assert.equal(autoReplicas(mlp, 128, 2), 1);
  assert.equal(autoReplicas(cnn, 128, 2), 2);
  assert.equal(autoReplicas(cnn, 128, 1), 1);
  mlp.dispose();
  cnn.dispose();
});

test('a 2-thread run trains end to end; SIGTERM checkpoints at a batch boundary (exit 143) and resume completes', async () => {
  const dir = tempDir('dp');
  const adam = (learningRate: number) => ({ type: 'adam', learningRate });
  const config = writeConfig(dir, 'dp', {
    name: 'dp',
    seed: 3,
    data: { dataset: 'mnist', trainLimit: 2000, testLimit: 500, validationFraction: 0.1 },
    teacher: { model: { type: 'cnn', filters: [8], dense: [32] }, epochs: 2, optimizer: adam(0.003) },
    student: { model: { type: 'mlp', hidden: [16] } },
    method: {
      type: 'annealing',
      tauMax: 2,
      phase1: { epochs: 4, optimizer: adam(0.003) },
      phase2: { epochs: 2, optimizer: adam(0.001) },
    },
    batchSize: 64,
    backend: 'wasm',
    threads: 2,
  });
  let signalled = false;
  const first = await runAkd(['run', config, '--json'], {
    onEvent: (e, child) => {
      if (!signalled && e.type === 'epoch-ended' && e.phase === 'anneal' && e.epoch === 1) {
        signalled = true;
        child.kill('SIGTERM');
      }
    },
  });
  assert.equal(first.code, 143, first.stderr);
  const started = first.events[0] as RunStartedEvent;
  assert.equal(started.threads, 2);
  assert.match(started.backendNote ?? '', /wasm.*2 threads/);
  const phases = first.events.filter((e) => e.type === 'phase-started');
  assert.ok(phases.length > 0 && phases.every((p) => p.type === 'phase-started' && p.threads === 2));
  assert.equal(first.events[first.events.length - 1].type, 'run-cancelled');
  const runDir = started.runDir;
  assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'latest', 'optimizer.bin')));

  const second = await runAkd(['resume', runDir, '--json']);
  assert.equal(second.code, 0, second.stderr);
  const done = second.events[second.events.length - 1] as RunCompletedEvent;
  assert.equal(done.type, 'run-completed');
  assert.ok(done.summary.teacher.testAccuracy! > 0.8, `teacher ${done.summary.teacher.testAccuracy}`);
  assert.ok(done.summary.student.testAccuracy! > 0.6, `student ${done.summary.student.testAccuracy}`);
});
