// Backend selection on this machine: @tensorflow/tfjs-node is an optional dependency whose
// install fails offline, so it is absent here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { selectBackend, tf } from '../../../runner/backend/selectBackend';

test('tf() is the one @tensorflow/tfjs module instance', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  assert.equal(tf(), require('@tensorflow/tfjs'));
  assert.equal(tf(), tf());
});

test('auto picks wasm, with the training kernels, and says tfjs-node is missing', async () => {
  const choice = await selectBackend('auto');
  assert.equal(choice.backend, 'wasm');
  assert.equal(tf().getBackend(), 'wasm');
  assert.match(choice.note, /^wasm \((no )?SIMD, \d+ threads?, (relaxed-SIMD|SIMD|composite) kernels\): /);
  assert.match(choice.note, /@tensorflow\/tfjs-node is not installed/);
  assert.ok(tf().getKernel('Conv2DBackpropFilter', 'wasm'), 'training kernels registered');
  // A conv gradient runs (it throws on plain wasm).
  const grad = tf().grad((x: Tensor) =>
    tf()
      .conv2d(x as Tensor4D, tf().ones([3, 3, 1, 2]), 1, 'same')
      .sum(),
  );
  const g = tf().tidy(() => grad(tf().ones([1, 4, 4, 1])).arraySync()) as number[][][][];
  assert.equal(g[0][1][1][0], 18); // interior pixel: 3x3 taps x 2 output channels
});

test('explicit "tensorflow" without tfjs-node is an error saying how to install it', async () => {
  await assert.rejects(selectBackend('tensorflow'), (err: Error) => {
    assert.match(err.message, /backend "tensorflow" needs @tensorflow\/tfjs-node/);
    assert.match(err.message, /is not installed/);
    assert.match(err.message, /install it with `npm install @tensorflow\/tfjs-node@4\.22\.0`/);
    assert.match(err.message, /"auto", "wasm" or "cpu"/);
    return true;
  });
  // No silent fallback: the active backend is unchanged.
  assert.equal(tf().getBackend(), 'wasm');
});

test('explicit cpu is honored and computes', async () => {
  const choice = await selectBackend('cpu');
  assert.equal(choice.backend, 'cpu');
  assert.match(choice.note, /^cpu .*requested/);
  assert.equal(tf().getBackend(), 'cpu');
  assert.deepEqual(
    tf().tidy(() =>
      tf()
        .add(tf().tensor([1, 2]), 1)
        .arraySync(),
    ),
    [2, 3],
  );
});

test('explicit wasm is honored', async () => {
  const choice = await selectBackend('wasm');
  assert.equal(choice.backend, 'wasm');
  assert.match(choice.note, /^wasm \(.*\): requested$/);
  assert.equal(tf().getBackend(), 'wasm');
});

test('an unknown backend name is rejected', async () => {
  await assert.rejects(selectBackend('gpu' as never), /unknown backend "gpu"/);
});
