/**
 * Per-kernel profile of one training step of a bench model on one thread: the figures behind
 * the README's "what bounds it". Runs the runner's own step (computeGradients + applyGradients,
 * as one data-parallel replica does) on random data, then `tf.profile` over a few more steps.
 *
 *   npm run bench:profile -- resnet8 [--batch 64] [--backend wasm] [--ab LEVER] [--rounds N]
 *
 * Kernel times are wall times of each kernel call as TF.js records them, each call's least over
 * --rounds profiled steps (under heavy load the long ones stay inflated: bench:kernels times them
 * by CPU time); composite kernels that call other kernels through the engine count twice, so the
 * "kernels" total can exceed the step. The difference between the step and the kernels is
 * TF.js's JavaScript between kernels (engine, tape, tidy). The step time is the least CPU time
 * per step over --rounds blocks of steps (wall time on a shared machine mostly measures the
 * other processes).
 *
 * --ab LEVER: an A/B pair in this one process, blocks of steps alternating between the lever off
 * and on, each side's least CPU time per step; LEVER is one of
 *   relaxed-simd     simd/gemm.c's plain SIMD build vs its relaxed-SIMD build (fused multiply-add)
 *   lazy-conv-grad   tfjs-core's fused conv2d vs lazyConvGradient.ts (no input gradient for the image)
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../runner/backend/selectBackend';
import type { BackendName } from '../runner/protocol/configTypes';
import { buildModel } from '../runner/models/buildModel';
import { createOptimizer } from '../runner/training/optimizers';
import type { Objective } from '../runner/training/objective';
import { trainStep } from '../runner/training/stepGradients';
import { BENCH_MODELS, arg } from './runnerBench';
import { bestTimes } from './simdPeak';
import { installLazyConvGradient, uninstallLazyConvGradient } from '../runner/backend/lazyConvGradient';

/** Each A/B lever: how to switch it off and on (in this process). */
const LEVERS: Record<string, { off: () => void; on: () => void }> = {
  'relaxed-simd': {
    off: () => (process.env.AKD_NO_RELAXED_SIMD = '1'),
    on: () => delete process.env.AKD_NO_RELAXED_SIMD,
  },
  'lazy-conv-grad': { off: uninstallLazyConvGradient, on: installLazyConvGradient },
};

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
  const steps = model === 'mlp' ? 200 : 4;
  const rounds = Number(arg('rounds', '7'));
  const block = (): void => {
    for (let i = 0; i < steps; i++) step();
  };
  const leverName = process.argv.includes('--ab') ? arg('ab') : undefined;
  if (leverName !== undefined) {
    const lever = LEVERS[leverName];
    if (!lever) throw new Error(`--ab: one of ${Object.keys(LEVERS).join(', ')}`);
    const best = { off: Infinity, on: Infinity };
    for (const side of ['off', 'on'] as const) {
      lever[side]();
      block(); // warm this side (tier-up, work buffers)
    }
    for (let r = 0; r < rounds; r++) {
      for (const side of ['off', 'on'] as const) {
        lever[side]();
        best[side] = Math.min(best[side], bestTimes(block, 1).cpuMs / steps);
      }
    }
    console.log(
      `${model}, batch ${batch}, 1 thread, ${choice.note}; A/B ${leverName} ` +
        `(least CPU time per step, ${rounds} rounds of ${steps} steps; load average ${os.loadavg()[0].toFixed(2)}):`,
    );
    console.log(
      `  off ${best.off.toFixed(2)} ms, on ${best.on.toFixed(2)} ms: on/off ${(best.on / best.off).toFixed(3)}`,
    );
    m.dispose();
    optimizer.optimizer.dispose();
    return;
  }
  const { cpuMs, wallMs } = bestTimes(block, rounds);
  const stepMs = cpuMs / steps;

  // Each kernel call of a step, at its least wall time over `rounds` profiled steps (a step
  // makes the same calls in the same order): on a shared machine the least is the undisturbed one.
  let calls: Array<{ name: string; ms: number }> = [];
  for (let r = 0; r < rounds; r++) {
    const info = await tf.profile(() => {
      step();
    });
    if (r === 0) calls = info.kernels.map((k) => ({ name: k.name, ms: k.kernelTimeMs as number }));
    else if (info.kernels.length === calls.length)
      info.kernels.forEach((k, i) => (calls[i].ms = Math.min(calls[i].ms, k.kernelTimeMs as number)));
  }
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of calls) {
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += k.ms;
    e.calls += 1;
    byKernel.set(k.name, e);
  }
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, e]) => s + e.ms, 0);
  console.log(`${model}, batch ${batch}, 1 thread, ${choice.note}`);
  console.log(
    `step ${stepMs.toFixed(2)} ms CPU (${((batch / stepMs) * 1000).toFixed(0)} samples/s; least wall ${(wallMs / steps).toFixed(2)} ms); ` +
      `${calls.length} kernel calls a step, ${total.toFixed(1)} ms in kernels (each call's least wall time of ${rounds} steps)`,
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
