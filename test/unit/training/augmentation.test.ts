// Augmentation (runner/data/augment.ts) and per-batch teacher targets (runner/training/shards.ts):
// crops and flips move pixels where they should and pad with the raw-0 value; the draws depend
// only on (seed, phase, epoch, sample); per-batch targets equal the cached logits when nothing is
// augmented; a data-parallel step with per-batch targets on augmented shards equals the
// single-thread step; and a real augmented run, cancelled mid-epoch and resumed, replays exactly
// the batches of an uninterrupted one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../runner/backend/selectBackend';
import { Augmenter, sampleDraw, type AugmentSpec } from '../../../runner/data/augment';
import { buildModel } from '../../../runner/models/buildModel';
import type { ExperimentConfig } from '../../../runner/protocol/configTypes';
import type { EpochEndedEvent, RunEvent, RunStartedEvent } from '../../../runner/protocol/events';
import { EventLog } from '../../../runner/store/eventLog';
import { createRunDir } from '../../../runner/store/runStore';
import { predictLogits } from '../../../runner/training/evaluate';
import { createOptimizer } from '../../../runner/training/optimizers';
import { trainStep } from '../../../runner/training/stepGradients';
import { runExperiment } from '../../../runner/training/runExperiment';
import { ShardSource, type ShardPlan } from '../../../runner/training/shards';
import { TrainingThreads } from '../../../runner/training/dataParallel';
import type { HostSplit } from '../../../runner/training/batches';
import { tempDir } from '../../helpers/akdProcess';

/** A 4x5 image with 2 channels whose pixel (y, x, c) holds 100*y + 10*x + c. */
function ramp(h: number, w: number, c: number): Float32Array {
  const x = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++)
    for (let xx = 0; xx < w; xx++)
      for (let ch = 0; ch < c; ch++) x[(y * w + xx) * c + ch] = 100 * y + 10 * xx + ch;
  return x;
}

const spec = (config: AugmentSpec['config'], shape = [4, 5, 2], seed = 3, phase = 'kd'): AugmentSpec => ({
  config,
  inputShape: shape,
  padValues: [-1, -2],
  seed,
  phase,
});

test("random crop shifts by the drawn offset and pads with each channel's raw-0 value; flip mirrors the crop", () => {
  const [h, w, c] = [4, 5, 2];
  const pad = 1;
  for (const flip of [false, true]) {
    const aug = new Augmenter(spec({ randomCrop: pad, horizontalFlip: flip }));
    const ids = Int32Array.from({ length: 40 }, (_, i) => i);
    const x = new Float32Array(40 * h * w * c);
    for (let i = 0; i < 40; i++) x.set(ramp(h, w, c), i * h * w * c);
    aug.apply(x, ids, 0);
    const key = (aug as unknown as { key: number }).key;
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const d = sampleDraw(key, 0, i, pad);
      const flipped = flip && d.flip;
      seen.add(`${d.dy},${d.dx},${flipped}`);
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++)
          for (let ch = 0; ch < c; ch++) {
            const sy = y + d.dy - pad;
            const sx = (flipped ? w - 1 - xx : xx) + d.dx - pad;
            const want = sy < 0 || sy >= h || sx < 0 || sx >= w ? [-1, -2][ch] : 100 * sy + 10 * sx + ch;
            assert.equal(x[i * h * w * c + (y * w + xx) * c + ch], want, `sample ${i} (${y},${xx},${ch})`);
          }
    }
    // 40 samples cover most of the 9 offsets (x2 with flips): the draws are not stuck.
    assert.ok(seen.size >= (flip ? 10 : 6), `distinct draws: ${seen.size}`);
  }
});

test('augmentation draws depend only on (seed, phase, epoch, sample), not on the batch a sample is in', () => {
  const draws = (seed: number, phase: string, epoch: number, ids: number[]): string[] => {
    const aug = new Augmenter(spec({ randomCrop: 2, horizontalFlip: true }, [4, 5, 2], seed, phase));
    const x = new Float32Array(ids.length * 40);
    for (let i = 0; i < ids.length; i++) x.set(ramp(4, 5, 2), i * 40);
    aug.apply(x, Int32Array.from(ids), epoch);
    return ids.map((_, i) => Array.from(x.subarray(i * 40, (i + 1) * 40)).join(','));
  };
  const a = draws(3, 'kd', 2, [0, 1, 2, 3, 4, 5, 6, 7]);
  // The same samples in another order (another batch composition) get the same images.
  const b = draws(3, 'kd', 2, [7, 6, 5, 4, 3, 2, 1, 0]).reverse();
  assert.deepEqual(b, a);
  assert.deepEqual(draws(3, 'kd', 2, [0, 1, 2, 3, 4, 5, 6, 7]), a, 'deterministic');
  assert.notDeepEqual(draws(3, 'kd', 3, [0, 1, 2, 3, 4, 5, 6, 7]), a, 'another epoch, other draws');
  assert.notDeepEqual(draws(4, 'kd', 2, [0, 1, 2, 3, 4, 5, 6, 7]), a, 'another seed, other draws');
  assert.notDeepEqual(draws(3, 'anneal', 2, [0, 1, 2, 3, 4, 5, 6, 7]), a, 'another phase, other draws');
});

test('per-batch teacher targets equal the cached logits when nothing is augmented (MLP and CNN teachers)', async () => {
  await selectBackend('wasm');
  const shape: [number, number, number] = [12, 12, 1];
  const n = 300;
  const train: HostSplit = {
    x: Float32Array.from({ length: n * 144 }, (_, i) => ((i * 2654435761) % 1000) / 1000),
    y: Int32Array.from({ length: n }, (_, i) => i % 10),
    n,
  };
  for (const model of [
    buildModel({ type: 'mlp', hidden: [32] }, { inputShape: shape, classes: 10, seed: 1, name: 't1' }),
    buildModel(
      { type: 'cnn', filters: [4, 8], dense: [16] },
      { inputShape: shape, classes: 10, seed: 2, name: 't2' },
    ),
  ]) {
    const logits = predictLogits(model, train, shape, 10, 1000);
    const plan: ShardPlan = { train, inputShape: shape, classes: 10 };
    const cached = new ShardSource({ ...plan, targets: { kind: 'cached', logits } });
    const perBatch = new ShardSource({ ...plan, targets: { kind: 'per-batch', model } });
    assert.ok(perBatch.perBatchTargets && !cached.perBatchTargets);
    const ids = Int32Array.from({ length: 128 }, (_, i) => (i * 37 + 5) % n);
    const a = cached.gather(ids, 0);
    const b = perBatch.gather(ids, 0);
    assert.deepEqual(b.x, a.x);
    assert.deepEqual(b.y, a.y);
    let worst = 0;
    for (let i = 0; i < a.targets!.length; i++)
      worst = Math.max(worst, Math.abs(a.targets![i] - b.targets![i]) / Math.max(1, Math.abs(a.targets![i])));
    assert.ok(worst <= 1e-6, `${model.name}: per-batch vs cached logits differ by ${worst}`);
    assert.ok(perBatch.takeTargetSeconds() > 0, 'per-batch target time is measured');
    assert.equal(perBatch.takeTargetSeconds(), 0, 'and reset when taken');
    model.dispose();
  }
});

test('a data-parallel step with per-batch targets on augmented shards equals the single-thread step', async () => {
  await selectBackend('wasm');
  const shape: [number, number, number] = [10, 10, 1];
  const n = 96;
  const train: HostSplit = {
    x: Float32Array.from({ length: n * 100 }, (_, i) => ((i * 40503) % 997) / 997),
    y: Int32Array.from({ length: n }, (_, i) => (i * 7) % 5),
    n,
  };
  const teacher = buildModel(
    { type: 'cnn', filters: [4], dense: [16] },
    { inputShape: shape, classes: 5, seed: 9, name: 'teacher' },
  );
  const build = (): tf.LayersModel =>
    buildModel({ type: 'mlp', hidden: [12] }, { inputShape: shape, classes: 5, seed: 4, name: 's' });
  const single = build();
  const parallel = build();
  const opt = { type: 'adam' as const, learningRate: 0.01 };
  const so = createOptimizer(opt);
  const po = createOptimizer(opt);
  const objective = { kind: 'kd' as const, temperature: 2, alpha: 0.7 };
  const plan: ShardPlan = {
    train,
    inputShape: shape,
    classes: 5,
    targets: { kind: 'per-batch', model: teacher },
    augment: spec({ randomCrop: 2, horizontalFlip: true }, shape, 5, 'kd'),
  };
  const source = new ShardSource(plan);
  const vars = single.trainableWeights.map((w) => w.read() as tf.Variable);
  const threads = new TrainingThreads(2, 'wasm');
  try {
    const replicas = await threads.startPhase({
      model: parallel,
      optimizer: po,
      objective,
      plan,
      batchSize: 32,
      replicas: 2,
    });
    if (!replicas) throw new Error('expected two replicas');
    for (const [epoch, start] of [
      [0, 0],
      [0, 32],
      [1, 0],
    ]) {
      const ids = Int32Array.from({ length: 32 }, (_, j) => (start + j * 5) % n);
      const s = trainStep(single, objective, so, vars, source.gather(ids, epoch), shape, 5, 1);
      const p = await replicas.step(ids, 1, epoch);
      assert.ok(
        Math.abs(p.loss - s.loss) <= 1e-5 * Math.max(1, Math.abs(s.loss)),
        `epoch ${epoch}: loss ${p.loss} vs ${s.loss}`,
      );
      assert.equal(p.correct, s.correct);
    }
    const ws = single.trainableWeights.map((w) => w.read().dataSync() as Float32Array);
    parallel.trainableWeights.forEach((w, i) => {
      const v = w.read().dataSync() as Float32Array;
      let d = 0;
      for (let j = 0; j < v.length; j++) d = Math.max(d, Math.abs(v[j] - ws[i][j]));
      assert.ok(d < 1e-5, `weight ${i}: differs by ${d}`);
    });
    await replicas.end();
  } finally {
    await threads.close();
    for (const m of [single, parallel, teacher]) m.dispose();
    so.optimizer.dispose();
    po.optimizer.dispose();
  }
});

/** An annealing run with augmentation, its teacher trained in the run; threads 1 (bit-reproducible). */
function augmentedConfig(): ExperimentConfig {
  const adam = (learningRate: number) => ({ type: 'adam' as const, learningRate });
  return {
    name: 'aug',
    seed: 5,
    data: {
      dataset: 'mnist',
      trainLimit: 1200,
      testLimit: 500,
      validationFraction: 0.2,
      augment: { randomCrop: 2 },
    },
    teacher: { model: { type: 'mlp', hidden: [64] }, epochs: 2, optimizer: adam(0.002) },
    student: { model: { type: 'mlp', hidden: [16] } },
    method: {
      type: 'annealing',
      tauMax: 2,
      phase1: { epochs: 4, optimizer: adam(0.003) },
      phase2: { epochs: 2, optimizer: adam(0.002) },
    },
    batchSize: 64,
    backend: 'wasm',
    threads: 1,
  };
}

async function session(
  root: string,
  runDir: string | undefined,
  cancelAfterProgress?: number,
): Promise<{ runDir: string; events: RunEvent[]; status: string }> {
  const config = augmentedConfig();
  const dir = runDir ?? createRunDir(root, config.name).runDir;
  const log = new EventLog(path.join(dir, 'events.jsonl'));
  const events: RunEvent[] = [];
  const cancel = { cancelled: false, signal: 'SIGTERM' };
  let progress = 0;
  log.onEvent((e) => {
    events.push(e);
    if (e.type === 'progress' && e.phase === 'anneal' && ++progress === cancelAfterProgress)
      cancel.cancelled = true;
  });
  try {
    const out = await runExperiment({
      config,
      configPath: path.join(root, 'aug.akd.json'),
      runId: path.basename(dir),
      runDir: dir,
      log,
      cancel,
      resume: runDir !== undefined,
      progressIntervalMs: 0,
    });
    return { runDir: dir, events, status: out.status };
  } finally {
    log.close();
  }
}

test('an augmented run cancelled mid-epoch and resumed replays exactly the batches of an uninterrupted run', async () => {
  const root = tempDir('augment-resume');
  try {
    const whole = await session(root, undefined);
    assert.equal(whole.status, 'completed');
    const started = whole.events.find((e): e is RunStartedEvent => e.type === 'run-started');
    assert.equal(started?.teacherTargets, 'per-batch');
    const epochs = (es: RunEvent[]): EpochEndedEvent[] =>
      es.filter((e): e is EpochEndedEvent => e.type === 'epoch-ended');
    const anneal = epochs(whole.events).filter((e) => e.phase === 'anneal');
    assert.ok(
      anneal.every((e) => e.targetSeconds !== undefined && e.targetSeconds > 0),
      'per-batch target time per epoch',
    );
    assert.ok(
      epochs(whole.events)
        .filter((e) => e.phase !== 'anneal')
        .every((e) => e.targetSeconds === undefined),
    );

    // Cancel inside phase 1's second epoch (15 batches an epoch: progress 20 is batch 5 of epoch 2).
    const first = await session(root, undefined, 20);
    assert.equal(first.status, 'cancelled');
    const cancelled = first.events.find((e) => e.type === 'run-cancelled');
    assert.ok(
      cancelled?.type === 'run-cancelled' &&
        cancelled.position?.phase === 'anneal' &&
        cancelled.position.batch > 0,
    );
    const second = await session(root, first.runDir);
    assert.equal(second.status, 'completed');

    // Every epoch of both sessions, in order, is the uninterrupted run's, to the last bit.
    const key = (e: EpochEndedEvent): string =>
      JSON.stringify([e.phase, e.epoch, e.loss, e.trainAccuracy, e.valAccuracy]);
    const replayed = [...epochs(first.events), ...epochs(second.events)].map(key);
    assert.deepEqual(replayed, epochs(whole.events).map(key));
    const summary = (dir: string): { student: { testAccuracy: number } } =>
      JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    assert.equal(summary(second.runDir).student.testAccuracy, summary(whole.runDir).student.testAccuracy);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
