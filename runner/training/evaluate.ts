/** Forward passes only: accuracy on a split and logits for every sample (teacher targets). */
import * as tf from '@tensorflow/tfjs';
import type { HostSplit } from './batches';

export function accuracy(
  model: tf.LayersModel,
  split: HostSplit,
  inputShape: number[],
  batchSize: number,
): number {
  if (split.n === 0) return NaN;
  let correct = 0;
  const sampleSize = inputShape.reduce((a, b) => a * b, 1);
  for (let start = 0; start < split.n; start += batchSize) {
    const size = Math.min(batchSize, split.n - start);
    correct += tf.tidy(() => {
      const x = tf.tensor(split.x.subarray(start * sampleSize, (start + size) * sampleSize), [
        size,
        ...inputShape,
      ]);
      const pred = tf.argMax(model.predict(x) as tf.Tensor2D, 1);
      const y = tf.tensor1d(split.y.subarray(start, start + size), 'int32');
      return tf.sum(tf.cast(tf.equal(pred, y), 'int32')).dataSync()[0];
    });
  }
  return correct / split.n;
}

/** Logits of every sample of the split, row-major [n, classes]. */
export function predictLogits(
  model: tf.LayersModel,
  split: HostSplit,
  inputShape: number[],
  classes: number,
  batchSize: number,
): Float32Array {
  const out = new Float32Array(split.n * classes);
  const sampleSize = inputShape.reduce((a, b) => a * b, 1);
  for (let start = 0; start < split.n; start += batchSize) {
    const size = Math.min(batchSize, split.n - start);
    const chunk = tf.tidy(() => {
      const x = tf.tensor(split.x.subarray(start * sampleSize, (start + size) * sampleSize), [
        size,
        ...inputShape,
      ]);
      return (model.predict(x) as tf.Tensor2D).dataSync() as Float32Array;
    });
    out.set(chunk, start * classes);
  }
  return out;
}
