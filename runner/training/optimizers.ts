/**
 * Optimizers from the config, with the step LR schedule and (coupled, PyTorch-style) weight decay.
 * The TF.js optimizers apply the update; weight decay is added to the gradients here so SGD and
 * Adam treat it the same way PyTorch does (grad += wd * w).
 */
import * as tf from '@tensorflow/tfjs';
import { milestoneEpoch, type OptimizerConfig } from '../protocol/configTypes';

export interface PhaseOptimizer {
  optimizer: tf.Optimizer;
  config: OptimizerConfig;
  /** Set the LR for a 0-based epoch of a phase of `epochs` epochs. Returns the LR in force. */
  setEpoch(epoch: number, epochs: number): number;
  weightDecay: number;
}

/** LR for an epoch under the optional step schedule: x gamma at each milestone fraction passed. */
export function learningRateAt(config: OptimizerConfig, epoch: number, epochs: number): number {
  let lr = config.learningRate;
  const schedule = config.schedule;
  if (schedule) {
    for (const m of schedule.milestones) {
      if (epoch >= milestoneEpoch(m, epochs)) lr *= schedule.gamma ?? 0.1;
    }
  }
  return lr;
}

export function createOptimizer(config: OptimizerConfig): PhaseOptimizer {
  let optimizer: tf.Optimizer;
  switch (config.type) {
    case 'sgd':
      optimizer =
        (config.momentum ?? 0) > 0
          ? tf.train.momentum(config.learningRate, config.momentum ?? 0, config.nesterov ?? false)
          : tf.train.sgd(config.learningRate);
      break;
    case 'adam':
      optimizer = tf.train.adam(
        config.learningRate,
        config.beta1 ?? 0.9,
        config.beta2 ?? 0.999,
        config.epsilon ?? 1e-8,
      );
      break;
  }
  return {
    optimizer,
    config,
    weightDecay: config.weightDecay ?? 0,
    setEpoch(epoch, epochs) {
      const lr = learningRateAt(config, epoch, epochs);
      const sgd = optimizer as unknown as { setLearningRate?: (lr: number) => void };
      if (typeof sgd.setLearningRate === 'function') {
        sgd.setLearningRate(lr); // SGD and momentum keep the LR in a scalar tensor
      } else {
        // AdamOptimizer reads `learningRate` at every step; it has no setter.
        (optimizer as unknown as { learningRate: number }).learningRate = lr;
      }
      return lr;
    },
  };
}

/**
 * Restores an optimizer's state (from `getWeights()`, e.g. a checkpoint). TF.js's Adam recomputes
 * its bias-correction powers on restore as pow(beta, t + 1), while training multiplies them in
 * float32 step by step: the last bits differ, and a resumed run would drift from an uninterrupted
 * one. Here they are rebuilt the way training builds them, so a resume continues bit for bit.
 */
export async function restoreOptimizerState(
  opt: PhaseOptimizer,
  weights: Parameters<tf.Optimizer['setWeights']>[0],
): Promise<void> {
  await opt.optimizer.setWeights(weights);
  const adam = opt.optimizer as unknown as {
    accBeta1?: tf.Variable;
    accBeta2?: tf.Variable;
    beta1: number;
    beta2: number;
    iterations: number;
  };
  if (!(adam.accBeta1 && adam.accBeta2)) return;
  const running = (beta: number): number => {
    const b = Math.fround(beta);
    let acc = b;
    for (let i = 0; i < adam.iterations; i++) acc = Math.fround(acc * b);
    return acc;
  };
  tf.tidy(() => {
    adam.accBeta1!.assign(tf.scalar(running(adam.beta1)));
    adam.accBeta2!.assign(tf.scalar(running(adam.beta2)));
  });
}
