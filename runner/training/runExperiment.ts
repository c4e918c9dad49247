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
import {
  readCachedLogits,
  readCachedTestAccuracy,
  writeCachedLogits,
  writeCachedTestAccuracy,
} from '../sweep/teacherCache';
import { annealingSchedule } from '../protocol/annealingSchedule';
import { accuracy, predictLogits } from './evaluate';
import { createOptimizer, restoreOptimizerState, type PhaseOptimizer } from './optimizers';
import {
  runPhase,
  type CancelToken,
  type Objective,
  type PhaseContext,
  type PhaseProgress,
} from './phaseTrainer';
import type { TargetSource } from './shards';
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
    const threadsNote = threads
      ? `; data-parallel on up to ${threads.threads} threads (threads: ${JSON.stringify(threads.setting)})`
      : '';
    const data: Dataset = loadDataset(trainingData(config), path.dirname(opts.configPath));
    // With augmentation a sample's image differs every epoch, so its teacher logits do too.
    const augmenting = augments(config.data.augment);
    const inputShape = data.inputShape;
    const evalBatchSize = config.evalBatchSize ?? 1000;

    // Teacher: from its checkpoint, from this run's teacher/ folder (resume), or built to train.
    let teacher: tf.LayersModel;
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
      if (provenance) teacherCacheDir = path.dirname(config.teacher.checkpoint);
      if (
        teacherTestAccuracy === null &&
        provenance?.testAccuracy !== undefined &&
        provenance.dataFingerprint === data.fingerprint
      ) {
        teacherTestAccuracy = provenance.testAccuracy;
      }
      if (teacherTestAccuracy === null && teacherCacheDir)
        teacherTestAccuracy = readCachedTestAccuracy(teacherCacheDir, data.fingerprint) ?? null;
    } else {
      if (isDone('teacher')) teacher = await loadModel(path.join(teacherDir, 'model.json'));
      else if (state?.position.phase === 'teacher' && state.hasModel)
        teacher = await loadModel(path.join(runDir, RUN_FILES.latest, 'model.json'));
      else
        teacher = buildModel(config.teacher.model, {
          inputShape,
          classes: data.classes,
          seed: seedFor(teacherSeed, 'teacher'),
          name: 'teacher',
        });
      const expected = countParams(config.teacher.model, inputShape, data.classes);
      if (expected !== paramsOf(teacher))
        throw new Error(
          `internal: teacher has ${paramsOf(teacher)} parameters, the config's arithmetic says ${expected}`,
        );
      teacherInfo = { type: config.teacher.model.type, params: paramsOf(teacher), source: 'trained' };
    }
    models.push(teacher);
    const outShape = teacher.outputs[0].shape;
    if (outShape[outShape.length - 1] !== data.classes) {
      throw new Error(
        `the teacher outputs ${outShape[outShape.length - 1]} classes but the data has ${data.classes}`,
      );
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

    // --- Teacher phase -------------------------------------------------------------------
    if (!isCheckpointTeacher(config.teacher) && !isDone('teacher')) {
      const opt = createOptimizer(config.teacher.optimizer);
      const start = progressFor('teacher');
      if (state?.position.phase === 'teacher' && state.hasModel) await restoreOptimizer(opt);
      const outcome = await runPhase(
        { ...ctx, seed: teacherSeed },
        {
          phase: 'teacher',
          model: teacher,
          optimizer: opt,
          epochs: config.teacher.epochs,
          objective: { kind: 'ce' },
          start,
          checkpoint: checkpointer('teacher', teacher, opt, 'teacher'),
          onBest: reference ? saveBest(teacher, RUN_FILES.teacherBest, 'teacher', 'teacher') : undefined,
        },
      );
      opt.optimizer.dispose();
      trainingSeconds += outcome.seconds;
      if (outcome.status === 'cancelled') return cancelled(outcome.position);
      completed.push(outcome.result);
      if (reference) {
        // The reference code distils from the teacher's best epoch on the test set.
        teacher = await loadModel(path.join(runDir, RUN_FILES.teacherBest, 'model.json'));
        models.push(teacher);
      }
      await saveModel(teacher, teacherDir);
      log.emit({
        type: 'checkpoint-saved',
        path: RUN_FILES.teacher,
        model: 'teacher',
        reason: 'final',
        position: { phase: 'teacher', epoch: config.teacher.epochs, batch: 0 },
      });
    }
    if (teacherTestAccuracy === null) {
      teacherTestAccuracy = accuracy(teacher, data.test, inputShape, evalBatchSize);
      if (teacherCacheDir) writeCachedTestAccuracy(teacherCacheDir, data.fingerprint, teacherTestAccuracy);
    }
    // Record "teacher done" unless a resume is already past it (its checkpoint must survive).
    const firstPhase: PhaseName | undefined = takd ? 'assistant' : phases[0]?.phase;
    if (firstPhase && (!state || state.position.phase === 'teacher')) {
      writeState({ position: { phase: firstPhase, epoch: 0, batch: 0 }, hasModel: false });
    }

    // --- The teacher's targets: its logits once per run, or (augmented) the teacher per batch --
    const logitsOf = (model: tf.LayersModel, who: string): Float32Array => {
      const t0 = Date.now();
      const logits = predictLogits(model, data.train, inputShape, data.classes, evalBatchSize);
      log.emit({
        type: 'log',
        level: 'info',
        message: `${who} logits computed once for ${data.train.n} training samples in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      });
      return logits;
    };
    let teacherTargets: TargetSource | undefined;
    const teacherNeeded =
      phases.some((p) => p.needsTeacherLogits && !isDone(p.phase)) || (takd && !isDone('assistant'));
    if (teacherNeeded && augmenting) {
      teacherTargets = { kind: 'per-batch', model: teacher };
      log.emit({
        type: 'log',
        level: 'info',
        message: 'teacher targets computed per batch on the augmented images (teacher in inference mode)',
      });
    } else if (teacherNeeded) {
      let teacherLogits = teacherCacheDir
        ? readCachedLogits(teacherCacheDir, data.fingerprint, data.train.n, data.classes)
        : undefined;
      if (teacherLogits) {
        log.emit({
          type: 'log',
          level: 'info',
          message: `teacher logits for ${data.train.n} training samples read from the teacher cache`,
        });
      } else {
        teacherLogits = logitsOf(teacher, 'teacher');
        if (teacherCacheDir) writeCachedLogits(teacherCacheDir, data.fingerprint, teacherLogits);
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
        const resumingHere = state?.position.phase === 'assistant' && state.hasModel;
        assistant = resumingHere
          ? await loadModel(path.join(runDir, RUN_FILES.latest, 'model.json'))
          : buildModel(takd.model, {
              inputShape,
              classes: data.classes,
              seed: seedFor(config.seed, 'assistant'),
              name: 'assistant',
            });
        models.push(assistant);
        if (paramsOf(assistant) !== assistantInfo?.params) {
          throw new Error(
            `internal: assistant has ${paramsOf(assistant)} parameters, the config's arithmetic says ${assistantInfo?.params}`,
          );
        }
        const opt = createOptimizer(takd.optimizer);
        if (resumingHere) await restoreOptimizer(opt);
        const outcome = await runPhase(ctx, {
          phase: 'assistant',
          model: assistant,
          optimizer: opt,
          epochs: takd.epochs,
          objective: { kind: 'kd', temperature: takd.temperature, alpha: takd.alpha },
          targets: teacherTargets,
          start: progressFor('assistant'),
          checkpoint: checkpointer('assistant', assistant, opt, 'assistant'),
        });
        opt.optimizer.dispose();
        trainingSeconds += outcome.seconds;
        if (outcome.status === 'cancelled') return cancelled(outcome.position);
        completed.push(outcome.result);
        await saveModel(assistant, assistantDir);
        log.emit({
          type: 'checkpoint-saved',
          path: RUN_FILES.assistant,
          model: 'assistant',
          reason: 'final',
          position: { phase: 'assistant', epoch: takd.epochs, batch: 0 },
        });
        writeState({ position: { phase: phases[0].phase, epoch: 0, batch: 0 }, hasModel: false });
      }
      assistantTestAccuracy = accuracy(assistant, data.test, inputShape, evalBatchSize);
      if (phases.some((p) => p.distilFrom === 'assistant' && !isDone(p.phase)))
        assistantTargets = augmenting
          ? { kind: 'per-batch', model: assistant }
          : { kind: 'cached', logits: logitsOf(assistant, 'assistant') };
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
    for (const p of phases) {
      if (isDone(p.phase)) continue;
      const resumingHere = state?.position.phase === p.phase && state.hasModel;
      if (resumingHere) {
        student = await loadModel(path.join(runDir, RUN_FILES.latest, 'model.json'));
      } else if (p.phase === 'finetune') {
        student = await loadModel(path.join(runDir, RUN_FILES.phase1Best, 'model.json'));
      } else if (!student) {
        student = buildModel(config.student.model, {
          inputShape,
          classes: data.classes,
          seed: seedFor(config.seed, 'student'),
          name: 'student',
        });
      }
      models.push(student);
      if (paramsOf(student) !== studentInfo.params) {
        throw new Error(
          `internal: student has ${paramsOf(student)} parameters, the config's arithmetic says ${studentInfo.params}`,
        );
      }
      const opt = createOptimizer(p.optimizer);
      if (resumingHere) await restoreOptimizer(opt);
      const model = student;
      const outcome = await runPhase(ctx, {
        phase: p.phase,
        model,
        optimizer: opt,
        epochs: p.epochs,
        objective: p.objective,
        targets:
          p.distilFrom === 'assistant' ? assistantTargets : p.needsTeacherLogits ? teacherTargets : undefined,
        start: progressFor(p.phase),
        checkpoint: checkpointer(p.phase, model, opt, 'student'),
        onBest: bestKeeper(p.phase, model, p === phases[phases.length - 1]),
      });
      opt.optimizer.dispose();
      trainingSeconds += outcome.seconds;
      if (outcome.status === 'cancelled') return cancelled(outcome.position);
      completed.push(outcome.result);
      const next = phases[phases.indexOf(p) + 1];
      if (next) writeState({ position: { phase: next.phase, epoch: 0, batch: 0 }, hasModel: false });
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
    const studentTestAccuracy = accuracy(student, data.test, inputShape, evalBatchSize);
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
