/**
 * The shared-memory protocol between the training threads (the main thread, replica 0, and the
 * data-parallel workers): the layout of the control block (an Int32Array on a
 * SharedArrayBuffer), the per-phase buffers, the port messages and the failure text. It
 * imports no training code: both sides of the protocol (dataParallel.ts, dataParallelWorker.ts,
 * and replica.ts, the step every replica runs) import it.
 *
 * Protocol (one control block per pool):
 *   ctrl[SEQ]   command counter; workers sleep on it (Atomics.wait) and wake when it changes
 *   ctrl[KIND]  STEP (the batch is in `indices`, its size in ctrl[SIZE], phi in params[0], the
 *               phase's 0-based epoch in params[1]: augmentation draws depend on it),
 *               MESSAGE (read one message synchronously from the worker's port), STOP
 *   ctrl[ABORT] set when the pool is torn down: every wait loop gives up
 *   ctrl[DONE + r]  the last SEQ whose gradients replica r has published
 *   ctrl[ERR + r]   1 when replica r failed (its message is in errText)
 * Gradients are double-buffered by SEQ parity: a replica can only overwrite buffer k%2 at
 * step k+2 after every replica has published step k+1, which each does only after it finished
 * reading (averaging) step k. So one barrier per step suffices.
 */
import * as tf from '@tensorflow/tfjs';
import type { OptimizerConfig } from '../protocol/configTypes';
import type { AugmentSpec } from '../data/augment';
import type { HostSplit } from './batches';
import type { Objective } from './objective';

export const CTRL = { SEQ: 0, KIND: 1, SIZE: 2, ABORT: 3, DONE: 8 } as const;
export const KIND = { STEP: 1, MESSAGE: 2, STOP: 3 } as const;
/** Max replicas a control block is laid out for (the schema allows threads <= 64). */
export const MAX_REPLICAS = 64;
export const ERR_BASE = CTRL.DONE + MAX_REPLICAS;
export const CTRL_WORDS = ERR_BASE + MAX_REPLICAS;
export const ERR_TEXT_BYTES = 2048;

export function shared(bytes: number): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.max(8, bytes));
}

/** Contiguous shard [start, end) of a batch of `size` rows for replica r of R (sizes differ by at most 1). */
export function shardOf(size: number, r: number, replicas: number): [number, number] {
  const base = Math.floor(size / replicas);
  const extra = size % replicas;
  const start = r * base + Math.min(r, extra);
  return [start, start + base + (r < extra ? 1 : 0)];
}

export interface WeightValues {
  name: string;
  shape: number[];
  dtype: tf.DataType;
  values: Float32Array | Int32Array;
}

export interface SetupMessage {
  type: 'setup';
  replica: number;
  replicas: number;
  modelTopology: unknown;
  weights: WeightValues[];
  optimizer: OptimizerConfig;
  optimizerState: WeightValues[];
  objective: Objective;
  inputShape: number[];
  classes: number;
  batchSize: number;
  train: HostSplit;
  targets?: WireTargets;
  augment?: AugmentSpec;
  buffers: PhaseBuffers;
}

/**
 * The distillation targets as a worker receives them: the cached logits on shared memory, or
 * the teacher (topology and weights) to run on the worker's own shards.
 */
export type WireTargets =
  | { kind: 'cached'; logits: Float32Array }
  | { kind: 'per-batch'; modelTopology: unknown; weights: WeightValues[] };
export type WorkerMessage =
  | SetupMessage
  | { type: 'epoch'; epoch: number; epochs: number }
  | { type: 'get-weights'; trainable: boolean }
  | { type: 'set-statistics'; values: WeightValues[] }
  | { type: 'release' }
  | PredictMessage;

/**
 * Inference on a worker (teacher logits, evaluation): run the model in inference mode on whole
 * batches of rows [start, end) of `x` (shared), each written to `out` (shared) at row start, the
 * same batches the main thread would run alone, so the logits are the same numbers.
 */
export interface PredictMessage {
  type: 'predict';
  modelTopology: unknown;
  weights: WeightValues[];
  x: Float32Array;
  inputShape: number[];
  classes: number;
  batches: Array<[number, number]>;
  out: Float32Array;
}

export type WorkerReply =
  | { type: 'ready'; ms: number }
  | { type: 'ok'; weights?: WeightValues[] }
  | { type: 'error'; message: string; stack?: string };

/** Shared memory of one phase (sized for its model and batch). */
export interface PhaseBuffers {
  ctrl: Int32Array;
  params: Float64Array;
  indices: Int32Array;
  /** 2 (parity) x replicas x P floats. */
  grads: Float32Array;
  /** 2 (parity) x replicas x [loss * n, correct]. */
  stats: Float64Array;
  errText: Uint8Array;
}

export function valuesOf(tensors: Array<{ name: string; tensor: tf.Tensor }>): WeightValues[] {
  return tensors.map(({ name, tensor }) => ({
    name,
    shape: tensor.shape,
    dtype: tensor.dtype,
    values: tensor.dataSync() as Float32Array | Int32Array,
  }));
}

export function tensorsOf(values: WeightValues[]): Array<{ name: string; tensor: tf.Tensor }> {
  return values.map((v) => ({ name: v.name, tensor: tf.tensor(v.values, v.shape, v.dtype) }));
}

export class ReplicaFailure extends Error {}

/** Why replica r failed, from the shared error text. */
export function failureOf(b: PhaseBuffers, r: number): string {
  const bytes = b.errText.subarray(r * ERR_TEXT_BYTES, (r + 1) * ERR_TEXT_BYTES);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.slice(0, end < 0 ? bytes.length : end));
}

export function recordFailure(
  ctrl: Int32Array,
  errText: Uint8Array | undefined,
  r: number,
  message: string,
): void {
  if (errText) {
    const bytes = new TextEncoder().encode(message).subarray(0, ERR_TEXT_BYTES - 1);
    errText.fill(0, r * ERR_TEXT_BYTES, (r + 1) * ERR_TEXT_BYTES);
    errText.set(bytes, r * ERR_TEXT_BYTES);
  }
  Atomics.store(ctrl, ERR_BASE + r, 1);
  // Wake anyone waiting for this replica's gradients.
  Atomics.store(ctrl, CTRL.DONE + r, -1);
  Atomics.notify(ctrl, CTRL.DONE + r);
}
