/**
 * Warms a thread's TF.js before its first timed batch: a few forward + backward passes of a tiny
 * conv -> pool -> dense net through the same ops and gradient kernels training uses (conv2d and
 * its two backprops, max-pool, fused matMul, softmax cross-entropy, an Adam-like update), so
 * V8 has compiled TF.js's dispatch code and tiered up the wasm kernels before the phase's clock
 * starts. The data-parallel workers run it right after their backend starts (at run start, while
 * the main thread loads data). Plain ops and explicitly named variables: no tf.layers, so no
 * auto-generated layer names of the run's models change.
 */
import * as tf from '@tensorflow/tfjs';

/** Runs `rounds` warm-up steps; returns the milliseconds taken. */
export function warmUp(rounds = 6): number {
  const t0 = performance.now();
  const seed = 7;
  const x = tf.randomUniform([16, 12, 12, 3], 0, 1, 'float32', seed);
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5], 'int32'), 10);
  const k = tf.variable(tf.randomNormal([3, 3, 3, 8], 0, 0.1, 'float32', seed), true, 'akd-warmup-conv');
  const w = tf.variable(tf.randomNormal([5 * 5 * 8, 10], 0, 0.1, 'float32', seed), true, 'akd-warmup-dense');
  const b = tf.variable(tf.zeros([10]), true, 'akd-warmup-bias');
  try {
    for (let r = 0; r < rounds; r++) {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const h = tf.maxPool(
            tf.relu(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'valid')),
            2,
            2,
            'valid',
          );
          const logits = tf.fused.matMul({
            a: tf.reshape(h, [16, 5 * 5 * 8]) as tf.Tensor2D,
            b: w as tf.Tensor2D,
            bias: b,
          });
          return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
        });
        for (const v of [k, w, b]) v.assign(tf.sub(v, tf.mul(grads[v.name], 1e-3)));
      });
    }
  } finally {
    tf.dispose([x, labels, k, w, b]);
  }
  return performance.now() - t0;
}
