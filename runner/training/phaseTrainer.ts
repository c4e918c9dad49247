/**
 * One training phase (teacher, train, kd, anneal or finetune): the epoch and batch loops, the
 * loss of the phase, events, checkpoints, and stopping cleanly at a batch boundary on cancel.
 */
import * as tf from '@tensorflow/tfjs';
import type { CheckpointPosition, PhaseName, PhaseResult } from '../protocol/events';
import type { EventLog } from '../store/eventLog';
import { batchCount, epochOrder, gatherBatch, gatherRows, type HostSplit } from './batches';
import { accuracy } from './evaluate';
import { annealingLoss, crossEntropy, kdLoss } from './losses';
import type { PhaseOptimizer } from './optimizers';
import { stepForEpoch, type TemperatureStep } from './annealingSchedule';

export type Objective =
  | { kind: 'ce' }
  | { kind: 'kd'; temperature: number; alpha: number }
  | { kind: 'anneal'; steps: TemperatureStep[] };

/** Running sums inside an epoch, saved with a mid-epoch (cancel) checkpoint. */
export interface EpochAccumulator { lossSum: number; correct: number; seen: number; seconds: number; }

export interface BestTracker { bestValAccuracy: number; bestEpoch: number; bestTemperature?: number; finalValAccuracy: number; }

export interface PhaseProgress {
  /** Epochs fully done. */
  epoch: number;
  /** Batches done inside epoch `epoch` (a cancel checkpoint). */
  batch: number;
  partial?: EpochAccumulator;
  best?: BestTracker;
}

export interface CancelToken { cancelled: boolean; signal?: string; }

export interface PhaseContext {
  log: EventLog;
  cancel: CancelToken;
  train: HostSplit;
  validation: HostSplit;
  inputShape: number[];
  classes: number;
  batchSize: number;
  evalBatchSize: number;
  seed: number;
  /** Minimum milliseconds between two `progress` events. */
  progressIntervalMs: number;
}

export interface PhaseSpec {
  phase: PhaseName;
  model: tf.LayersModel;
  optimizer: PhaseOptimizer;
  epochs: number;
  objective: Objective;
  /** Row-major [n, classes] teacher logits of the training split, computed once per run. */
  teacherLogits?: Float32Array;
  start: PhaseProgress;
  /** Save the model and the resume state at this position (reason says why). */
  checkpoint(reason: 'epoch' | 'cancel', progress: PhaseProgress): Promise<void>;
  /** Called when validation accuracy improves (annealing keeps its best phase-1 model). */
  onBest?(epoch: number, valAccuracy: number): Promise<void>;
}

export type PhaseOutcome =
  | { status: 'done'; result: PhaseResult; seconds: number }
  | { status: 'cancelled'; position: CheckpointPosition; seconds: number };

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One optimizer step; returns the batch loss and the number of correct predictions. */
function trainStep(spec: PhaseSpec, vars: tf.Variable[], x: tf.Tensor, y: tf.Tensor1D,
  targets: tf.Tensor2D | undefined, phiValue: number): { loss: number; correct: number } {
  let correct: tf.Scalar | undefined;
  const lossValue = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const logits = spec.model.apply(x, { training: true }) as tf.Tensor2D;
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32'))) as tf.Scalar;
      const o = spec.objective;
      switch (o.kind) {
        case 'ce': return crossEntropy(logits, y);
        case 'kd': return kdLoss(logits, targets as tf.Tensor2D, y, o.temperature, o.alpha);
        case 'anneal': return annealingLoss(logits, targets as tf.Tensor2D, phiValue);
      }
    }, vars);
    const wd = spec.optimizer.weightDecay;
    if (wd > 0) {
      for (const v of vars) grads[v.name] = tf.add(grads[v.name], tf.mul(v, wd));
    }
    spec.optimizer.optimizer.applyGradients(grads);
    return value as tf.Scalar;
  });
  const loss = lossValue.dataSync()[0];
  lossValue.dispose();
  const c = correct ? correct.dataSync()[0] : 0;
  correct?.dispose();
  return { loss, correct: c };
}

export async function runPhase(ctx: PhaseContext, spec: PhaseSpec): Promise<PhaseOutcome> {
  const { log, train } = ctx;
  const sampleSize = ctx.inputShape.reduce((a, b) => a * b, 1);
  const batches = batchCount(train.n, ctx.batchSize);
  const vars = spec.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const best: BestTracker = spec.start.best ?? { bestValAccuracy: -1, bestEpoch: 0, finalValAccuracy: NaN };
  const steps = spec.objective.kind === 'anneal' ? spec.objective.steps : undefined;
  let phaseSeconds = 0;

  if (!steps) log.emit({ type: 'phase-started', phase: spec.phase, epochs: spec.epochs });

  for (let epoch = spec.start.epoch; epoch < spec.epochs; epoch++) {
    const step = steps ? stepForEpoch(steps, epoch) : undefined;
    if (step && (epoch === step.firstEpoch || epoch === spec.start.epoch)) {
      log.emit({
        type: 'phase-started', phase: spec.phase, epochs: step.epochs, temperature: step.temperature,
        phi: step.phi, step: step.step, steps: steps?.length,
      });
    }
    const lr = spec.optimizer.setEpoch(epoch, spec.epochs);
    const order = epochOrder(train.n, ctx.seed, spec.phase, epoch);
    const resumingThisEpoch = epoch === spec.start.epoch;
    const acc: EpochAccumulator = resumingThisEpoch && spec.start.partial
      ? { ...spec.start.partial } : { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
    let lastProgress = Date.now();
    let windowStart = process.hrtime.bigint();
    let windowSamples = 0;

    for (let b = resumingThisEpoch ? spec.start.batch : 0; b < batches; b++) {
      if (ctx.cancel.cancelled) {
        await spec.checkpoint('cancel', { epoch, batch: b, partial: acc, best });
        return { status: 'cancelled', position: { phase: spec.phase, epoch, batch: b }, seconds: phaseSeconds };
      }
      const t0 = process.hrtime.bigint();
      const batch = gatherBatch(train, sampleSize, order, b, ctx.batchSize);
      const x = tf.tensor(batch.x, [batch.size, ...ctx.inputShape]);
      const y = tf.tensor1d(batch.y, 'int32');
      const targets = spec.teacherLogits
        ? tf.tensor2d(gatherRows(spec.teacherLogits, ctx.classes, batch.indices), [batch.size, ctx.classes])
        : undefined;
      const r = trainStep(spec, vars, x, y, targets, step?.phi ?? 1);
      tf.dispose([x, y, ...(targets ? [targets] : [])]);
      if (!Number.isFinite(r.loss)) {
        throw new Error(`the ${spec.phase} loss became ${r.loss} at epoch ${epoch + 1}, batch ${b + 1}: lower the learning rate`);
      }
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      acc.lossSum += r.loss * batch.size;
      acc.correct += r.correct;
      acc.seen += batch.size;
      acc.seconds += dt;
      phaseSeconds += dt;
      windowSamples += batch.size;

      const now = Date.now();
      if (now - lastProgress >= ctx.progressIntervalMs && b + 1 < batches) {
        const windowSeconds = Number(process.hrtime.bigint() - windowStart) / 1e9;
        log.emit({
          type: 'progress', phase: spec.phase, epoch: epoch + 1, epochs: spec.epochs, batch: b + 1, batches,
          loss: acc.lossSum / acc.seen, samplesPerSecond: windowSamples / windowSeconds,
          ...(step ? { temperature: step.temperature } : {}),
        });
        lastProgress = now;
        windowStart = process.hrtime.bigint();
        windowSamples = 0;
      }
      // Lets SIGINT/SIGTERM handlers run between batches: the loop itself is synchronous.
      await yieldToEventLoop();
    }

    const trainAccuracy = acc.correct / acc.seen;
    const valAccuracy = ctx.validation.n > 0
      ? accuracy(spec.model, ctx.validation, ctx.inputShape, ctx.evalBatchSize) : null;
    const selection = valAccuracy ?? trainAccuracy;
    log.emit({
      type: 'epoch-ended', phase: spec.phase, epoch: epoch + 1, epochs: spec.epochs,
      ...(step ? { temperature: step.temperature, phi: step.phi } : {}),
      loss: acc.lossSum / acc.seen, trainAccuracy, valAccuracy,
      samplesPerSecond: acc.seen / acc.seconds, lr, seconds: acc.seconds,
    });
    best.finalValAccuracy = selection;
    if (selection > best.bestValAccuracy) {
      best.bestValAccuracy = selection;
      best.bestEpoch = epoch + 1;
      if (step) best.bestTemperature = step.temperature;
      if (spec.onBest) await spec.onBest(epoch + 1, selection);
    }
    await spec.checkpoint('epoch', { epoch: epoch + 1, batch: 0, best });
  }

  return {
    status: 'done',
    seconds: phaseSeconds,
    result: {
      phase: spec.phase, epochs: spec.epochs, bestValAccuracy: best.bestValAccuracy, bestEpoch: best.bestEpoch,
      finalValAccuracy: best.finalValAccuracy,
      ...(best.bestTemperature !== undefined ? { bestTemperature: best.bestTemperature } : {}),
    },
  };
}
