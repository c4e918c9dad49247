/**
 * Optimizers from the config, with the step LR schedule and (coupled, PyTorch-style) weight decay.
 * The TF.js optimizers apply the update; weight decay is added to the gradients here so SGD and
 * Adam treat it the same way PyTorch does (grad += wd * w).
 */
import * as tf from '@tensorflow/tfjs';
import type { OptimizerConfig } from '../protocol/configTypes';

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
      if (epoch >= Math.round(m * epochs)) lr *= schedule.gamma ?? 0.1;
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
