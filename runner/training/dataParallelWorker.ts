/**
 * A data-parallel training worker: its own TF.js instance (wasm with the training kernels, or
 * cpu), a replica of the phase's model and its own optimizer. It sleeps on the shared control
 * block (Atomics.wait) and runs what the main thread asks: a training step on its shard of the
 * batch (replica.ts, over the protocol of sharedMemoryProtocol.ts), or a message (setup, epoch, weights, release) read
 * synchronously from its port. Started by dataParallel.ts; never imported by anything else.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from '../backend/wasmKernels';
import { installFusedAdam } from '../backend/fusedAdam';
import { installFusedBatchNorm } from '../backend/fusedBatchNorm';
import { createOptimizer, restoreOptimizerState } from './optimizers';
import { ShardSource, predictRows, type TargetSource } from './shards';
import { warmUp } from './warmUp';
import {
  CTRL,
  ERR_BASE,
  KIND,
  recordFailure,
  tensorsOf,
  valuesOf,
  type WorkerMessage,
  type WorkerReply,
} from './sharedMemoryProtocol';
import { Replica } from './replica';

interface Boot {
  ctrl: Int32Array;
  errText: Uint8Array;
  port: MessagePort;
  backend: 'wasm' | 'cpu';
  replica: number;
}

const boot = workerData as Boot;
const { ctrl, port } = boot;
let current: Replica | undefined;
/** The per-batch teacher of the current phase (this worker's own copy), if any. */
let targetModel: tf.LayersModel | undefined;

async function modelFrom(
  topology: unknown,
  weights: Parameters<typeof tensorsOf>[0],
): Promise<tf.LayersModel> {
  const model = await tf.models.modelFromJSON({ modelTopology: topology } as Parameters<
    typeof tf.models.modelFromJSON
  >[0]);
  const init = tensorsOf(weights);
  model.setWeights(init.map((w) => w.tensor));
  tf.dispose(init.map((w) => w.tensor));
  return model;
}

function release(): void {
  current?.dispose();
  current = undefined;
  targetModel?.dispose();
  targetModel = undefined;
}

function reply(r: WorkerReply): void {
  parentPort!.postMessage(r);
}

async function initBackend(): Promise<void> {
  installFusedAdam();
  if (boot.backend === 'wasm') {
    registerWasmTrainingKernels();
    installFusedBatchNorm();
    if (!(await tf.setBackend('wasm'))) throw new Error('wasm failed to initialize in a training worker');
  } else {
    if (!(await tf.setBackend('cpu'))) throw new Error('cpu failed to initialize in a training worker');
    const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
    if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
  }
  await tf.ready();
}

async function handleMessage(msg: WorkerMessage): Promise<WorkerReply> {
  switch (msg.type) {
    case 'setup': {
      release();
      const model = await modelFrom(msg.modelTopology, msg.weights);
      let targets: TargetSource | undefined;
      if (msg.targets?.kind === 'cached') targets = msg.targets;
      else if (msg.targets?.kind === 'per-batch') {
        targetModel = await modelFrom(msg.targets.modelTopology, msg.targets.weights);
        targets = { kind: 'per-batch', model: targetModel };
      }
      const optimizer = createOptimizer(msg.optimizer);
      if (msg.optimizerState.length > 0)
        await restoreOptimizerState(optimizer, tensorsOf(msg.optimizerState));
      current = new Replica(
        msg.replica,
        msg.replicas,
        model,
        optimizer,
        msg.objective,
        new ShardSource({
          train: msg.train,
          inputShape: msg.inputShape,
          classes: msg.classes,
          targets,
          augment: msg.augment,
        }),
        msg.inputShape,
        msg.classes,
        msg.buffers,
      );
      return { type: 'ok' };
    }
    case 'epoch':
      current?.optimizer.setEpoch(msg.epoch, msg.epochs);
      return { type: 'ok' };
    case 'get-weights': {
      if (!current) return { type: 'ok', weights: [] };
      const ws = msg.trainable ? current.model.trainableWeights : current.model.nonTrainableWeights;
      return { type: 'ok', weights: valuesOf(ws.map((w) => ({ name: w.originalName, tensor: w.read() }))) };
    }
    case 'set-statistics': {
      if (current) {
        const ws = current.model.nonTrainableWeights;
        const ts = tensorsOf(msg.values);
        ws.forEach((w, i) => w.write(ts[i].tensor));
        tf.dispose(ts.map((t) => t.tensor));
      }
      return { type: 'ok' };
    }
    case 'release':
      release();
      return { type: 'ok' };
    case 'predict': {
      const model = await modelFrom(msg.modelTopology, msg.weights);
      try {
        const size = msg.inputShape.reduce((a, b) => a * b, 1);
        for (const [start, end] of msg.batches) {
          const rows = predictRows(
            model,
            msg.x.subarray(start * size, end * size),
            end - start,
            msg.inputShape,
          );
          msg.out.set(rows, start * msg.classes);
        }
      } finally {
        model.dispose();
      }
      return { type: 'ok' };
    }
  }
}

/** Waits until every replica published step `seq`; false if the pool is being torn down. */
function barrier(r: Replica, seq: number): boolean {
  for (let q = 0; q < r.replicas; q++) {
    for (;;) {
      if (Atomics.load(ctrl, CTRL.ABORT) !== 0) return false;
      if (Atomics.load(ctrl, ERR_BASE + q) !== 0) throw new Error(`replica ${q} failed`);
      // >=: a fast main thread may already have published the next step.
      const v = Atomics.load(ctrl, CTRL.DONE + q);
      if (v >= seq) break;
      Atomics.wait(ctrl, CTRL.DONE + q, v, 100);
    }
  }
  return true;
}

async function loop(seenAtStart: number): Promise<void> {
  let seen = seenAtStart;
  for (;;) {
    Atomics.wait(ctrl, CTRL.SEQ, seen);
    const seq = Atomics.load(ctrl, CTRL.SEQ);
    if (seq === seen) continue;
    seen = seq;
    if (Atomics.load(ctrl, CTRL.ABORT) !== 0) return;
    const kind = Atomics.load(ctrl, CTRL.KIND);
    if (kind === KIND.STOP) return;
    try {
      if (kind === KIND.MESSAGE) {
        const m = receiveMessageOnPort(port);
        if (m) reply(await handleMessage(m.message as WorkerMessage));
      } else if (kind === KIND.STEP && current && current.replica < current.replicas) {
        current.computeAndPublish(seq);
        if (!barrier(current, seq)) return;
        current.averageAndApply(seq);
      }
    } catch (e) {
      const err = e as Error;
      recordFailure(ctrl, boot.errText, boot.replica, err.message);
      reply({ type: 'error', message: err.message, stack: err.stack });
    }
  }
}

(async () => {
  const t0 = Date.now();
  try {
    await initBackend();
    // Started at run start: this overlaps the main thread's data loading.
    warmUp();
  } catch (e) {
    recordFailure(ctrl, boot.errText, boot.replica, (e as Error).message);
    reply({ type: 'error', message: (e as Error).message });
    return;
  }
  // Read before saying ready: the main thread's first command may follow at once.
  const seen = Atomics.load(ctrl, CTRL.SEQ);
  reply({ type: 'ready', ms: Date.now() - t0 });
  await loop(seen);
  current?.dispose();
  port.close();
})();
