/**
 * What a training step optimizes and what it hands back: the leaf every step module (the
 * phase loop, the hand-written dense step, each data-parallel replica) imports, so none of them
 * imports another for a type.
 */
import type * as tf from '@tensorflow/tfjs';
import type { TemperatureStep } from '../protocol/annealingSchedule';

export type Objective =
  | { kind: 'ce' }
  | { kind: 'kd'; temperature: number; alpha: number }
  | { kind: 'anneal'; steps: TemperatureStep[] };

/** Gradients of one (shard of a) batch, not yet applied; the caller disposes `grads`. */
export interface ShardGradients {
  grads: tf.NamedTensorMap;
  /** Mean loss over the shard. */
  loss: number;
  /** Correct predictions in the shard. */
  correct: number;
}
