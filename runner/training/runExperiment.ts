/**
 * A whole run: backend, data, teacher (trained or loaded), the teacher's logits once, the
 * method's student phases, test accuracies, the summary. Resumable from the run's latest
 * checkpoint: every phase boundary and every epoch end records where to continue.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  augments,
  isCheckpointTeacher,
  protocolOf,
  takdAssistantSettings,
  trainingData,
  type ExperimentConfig,
  type MethodConfig,
  type OptimizerConfig,
} from '../protocol/configTypes';
import {
  recordedOverrides,
  type ActualBackend,
  type ModelInfo,
  type PhaseName,
  type PhaseResult,
  type RunSummary,
} from '../protocol/events';
import { readEvents } from '../protocol/eventTail';
import { selectBackend } from '../backend/selectBackend';
import { loadDataset, type Dataset } from '../data/dataset';
import { buildModel } from '../models/buildModel';
import { countParams } from '../models/paramCount';
import type { EventLog } from '../store/eventLog';
import { decodeTensors, encodeTensors, loadModel, saveModel, writeDirAtomic } from '../store/modelFiles';
import { readJson, writeJsonAtomic, type ResumeState } from '../store/runStore';
import { RUN_FILES } from '../protocol/files';
import { loadResumeState } from '../store/checkpoint';
import { StoreWriteError } from '../store/storeErrors';
import { failureMessage } from './failureMessage';
import { annealingSchedule } from '../protocol/annealingSchedule';
import { accuracy, predictLogits } from './evaluate';
import { createOptimizer, restoreOptimizerState, type PhaseOptimizer } from './optimizers';
import { runPhase, type CancelToken, type PhaseContext, type PhaseProgress } from './phaseTrainer';
import type { Objective } from './objective';
import type { HostSplit } from './batches';
import type { TargetSource } from './shards';
import type { TeacherResultsCache } from './teacherResults';
import { TrainingThreads } from './dataParallel';

export interface RunOptions {
  /** The resolved config (defaults filled in, paths absolute). */
  config: ExperimentConfig;
  configPath: string;
  runId: string;
  runDir: string;
  log: EventLog;
  cancel: CancelToken;
  /** Continue from the run folder's latest checkpoint instead of starting afresh. */
  resume?: boolean;
  progressIntervalMs?: number;
  /** Overrides the config's `threads` (akd run --threads N). */
  threads?: 'auto' | number;
  /**
   * Where a cached (sweep) teacher's logits and test accuracy on this data are shared between
   * runs (runner/sweep/teacherCache.ts, passed in by the launch layer); absent: computed here.
   */
  teacherCache?: TeacherResultsCache;
  /**
   * `--set` values the config was changed by (recorded in run-started and summary.json). Absent:
   * what the run's earlier sessions (or its Slurm submission) recorded.
   */
  overrides?: Record<string, unknown>;
}

export type RunOutcome = { status: 'completed' | 'cancelled' | 'failed'; summary: RunSummary };

interface StudentPhase {
  phase: PhaseName;
  epochs: number;
  optimizer: OptimizerConfig;
  objective: Objective;
  needsTeacherLogits: boolean;
  /** TAKD's student learns from the assistant's logits instead of the teacher's. */
  distilFrom?: 'assistant';
}

/** What a checkpoint teacher's folder may say about where it came from (a sweep's teacher cache writes it). */
export interface TeacherProvenance {
  /** The run that trained it, and its folder. */
  runId: string;
  runDir?: string;
  /** The sweep's teacher-cache key. */
  key?: string;
  /** Its test accuracy on data with this fingerprint (reused instead of evaluating again). */
  testAccuracy?: number;
  dataFingerprint?: string;
}
export const TEACHER_PROVENANCE_FILE = 'provenance.json';

/** The student's phases for a method, in order. */
export function studentPhases(method: MethodConfig): StudentPhase[] {
  switch (method.type) {
    case 'scratch':
      return [
        {
          phase: 'train',
          epochs: method.epochs,
          optimizer: method.optimizer,
          objective: { kind: 'ce' },
          needsTeacherLogits: false,
        },
      ];
    case 'kd':
      return [
        {
          phase: 'kd',
          epochs: method.epochs,
          optimizer: method.optimizer,
          objective: { kind: 'kd', temperature: method.temperature, alpha: method.alpha },
          needsTeacherLogits: true,
        },
      ];
    case 'takd':
      // The assistant phase (teacher -> assistant) trains another model and runs before these.
      return [
        {
          phase: 'kd',
          epochs: method.epochs,
          optimizer: method.optimizer,
          objective: { kind: 'kd', temperature: method.temperature, alpha: method.alpha },
          needsTeacherLogits: false,
          distilFrom: 'assistant',
        },
      ];
    case 'annealing':
      return [
        {
          phase: 'anneal',
          epochs: method.phase1.epochs,
          optimizer: method.phase1.optimizer,
          objective: { kind: 'anneal', steps: annealingSchedule(method.tauMax, method.phase1.epochs) },
          needsTeacherLogits: true,
        },
        // Phase 2 starts from the best phase-1 model with a fresh optimizer (the only LR restart).
        {
          phase: 'finetune',
          epochs: method.phase2.epochs,
          optimizer: method.phase2.optimizer,
          objective: { kind: 'ce' },
          needsTeacherLogits: false,
        },
      ];
  }
}

function seedFor(seed: number, role: string): number {
  let h = seed >>> 0;
  for (let i = 0; i < role.length; i++) h = Math.imul(h ^ role.charCodeAt(i), 2654435761) >>> 0;
  return h % 2147483647;
}

function paramsOf(model: tf.LayersModel): number {
  return model.countParams();
}

/**
 * Whether a run will want its worker threads, known before its data is read (so they can start
 * at once): a number of threads was asked for; or some model it trains or runs is not a plain
 * MLP (conv models, and a checkpoint teacher's logits, pay for every thread under "auto"). An
 * all-MLP run under "auto" starts them lazily, if a phase wants them.
 */
function workersLikelyUsed(config: ExperimentConfig, threads: TrainingThreads): boolean {
  if (typeof threads.setting === 'number') return threads.setting > 1;
  const types = [
    isCheckpointTeacher(config.teacher) ? 'checkpoint' : config.teacher.model.type,
    config.student.model.type,
    ...(config.method.type === 'takd' ? [takdAssistantSettings(config.method).model.type] : []),
  ];
  return types.some((t) => t !== 'mlp');
}

/** Test or held-out accuracy, on the run's threads when it has them. */
async function accuracyOn(
  threads: TrainingThreads | undefined,
  model: tf.LayersModel,
  split: HostSplit,
  inputShape: number[],
  batchSize: number,
): Promise<number> {
  return threads
    ? threads.accuracy(model, split, inputShape, batchSize)
    : accuracy(model, split, inputShape, batchSize);
}

function checkParams(role: string, model: tf.LayersModel, expected: number): void {
  if (paramsOf(model) !== expected)
    throw new Error(
      `internal: ${role} has ${paramsOf(model)} parameters, the config's arithmetic says ${expected}`,
    );
}

/** One model's training phase, as trainModel (in runExperiment) runs it. */
interface ModelTraining {
  phase: PhaseName;
  role: 'teacher' | 'assistant' | 'student';
  /** The model to train when the run did not stop inside this phase. */
  fresh(): tf.LayersModel | Promise<tf.LayersModel>;
  /** Its parameter count by the config's arithmetic (checked). */
  params: number;
  epochs: number;
  optimizer: OptimizerConfig;
  objective: Objective;
  targets?: TargetSource;
  /** The phase context, when it differs from the run's (the teacher's own seed). */
  ctx?: PhaseContext;
  onBest?(model: tf.LayersModel): ((epoch: number, valAccuracy: number) => Promise<void>) | undefined;
  /** The model the phase hands on, when not the trained one (the reference teacher: its best epoch). */
  result?(trained: tf.LayersModel): Promise<tf.LayersModel>;
  /** Run folder the final model is saved to (teacher/, assistant/), with a final checkpoint-saved event. */
  saveAs?: string;
  /** The phase recorded as the resume position once this one is done. */
  next?: PhaseName;
}

type Trained = { status: 'done'; model: tf.LayersModel } | { status: 'cancelled'; outcome: RunOutcome };

export async function runExperiment(opts: RunOptions): Promise<RunOutcome> {
  const { config, log, runDir } = opts;
  const startClock = Date.now();
  // Checked against its schema and checksums; a damaged checkpoint throws (never a silent restart).
  const state: ResumeState | undefined = opts.resume ? loadResumeState(runDir) : undefined;
  const startedAt = state?.startedAt ?? new Date().toISOString();
  const completed: PhaseResult[] = [...(state?.completed ?? [])];
  const isDone = (p: PhaseName): boolean => completed.some((r) => r.phase === p);
  let backend: ActualBackend = 'cpu';
  let teacherInfo: ModelInfo | undefined;
  let studentInfo: ModelInfo | undefined;
  let assistantInfo: ModelInfo | undefined;
  let assistantTestAccuracy: number | null = null;
  let teacherTestAccuracy: number | null = state?.teacherTestAccuracy ?? null;
  /** Reference protocol: the last epoch's test accuracy (the reported one is the best epoch's). */
  let studentFinalTestAccuracy: number | undefined;
  const protocol = protocolOf(config);
  const reference = protocol === 'reference';
  const secondsBefore = state?.seconds ?? 0;
  let trainingSeconds = 0;
  const models: tf.LayersModel[] = [];
  let threads: TrainingThreads | undefined;
  const overrides = opts.overrides ?? recordedOverrides(readEvents(path.join(runDir, RUN_FILES.events)));

  const summarize = (
    status: RunSummary['status'],
    studentTestAccuracy: number | null,
    error?: string,
  ): RunSummary => ({
    runId: opts.runId,
    name: config.name,
    status,
    backend,
    method: config.method.type,
    teacher: {
      ...(teacherInfo ?? { type: 'unknown', params: 0, source: 'trained' }),
      testAccuracy: teacherTestAccuracy,
    },
    student: {
      ...(studentInfo ?? { type: config.student.model.type, params: 0, source: 'trained' }),
      testAccuracy: studentTestAccuracy,
      ...(studentFinalTestAccuracy !== undefined ? { finalTestAccuracy: studentFinalTestAccuracy } : {}),
    },
    ...(assistantInfo ? { assistant: { ...assistantInfo, testAccuracy: assistantTestAccuracy } } : {}),
    compression:
      teacherInfo && studentInfo && studentInfo.params > 0 ? teacherInfo.params / studentInfo.params : 0,
    phases: completed,
    protocol,
    startedAt,
    endedAt: new Date().toISOString(),
    seconds: secondsBefore + (Date.now() - startClock) / 1000,
    ...(error ? { error } : {}),
    ...(overrides ? { overrides } : {}),
  });

  const finish = (status: 'completed' | 'cancelled' | 'failed', summary: RunSummary): RunOutcome => {
    try {
      writeJsonAtomic(path.join(runDir, RUN_FILES.summary), summary);
    } catch (e) {
      // Disk full or no permission: the end event already carries the summary; do not crash on it.
      if (!(e instanceof StoreWriteError)) throw e;
    }
    return { status, summary };
  };

  try {
    const choice = await selectBackend(config.backend);
    backend = choice.backend;
    // Data-parallel worker threads (wasm/cpu only); RunOptions.threads (CLI --threads) wins over the config.
    threads = TrainingThreads.forRun(opts.threads ?? config.threads, backend);
    // Started now, once for the whole run: they boot and warm up while the data loads.
    if (threads && workersLikelyUsed(config, threads)) threads.prestart();
    const threadsNote = threads
      ? `; data-parallel on up to ${threads.threads} threads (threads: ${JSON.stringify(threads.setting)})`
      : '';
    const data: Dataset = loadDataset(trainingData(config), path.dirname(opts.configPath));
    // With augmentation a sample's image differs every epoch, so its teacher logits do too.
    const augmenting = augments(config.data.augment);
    const inputShape = data.inputShape;
    const evalBatchSize = config.evalBatchSize ?? 1000;

    // Teacher: from its checkpoint or this run's teacher/ folder; one still to train is built
    // (or resumed) by its phase below.
    let teacher: tf.LayersModel | undefined;
    const teacherDir = path.join(runDir, RUN_FILES.teacher);
    const teacherSeed = isCheckpointTeacher(config.teacher)
      ? config.seed
      : (config.teacher.seed ?? config.seed);
    let teacherCacheDir: string | undefined;
    if (isCheckpointTeacher(config.teacher)) {
      teacher = await loadModel(config.teacher.checkpoint);
      const provenance = readJson<TeacherProvenance>(
        path.join(path.dirname(config.teacher.checkpoint), TEACHER_PROVENANCE_FILE),
      );
      teacherInfo = {
        type: 'checkpoint',
        params: paramsOf(teacher),
        source: 'checkpoint',
        checkpoint: config.teacher.checkpoint,
        ...(provenance?.runId ? { teacherFromRun: provenance.runId } : {}),
        ...(provenance?.runDir ? { teacherFromRunDir: provenance.runDir } : {}),
        ...(provenance?.key ? { teacherCacheKey: provenance.key } : {}),
      };
      // A cached (sweep) teacher: its logits and test accuracy on this exact data are shared files.
      if (provenance && opts.teacherCache) teacherCacheDir = path.dirname(config.teacher.checkpoint);
      if (
        teacherTestAccuracy === null &&
        provenance?.testAccuracy !== undefined &&
        provenance.dataFingerprint === data.fingerprint
      ) {
        teacherTestAccuracy = provenance.testAccuracy;
      }
      if (teacherTestAccuracy === null && teacherCacheDir)
        teacherTestAccuracy = opts.teacherCache?.readTestAccuracy(teacherCacheDir, data.fingerprint) ?? null;
    } else {
      const params = countParams(config.teacher.model, inputShape, data.classes);
      teacherInfo = { type: config.teacher.model.type, params, source: 'trained' };
      if (isDone('teacher')) {
        teacher = await loadModel(path.join(teacherDir, 'model.json'));
        checkParams('teacher', teacher, params);
      }
    }
    if (teacher) {
      models.push(teacher);
      const outShape = teacher.outputs[0].shape;
      if (outShape[outShape.length - 1] !== data.classes) {
        throw new Error(
          `the teacher outputs ${outShape[outShape.length - 1]} classes but the data has ${data.classes}`,
        );
      }
    }
    studentInfo = {
      type: config.student.model.type,
      source: 'trained',
      params: countParams(config.student.model, inputShape, data.classes),
    };
    const takd = config.method.type === 'takd' ? takdAssistantSettings(config.method) : undefined;
    if (takd)
      assistantInfo = {
        type: takd.model.type,
        source: 'trained',
        params: countParams(takd.model, inputShape, data.classes),
      };

    log.emit({
      type: 'run-started',
      runId: opts.runId,
      runDir,
      configPath: opts.configPath,
      config,
      backend,
      backendNote: choice.note + threadsNote,
      threads: threads?.threads ?? 1,
      teacher: teacherInfo,
      student: studentInfo,
      ...(assistantInfo ? { assistant: assistantInfo } : {}),
      data: {
        train: data.train.n,
        validation: data.validation.n,
        test: data.test.n,
        inputShape,
        classes: data.classes,
      },
      ...(state ? { resumedFrom: state.position } : {}),
      ...(config.method.type !== 'scratch'
        ? { teacherTargets: augmenting ? ('per-batch' as const) : ('cached' as const) }
        : {}),
      protocol,
      ...(overrides ? { overrides } : {}),
      pid: process.pid,
    });
    log.emit({ type: 'log', level: 'info', message: `backend: ${choice.note}${threadsNote}` });

    const ctx: PhaseContext = {
      log,
      cancel: opts.cancel,
      train: data.train,
      // The reference protocol selects on the test set (and holds nothing out).
      validation: reference ? data.test : data.validation,
      selectOn: reference ? 'test' : 'validation',
      ...(augmenting && config.data.augment
        ? { augment: { config: config.data.augment, padValues: Array.from(data.padValues) } }
        : {}),
      inputShape,
      classes: data.classes,
      batchSize: config.batchSize,
      evalBatchSize,
      seed: config.seed,
      progressIntervalMs: opts.progressIntervalMs ?? 1000,
      threads,
    };
    const phases = studentPhases(config.method).filter((p) => p.epochs > 0);
    const writeState = (
      s: Omit<ResumeState, 'v' | 'completed' | 'startedAt' | 'seconds' | 'teacherTestAccuracy'>,
      files: Record<string, string | Uint8Array> = {},
    ): void => {
      const full: ResumeState = {
        v: 1,
        ...s,
        completed,
        startedAt,
        seconds: secondsBefore + trainingSeconds,
        teacherTestAccuracy,
      };
      writeDirAtomic(path.join(runDir, RUN_FILES.latest), {
        ...files,
        [RUN_FILES.state]: JSON.stringify(full, null, 2),
      });
    };
    /** The run stopped inside `phase` with its model saved: the phase resumes from checkpoints/latest. */
    const resumesInside = (phase: PhaseName): boolean => state?.position.phase === phase && state.hasModel;
    const progressFor = (phase: PhaseName): PhaseProgress =>
      state && state.position.phase === phase
        ? {
            epoch: state.position.epoch,
            batch: state.position.batch,
            partial: state.partial,
            best: state.best,
          }
        : { epoch: 0, batch: 0 };

    /** Save model + optimizer + position into checkpoints/latest (atomically, in one folder). */
    const checkpointer =
      (
        phase: PhaseName,
        model: tf.LayersModel,
        opt: PhaseOptimizer,
        role: 'teacher' | 'student' | 'assistant',
      ) =>
      async (reason: 'epoch' | 'cancel', progress: PhaseProgress): Promise<void> => {
        const optState = await encodeTensors(await opt.optimizer.getWeights());
        const stateJson: ResumeState = {
          v: 1,
          position: { phase, epoch: progress.epoch, batch: progress.batch },
          partial: progress.partial,
          best: progress.best,
          completed,
          startedAt,
          seconds: secondsBefore + trainingSeconds + (progress.partial?.seconds ?? 0),
          hasModel: true,
          teacherTestAccuracy,
        };
        await saveModel(model, path.join(runDir, RUN_FILES.latest), {
          'optimizer.json': optState.manifest,
          'optimizer.bin': optState.data,
          [RUN_FILES.state]: JSON.stringify(stateJson, null, 2),
        });
        log.emit({
          type: 'checkpoint-saved',
          path: RUN_FILES.latest,
          model: role,
          reason,
          position: stateJson.position,
          ...(progress.best && progress.best.bestValAccuracy >= 0
            ? { valAccuracy: progress.best.finalValAccuracy }
            : {}),
        });
      };

    const restoreOptimizer = async (opt: PhaseOptimizer): Promise<void> => {
      const dir = path.join(runDir, RUN_FILES.latest);
      const manifest = fs.readFileSync(path.join(dir, 'optimizer.json'), 'utf8');
      const weights = decodeTensors(manifest, fs.readFileSync(path.join(dir, 'optimizer.bin')));
      if (weights.length > 1 || (weights.length === 1 && weights[0].name !== 'iter'))
        await restoreOptimizerState(opt, weights);
    };

    /** onBest of a phase: keep the model of its best epoch in `dir` (a `checkpoint-saved` event says so). */
    const saveBest =
      (model: tf.LayersModel, dir: string, phase: PhaseName, role: 'teacher' | 'student') =>
      async (epoch: number, val: number): Promise<void> => {
        await saveModel(model, path.join(runDir, dir));
        log.emit({
          type: 'checkpoint-saved',
          path: dir,
          model: role,
          reason: 'best',
          position: { phase, epoch, batch: 0 },
          valAccuracy: val,
        });
      };

    const cancelled = (position: ResumeState['position']): RunOutcome => {
      log.emit({ type: 'run-cancelled', signal: opts.cancel.signal ?? 'SIGTERM', position });
      return finish('cancelled', summarize('cancelled', null));
    };

    /**
     * Trains one model through one phase, the same way for the teacher, the assistant and each
     * student phase: the model resumed from checkpoints/latest if the run stopped inside this
     * phase (with its optimizer state), else `fresh()`; the phase; then its final model saved
     * where `saveAs` says, and the next phase recorded as the resume position.
     */
    const trainModel = async (t: ModelTraining): Promise<Trained> => {
      const resumingHere = resumesInside(t.phase);
      const model = resumingHere
        ? await loadModel(path.join(runDir, RUN_FILES.latest, 'model.json'))
        : await t.fresh();
      models.push(model);
      checkParams(t.role, model, t.params);
      const opt = createOptimizer(t.optimizer);
      if (resumingHere) await restoreOptimizer(opt);
      const outcome = await runPhase(t.ctx ?? ctx, {
        phase: t.phase,
        model,
        optimizer: opt,
        epochs: t.epochs,
        objective: t.objective,
        targets: t.targets,
        start: progressFor(t.phase),
        checkpoint: checkpointer(t.phase, model, opt, t.role),
        onBest: t.onBest?.(model),
      });
      opt.optimizer.dispose();
      trainingSeconds += outcome.seconds;
      if (outcome.status === 'cancelled')
        return { status: 'cancelled', outcome: cancelled(outcome.position) };
      completed.push(outcome.result);
      const final = t.result ? await t.result(model) : model;
      if (t.saveAs) {
        await saveModel(final, path.join(runDir, t.saveAs));
        log.emit({
          type: 'checkpoint-saved',
          path: t.saveAs,
          model: t.role,
          reason: 'final',
          position: { phase: t.phase, epoch: t.epochs, batch: 0 },
        });
      }
      if (t.next) writeState({ position: { phase: t.next, epoch: 0, batch: 0 }, hasModel: false });
      return { status: 'done', model: final };
    };

    // --- Teacher phase -------------------------------------------------------------------
    if (!teacher) {
      if (isCheckpointTeacher(config.teacher))
        throw new Error('internal: a checkpoint teacher was not loaded');
      const t = config.teacher;
      const trained = await trainModel({
        phase: 'teacher',
        role: 'teacher',
        fresh: () =>
          buildModel(t.model, {
            inputShape,
            classes: data.classes,
            seed: seedFor(teacherSeed, 'teacher'),
            name: 'teacher',
          }),
        params: teacherInfo.params,
        epochs: t.epochs,
        optimizer: t.optimizer,
        objective: { kind: 'ce' },
        ctx: { ...ctx, seed: teacherSeed },
        onBest: (m) => (reference ? saveBest(m, RUN_FILES.teacherBest, 'teacher', 'teacher') : undefined),
        // The reference code distils from the teacher's best epoch on the test set.
        result: reference
          ? async () => {
              const best = await loadModel(path.join(runDir, RUN_FILES.teacherBest, 'model.json'));
              models.push(best);
              return best;
            }
          : undefined,
        saveAs: RUN_FILES.teacher,
      });
      if (trained.status === 'cancelled') return trained.outcome;
      teacher = trained.model;
    }
    const teacherModel = teacher;
    if (teacherTestAccuracy === null) {
      teacherTestAccuracy = await accuracyOn(threads, teacherModel, data.test, inputShape, evalBatchSize);
      if (teacherCacheDir)
        opts.teacherCache?.writeTestAccuracy(teacherCacheDir, data.fingerprint, teacherTestAccuracy);
    }
    // Record "teacher done" unless a resume is already past it (its checkpoint must survive).
    const firstPhase: PhaseName | undefined = takd ? 'assistant' : phases[0]?.phase;
    if (firstPhase && (!state || state.position.phase === 'teacher')) {
      writeState({ position: { phase: firstPhase, epoch: 0, batch: 0 }, hasModel: false });
    }

    // --- The teacher's targets: its logits once per run, or (augmented) the teacher per batch --
    const logitsOf = async (model: tf.LayersModel, who: string): Promise<Float32Array> => {
      const t0 = Date.now();
      const { logits, threads: used } = threads
        ? await threads.predictLogits(model, data.train, inputShape, data.classes, evalBatchSize)
        : { logits: predictLogits(model, data.train, inputShape, data.classes, evalBatchSize), threads: 1 };
      log.emit({
        type: 'log',
        level: 'info',
        message: `${who} logits computed once for ${data.train.n} training samples in ${((Date.now() - t0) / 1000).toFixed(1)} s on ${used} thread${used === 1 ? '' : 's'}`,
      });
      return logits;
    };
    let teacherTargets: TargetSource | undefined;
    const teacherNeeded =
      phases.some((p) => p.needsTeacherLogits && !isDone(p.phase)) || (takd && !isDone('assistant'));
    if (teacherNeeded && augmenting) {
      teacherTargets = { kind: 'per-batch', model: teacherModel };
      log.emit({
        type: 'log',
        level: 'info',
        message: 'teacher targets computed per batch on the augmented images (teacher in inference mode)',
      });
    } else if (teacherNeeded) {
      let teacherLogits = teacherCacheDir
        ? opts.teacherCache?.readLogits(teacherCacheDir, data.fingerprint, data.train.n, data.classes)
        : undefined;
      if (teacherLogits) {
        log.emit({
          type: 'log',
          level: 'info',
          message: `teacher logits for ${data.train.n} training samples read from the teacher cache`,
        });
      } else {
        teacherLogits = await logitsOf(teacherModel, 'teacher');
        if (teacherCacheDir) opts.teacherCache?.writeLogits(teacherCacheDir, data.fingerprint, teacherLogits);
      }
      teacherTargets = { kind: 'cached', logits: teacherLogits };
    }

    // --- TAKD: the assistant, trained with KD from the teacher; then its logits, once --------
    let assistantTargets: TargetSource | undefined;
    if (takd) {
      const assistantDir = path.join(runDir, RUN_FILES.assistant);
      let assistant: tf.LayersModel;
      if (isDone('assistant')) {
        assistant = await loadModel(path.join(assistantDir, 'model.json'));
        models.push(assistant);
      } else {
        const trained = await trainModel({
          phase: 'assistant',
          role: 'assistant',
          fresh: () =>
            buildModel(takd.model, {
              inputShape,
              classes: data.classes,
              seed: seedFor(config.seed, 'assistant'),
              name: 'assistant',
            }),
          params: assistantInfo?.params ?? NaN,
          epochs: takd.epochs,
          optimizer: takd.optimizer,
          objective: { kind: 'kd', temperature: takd.temperature, alpha: takd.alpha },
          targets: teacherTargets,
          saveAs: RUN_FILES.assistant,
          next: phases[0]?.phase,
        });
        if (trained.status === 'cancelled') return trained.outcome;
        assistant = trained.model;
      }
      assistantTestAccuracy = await accuracyOn(threads, assistant, data.test, inputShape, evalBatchSize);
      if (phases.some((p) => p.distilFrom === 'assistant' && !isDone(p.phase)))
        assistantTargets = augmenting
          ? { kind: 'per-batch', model: assistant }
          : { kind: 'cached', logits: await logitsOf(assistant, 'assistant') };
    }

    // --- Student phases --------------------------------------------------------------------
    /** Annealing keeps its best phase-1 student; the reference protocol also the last phase's best (on test). */
    const bestKeeper = (
      phase: PhaseName,
      model: tf.LayersModel,
      last: boolean,
    ): ((epoch: number, val: number) => Promise<void>) | undefined => {
      const keep = [
        ...(phase === 'anneal' ? [saveBest(model, RUN_FILES.phase1Best, phase, 'student')] : []),
        ...(reference && last ? [saveBest(model, RUN_FILES.studentBest, phase, 'student')] : []),
      ];
      return keep.length === 0
        ? undefined
        : async (epoch, val) => {
            for (const k of keep) await k(epoch, val);
          };
    };
    let student: tf.LayersModel | undefined;
    for (const [k, p] of phases.entries()) {
      if (isDone(p.phase)) continue;
      const previous = student;
      const trained = await trainModel({
        phase: p.phase,
        role: 'student',
        // Annealing's phase 2 starts from the best phase-1 student (with a fresh optimizer).
        fresh: async () =>
          p.phase === 'finetune'
            ? await loadModel(path.join(runDir, RUN_FILES.phase1Best, 'model.json'))
            : (previous ??
              buildModel(config.student.model, {
                inputShape,
                classes: data.classes,
                seed: seedFor(config.seed, 'student'),
                name: 'student',
              })),
        params: studentInfo.params,
        epochs: p.epochs,
        optimizer: p.optimizer,
        objective: p.objective,
        targets:
          p.distilFrom === 'assistant' ? assistantTargets : p.needsTeacherLogits ? teacherTargets : undefined,
        onBest: (m) => bestKeeper(p.phase, m, k === phases.length - 1),
        next: phases[k + 1]?.phase,
      });
      if (trained.status === 'cancelled') return trained.outcome;
      student = trained.model;
    }
    if (!student) {
      // Every student phase was already done (resume after the last epoch): take the saved student.
      student = await loadModel(path.join(runDir, RUN_FILES.latest, 'model.json'));
      models.push(student);
    }

    if (reference) {
      // The reference protocol reports the last phase's best test epoch: that model is the student.
      const best = path.join(runDir, RUN_FILES.studentBest, 'model.json');
      if (fs.existsSync(best)) {
        student = await loadModel(best);
        models.push(student);
      }
      const lastResult = completed[completed.length - 1];
      if (lastResult?.selectedOn === 'test') studentFinalTestAccuracy = lastResult.finalValAccuracy;
    }
    const studentTestAccuracy = await accuracyOn(threads, student, data.test, inputShape, evalBatchSize);
    await saveModel(student, path.join(runDir, RUN_FILES.student));
    const last = phases[phases.length - 1];
    log.emit({
      type: 'checkpoint-saved',
      path: RUN_FILES.student,
      model: 'student',
      reason: 'final',
      position: { phase: last?.phase ?? 'train', epoch: last?.epochs ?? 0, batch: 0 },
    });
    const summary = summarize('completed', studentTestAccuracy);
    log.emit({ type: 'run-completed', summary });
    return finish('completed', summary);
  } catch (e) {
    const err = e as Error;
    const message = failureMessage(err, backend, [
      { role: 'teacher', info: teacherInfo },
      { role: 'assistant', info: assistantInfo },
      { role: 'student', info: studentInfo },
    ]);
    log.emit({ type: 'run-failed', error: { message, stack: err.stack } });
    return finish('failed', summarize('failed', null, message));
  } finally {
    await threads?.close();
    for (const m of new Set(models)) {
      try {
        m.dispose();
      } catch {
        // A backend that failed (a corrupted wasm heap) may fail to free too; the run has already ended.
      }
    }
  }
}
