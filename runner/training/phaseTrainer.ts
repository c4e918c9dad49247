/**
 * One training phase (teacher, train, kd, anneal or finetune): the epoch and batch loops, the
 * loss of the phase, events, checkpoints, and stopping cleanly at a batch boundary on cancel.
 */
import * as tf from '@tensorflow/tfjs';
import type { CheckpointPosition, PhaseName, PhaseResult } from '../protocol/events';
import type { EventLog } from '../store/eventLog';
import type { AugmentConfig } from '../protocol/configTypes';
import { batchCount, epochOrder, gatherBatch, type HostSplit } from './batches';
import { accuracy } from './evaluate';
import type { PhaseOptimizer } from './optimizers';
import { stepForEpoch, type TemperatureStep } from '../protocol/annealingSchedule';
import type { PhaseReplicas, TrainingThreads } from './dataParallel';
import type { Objective } from './objective';
import { ShardSource, type ShardPlan, type TargetSource } from './shards';
import { trainStep } from './stepGradients';
import { assertFiniteAfterEpoch } from './divergence';

export type { HostShard } from './shards';

/** Running sums inside an epoch, saved with a mid-epoch (cancel) checkpoint. */
export interface EpochAccumulator {
  lossSum: number;
  correct: number;
  seen: number;
  seconds: number;
}

export interface BestTracker {
  bestValAccuracy: number;
  bestEpoch: number;
  bestTemperature?: number;
  finalValAccuracy: number;
}

export interface PhaseProgress {
  /** Epochs fully done. */
  epoch: number;
  /** Batches done inside epoch `epoch` (a cancel checkpoint). */
  batch: number;
  partial?: EpochAccumulator;
  best?: BestTracker;
}

export interface CancelToken {
  cancelled: boolean;
  signal?: string;
}

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
  /**
   * Data-parallel worker threads of the run (wasm/cpu, threads > 1); absent: the main thread
   * trains alone. Each phase asks it how many replicas its model is worth.
   */
  threads?: TrainingThreads;
  /** Augmentation of training batches (data.augment) and the pad value of each channel. */
  augment?: { config: AugmentConfig; padValues: number[] };
  /**
   * The split `validation` holds: "validation" (held-out protocol), or "test" (the reference
   * protocol selects on the test set; events then report it as testAccuracy).
   */
  selectOn?: 'validation' | 'test';
}

export interface PhaseSpec {
  phase: PhaseName;
  model: tf.LayersModel;
  optimizer: PhaseOptimizer;
  epochs: number;
  objective: Objective;
  /** The distillation targets: teacher logits cached once per run, or the teacher run on every batch. */
  targets?: TargetSource;
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

export async function runPhase(ctx: PhaseContext, spec: PhaseSpec): Promise<PhaseOutcome> {
  const { train } = ctx;
  const batches = batchCount(train.n, ctx.batchSize);
  const vars = spec.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const best: BestTracker = spec.start.best ?? { bestValAccuracy: -1, bestEpoch: 0, finalValAccuracy: NaN };
  const steps = spec.objective.kind === 'anneal' ? spec.objective.steps : undefined;
  const plan: ShardPlan = {
    train,
    inputShape: ctx.inputShape,
    classes: ctx.classes,
    targets: spec.targets,
    augment: ctx.augment && {
      config: ctx.augment.config,
      padValues: ctx.augment.padValues,
      inputShape: ctx.inputShape,
      seed: ctx.seed,
      phase: spec.phase,
    },
  };

  const replicas = ctx.threads
    ? await ctx.threads.startPhase({
        model: spec.model,
        optimizer: spec.optimizer,
        objective: spec.objective,
        plan,
        batchSize: ctx.batchSize,
        replicas: ctx.threads.replicasFor(
          spec.model,
          ctx.batchSize,
          spec.targets?.kind === 'per-batch' ? spec.targets.model : undefined,
        ),
      })
    : undefined;
  const source = replicas ? replicas.main.source : new ShardSource(plan);
  try {
    return await phaseLoop(ctx, spec, vars, batches, source, best, steps, replicas);
  } finally {
    // A failed step leaves the pool broken: runExperiment closes it; nothing to release then.
    await replicas?.end().catch(() => undefined);
  }
}

async function phaseLoop(
  ctx: PhaseContext,
  spec: PhaseSpec,
  vars: tf.Variable[],
  batches: number,
  source: ShardSource,
  best: BestTracker,
  steps: TemperatureStep[] | undefined,
  replicas: PhaseReplicas | undefined,
): Promise<PhaseOutcome> {
  const { log, train } = ctx;
  let phaseSeconds = 0;
  const threads = replicas?.replicas ?? 1;
  if (!steps) log.emit({ type: 'phase-started', phase: spec.phase, epochs: spec.epochs, threads });

  for (let epoch = spec.start.epoch; epoch < spec.epochs; epoch++) {
    const step = steps ? stepForEpoch(steps, epoch) : undefined;
    if (step && (epoch === step.firstEpoch || epoch === spec.start.epoch)) {
      log.emit({
        type: 'phase-started',
        phase: spec.phase,
        epochs: step.epochs,
        temperature: step.temperature,
        phi: step.phi,
        step: step.step,
        steps: steps?.length,
        threads,
      });
    }
    const lr = spec.optimizer.setEpoch(epoch, spec.epochs);
    await replicas?.setEpoch(epoch, spec.epochs);
    const order = epochOrder(train.n, ctx.seed, spec.phase, epoch);
    const resumingThisEpoch = epoch === spec.start.epoch;
    const acc: EpochAccumulator =
      resumingThisEpoch && spec.start.partial
        ? { ...spec.start.partial }
        : { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
    let lastProgress = Date.now();
    let windowStart = process.hrtime.bigint();
    let windowSamples = 0;

    for (let b = resumingThisEpoch ? spec.start.batch : 0; b < batches; b++) {
      if (ctx.cancel.cancelled) {
        await replicas?.syncStatistics();
        await spec.checkpoint('cancel', { epoch, batch: b, partial: acc, best });
        return {
          status: 'cancelled',
          position: { phase: spec.phase, epoch, batch: b },
          seconds: phaseSeconds,
        };
      }
      const t0 = process.hrtime.bigint();
      let r: { loss: number; correct: number };
      const indices = order.subarray(b * ctx.batchSize, Math.min(train.n, (b + 1) * ctx.batchSize));
      const size = indices.length;
      if (replicas) {
        r = await replicas.step(indices, step?.phi ?? 1, epoch);
      } else {
        r = trainStep(
          spec.model,
          spec.objective,
          spec.optimizer,
          vars,
          source.gather(indices, epoch),
          ctx.inputShape,
          ctx.classes,
          step?.phi ?? 1,
        );
      }
      if (!Number.isFinite(r.loss)) {
        throw new Error(
          `the ${spec.phase} loss became ${r.loss} at epoch ${epoch + 1}, batch ${b + 1}: lower the learning rate`,
        );
      }
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      acc.lossSum += r.loss * size;
      acc.correct += r.correct;
      acc.seen += size;
      acc.seconds += dt;
      phaseSeconds += dt;
      windowSamples += size;

      const now = Date.now();
      if (now - lastProgress >= ctx.progressIntervalMs && b + 1 < batches) {
        const windowSeconds = Number(process.hrtime.bigint() - windowStart) / 1e9;
        log.emit({
          type: 'progress',
          phase: spec.phase,
          epoch: epoch + 1,
          epochs: spec.epochs,
          batch: b + 1,
          batches,
          loss: acc.lossSum / acc.seen,
          samplesPerSecond: windowSamples / windowSeconds,
          ...(step ? { temperature: step.temperature } : {}),
        });
        lastProgress = now;
        windowStart = process.hrtime.bigint();
        windowSamples = 0;
      }
      // Lets SIGINT/SIGTERM handlers run between batches: the loop itself is synchronous.
      await yieldToEventLoop();
    }

    // The loss check above comes before each update: the epoch's last update is checked here.
    const sampleSize = ctx.inputShape.reduce((a, b) => a * b, 1);
    const last = gatherBatch(train, sampleSize, order, batches - 1, ctx.batchSize);
    assertFiniteAfterEpoch(
      spec.model,
      vars,
      { x: last.x, rows: last.size, inputShape: ctx.inputShape },
      { phase: spec.phase, epoch: epoch + 1, batch: batches },
    );
    await replicas?.syncStatistics();
    const trainAccuracy = acc.correct / acc.seen;
    const heldOut =
      ctx.validation.n === 0
        ? null
        : ctx.threads
          ? await ctx.threads.accuracy(spec.model, ctx.validation, ctx.inputShape, ctx.evalBatchSize)
          : accuracy(spec.model, ctx.validation, ctx.inputShape, ctx.evalBatchSize);
    const onTest = ctx.selectOn === 'test';
    const selection = heldOut ?? trainAccuracy;
    const targetSeconds = source.perBatchTargets ? source.takeTargetSeconds() : undefined;
    log.emit({
      type: 'epoch-ended',
      phase: spec.phase,
      epoch: epoch + 1,
      epochs: spec.epochs,
      ...(step ? { temperature: step.temperature, phi: step.phi } : {}),
      loss: acc.lossSum / acc.seen,
      trainAccuracy,
      valAccuracy: onTest ? null : heldOut,
      ...(onTest && heldOut !== null ? { testAccuracy: heldOut } : {}),
      ...(targetSeconds !== undefined ? { targetSeconds } : {}),
      samplesPerSecond: acc.seen / acc.seconds,
      lr,
      seconds: acc.seconds,
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
      phase: spec.phase,
      epochs: spec.epochs,
      bestValAccuracy: best.bestValAccuracy,
      bestEpoch: best.bestEpoch,
      finalValAccuracy: best.finalValAccuracy,
      ...(best.bestTemperature !== undefined ? { bestTemperature: best.bestTemperature } : {}),
      // Held-out validation is the default and goes unsaid.
      ...(ctx.validation.n === 0
        ? { selectedOn: 'train' as const }
        : ctx.selectOn === 'test'
          ? { selectedOn: 'test' as const }
          : {}),
    },
  };
}
