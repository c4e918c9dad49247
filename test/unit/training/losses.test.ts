import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { annealingLoss, crossEntropy, kdLoss } from '../../../runner/training/losses';

// Hand-computed references (log-sum-exp by hand, see each comment).
const close = (a: number, b: number, tol = 1e-5): void => assert.ok(Math.abs(a - b) < tol, `${a} != ${b}`);

test.before(async () => {
  await tf.setBackend('cpu');
});

test('cross-entropy: log(e^1+e^2+e^3) - 3 for label 2', () => {
  const v = crossEntropy(tf.tensor2d([[1, 2, 3]]), tf.tensor1d([2], 'int32')).dataSync()[0];
  close(v, 0.4076059644);
});

test('cross-entropy averages over the batch', () => {
  const v = crossEntropy(
    tf.tensor2d([
      [1, 2, 3],
      [0, 0, 0],
    ]),
    tf.tensor1d([2, 1], 'int32'),
  ).dataSync()[0];
  close(v, (0.4076059644 + Math.log(3)) / 2);
});

test('annealing loss: MSE between student logits and Phi * teacher logits, mean over all elements', () => {
  // target = 0.5 * 2 = 1 everywhere; squared errors 0, 1, 4, 9 -> mean 3.5
  const v = annealingLoss(
    tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
    tf.tensor2d([
      [2, 2],
      [2, 2],
    ]),
    0.5,
  ).dataSync()[0];
  close(v, 3.5);
  // Phi = 1: plain logit matching
  close(annealingLoss(tf.tensor2d([[1, 2]]), tf.tensor2d([[1, 2]]), 1).dataSync()[0], 0);
});

test('Hinton KD: (1-a) CE + a T^2 KL(softmax(t/T) || softmax(s/T))', () => {
  // s=[1,0], t=[0,1], y=0, T=2, a=0.5: CE=0.3132617, KL=0.1224593 -> 0.5*0.3132617 + 0.5*4*0.1224593
  const v = kdLoss(
    tf.tensor2d([[1, 0]]),
    tf.tensor2d([[0, 1]]),
    tf.tensor1d([0], 'int32'),
    2,
    0.5,
  ).dataSync()[0];
  close(v, 0.4015495062);
  // alpha = 0: pure cross-entropy; identical logits: KL = 0
  close(
    kdLoss(tf.tensor2d([[1, 0]]), tf.tensor2d([[0, 1]]), tf.tensor1d([0], 'int32'), 2, 0).dataSync()[0],
    0.3132616875,
  );
  close(
    kdLoss(tf.tensor2d([[1, 0]]), tf.tensor2d([[1, 0]]), tf.tensor1d([0], 'int32'), 4, 1).dataSync()[0],
    0,
  );
});
