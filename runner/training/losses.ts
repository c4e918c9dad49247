/**
 * The training losses, on raw logits. Each returns a scalar (mean over the batch) so the
 * gradient scale does not depend on the batch size.
 */
import * as tf from '@tensorflow/tfjs';

/** Cross-entropy on hard labels (int32 class indices). */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits);
    const oneHot = tf.oneHot(labels, logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logProbs), 1))) as tf.Scalar;
  });
}

/**
 * Annealing-KD phase 1: MSE(s(x), Phi(T) * t(x)) on raw logits, mean over every element
 * (PyTorch's MSELoss default, as in the authors' code). No softmax, no temperature on the student.
 */
export function annealingLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  phi: number,
): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(studentLogits, tf.mul(teacherLogits, phi)))));
}

/**
 * Hinton KD: (1 - alpha) * CE(s, y) + alpha * T^2 * KL(softmax(t/T) || softmax(s/T)).
 * `alpha` weights the soft (teacher) term; the KL is summed over classes and averaged over
 * the batch ("batchmean"), and T^2 keeps the soft gradients' scale independent of T.
 */
export function kdLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  labels: tf.Tensor1D,
  temperature: number,
  alpha: number,
): tf.Scalar {
  return tf.tidy(() => {
    const hard = crossEntropy(studentLogits, labels);
    const teacherLogProbs = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const studentLogProbs = tf.logSoftmax(tf.div(studentLogits, temperature));
    const kl = tf.mean(tf.sum(tf.mul(tf.exp(teacherLogProbs), tf.sub(teacherLogProbs, studentLogProbs)), 1));
    return tf.add(tf.mul(hard, 1 - alpha), tf.mul(kl, alpha * temperature * temperature));
  });
}
