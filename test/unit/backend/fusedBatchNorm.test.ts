// The fused training-mode batchnorm (runner/backend/fusedBatchNorm.ts, simd/gemm.c's
// bn_train_forward/backward) against tfjs-layers' own BatchNormalization.call on wasm: outputs,
// moving averages, gradients (input, gamma, beta), inference, center/scale off, a small ResNet
// trained a few steps, the fallbacks, kernel launches and tensor counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tfjs = require('@tensorflow/tfjs');
import {
  installFusedBatchNorm,
  uninstallFusedBatchNorm,
  fusedBatchNormInstalled,
  BN_TRAIN_KERNEL,
  BN_TRAIN_GRAD_KERNEL,
} from '../../../runner/backend/fusedBatchNorm';
import { registerWasmTrainingKernels } from '../../../runner/backend/wasmKernels';

const tf = tfjs;
type Tensor = tfjs.Tensor;

function rand(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = offset + scale * (s / 2 ** 31 - 1);
  }
  return v;
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** max |a - b| / max |b|: relative to the reference's scale (elementwise ratios blow up near 0). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return Number.isNaN(d) ? Infinity : d / Math.max(m, 1e-30);
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 1e-4): void {
  const e = relErr(a, b);
  assert.ok(e <= tol, `${what}: relative error ${e.toExponential(2)} > ${tol}`);
}

/** Runs `fn` with the fused path installed or not (tfjs-layers' own call). */
function withFused<T>(fused: boolean, fn: () => T): T {
  if (fused) installFusedBatchNorm();
  else uninstallFusedBatchNorm();
  try {
    return fn();
  } finally {
    installFusedBatchNorm();
  }
}

interface Cfg {
  center?: boolean;
  scale?: boolean;
  axis?: number;
}

/** A built BatchNormalization layer with deterministic, non-trivial weights. */
function layerFor(shape: number[], cfg: Cfg, seed: number): tfjs.layers.Layer {
  const layer = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3, ...cfg });
  layer.build(shape);
  const ws = layer.weights.map((w, i) => {
    // gamma around 1, beta around 0, moving mean around 0, moving variance around 1 (positive).
    const v = rand(size(w.shape as number[]), seed + 31 * i, 0.5, /variance|gamma/.test(w.name) ? 1 : 0);
    return tf.tensor(v, w.shape as number[]);
  });
  layer.setWeights(ws);
  tf.dispose(ws);
  return layer;
}

interface Run {
  y: Float32Array[];
  moving: Float32Array[];
  dx: Float32Array;
  dWeights: Float32Array[];
}

/** Frees a layer's weights (Layer.dispose refuses layers never applied symbolically). */
function disposeLayer(layer: tfjs.layers.Layer): void {
  layer.weights.forEach((w) => w.dispose());
}

/**
 * `calls` training-mode calls on fresh copies of the same layer and input, then the gradients of
 * sum(y * w) w.r.t. x and the layer's trainable weights; returns everything as arrays.
 */
function runLayer(fused: boolean, shape: number[], cfg: Cfg, calls = 3, withGrads = true): Run {
  return withFused(fused, () => {
    const layer = layerFor(shape, cfg, 5);
    const x = tf.variable(tf.tensor(rand(size(shape), 11, 2, 0.3), shape), true);
    const w = tf.tensor(rand(size(shape), 12), shape);
    const y: Float32Array[] = [];
    for (let i = 0; i < calls; i++) {
      // Each call sees a different batch (moving averages move), except in the gradient below.
      y.push(
        tf.tidy(
          () => (layer.apply(tf.mul(x, 1 + i / 4), { training: true }) as Tensor).dataSync() as Float32Array,
        ),
      );
    }
    const trainable = layer.trainableWeights.map((v) => v.read() as tfjs.Variable);
    if (!withGrads) {
      const moving = layer.nonTrainableWeights.map((v) => v.read().dataSync() as Float32Array);
      tf.dispose([x, w]);
      disposeLayer(layer);
      return { y, moving, dx: new Float32Array(0), dWeights: [] };
    }
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(layer.apply(x, { training: true }) as Tensor, w)) as tfjs.Scalar,
      [x, ...trainable],
    );
    const dx = grads[x.name].dataSync() as Float32Array;
    const dWeights = trainable.map((v) => grads[v.name].dataSync() as Float32Array);
    const moving = layer.nonTrainableWeights.map((v) => v.read().dataSync() as Float32Array);
    tf.dispose(Object.values(grads));
    tf.dispose([x, w]);
    disposeLayer(layer);
    return { y, moving, dx, dWeights };
  });
}

function compareRuns(f: Run, o: Run, what: string): void {
  o.y.forEach((y, i) => close(f.y[i], y, `${what} output of call ${i}`));
  assert.equal(f.moving.length, 2);
  o.moving.forEach((m, i) => close(f.moving[i], m, `${what} moving ${i === 0 ? 'mean' : 'variance'}`));
  close(f.dx, o.dx, `${what} dx`);
  assert.equal(f.dWeights.length, o.dWeights.length);
  o.dWeights.forEach((g, i) => close(f.dWeights[i], g, `${what} d(weight ${i})`));
}

test.before(async () => {
  registerWasmTrainingKernels();
  installFusedBatchNorm();
  assert.ok(await tf.setBackend('wasm'));
});

test('install is idempotent, uninstall restores the original, kernels are registered for wasm', () => {
  installFusedBatchNorm();
  installFusedBatchNorm();
  assert.ok(fusedBatchNormInstalled());
  const proto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as {
    call: { __annealKdFusedBatchNorm?: unknown };
  };
  const original = proto.call.__annealKdFusedBatchNorm;
  assert.equal(typeof original, 'function');
  assert.equal(
    (original as { __annealKdFusedBatchNorm?: unknown }).__annealKdFusedBatchNorm,
    undefined,
    'wrapped once',
  );
  uninstallFusedBatchNorm();
  assert.equal(proto.call, original);
  assert.ok(!fusedBatchNormInstalled());
  installFusedBatchNorm();
  assert.ok(tf.getKernel(BN_TRAIN_KERNEL, 'wasm') && tf.getKernel(BN_TRAIN_GRAD_KERNEL, 'wasm'));
});

// Channel counts for the 16-channel register groups, the 4-channel groups and the scalar tail;
// row counts around the 64-row blocks of the f32 partial sums.
const shapes = [
  [8, 6, 5, 20],
  [3, 7, 37],
  [130, 3],
  [2, 9, 9, 64],
  [65, 4],
];

test('training mode: outputs, moving averages and gradients (x, gamma, beta) match the original', () => {
  for (const shape of shapes) {
    compareRuns(runLayer(true, shape, {}), runLayer(false, shape, {}), `[${shape}]`);
  }
});

test('ResNet-8 stem size (65,536 rows x 16) with a large common offset: moments as accurate as double', () => {
  const shape = [64, 32, 32, 16];
  const c = 16;
  const rows = size(shape) / c;
  // Mean 50, spread ~0.1 per channel: float32 sums of 65k values would lose the variance.
  const xv = rand(size(shape), 3, 0.1, 50);
  for (let i = 0; i < xv.length; i++) xv[i] += (i % c) * 0.01;
  const mean = new Float64Array(c);
  const vari = new Float64Array(c);
  for (let i = 0; i < xv.length; i++) mean[i % c] += xv[i] / rows;
  for (let i = 0; i < xv.length; i++) vari[i % c] += (xv[i] - mean[i % c]) ** 2 / rows;
  const layer = layerFor(shape, {}, 9);
  const [gamma, beta, mm, mv] = layer.getWeights().map((w) => w.dataSync() as Float32Array);
  const yRef = new Float32Array(xv.length);
  for (let i = 0; i < xv.length; i++) {
    const k = i % c;
    yRef[i] = ((xv[i] - mean[k]) * gamma[k]) / Math.sqrt(vari[k] + 1e-3) + beta[k];
  }
  const y = tf.tidy(
    () => (layer.apply(tf.tensor(xv, shape), { training: true }) as Tensor).dataSync() as Float32Array,
  );
  // Bounded by the float32 mean: half an ulp of 50 against a spread of 0.1 (1.9e-5).
  close(y, yRef, 'y vs double reference', 3e-5);
  const [nm, nv] = layer.nonTrainableWeights.map((v) => v.read().dataSync() as Float32Array);
  close(
    nm,
    Array.from(mm, (m, k) => m - (m - mean[k]) * 0.1),
    'moving mean',
    1e-6,
  );
  // Moving variance: the biased batch variance, as the original (and tf.moments) uses.
  close(
    nv,
    Array.from(mv, (v, k) => v - (v - vari[k]) * 0.1),
    'moving variance',
    1e-6,
  );
  disposeLayer(layer);
});

test('inference mode runs the original unchanged (bit-identical)', () => {
  const shape = [4, 5, 5, 12];
  const infer = (fused: boolean): Float32Array =>
    withFused(fused, () => {
      const layer = layerFor(shape, {}, 2);
      const out = tf.tidy(
        () =>
          (
            layer.apply(tf.tensor(rand(size(shape), 4), shape), { training: false }) as Tensor
          ).dataSync() as Float32Array,
      );
      disposeLayer(layer);
      return out;
    });
  assert.deepEqual(infer(true), infer(false));
});

test('center: false / scale: false train (the original throws; reference: tf.moments + tf.batchNorm)', () => {
  const shape = [6, 4, 4, 20];
  for (const cfg of [{ center: false }, { scale: false }, { center: false, scale: false }]) {
    // tfjs-layers 4.22.0 reads the missing gamma/beta in training mode.
    assert.throws(() => runLayer(false, shape, cfg, 1));
    const f = runLayer(true, shape, cfg, 1);
    // The reference: the original's composition, with the missing operand left out.
    const ref = tf.tidy(() => {
      const layer = layerFor(shape, cfg, 5);
      const ws = Object.fromEntries(
        layer.weights.map((w) => [w.name.split('/').pop()!.replace(/_\d+$/, ''), w.read()]),
      );
      const x = tf.variable(tf.tensor(rand(size(shape), 11, 2, 0.3), shape), true);
      const w = tf.tensor(rand(size(shape), 12), shape);
      const gamma = ws.gamma ? tf.variable(ws.gamma) : undefined;
      const beta = ws.beta ? tf.variable(ws.beta) : undefined;
      const vars = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
      // (Elementwise: tf.batchNorm's gradient fails without an offset or scale in tfjs 4.22.0.)
      const apply = (): Tensor => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-3)));
        const scaled = gamma ? tf.mul(normed, gamma) : normed;
        return beta ? tf.add(scaled, beta) : scaled;
      };
      const y = apply().dataSync() as Float32Array;
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(apply(), w)) as tfjs.Scalar, vars);
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      // runLayer's two training-mode calls (the output's and the gradient's) see the same x.
      const ema = (m: Tensor, v: Tensor): Tensor => tf.sub(m, tf.mul(tf.sub(m, v), 1 - 0.9));
      const moving = [
        [ws.moving_mean, mean],
        [ws.moving_variance, variance],
      ].map(([m, v]) => ema(ema(m, v), v).dataSync() as Float32Array);
      const out = {
        y: [y],
        moving,
        dx: grads[x.name].dataSync() as Float32Array,
        dWeights: vars.slice(1).map((v) => grads[v.name].dataSync() as Float32Array),
      };
      vars.forEach((v) => v.dispose());
      disposeLayer(layer);
      return out;
    });
    compareRuns(f, ref, JSON.stringify(cfg));
  }
});

test('fallbacks run the original: an axis other than the last, the cpu backend, AKD_NO_SIMD_GEMM', async () => {
  const shape = [4, 6, 5, 3];
  // Axis 1: tfjs-layers' broadcasting path, untouched (bit-identical; forward only: its gradient
  // throws in tfjs 4.22.0, reshaping the scale gradient to the broadcast shape).
  const axis1 = (fused: boolean): Run => runLayer(fused, shape, { axis: 1 }, 2, false);
  assert.deepEqual(axis1(true), axis1(false));
  process.env.AKD_NO_SIMD_GEMM = '1';
  try {
    assert.deepEqual(runLayer(true, shape, {}, 2), runLayer(false, shape, {}, 2));
  } finally {
    delete process.env.AKD_NO_SIMD_GEMM;
  }
  await tf.setBackend('cpu');
  try {
    assert.deepEqual(runLayer(true, shape, {}, 2), runLayer(false, shape, {}, 2));
  } finally {
    await tf.setBackend('wasm');
  }
});

test('one forward and one backward kernel per layer; fewer launches than the original', async () => {
  const shape = [8, 8, 8, 16];
  const launches = async (fused: boolean): Promise<string[]> => {
    if (fused) installFusedBatchNorm();
    else uninstallFusedBatchNorm();
    try {
      const layer = layerFor(shape, {}, 1);
      const x = tf.tensor(rand(size(shape), 2), shape);
      const vars = layer.trainableWeights.map((v) => v.read() as tfjs.Variable);
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(layer.apply(x, { training: true }) as Tensor) as tfjs.Scalar,
          vars,
        );
        tf.dispose([value, ...Object.values(grads)]);
      });
      x.dispose();
      disposeLayer(layer);
      return info.kernels.map((k) => k.name);
    } finally {
      installFusedBatchNorm();
    }
  };
  const fused = await launches(true);
  const original = await launches(false);
  assert.equal(fused.filter((n) => n === BN_TRAIN_KERNEL).length, 1);
  assert.equal(fused.filter((n) => n === BN_TRAIN_GRAD_KERNEL).length, 1);
  assert.ok(!fused.includes('FusedBatchNorm'));
  assert.ok(fused.length + 15 < original.length, `${fused.length} launches vs ${original.length}`);
});

/** A small ResNet: conv + BN + ReLU, a block with a projection shortcut (3 BN layers in all). */
function smallResnet(): tfjs.LayersModel {
  const conv = (filters: number, kernelSize: number, strides: number, seed: number) =>
    tf.layers.conv2d({
      filters,
      kernelSize,
      strides,
      padding: 'same',
      useBias: false,
      kernelInitializer: tf.initializers.heNormal({ seed }),
    });
  const bn = () => tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 });
  const inp = tf.input({ shape: [10, 10, 3] });
  let x = conv(8, 3, 1, 1).apply(inp) as tfjs.SymbolicTensor;
  x = bn().apply(x) as tfjs.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tfjs.SymbolicTensor;
  let y = conv(12, 3, 2, 2).apply(x) as tfjs.SymbolicTensor;
  y = bn().apply(y) as tfjs.SymbolicTensor;
  y = tf.layers.reLU().apply(y) as tfjs.SymbolicTensor;
  let s = conv(12, 1, 2, 3).apply(x) as tfjs.SymbolicTensor;
  s = bn().apply(s) as tfjs.SymbolicTensor;
  let z = tf.layers.add().apply([y, s]) as tfjs.SymbolicTensor;
  z = tf.layers.reLU().apply(z) as tfjs.SymbolicTensor;
  z = tf.layers.globalAveragePooling2d({}).apply(z) as tfjs.SymbolicTensor;
  z = tf.layers
    .dense({ units: 5, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) })
    .apply(z) as tfjs.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: z });
}

/** Trains smallResnet for `steps` Adam steps; returns all weights (moving averages included). */
function trainResnet(fused: boolean, steps: number): Float32Array[] {
  return withFused(fused, () => {
    const m = smallResnet();
    const n = 16;
    const xs = tf.tensor(rand(n * 300, 21), [n, 10, 10, 3]);
    const ys = tf.tidy(() =>
      tf.oneHot(
        tf.tensor1d(
          Array.from({ length: n }, (_, i) => i % 5),
          'int32',
        ),
        5,
      ),
    );
    const opt = tf.train.adam(0.01);
    for (let i = 0; i < steps; i++) {
      opt.minimize(
        () => tf.losses.softmaxCrossEntropy(ys, m.apply(xs, { training: true }) as Tensor) as tfjs.Scalar,
        false,
      );
    }
    const w = m.getWeights().map((t) => t.dataSync() as Float32Array);
    tf.dispose([xs, ys]);
    opt.dispose();
    m.dispose();
    return w;
  });
}

test('a small ResNet (3 BN layers) trained 4 Adam steps agrees with the original; no tensor leak', () => {
  const o = trainResnet(false, 4);
  const before = tf.memory().numTensors;
  const f = trainResnet(true, 4);
  assert.equal(tf.memory().numTensors, before, 'tensors left behind');
  assert.equal(f.length, o.length);
  o.forEach((w, i) => close(f[i], w, `weight ${i}`));
});

test('repeated training steps keep tensor and wasm data counts flat', () => {
  const m = smallResnet();
  const xs = tf.tensor(rand(8 * 300, 5), [8, 10, 10, 3]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'int32'), 5));
  const opt = tf.train.sgd(0.05);
  const step = (): void => {
    opt.minimize(
      () => tf.losses.softmaxCrossEntropy(ys, m.apply(xs, { training: true }) as Tensor) as tfjs.Scalar,
      false,
    );
  };
  step();
  const backend = tf.backend();
  const tensors = tf.memory().numTensors;
  const ids = backend.numDataIds();
  for (let i = 0; i < 3; i++) step();
  // Also a forward pass without the tape (nothing saved), in training and inference mode.
  tf.tidy(() => {
    m.apply(xs, { training: true });
    m.apply(xs);
  });
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(backend.numDataIds(), ids);
  tf.dispose([xs, ys]);
  opt.dispose();
  m.dispose();
});
