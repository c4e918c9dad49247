/**
 * Per-kernel profile of one training step of a bench model on one thread: the figures behind
 * the README's "what bounds it". Runs the runner's own step (computeGradients + applyGradients,
 * as one data-parallel replica does) on random data, then `tf.profile` over a few more steps.
 *
 *   npm run bench:profile -- resnet8 [--batch 64] [--backend wasm]
 *
 * Kernel times are wall times of each kernel call as TF.js records them; composite kernels that
 * call other kernels through the engine (e.g. fusedConv2d__op around FusedConv2D) count twice,
 * so the "kernels" total can exceed the step. The difference between the step and the kernels
 * is TF.js's JavaScript between kernels (engine, tape, tidy).
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../runner/backend/selectBackend';
import type { BackendName } from '../runner/protocol/configTypes';
import { buildModel } from '../runner/models/buildModel';
import { createOptimizer } from '../runner/training/optimizers';
import { trainStep, type Objective } from '../runner/training/phaseTrainer';
import { BENCH_MODELS, arg } from './runnerBench';

async function main(): Promise<void> {
  const model = process.argv[2];
  if (!model || !(model in BENCH_MODELS))
    throw new Error(`usage: profileStep ${Object.keys(BENCH_MODELS).join('|')} [--batch N]`);
  const batch = Number(arg('batch', model === 'mlp' ? '128' : '64'));
  const choice = await selectBackend(arg('backend', 'wasm') as BackendName);
  const shape: [number, number, number] = model === 'resnet8' ? [32, 32, 3] : [28, 28, 1];
  const classes = 10;
  const m = buildModel(BENCH_MODELS[model], { inputShape: shape, classes, seed: 1, name: model });
  const optimizer = createOptimizer({ type: 'adam', learningRate: 1e-3 });
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const objective: Objective = model === 'mlp' ? { kind: 'anneal', steps: [] } : { kind: 'ce' };
  const x = tf.tidy(() => tf.randomNormal([batch, ...shape], 0, 1, 'float32', 1).dataSync() as Float32Array);
  const y = Int32Array.from({ length: batch }, (_, i) => i % classes);
  const targets =
    model === 'mlp'
      ? tf.tidy(() => tf.randomNormal([batch, classes], 0, 1, 'float32', 2).dataSync() as Float32Array)
      : undefined;
  const step = (): unknown =>
    trainStep(m, objective, optimizer, vars, { x, y, targets }, shape, classes, 0.5);

  for (let i = 0; i < 3; i++) step();
  const steps = model === 'mlp' ? 500 : 10;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const wall = (performance.now() - t0) / steps;

  const profiled = 3;
  const info = await tf.profile(() => {
    for (let i = 0; i < profiled; i++) step();
  });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += (k.kernelTimeMs as number) / profiled;
    e.calls += 1 / profiled;
    byKernel.set(k.name, e);
  }
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, e]) => s + e.ms, 0);
  console.log(`${model}, batch ${batch}, 1 thread, ${choice.note}`);
  console.log(
    `step ${wall.toFixed(2)} ms (${((batch / wall) * 1000).toFixed(0)} samples/s); ` +
      `${(info.kernels.length / profiled).toFixed(0)} kernel calls a step, ${total.toFixed(1)} ms in kernels`,
  );
  console.log('| kernel | ms a step | calls a step |\n|---|---|---|');
  for (const [name, e] of rows.slice(0, Number(arg('top', '16')))) {
    console.log(`| ${name} | ${e.ms.toFixed(2)} | ${e.calls.toFixed(0)} |`);
  }
  m.dispose();
  optimizer.optimizer.dispose();
}

main().catch((e: Error) => {
  process.stderr.write(`profileStep: ${e.message}\n`);
  process.exitCode = 1;
});
