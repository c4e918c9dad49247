/**
 * Divergence after an update. The loss check in the batch loop sees each batch's loss before its
 * update is applied, so an update that blows the model up is caught by the next batch's loss,
 * except the last update of a phase: nothing follows it. So at the end of every epoch, before the
 * model is evaluated and checkpointed (a checkpoint never holds a diverged model), its weights and
 * its logits on the epoch's last batch must be finite (huge but finite weights can still give
 * infinite logits).
 */
import * as tf from '@tensorflow/tfjs';

export function assertFiniteAfterEpoch(
  model: tf.LayersModel,
  vars: tf.Variable[],
  lastBatch: { x: Float32Array; rows: number; inputShape: number[] },
  where: { phase: string; epoch: number; batch: number },
): void {
  const problem = tf.tidy(() => {
    const bad = vars.filter((v) => v.dtype === 'float32' && tf.all(tf.isFinite(v)).dataSync()[0] === 0);
    if (bad.length > 0)
      return `its weights are NaN or infinite (${bad
        .slice(0, 3)
        .map((v) => v.name)
        .join(', ')}${bad.length > 3 ? ', ...' : ''})`;
    if (lastBatch.rows === 0) return undefined;
    const x = tf.tensor(lastBatch.x, [lastBatch.rows, ...lastBatch.inputShape]);
    const logits = model.predict(x) as tf.Tensor;
    return tf.all(tf.isFinite(logits)).dataSync()[0] === 0 ? 'its outputs are NaN or infinite' : undefined;
  });
  if (problem) {
    throw new Error(
      `the ${where.phase} model diverged at the last update of epoch ${where.epoch} (batch ${where.batch}): ${problem}; lower the learning rate`,
    );
  }
}
