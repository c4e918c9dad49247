// runner/backend/lazyConvGradient.ts: a linear, bias-free fused conv2d under a tape runs as
// tf.conv2d on wasm, so the tape skips the gradient of an input nobody differentiates (ResNet's
// stem), with the same values as tfjs-core's fused op.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as tfjs from '@tensorflow/tfjs';
import { selectBackend, tf as tfOf } from '../../../runner/backend/selectBackend';
import { installLazyConvGradient, uninstallLazyConvGradient } from '../../../runner/backend/lazyConvGradient';
import { buildModel } from '../../../runner/models/buildModel';

const tf = tfOf();

function rand(shape: number[], seed: number): tfjs.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return tf.tensor(v, shape);
}

/** The kernels `f` runs (names, in order) and its outputs as arrays. */
async function profiled(f: () => tfjs.Tensor[]): Promise<{ kernels: string[]; values: number[][] }> {
  let values: number[][] = [];
  const info = await tf.profile(() => {
    const outs = f();
    values = outs.map((o) => Array.from(o.dataSync()));
    tf.dispose(outs);
  });
  return { kernels: info.kernels.map((k) => k.name), values };
}

const count = (names: string[], name: string): number => names.filter((n) => n === name).length;

test.before(async () => {
  await selectBackend('wasm');
});

test('filter gradient only: no Conv2DBackpropInput; same dW as the fused op; dx too when asked, identical', async () => {
  const x = rand([2, 9, 8, 3], 1);
  const f = rand([3, 3, 3, 5], 2);
  const conv = (a: tfjs.Tensor, b: tfjs.Tensor): tfjs.Tensor =>
    tf.fused
      .conv2d({ x: a as tfjs.Tensor4D, filter: b as tfjs.Tensor4D, strides: 2, pad: 'same' })
      .square()
      .sum();
  const dwOnly = (): tfjs.Tensor[] => [tf.grad((b: tfjs.Tensor) => conv(x, b))(f)];
  const both = (): tfjs.Tensor[] => tf.grads((a: tfjs.Tensor, b: tfjs.Tensor) => conv(a, b))([x, f]);
  installLazyConvGradient();
  const lazyDw = await profiled(dwOnly);
  const lazyBoth = await profiled(both);
  uninstallLazyConvGradient();
  const fusedDw = await profiled(dwOnly);
  const fusedBoth = await profiled(both);
  installLazyConvGradient();
  assert.equal(count(lazyDw.kernels, 'Conv2DBackpropInput'), 0, lazyDw.kernels.join());
  assert.equal(count(fusedDw.kernels, 'Conv2DBackpropInput'), 1, 'the fused op computes dx regardless');
  assert.equal(count(lazyBoth.kernels, 'Conv2DBackpropInput'), 1);
  assert.equal(count(lazyDw.kernels, 'Conv2DBackpropFilter'), 1);
  assert.deepEqual(lazyDw.values, fusedDw.values);
  assert.deepEqual(lazyBoth.values, fusedBoth.values);
  tf.dispose([x, f]);
});

test('a bias, an activation, no tape or another backend: the fused op itself', async () => {
  const x = rand([1, 6, 6, 4], 3);
  const f = rand([3, 3, 4, 8], 4);
  const b = rand([8], 5);
  installLazyConvGradient();
  const fusedUnderTape = async (args: Partial<Parameters<typeof tf.fused.conv2d>[0]>): Promise<number> =>
    count(
      (
        await profiled(() => [
          tf.grad((w: tfjs.Tensor) =>
            tf.fused
              .conv2d({ x: x as tfjs.Tensor4D, filter: w as tfjs.Tensor4D, strides: 1, pad: 'same', ...args })
              .sum(),
          )(f),
        ])
      ).kernels,
      'FusedConv2D',
    );
  assert.equal(await fusedUnderTape({ bias: b }), 1);
  assert.equal(await fusedUnderTape({ activation: 'relu' }), 0, 'tfjs-core unfuses relu under a tape itself');
  assert.equal(await fusedUnderTape({}), 0);
  const forward = await profiled(() => [
    tf.fused.conv2d({ x: x as tfjs.Tensor4D, filter: f as tfjs.Tensor4D, strides: 1, pad: 'same' }),
  ]);
  assert.equal(count(forward.kernels, 'FusedConv2D'), 1, 'no tape: unchanged');
  assert.equal(count(forward.kernels, 'Conv2D'), 0);
  await tf.setBackend('cpu');
  try {
    const onCpu = await profiled(() => [
      tf.grad((w: tfjs.Tensor) =>
        tf.fused.conv2d({ x: x as tfjs.Tensor4D, filter: w as tfjs.Tensor4D, strides: 1, pad: 'same' }).sum(),
      )(f),
    ]);
    assert.equal(count(onCpu.kernels, 'FusedConv2D'), 1, 'cpu keeps the fused op');
  } finally {
    await tf.setBackend('wasm');
  }
  tf.dispose([x, f, b]);
});

test("ResNet-8's training step: 9 convolutions, 8 input gradients (none for the image)", async () => {
  const model = buildModel(
    { type: 'resnet', depth: 8, width: 16 },
    { inputShape: [32, 32, 3], classes: 10, seed: 1, name: 'r8' },
  );
  const x = rand([4, 32, 32, 3], 6);
  const y = tf.oneHot(tf.tensor1d([1, 2, 3, 4], 'int32'), 10);
  const step = async (): Promise<string[]> =>
    (
      await profiled(() => {
        const { grads, value } = tf.variableGrads(() =>
          tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tfjs.Tensor),
        );
        return [value, ...Object.values(grads)];
      })
    ).kernels;
  const lazy = await step();
  uninstallLazyConvGradient();
  const fused = await step();
  installLazyConvGradient();
  assert.equal(count(lazy, 'Conv2DBackpropFilter'), 9);
  assert.equal(count(lazy, 'Conv2DBackpropInput'), 8);
  assert.equal(count(fused, 'Conv2DBackpropInput'), 9);
  model.dispose();
  tf.dispose([x, y]);
});
