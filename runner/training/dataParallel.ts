/**
 * Synchronous data-parallel training over worker_threads, for the wasm and cpu backends (whose
 * kernels run on one thread each). The main thread is replica 0, so its model and optimizer are
 * always current for evaluation and checkpoints; workers 1..R-1 each hold their own TF.js
 * instance, a replica of the model and their own optimizer.
 *
 * Per step: the batch's sample indices go into shared memory; each replica gathers its shard
 * from the shared training split (and teacher logits), computes the shard's gradients, publishes
 * them; after one barrier every replica averages them weighted by shard size, in the same order,
 * and applies the same update with its own optimizer, so the replicas stay bit-identical.
 * (wasm and cpu kernels are deterministic and every replica runs the same code on the same
 * numbers.)
 *
 * BatchNorm: batch statistics are per shard (as PyTorch DDP without SyncBN); each replica keeps
 * moving statistics from its own shards, and before every checkpoint (epoch end, cancel) they are
 * averaged over the replicas and written back to all of them, so main's model (the one saved and
 * evaluated) has statistics from every sample.
 *
 * Lifecycle: a pool per run (`TrainingThreads`), workers started lazily by the first phase that
 * uses them and reused by later phases; `close()` stops them (on completion, failure and cancel).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { ActualBackend } from '../protocol/events';
import type { HostSplit } from './batches';
import {
  CTRL,
  CTRL_WORDS,
  ERR_BASE,
  ERR_TEXT_BYTES,
  KIND,
  MAX_REPLICAS,
  ReplicaFailure,
  failureOf,
  recordFailure,
  shardOf,
  shared,
  valuesOf,
  type PhaseBuffers,
  type WeightValues,
  type WireTargets,
  type WorkerMessage,
  type WorkerReply,
} from './sharedMemoryProtocol';
import type { Objective } from './objective';
import type { PhaseOptimizer } from './optimizers';
import { Replica } from './replica';
import { ShardSource, predictRows, type ShardPlan } from './shards';
import { accuracy, predictLogits } from './evaluate';

export type ThreadsSetting = 'auto' | number | undefined;

/** Cores this process may use. */
export function coreCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Training FLOPs (forward + backward, about 3x the forward multiply-adds x2) of one sample, from
 * the layers' output shapes: dense and conv layers only (the rest is elementwise and small).
 */
export function trainingFlopsPerSample(model: tf.LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const out = layer.outputShape as number[];
    const kernel = layer.weights[0]?.shape as number[] | undefined;
    if (cls === 'Dense') {
      if (kernel) macs += kernel[0] * kernel[1];
    } else if (cls === 'Conv2D') {
      if (kernel && Array.isArray(out)) {
        const [kh, kw, cin] = kernel;
        macs += (out[1] ?? 1) * (out[2] ?? 1) * (out[3] ?? 1) * kh * kw * cin;
      }
    }
  }
  return 6 * macs;
}

/**
 * "auto": how many replicas pay for a model. Measured on the 2-core EPYC (bench/, README
 * "Performance"): a step's fixed data-parallel cost is about 0.3-0.6 ms (barrier, gradient
 * copies and averaging, one extra set of kernel launches), and the per-step JS/kernel-launch
 * overhead of TF.js does not shrink with the shard, so a split pays only when the batch's
 * compute is well above that. The rule: one more replica per AUTO_FLOPS_PER_REPLICA training
 * FLOPs in a batch (the MLP student, 19 MFLOP a batch of 128, stays on one thread; the CNN teacher,
 * 9 GFLOP, and ResNet-8 use every core).
 */
export const AUTO_FLOPS_PER_REPLICA = 200e6;

export function autoReplicas(
  model: tf.LayersModel,
  batchSize: number,
  cores: number,
  targetModel?: tf.LayersModel,
): number {
  // A per-batch teacher's forward pass (a third of its training FLOPs) runs in the same step.
  const perSample =
    trainingFlopsPerSample(model) + (targetModel ? trainingFlopsPerSample(targetModel) / 3 : 0);
  const flops = perSample * batchSize;
  return Math.max(1, Math.min(cores, Math.floor(flops / AUTO_FLOPS_PER_REPLICA) + 1));
}

interface PendingReply {
  resolve(r: WorkerReply): void;
  reject(e: Error): void;
}

class WorkerHandle {
  readonly pending: PendingReply[] = [];
  exited = false;
  failure: string | undefined;
  constructor(
    readonly worker: Worker,
    readonly port: MessagePort,
    readonly replica: number,
  ) {}
}

export interface PhaseReplicasOptions {
  model: tf.LayersModel;
  optimizer: PhaseOptimizer;
  objective: Objective;
  /** The training split, the distillation targets and the augmentation (shared by every replica). */
  plan: ShardPlan;
  batchSize: number;
  /** Replicas wanted (main included); capped by the pool and the batch size. */
  replicas: number;
}

const sharedCopies = new WeakMap<ArrayBufferView, ArrayBufferView>();

function isShared(a: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

/** The same values on a SharedArrayBuffer (copied once; cached by identity). */
export function sharedCopy<T extends Float32Array | Int32Array>(a: T): T {
  if (isShared(a)) return a;
  const cached = sharedCopies.get(a);
  if (cached) return cached as T;
  const Ctor = a.constructor as { new (b: SharedArrayBuffer): T };
  const copy = new Ctor(shared(a.byteLength));
  copy.set(a as never);
  sharedCopies.set(a, copy);
  return copy;
}

/**
 * The training split on shared memory, without keeping two copies: the split's arrays are
 * replaced in place (HostSplit is a plain record owned by the run), so workers read the same
 * bytes the main thread does and nothing is copied per step.
 */
export function shareSplit(split: HostSplit): HostSplit {
  if (!isShared(split.x)) split.x = sharedCopy(split.x);
  if (!isShared(split.y)) split.y = sharedCopy(split.y);
  return split;
}

export class TrainingThreads {
  private readonly ctrl = new Int32Array(shared(CTRL_WORDS * 4));
  private readonly errText = new Uint8Array(shared(MAX_REPLICAS * ERR_TEXT_BYTES));
  private readonly workers: WorkerHandle[] = [];
  private starting: Promise<void> | undefined;
  private closed = false;
  /** Milliseconds the workers took to start (load TF.js, initialize the backend). */
  startupMs = 0;

  /**
   * @param threads the most replicas (main included) a phase may use
   * @param backend 'wasm' or 'cpu' (what the main thread runs; workers run the same)
   */
  constructor(
    readonly threads: number,
    readonly backend: 'wasm' | 'cpu',
    readonly setting: ThreadsSetting = threads,
  ) {
    if (!(threads >= 1 && threads <= MAX_REPLICAS))
      throw new RangeError(`threads must be 1..${MAX_REPLICAS}, got ${threads}`);
  }

  /** The pool for a run: undefined when training stays on the main thread (1 thread, or native TF). */
  static forRun(setting: ThreadsSetting, backend: ActualBackend): TrainingThreads | undefined {
    if (backend === 'tensorflow') return undefined;
    const n = setting === undefined || setting === 'auto' ? coreCount() : setting;
    return n > 1 ? new TrainingThreads(Math.min(n, MAX_REPLICAS), backend, setting ?? 'auto') : undefined;
  }

  /** How many replicas (main included) to use for this model and batch size (and per-batch teacher). */
  replicasFor(model: tf.LayersModel, batchSize: number, targetModel?: tf.LayersModel): number {
    const want =
      this.setting === 'auto' || this.setting === undefined
        ? autoReplicas(model, batchSize, this.threads, targetModel)
        : this.threads;
    return Math.max(1, Math.min(want, this.threads, batchSize));
  }

  /**
   * Starts the workers now, without waiting (at run start: they load TF.js, start their backend
   * and warm their kernels while the main thread loads the data and prepares the teacher). A
   * start-up failure surfaces at the first phase or inference that needs them.
   */
  prestart(count = this.threads - 1): void {
    if (count < 1 || this.closed) return;
    this.ensureWorkers(count).catch(() => undefined);
  }

  /**
   * A model's logits for every row of `split`, in inference mode, on every thread it pays to
   * use: the split's batches (of `batchSize`, as evaluate.predictLogits cuts them) in contiguous
   * runs, main taking the first run. Each batch is computed exactly as on one thread.
   */
  async predictLogits(
    model: tf.LayersModel,
    split: HostSplit,
    inputShape: number[],
    classes: number,
    batchSize: number,
  ): Promise<{ logits: Float32Array; threads: number }> {
    const batches: Array<[number, number]> = [];
    for (let s = 0; s < split.n; s += batchSize) batches.push([s, Math.min(split.n, s + batchSize)]);
    const replicas = this.inferenceReplicas(model, batches.length, batchSize);
    if (replicas <= 1)
      return { logits: predictLogits(model, split, inputShape, classes, batchSize), threads: 1 };
    await this.ensureWorkers(replicas - 1);
    const x = shareSplit(split).x;
    const out = new Float32Array(shared(split.n * classes * 4));
    const modelTopology = model.toJSON(undefined, false);
    const weights = valuesOf(model.weights.map((w) => ({ name: w.originalName, tensor: w.read() })));
    const runs = Array.from({ length: replicas }, (_, r) => {
      const [a, b] = shardOf(batches.length, r, replicas);
      return batches.slice(a, b);
    });
    const msgs: WorkerMessage[] = runs
      .slice(1)
      .map((b) => ({ type: 'predict', modelTopology, weights, x, inputShape, classes, batches: b, out }));
    const replies = this.request(msgs);
    // Main's run meanwhile (synchronous); the workers' replies wait in the event loop.
    const mine = Promise.resolve().then(() => {
      const size = inputShape.reduce((a, b) => a * b, 1);
      for (const [start, end] of runs[0]) {
        out.set(
          predictRows(model, x.subarray(start * size, end * size), end - start, inputShape),
          start * classes,
        );
      }
    });
    await Promise.all([replies, mine]);
    // A plain copy: callers keep it, write it to files, share it again later (copied once then).
    return { logits: out.slice(), threads: replicas };
  }

  /** Threads an inference pass of `batches` batches pays for (a forward is about a third of a training step). */
  private inferenceReplicas(model: tf.LayersModel, batches: number, batchSize: number): number {
    const want =
      this.setting === 'auto' || this.setting === undefined
        ? autoReplicas(model, Math.ceil(batchSize / 3), this.threads)
        : this.threads;
    return Math.max(1, Math.min(want, this.threads, batches));
  }

  /**
   * Accuracy of a model on a split, as evaluate.accuracy computes it (the first maximum of each
   * row's logits against the label), on every thread it pays to use.
   */
  async accuracy(
    model: tf.LayersModel,
    split: HostSplit,
    inputShape: number[],
    batchSize: number,
  ): Promise<number> {
    if (split.n === 0) return NaN;
    if (this.inferenceReplicas(model, Math.ceil(split.n / batchSize), batchSize) <= 1)
      return accuracy(model, split, inputShape, batchSize);
    const shape = model.outputs[0].shape;
    const classes = shape[shape.length - 1] as number;
    const { logits } = await this.predictLogits(model, split, inputShape, classes, batchSize);
    let correct = 0;
    for (let r = 0; r < split.n; r++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[r * classes + c] > logits[r * classes + best]) best = c;
      if (best === split.y[r]) correct++;
    }
    return correct / split.n;
  }

  private async ensureWorkers(count: number): Promise<void> {
    while (this.starting) await this.starting;
    if (this.closed) throw new Error('the training threads were closed');
    if (this.workers.length >= count) return;
    const start = async (): Promise<void> => {
      const t0 = Date.now();
      const file = path.join(__dirname, 'dataParallelWorker.js');
      const boots: Array<Promise<void>> = [];
      for (let r = this.workers.length + 1; r <= count; r++) {
        const { port1, port2 } = new MessageChannel();
        const worker = new Worker(file, {
          workerData: {
            ctrl: this.ctrl,
            errText: this.errText,
            port: port2,
            backend: this.backend,
            replica: r,
          },
          transferList: [port2],
          stdout: false,
          stderr: false,
        });
        const h = new WorkerHandle(worker, port1, r);
        this.workers.push(h);
        boots.push(
          new Promise<void>((resolve, reject) => {
            h.pending.push({
              resolve: (m) =>
                m.type === 'ready'
                  ? resolve()
                  : reject(new Error(m.type === 'error' ? m.message : 'bad reply')),
              reject,
            });
          }),
        );
        worker.on('message', (m: WorkerReply) => {
          const p = h.pending.shift();
          if (m.type === 'error') {
            h.failure = m.message;
            p?.reject(new ReplicaFailure(`training worker ${r} failed: ${m.message}`));
          } else p?.resolve(m);
        });
        worker.on('error', (e) => {
          h.failure = e.message;
          for (const p of h.pending.splice(0))
            p.reject(new ReplicaFailure(`training worker ${r} failed: ${e.message}`));
        });
        worker.on('exit', (code) => {
          h.exited = true;
          if (!this.closed && !h.failure) h.failure = `exited with code ${code}`;
          for (const p of h.pending.splice(0))
            p.reject(new ReplicaFailure(`training worker ${r} ${h.failure ?? 'exited'}`));
        });
      }
      await Promise.all(boots);
      this.startupMs += Date.now() - t0;
    };
    this.starting = start();
    try {
      await this.starting;
    } finally {
      this.starting = undefined;
    }
  }

  /** Sends a message to workers 1..count-1 and waits for every reply. */
  async request(msgs: Array<WorkerMessage | undefined>): Promise<WorkerReply[]> {
    const replies: Array<Promise<WorkerReply>> = [];
    msgs.forEach((m, i) => {
      const h = this.workers[i];
      if (!m || !h) return;
      if (h.exited || h.failure) {
        replies.push(
          Promise.reject(new ReplicaFailure(`training worker ${h.replica} ${h.failure ?? 'exited'}`)),
        );
        return;
      }
      replies.push(new Promise<WorkerReply>((resolve, reject) => h.pending.push({ resolve, reject })));
      h.port.postMessage(m);
    });
    this.command(KIND.MESSAGE);
    return Promise.all(replies);
  }

  private command(kind: number): number {
    Atomics.store(this.ctrl, CTRL.KIND, kind);
    const seq = Atomics.add(this.ctrl, CTRL.SEQ, 1) + 1;
    Atomics.notify(this.ctrl, CTRL.SEQ);
    return seq;
  }

  /** Sets up `opts.replicas` replicas of a phase (main is replica 0), or undefined for 1. */
  async startPhase(opts: PhaseReplicasOptions): Promise<PhaseReplicas | undefined> {
    const replicas = Math.max(1, Math.min(opts.replicas, this.threads, opts.batchSize));
    if (replicas === 1) return undefined;
    await this.ensureWorkers(replicas - 1);
    const P = Replica.gradientFloats(opts.model);
    const b: PhaseBuffers = {
      ctrl: this.ctrl,
      params: new Float64Array(shared(2 * 8)),
      indices: new Int32Array(shared(opts.batchSize * 4)),
      grads: new Float32Array(shared(2 * replicas * P * 4)),
      stats: new Float64Array(shared(2 * replicas * 2 * 8)),
      errText: this.errText,
    };
    for (let r = 0; r < replicas; r++)
      Atomics.store(this.ctrl, CTRL.DONE + r, Atomics.load(this.ctrl, CTRL.SEQ));
    const { plan } = opts;
    const train = shareSplit(plan.train);
    const targets: WireTargets | undefined =
      plan.targets?.kind === 'cached'
        ? { kind: 'cached', logits: sharedCopy(plan.targets.logits) }
        : plan.targets?.kind === 'per-batch'
          ? {
              kind: 'per-batch',
              modelTopology: plan.targets.model.toJSON(undefined, false),
              weights: valuesOf(
                plan.targets.model.weights.map((w) => ({ name: w.originalName, tensor: w.read() })),
              ),
            }
          : undefined;
    const weights = valuesOf(opts.model.weights.map((w) => ({ name: w.originalName, tensor: w.read() })));
    const optimizerState = valuesOf(await opts.optimizer.optimizer.getWeights());
    const modelTopology = opts.model.toJSON(undefined, false);
    const msgs: WorkerMessage[] = [];
    for (let r = 1; r < replicas; r++) {
      msgs.push({
        type: 'setup',
        replica: r,
        replicas,
        modelTopology,
        weights,
        optimizer: opts.optimizer.config,
        optimizerState,
        objective: opts.objective,
        inputShape: plan.inputShape,
        classes: plan.classes,
        batchSize: opts.batchSize,
        train,
        targets,
        augment: plan.augment,
        buffers: b,
      });
    }
    await this.request(msgs);
    const main = new Replica(
      0,
      replicas,
      opts.model,
      opts.optimizer,
      opts.objective,
      new ShardSource({ ...plan, train }),
      plan.inputShape,
      plan.classes,
      b,
    );
    return new PhaseReplicas(this, main, b);
  }

  /** @internal Runs a step: publishes the batch, wakes the workers; returns the step's SEQ. */
  beginStep(b: PhaseBuffers, indices: Int32Array, phi: number, epoch: number): number {
    b.indices.set(indices);
    b.params[0] = phi;
    b.params[1] = epoch;
    Atomics.store(this.ctrl, CTRL.SIZE, indices.length);
    return this.command(KIND.STEP);
  }

  /** @internal Throws if a worker is gone or failed. */
  check(replica: number): void {
    const h = this.workers[replica - 1];
    if (Atomics.load(this.ctrl, ERR_BASE + replica) !== 0) {
      throw new ReplicaFailure(
        `training worker ${replica} failed: ${failureOf({ errText: this.errText } as PhaseBuffers, replica) || h?.failure || 'unknown error'}`,
      );
    }
    if (!h || h.exited || h.failure)
      throw new ReplicaFailure(`training worker ${replica} ${h?.failure ?? 'is gone'}`);
  }

  /** Number of worker threads running (for tests). */
  get workerCount(): number {
    return this.workers.filter((h) => !h.exited).length;
  }

  /** Stops every worker (idempotent): asks them to stop, then terminates any that has not after 2 s. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.starting) await this.starting.catch(() => undefined);
    Atomics.store(this.ctrl, CTRL.ABORT, 1);
    this.command(KIND.STOP);
    for (let r = 0; r < MAX_REPLICAS; r++) Atomics.notify(this.ctrl, CTRL.DONE + r);
    await Promise.all(
      this.workers.map(async (h) => {
        if (h.exited) return;
        const exited = new Promise<void>((resolve) => h.worker.once('exit', () => resolve()));
        const timer = setTimeout(() => {
          void h.worker.terminate();
        }, 2000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The replicas of one phase, as the phase trainer sees them. */
export class PhaseReplicas {
  constructor(
    private readonly pool: TrainingThreads,
    readonly main: Replica,
    private readonly b: PhaseBuffers,
  ) {}

  get replicas(): number {
    return this.main.replicas;
  }

  /** Waits (blocking in short slices, yielding to the event loop now and then) until replica q published `seq`. */
  private async waitFor(q: number, seq: number): Promise<void> {
    const ctrl = this.b.ctrl;
    let lastYield = Date.now();
    for (;;) {
      const v = Atomics.load(ctrl, CTRL.DONE + q);
      if (v >= seq) return;
      this.pool.check(q);
      Atomics.wait(ctrl, CTRL.DONE + q, v, 20);
      if (Date.now() - lastYield > 500) {
        // Lets worker 'exit'/'error' events (and signals) through when a step takes long.
        await yieldToEventLoop();
        lastYield = Date.now();
      }
    }
  }

  /** One synchronous data-parallel step on the batch `indices` (sample indices into the training split). */
  async step(indices: Int32Array, phi: number, epoch: number): Promise<{ loss: number; correct: number }> {
    const seq = this.pool.beginStep(this.b, indices, phi, epoch);
    try {
      this.main.computeAndPublish(seq);
      for (let q = 1; q < this.replicas; q++) await this.waitFor(q, seq);
      const r = this.main.averageAndApply(seq);
      return { loss: r.lossSum / r.size, correct: r.correct };
    } catch (e) {
      // Releases workers waiting for main's gradients (they fail this step too).
      recordFailure(this.b.ctrl, this.b.errText, 0, (e as Error).message);
      throw e;
    }
  }

  async setEpoch(epoch: number, epochs: number): Promise<void> {
    await this.pool.request(this.toWorkers({ type: 'epoch', epoch, epochs }));
  }

  private toWorkers(m: WorkerMessage): WorkerMessage[] {
    return Array.from({ length: this.replicas - 1 }, () => m);
  }

  /** Averages BatchNorm moving statistics (all non-trainable weights) over the replicas, into every replica. */
  async syncStatistics(): Promise<void> {
    const mine = this.main.model.nonTrainableWeights;
    if (mine.length === 0) return;
    const replies = await this.pool.request(this.toWorkers({ type: 'get-weights', trainable: false }));
    const all: WeightValues[][] = [
      valuesOf(mine.map((w) => ({ name: w.originalName, tensor: w.read() }))),
      ...replies.map((r) => (r.type === 'ok' && r.weights ? r.weights : [])),
    ];
    const averaged: WeightValues[] = all[0].map((w, i) => {
      const sum = new Float32Array(w.values.length);
      for (const rep of all) {
        const v = rep[i].values;
        for (let j = 0; j < sum.length; j++) sum[j] += v[j];
      }
      for (let j = 0; j < sum.length; j++) sum[j] /= all.length;
      return { ...w, dtype: 'float32', values: sum };
    });
    mine.forEach((w, i) => {
      const t = tf.tensor(averaged[i].values, averaged[i].shape);
      w.write(t);
      t.dispose();
    });
    await this.pool.request(this.toWorkers({ type: 'set-statistics', values: averaged }));
  }

  /** Every replica's trainable weights (for tests: replicas must agree). */
  async replicaWeights(): Promise<WeightValues[][]> {
    const replies = await this.pool.request(this.toWorkers({ type: 'get-weights', trainable: true }));
    const mine = valuesOf(
      this.main.model.trainableWeights.map((w) => ({ name: w.originalName, tensor: w.read() })),
    );
    return [mine, ...replies.map((r) => (r.type === 'ok' && r.weights ? r.weights : []))];
  }

  /** Frees the workers' replicas (main's model and optimizer belong to the caller). */
  async end(): Promise<void> {
    await this.pool.request(this.toWorkers({ type: 'release' }));
  }
}
