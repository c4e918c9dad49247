/**
 * The arithmetic of one training step, the same on every thread: a (shard of a) batch's loss,
 * gradients and correct predictions (computeGradients), and applying averaged gradients with
 * weight decay (applyGradients). The single-thread phase loop and every data-parallel replica
 * call these, so they compute the very same thing; this module imports no thread code.
 */
import * as tf from '@tensorflow/tfjs';
import { denseGradients, denseStackOf } from './denseStep';
import { annealingLoss, crossEntropy, kdLoss } from './losses';
import type { Objective, ShardGradients } from './objective';
import type { PhaseOptimizer } from './optimizers';
import type { HostShard } from './shards';

/**
 * Forward + backward on one batch or one data-parallel shard: the phase's loss (mean over the
 * rows given), its gradients with respect to `vars`, and the correct predictions. Shared by the
 * single-thread step and every data-parallel replica, so they compute the very same thing.
 * Plain dense stacks (the MLP family) are differentiated by hand (denseStep.ts: a fraction of
 * the kernel launches); every other model through the autograd tape.
 */
export function computeGradients(
  model: tf.LayersModel,
  objective: Objective,
  vars: tf.Variable[],
  shard: HostShard,
  inputShape: number[],
  classes: number,
  phiValue: number,
): ShardGradients {
  const dense = denseStackOf(model);
  if (dense) return denseGradients(dense, objective, shard.x, shard.y, shard.targets, classes, phiValue);
  const rows = shard.y.length;
  const x = tf.tensor(shard.x, [rows, ...inputShape]);
  const y = tf.tensor1d(shard.y, 'int32');
  const targets = shard.targets ? tf.tensor2d(shard.targets, [rows, classes]) : undefined;
  try {
    return tapeGradients(model, objective, vars, x, y, targets, phiValue);
  } finally {
    tf.dispose([x, y, ...(targets ? [targets] : [])]);
  }
}

/** computeGradients through tf.layers and the autograd tape (any model). */
export function tapeGradients(
  model: tf.LayersModel,
  objective: Objective,
  vars: tf.Variable[],
  x: tf.Tensor,
  y: tf.Tensor1D,
  targets: tf.Tensor2D | undefined,
  phiValue: number,
): ShardGradients {
  let correct: tf.Scalar | undefined;
  const { value, grads } = tf.tidy(() =>
    tf.variableGrads(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor2D;
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32'))) as tf.Scalar;
      switch (objective.kind) {
        case 'ce':
          return crossEntropy(logits, y);
        case 'kd':
          return kdLoss(logits, targets as tf.Tensor2D, y, objective.temperature, objective.alpha);
        case 'anneal':
          return annealingLoss(logits, targets as tf.Tensor2D, phiValue);
      }
    }, vars),
  );
  const loss = value.dataSync()[0];
  value.dispose();
  const c = correct ? correct.dataSync()[0] : 0;
  correct?.dispose();
  return { grads, loss, correct: c };
}

/** Adds the (coupled) weight decay and applies `grads` (keyed by variable name, in `vars` order); disposes them. */
export function applyGradients(
  optimizer: PhaseOptimizer,
  vars: tf.Variable[],
  grads: tf.NamedTensorMap,
): void {
  tf.tidy(() => {
    const wd = optimizer.weightDecay;
    const ordered: tf.NamedTensorMap = {};
    for (const v of vars) ordered[v.name] = wd > 0 ? tf.add(grads[v.name], tf.mul(v, wd)) : grads[v.name];
    optimizer.optimizer.applyGradients(ordered);
  });
  tf.dispose(Object.values(grads));
}

/** One single-thread optimizer step; returns the batch loss and the number of correct predictions. */
export function trainStep(
  model: tf.LayersModel,
  objective: Objective,
  optimizer: PhaseOptimizer,
  vars: tf.Variable[],
  shard: HostShard,
  inputShape: number[],
  classes: number,
  phiValue: number,
): { loss: number; correct: number } {
  const r = computeGradients(model, objective, vars, shard, inputShape, classes, phiValue);
  applyGradients(optimizer, vars, r.grads);
  return { loss: r.loss, correct: r.correct };
}
