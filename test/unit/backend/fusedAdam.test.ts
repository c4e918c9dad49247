// The fused Adam update (runner/backend/fusedAdam.ts) against TF.js's own AdamOptimizer, on wasm
// (the SIMD kernel: bit-identical) and cpu (a JavaScript loop for a small variable, TF.js's
// kernels for a large one): same weights and optimizer state (names, order, values) after
// several steps, with a learning-rate change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tfjs = require('@tensorflow/tfjs');
import { installFusedAdam, uninstallFusedAdam, FUSED_MAX_SIZE } from '../../../runner/backend/fusedAdam';
import { registerWasmTrainingKernels } from '../../../runner/backend/wasmKernels';

const tf = tfjs;

function rand(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

async function train(
  fused: boolean,
): Promise<{ weights: Float32Array[]; state: Array<{ name: string; values: Float32Array }> }> {
  if (fused) installFusedAdam();
  else uninstallFusedAdam();
  const shapes = [[7, 5], [FUSED_MAX_SIZE + 3]];
  const vars = shapes.map((s, i) =>
    tf.tidy(() =>
      tf.variable(
        tf.tensor(
          rand(
            s.reduce((a, b) => a * b, 1),
            i + 1,
          ),
          s,
        ),
        true,
        `fa${fused ? 'F' : 'O'}${i}`,
      ),
    ),
  );
  const opt = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
  for (let step = 0; step < 4; step++) {
    if (step === 2) (opt as unknown as { learningRate: number }).learningRate = 0.003;
    const grads: tfjs.NamedTensorMap = {};
    vars.forEach((v, i) => {
      grads[v.name] = tf.tensor(rand(v.size, 100 * step + i + 7), v.shape);
    });
    opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0]);
    tf.dispose(Object.values(grads));
  }
  const weights = vars.map((v) => v.dataSync() as Float32Array);
  const saved = await opt.getWeights();
  const state = saved.map((w) => ({
    name: w.name.replace(/fa[FO]/, 'fa'),
    values: w.tensor.dataSync() as Float32Array,
  }));
  saved.filter((w) => w.name === 'iter').forEach((w) => w.tensor.dispose());
  vars.forEach((v) => v.dispose());
  opt.dispose();
  return { weights, state };
}

function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-12);
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`fused Adam matches TF.js's AdamOptimizer on ${backend} (weights and checkpointed state)`, async () => {
    registerWasmTrainingKernels();
    assert.ok(await tf.setBackend(backend));
    const o = await train(false);
    const before = tf.memory().numTensors;
    const f = await train(true);
    assert.equal(tf.memory().numTensors, before, 'no more tensors left than by the original');
    o.weights.forEach((w, i) =>
      assert.ok(relErr(f.weights[i], w) < 1e-5, `weight ${i}: ${relErr(f.weights[i], w)}`),
    );
    assert.deepEqual(
      f.state.map((s) => s.name),
      o.state.map((s) => s.name),
    );
    o.state.forEach((s, i) =>
      assert.ok(
        relErr(f.state[i].values, s.values) < 1e-5,
        `${s.name}: ${relErr(f.state[i].values, s.values)}`,
      ),
    );
    if (backend === 'wasm') {
      // The SIMD kernel runs TF.js's float32 operations in TF.js's order: bit-identical results.
      o.weights.forEach((w, i) => assert.deepEqual(f.weights[i], w, `weight ${i} bit-identical`));
      o.state.forEach((s, i) => assert.deepEqual(f.state[i].values, s.values, `${s.name} bit-identical`));
    }
    installFusedAdam();
  });
}
