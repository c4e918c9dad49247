/**
 * One data-parallel replica's part of a step, the same code on the main thread and on every
 * worker: gather its shard, compute the shard's gradients, publish them in shared memory
 * (sharedMemoryProtocol.ts), then, after the barrier, average every replica's gradients in a
 * fixed order and apply them, so the replicas stay bit-identical.
 */
import * as tf from '@tensorflow/tfjs';
import type { Objective } from './objective';
import type { PhaseOptimizer } from './optimizers';
import type { ShardSource } from './shards';
import { CTRL, shardOf, type PhaseBuffers } from './sharedMemoryProtocol';
import { applyGradients, computeGradients } from './stepGradients';

/** One replica's model, optimizer and view of the shared memory, for one phase. */
export class Replica {
  readonly vars: tf.Variable[];
  private readonly sizes: number[];
  private readonly offsets: number[];
  readonly paramCount: number;
  private readonly avg: Float32Array;
  /** Rows of the step being computed (read once: main may publish the next batch while we average). */
  private stepSize = 0;

  constructor(
    readonly replica: number,
    readonly replicas: number,
    readonly model: tf.LayersModel,
    readonly optimizer: PhaseOptimizer,
    readonly objective: Objective,
    /** Gathers, augments and labels this replica's shard (its targets too). */
    readonly source: ShardSource,
    readonly inputShape: number[],
    readonly classes: number,
    readonly b: PhaseBuffers,
  ) {
    this.vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.sizes = this.vars.map((v) => v.size);
    this.offsets = [];
    let o = 0;
    for (const s of this.sizes) {
      this.offsets.push(o);
      o += s;
    }
    this.paramCount = o;
    this.avg = new Float32Array(o);
  }

  static gradientFloats(model: tf.LayersModel): number {
    return model.trainableWeights.reduce((p, w) => p + (w.shape as number[]).reduce((a, v) => a * v, 1), 0);
  }

  private slot(parity: number, r: number): number {
    return (parity * this.replicas + r) * this.paramCount;
  }

  /**
   * This replica's part of step `seq`: gradients of its shard, published; then (after every
   * replica published) the shard-size-weighted average applied with this replica's optimizer.
   * `wait(r)` blocks or awaits until replica r published step `seq` (it throws on failure).
   */
  computeAndPublish(seq: number): void {
    const { ctrl, params, indices, grads, stats } = this.b;
    const size = Atomics.load(ctrl, CTRL.SIZE);
    this.stepSize = size;
    const phiValue = params[0];
    const epoch = params[1];
    const [start, end] = shardOf(size, this.replica, this.replicas);
    const parity = seq & 1;
    const n = end - start;
    const st = (parity * this.replicas + this.replica) * 2;
    if (n > 0) {
      const r = computeGradients(
        this.model,
        this.objective,
        this.vars,
        this.source.gather(indices.subarray(start, end), epoch),
        this.inputShape,
        this.classes,
        phiValue,
      );
      const base = this.slot(parity, this.replica);
      try {
        this.vars.forEach((v, i) => {
          grads.set(r.grads[v.name].dataSync() as Float32Array, base + this.offsets[i]);
        });
      } finally {
        tf.dispose(Object.values(r.grads));
      }
      stats[st] = r.loss * n;
      stats[st + 1] = r.correct;
    } else {
      stats[st] = 0;
      stats[st + 1] = 0;
    }
    Atomics.store(ctrl, CTRL.DONE + this.replica, seq);
    Atomics.notify(ctrl, CTRL.DONE + this.replica);
  }

  /** After the barrier: average the published gradients (fixed order: identical on every replica) and apply. */
  averageAndApply(seq: number): { lossSum: number; correct: number; size: number } {
    const { grads, stats } = this.b;
    const size = this.stepSize;
    const parity = seq & 1;
    const avg = this.avg;
    const P = this.paramCount;
    let first = true;
    let lossSum = 0;
    let correct = 0;
    for (let r = 0; r < this.replicas; r++) {
      const [s, e] = shardOf(size, r, this.replicas);
      const st = (parity * this.replicas + r) * 2;
      lossSum += stats[st];
      correct += stats[st + 1];
      if (e === s) continue;
      const w = (e - s) / size;
      const g = grads.subarray(this.slot(parity, r), this.slot(parity, r) + P);
      if (first) {
        for (let j = 0; j < P; j++) avg[j] = w * g[j];
        first = false;
      } else {
        for (let j = 0; j < P; j++) avg[j] += w * g[j];
      }
    }
    const named: tf.NamedTensorMap = {};
    this.vars.forEach((v, i) => {
      named[v.name] = tf.tensor(
        avg.subarray(this.offsets[i], this.offsets[i] + this.sizes[i]),
        v.shape,
        'float32',
      );
    });
    applyGradients(this.optimizer, this.vars, named);
    return { lossSum, correct, size };
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.optimizer.dispose();
  }
}
