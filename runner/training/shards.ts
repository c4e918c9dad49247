/**
 * What one training step reads: a batch (or a data-parallel replica's shard of it) gathered from
 * the host-side training split, augmented, with the distillation targets of exactly those
 * images. One function for the single-thread loop and every replica, so they prepare the very
 * same inputs.
 *
 * Targets come from one of two sources:
 *  - cached: the teacher's logits of every training sample, computed once per run (valid only
 *    when nothing is augmented: then a sample's image never changes);
 *  - per-batch: the teacher itself (inference mode) on the augmented images of the batch, as
 *    the Annealing-KD reference code does.
 */
import * as tf from '@tensorflow/tfjs';
import { Augmenter, type AugmentSpec } from '../data/augment';
import { gatherBatch, gatherRows, type HostSplit } from './batches';

/** Where a distillation phase's targets come from, as the main thread holds it. */
export type TargetSource =
  { kind: 'cached'; logits: Float32Array } | { kind: 'per-batch'; model: tf.LayersModel };

/** One batch or data-parallel shard on the host: flattened input rows, labels, targets. */
export interface HostShard {
  x: Float32Array;
  y: Int32Array;
  targets?: Float32Array;
}

/** How a phase turns sample indices into a shard (one per replica). */
export interface ShardPlan {
  train: HostSplit;
  inputShape: number[];
  classes: number;
  targets?: TargetSource;
  augment?: AugmentSpec;
}

export class ShardSource {
  private readonly sampleSize: number;
  private readonly augmenter: Augmenter | undefined;
  /** Seconds spent computing per-batch targets since the last `takeTargetSeconds()`. */
  private targetSeconds = 0;

  constructor(private readonly plan: ShardPlan) {
    this.sampleSize = plan.inputShape.reduce((a, b) => a * b, 1);
    this.augmenter = plan.augment ? new Augmenter(plan.augment) : undefined;
  }

  get perBatchTargets(): boolean {
    return this.plan.targets?.kind === 'per-batch';
  }

  /** The shard for training-set indices `ids` in (0-based) epoch `epoch` of the phase. */
  gather(ids: Int32Array, epoch: number): HostShard {
    const { train, classes, targets } = this.plan;
    const batch = gatherBatch(train, this.sampleSize, ids, 0, ids.length);
    this.augmenter?.apply(batch.x, ids, epoch);
    let t: Float32Array | undefined;
    if (targets?.kind === 'cached') t = gatherRows(targets.logits, classes, ids);
    else if (targets?.kind === 'per-batch') {
      const t0 = process.hrtime.bigint();
      t = predictRows(targets.model, batch.x, ids.length, this.plan.inputShape);
      this.targetSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
    }
    return { x: batch.x, y: batch.y, targets: t };
  }

  /** Seconds of per-batch target computation since the last call (0 with cached targets). */
  takeTargetSeconds(): number {
    const s = this.targetSeconds;
    this.targetSeconds = 0;
    return s;
  }
}

/** A model's logits for `rows` host rows, in inference mode (batchnorm on its moving statistics). */
export function predictRows(
  model: tf.LayersModel,
  x: Float32Array,
  rows: number,
  inputShape: number[],
): Float32Array {
  return tf.tidy(
    () => (model.predict(tf.tensor(x, [rows, ...inputShape])) as tf.Tensor).dataSync() as Float32Array,
  );
}
