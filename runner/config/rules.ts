/**
 * Cross-field rules the JSON Schema cannot express: referenced files exist, the annealing
 * schedule fits the epochs, model shapes fit the data, the student is smaller than the teacher.
 * Each rule runs only on parts of the config that passed the schema, so it can trust the types.
 */
import * as path from 'node:path';
import type {
  AnnealingMethod,
  DataConfig,
  ExperimentConfig,
  IdxData,
  CifarData,
  ModelConfig,
  OptimizerConfig,
  SweepConfig,
} from '../protocol/configTypes';
import {
  augments,
  isCheckpointTeacher,
  milestoneEpoch,
  protocolOf,
  trainingData,
} from '../protocol/configTypes';
import {
  ConfigDocument,
  type ConfigProblem,
  type JsonPath,
  type ProblemSpec,
  pathToString,
} from './problems';
import { checkpointModelJson, resolveFromConfig } from './configPaths';
import {
  CIFAR_FILES,
  idxHeaderBytes,
  inputShapeFor,
  isGzip,
  parseIdxHeader,
  splitSizes,
  type DataShape,
  type IdxHeader,
  type ReadBytes,
} from './dataShape';
import { cnnMinInputSize, cnnOutputSize, countParams, resnetBlocksPerStage } from '../models/paramCount';
import {
  checkIdxSize,
  checkRegularFile,
  checkTrainingLeft,
  checkWasmModelSize,
  checkpointContentProblem,
  type InputContext,
} from './inputRules';

export interface RuleContext {
  doc: ConfigDocument;
  /** The config with defaults filled in (trusted only where `isClean`). */
  config: ExperimentConfig;
  configPath: string;
  fileExists(absPath: string): boolean;
  readFile(absPath: string): string | undefined;
  readBytes: ReadBytes;
  /** What is at a path, and a file's size (input checks; absent: not checked). */
  fileKind?: InputContext['fileKind'];
  fileSize?: InputContext['fileSize'];
  /** Whether @tensorflow/tfjs-node is installed (then "backend": "auto" is not wasm). */
  nativeBackend?: boolean;
  /** True when the schema found nothing wrong at or below this path ("" is the root). */
  isClean(path: string): boolean;
}

/** Collects problems; `report` takes the same spec as ConfigDocument.problem. */
class Reporter {
  readonly problems: ConfigProblem[] = [];
  constructor(private readonly doc: ConfigDocument) {}
  report(spec: ProblemSpec): void {
    this.problems.push(this.doc.problem(spec));
  }
}

export function crossFieldProblems(ctx: RuleContext): ConfigProblem[] {
  const out = new Reporter(ctx.doc);
  const { config } = ctx;
  const dataOk = ctx.isClean('data');
  const shape = dataOk ? inputShapeFor(config.data, ctx.configPath, ctx.readBytes) : undefined;

  if (dataOk) {
    checkDataFiles(ctx, config.data, out);
    checkDataSizes(ctx, trainingData(config), out);
    checkAugment(config.data, shape, out);
    if (ctx.isClean('evaluation')) checkProtocol(ctx, out);
  }

  let teacherParams: number | undefined;
  if (ctx.isClean('teacher')) {
    if (isCheckpointTeacher(config.teacher)) {
      teacherParams = checkCheckpoint(ctx, config.teacher.checkpoint, shape, out);
    } else {
      teacherParams = checkModel(['teacher', 'model'], config.teacher.model, shape, out);
    }
  }
  const studentParams = ctx.isClean('student')
    ? checkModel(['student', 'model'], config.student.model, shape, out)
    : undefined;
  let assistantParams: number | undefined;
  if (ctx.isClean('method') && config.method.type === 'takd') {
    assistantParams = checkModel(['method', 'assistant', 'model'], config.method.assistant.model, shape, out);
    checkAssistantSize(assistantParams, teacherParams, studentParams, out);
  }
  checkWasmModelSize(
    ctx.isClean('backend') ? config.backend : undefined,
    ctx.nativeBackend ?? false,
    [
      {
        at: ['teacher'],
        role: 'teacher',
        params: ctx.isClean('teacher') && !isCheckpointTeacher(config.teacher) ? teacherParams : undefined,
      },
      { at: ['student', 'model'], role: 'student', params: studentParams },
      { at: ['method', 'assistant', 'model'], role: 'assistant', params: assistantParams },
    ],
    out,
  );
  if (teacherParams !== undefined && studentParams !== undefined && studentParams >= teacherParams) {
    out.report({
      severity: 'warning',
      code: 'student-not-smaller',
      path: ['student', 'model'],
      message:
        `the student has ${fmt(studentParams)} parameters, not fewer than the teacher's ${fmt(teacherParams)}: ` +
        'distillation is meant to compress a larger teacher into a smaller student',
      data: { student: studentParams, teacher: teacherParams },
    });
  }

  if (ctx.isClean('method')) checkMethod(config, out);
  if (config.sweep !== undefined && ctx.isClean('sweep')) checkSweep(config.sweep, out);
  for (const [optPath, epochsPath] of optimizerLocations(config)) {
    if (!ctx.isClean(pathToString(optPath))) continue;
    const epochs = valueAt(config, epochsPath);
    const knownEpochs = ctx.isClean(pathToString(epochsPath)) && typeof epochs === 'number' ? epochs : 0;
    checkOptimizer(optPath, valueAt(config, optPath) as OptimizerConfig, knownEpochs, out);
  }
  return out.problems;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

function valueAt(root: unknown, p: JsonPath): unknown {
  let cur = root;
  for (const seg of p) cur = (cur as Record<string | number, unknown> | undefined)?.[seg];
  return cur;
}

// ---------------------------------------------------------------- files

/** "(relative to /cfg/dir)" for a relative path as written, "" for an absolute one. */
function relativeNote(written: string, ctx: RuleContext): string {
  return path.isAbsolute(written) ? '' : ` (relative to ${path.dirname(path.resolve(ctx.configPath))})`;
}

/** Reports a missing file; returns whether it exists. Suggests the .gz name (or the plain one) when that exists. */
function checkFile(ctx: RuleContext, at: JsonPath, written: string, what: string, out: Reporter): boolean {
  const abs = resolveFromConfig(written, ctx.configPath);
  if (ctx.fileExists(abs)) return checkRegularFile(ctx, at, abs, what, out);
  const alternative = isGzip(written) ? written.slice(0, -3) : `${written}.gz`;
  const altExists = ctx.fileExists(resolveFromConfig(alternative, ctx.configPath));
  out.report({
    code: 'file-missing',
    path: at,
    message:
      `${what} not found: ${abs}${relativeNote(written, ctx)}` +
      (altExists ? `; ${JSON.stringify(alternative)} exists: did you mean that?` : ''),
    data: { path: abs, ...(altExists ? { suggested: alternative } : {}) },
  });
  return false;
}

const IDX_KEYS = ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const;

function checkDataFiles(ctx: RuleContext, data: DataConfig, out: Reporter): void {
  if (!('format' in data)) return;
  if (data.format === 'idx') {
    const present = IDX_KEYS.filter((k) => checkFile(ctx, ['data', k], data[k], `${k} file`, out));
    if (present.length === IDX_KEYS.length) checkIdxHeaders(ctx, data, out);
  } else {
    checkCifarDir(ctx, data, out);
  }
}

/** Headers that disagree (image/label counts, train/test image sizes) or are not IDX at all. */
function checkIdxHeaders(ctx: RuleContext, data: IdxData, out: Reporter): void {
  const headers: Partial<Record<(typeof IDX_KEYS)[number], IdxHeader>> = {};
  for (const key of IDX_KEYS) {
    const abs = resolveFromConfig(data[key], ctx.configPath);
    const start = ctx.readBytes(abs, idxHeaderBytes(isGzip(abs)));
    if (!start) return; // unreadable here: the data reader will say why
    const header = parseIdxHeader(start, isGzip(abs));
    const images = key.endsWith('Images');
    const rankOk =
      header && (images ? header.dims.length === 3 || header.dims.length === 4 : header.dims.length === 1);
    if (!header || !rankOk) {
      out.report({
        code: 'idx-invalid',
        path: ['data', key],
        message:
          `${abs} is not an IDX ${images ? 'image' : 'label'} file (expected ${images ? '3 dimensions: count, rows, columns' : '1 dimension: count'}` +
          `${header ? `, found ${header.dims.length}` : ''})${isGzip(abs) ? '' : '; a gzip file must end in .gz'}`,
        data: { path: abs },
      });
      return;
    }
    checkIdxSize(ctx, ['data', key], abs, isGzip(abs), header, out);
    headers[key] = header;
  }
  const { trainImages, trainLabels, testImages, testLabels } = headers as Record<
    (typeof IDX_KEYS)[number],
    IdxHeader
  >;
  for (const [images, labels, key] of [
    [trainImages, trainLabels, 'trainLabels'],
    [testImages, testLabels, 'testLabels'],
  ] as const) {
    if (images.dims[0] !== labels.dims[0]) {
      out.report({
        code: 'idx-invalid',
        path: ['data', key],
        message: `holds ${fmt(labels.dims[0])} labels but the images file holds ${fmt(images.dims[0])} images`,
      });
    }
  }
  if (trainImages.dims.slice(1).join('x') !== testImages.dims.slice(1).join('x')) {
    out.report({
      code: 'idx-invalid',
      path: ['data', 'testImages'],
      message: `test images are ${testImages.dims.slice(1).join('x')} but training images are ${trainImages.dims.slice(1).join('x')}`,
    });
  }
}

function checkCifarDir(ctx: RuleContext, data: CifarData, out: Reporter): void {
  const abs = resolveFromConfig(data.dir, ctx.configPath);
  const at: JsonPath = ['data', 'dir'];
  if (!ctx.fileExists(abs)) {
    out.report({
      code: 'file-missing',
      path: at,
      message: `folder not found: ${abs}${relativeNote(data.dir, ctx)}`,
      data: { path: abs },
    });
    return;
  }
  const kind = ctx.fileKind?.(abs) ?? 'directory';
  if (kind !== 'directory' && kind !== 'missing') {
    out.report({
      code: 'file-not-regular',
      path: at,
      message: `${abs} is not a folder`,
      data: { path: abs },
    });
    return;
  }
  const spec = CIFAR_FILES[data.format];
  const expected = [...spec.train, ...spec.test];
  const missing = expected.filter((f) => !ctx.fileExists(path.join(abs, f)));
  if (missing.length === 0) {
    for (const f of expected) checkRegularFile(ctx, at, path.join(abs, f), `${data.format} file`, out);
    return;
  }
  // A common slip: pointing at the folder the archive was extracted into, one level too high.
  const inSubfolder = expected.every((f) => ctx.fileExists(path.join(abs, spec.folder, f)));
  const suggested = inSubfolder ? path.posix.join(data.dir.replace(/\\/g, '/'), spec.folder) : undefined;
  out.report({
    code: 'file-missing',
    path: at,
    message:
      `folder ${abs} has no ${missing.join(', ')} (the ${data.format} binary version needs ${expected.join(', ')})` +
      (suggested ? `; they are in ${JSON.stringify(spec.folder)}: use ${JSON.stringify(suggested)}` : ''),
    data: { path: abs, missing, ...(suggested ? { suggested } : {}) },
  });
}

// ---------------------------------------------------------------- checkpoint

interface ModelJson {
  modelTopology?: unknown;
  weightsManifest?: unknown;
}

/** Checks a checkpoint teacher's model.json and weight files; returns its parameter count. */
function checkCheckpoint(
  ctx: RuleContext,
  written: string,
  shape: DataShape | undefined,
  out: Reporter,
): number | undefined {
  const at: JsonPath = ['teacher', 'checkpoint'];
  const abs = checkpointModelJson(written, ctx.configPath);
  const invalid = (why: string): undefined => {
    out.report({ code: 'checkpoint-invalid', path: at, message: `${abs}: ${why}`, data: { path: abs } });
    return undefined;
  };
  const text = ctx.readFile(abs);
  if (text === undefined) {
    out.report({
      code: 'file-missing',
      path: at,
      message:
        `checkpoint not found: ${abs}${relativeNote(written, ctx)}` +
        (abs.toLowerCase().endsWith('.json') && written.toLowerCase().endsWith('.json')
          ? ''
          : ' (a folder is read as <folder>/model.json)'),
      data: { path: abs },
    });
    return undefined;
  }
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch (e) {
    return invalid(`not valid JSON (${(e as Error).message})`);
  }
  if (
    json === null ||
    typeof json !== 'object' ||
    typeof json.modelTopology !== 'object' ||
    !Array.isArray(json.weightsManifest)
  ) {
    return invalid('not a TF.js layers model (it needs "modelTopology" and "weightsManifest")');
  }
  let params = 0;
  for (const group of json.weightsManifest as unknown[]) {
    const g = group as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(g.paths) || !Array.isArray(g.weights))
      return invalid('a "weightsManifest" entry lacks "paths" or "weights"');
    for (const w of g.weights as { name?: unknown; shape?: unknown }[]) {
      if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        return invalid(`weight ${JSON.stringify(w.name)} has no valid "shape"`);
      }
      params += (w.shape as number[]).reduce((a, b) => a * b, 1);
    }
    for (const p of g.paths) {
      if (typeof p !== 'string' || !ctx.fileExists(path.join(path.dirname(abs), p))) {
        return invalid(`weights file ${JSON.stringify(p)} listed in model.json is missing`);
      }
    }
  }
  const content = checkpointContentProblem(
    ctx,
    json.modelTopology,
    json.weightsManifest as { paths: unknown[]; weights: unknown[] }[],
    (p) => path.join(path.dirname(abs), p),
  );
  if (content) return invalid(content);
  const inputShape = findInputShape(json.modelTopology);
  if (
    shape &&
    inputShape &&
    inputShape.length === 4 &&
    inputShape.slice(1).join('x') !== shape.shape.join('x')
  ) {
    out.report({
      code: 'checkpoint-shape-mismatch',
      path: at,
      message: `the checkpoint takes ${inputShape.slice(1).join('x')} inputs but the data is ${shape.shape.join('x')}`,
      data: { checkpoint: inputShape.slice(1), data: shape.shape },
    });
  }
  return params;
}

/** The first batch input shape in a Keras/TF.js topology, e.g. [null, 28, 28, 1]. */
function findInputShape(topology: unknown, depth = 0): unknown[] | undefined {
  if (depth > 12 || topology === null || typeof topology !== 'object') return undefined;
  if (Array.isArray(topology)) {
    for (const item of topology) {
      const found = findInputShape(item, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  const o = topology as Record<string, unknown>;
  for (const key of ['batch_input_shape', 'batchInputShape', 'batch_shape']) {
    if (Array.isArray(o[key])) return o[key] as unknown[];
  }
  for (const v of Object.values(o)) {
    const found = findInputShape(v, depth + 1);
    if (found) return found;
  }
  return undefined;
}

// ---------------------------------------------------------------- models

/** Checks a model against the data; returns its parameter count when it can be computed. */
function checkModel(
  at: JsonPath,
  model: ModelConfig,
  shape: DataShape | undefined,
  out: Reporter,
): number | undefined {
  if (model.type === 'resnet' && resnetBlocksPerStage(model.depth) === undefined) {
    const d = model.depth;
    const below = 6 * Math.floor((d - 2) / 6) + 2;
    const above = Math.max(8, 6 * Math.ceil((d - 2) / 6) + 2);
    const options = below >= 8 && below !== above ? [below, above] : [above];
    const suggested = options.length === 2 && d - below > above - d ? above : options[0];
    out.report({
      code: 'resnet-depth',
      path: [...at, 'depth'],
      message: `resnet depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got ${d}: use ${options.join(' or ')}`,
      data: { suggested, options },
    });
    return undefined;
  }
  if (!shape) return undefined;
  if (model.type === 'cnn') {
    const { height, width } = cnnOutputSize(model.filters.length, shape.shape);
    if (height < 1 || width < 1) {
      const min = cnnMinInputSize(model.filters.length);
      out.report({
        code: 'input-too-small',
        path: [...at, 'filters'],
        message:
          `${model.filters.length} 3x3 'valid' convs and the 2x2 pool need inputs of at least ${min}x${min}, ` +
          `but the data is ${shape.shape[0]}x${shape.shape[1]}; use fewer conv layers`,
        data: { minSize: min, maxConvs: Math.floor((Math.min(shape.shape[0], shape.shape[1]) - 2) / 2) },
      });
      return undefined;
    }
  }
  return countParams(model, shape.shape, shape.classes);
}

// ---------------------------------------------------------------- data sizes

function checkDataSizes(ctx: RuleContext, data: DataConfig, out: Reporter): void {
  const sizes = splitSizes(data, ctx.configPath, ctx.readBytes);
  const name = 'dataset' in data ? data.dataset : data.format;
  for (const [key, split, size] of [
    ['trainLimit', 'training', sizes.train],
    ['testLimit', 'test', sizes.test],
  ] as const) {
    const limit = data[key];
    if (limit !== undefined && size !== undefined && limit > size) {
      out.report({
        severity: 'info',
        code: 'limit-exceeds-dataset',
        path: ['data', key],
        message: `${key} ${fmt(limit)} is more than the ${fmt(size)} ${split} examples of ${name}: all of them are used`,
        data: { suggested: size },
      });
    }
  }
  const fraction = data.validationFraction ?? 0.1;
  const train =
    data.trainLimit !== undefined ? Math.min(data.trainLimit, sizes.train ?? Infinity) : sizes.train;
  // The reference protocol holds nothing out by design (it selects on the test set).
  if (protocolOf(ctx.config) !== 'reference' && !checkTrainingLeft(train, fraction, out)) return;
  if (fraction === 0 && protocolOf(ctx.config) !== 'reference') {
    out.report({
      severity: 'info',
      code: 'no-validation',
      path: ['data', 'validationFraction'],
      message:
        'no validation split: the best epoch (and the best phase-1 model of annealing) is picked by training accuracy',
    });
  } else if (fraction > 0 && train !== undefined && train * fraction < 1) {
    out.report({
      severity: 'warning',
      code: 'validation-empty',
      path: ['data', 'validationFraction'],
      message: `${fraction} of ${fmt(train)} training examples is less than one validation example`,
    });
  }
  if (train !== undefined && ctx.isClean('batchSize')) {
    const fitting = Math.floor(train * (1 - fraction));
    const batchSize = ctx.config.batchSize;
    if (fitting > 0 && batchSize > fitting) {
      out.report({
        severity: 'warning',
        code: 'batch-too-large',
        path: ['batchSize'],
        message: `batchSize ${fmt(batchSize)} is larger than the ${fmt(fitting)} training examples: every epoch is one smaller batch`,
        data: { suggested: fitting },
      });
    }
  }
}

// ---------------------------------------------------------------- augmentation and protocol

/** Datasets of digits: mirrored, a 2, 3, 4, 5 or 7 is no longer that digit. IDX is the MNIST family's format. */
function isDigitsData(data: DataConfig): boolean {
  return 'dataset' in data || data.format === 'idx';
}

function checkAugment(data: DataConfig, shape: DataShape | undefined, out: Reporter): void {
  const a = data.augment;
  if (!augments(a) || !a) return;
  if (a.horizontalFlip && isDigitsData(data)) {
    out.report({
      severity: 'warning',
      code: 'augment-flip-digits',
      path: ['data', 'augment', 'horizontalFlip'],
      message:
        'horizontalFlip mirrors the training images, which changes digits (a mirrored 2, 3, 4, 5 or 7 is not that digit): ' +
        'leave it off for MNIST and other IDX digit data (fine for clothes or natural images)',
      data: { suggested: false },
    });
  }
  const side = shape ? Math.min(shape.shape[0], shape.shape[1]) : undefined;
  const pad = a.randomCrop ?? 0;
  if (side !== undefined && pad > side / 4) {
    out.report({
      severity: 'warning',
      code: 'augment-crop-large',
      path: ['data', 'augment', 'randomCrop'],
      message: `randomCrop ${pad} shifts ${side}-pixel images by up to ${pad} pixels, more than a quarter of their side: much of the object can fall outside the crop (the reference code pads 32x32 CIFAR by 4)`,
      data: { suggested: Math.max(1, Math.round(side / 8)) },
    });
  }
}

function checkProtocol(ctx: RuleContext, out: Reporter): void {
  if (protocolOf(ctx.config) !== 'reference') return;
  // Only a fraction the user wrote: the schema's default is filled in everywhere.
  const written = ctx.doc.findNode(['data', 'validationFraction']);
  const fraction = ctx.config.data.validationFraction ?? 0;
  if (written && fraction > 0) {
    out.report({
      severity: 'warning',
      code: 'protocol-ignores-validation',
      path: ['data', 'validationFraction'],
      message: `the reference protocol trains on every training example and selects on the test set: validationFraction ${fraction} is ignored`,
    });
  }
}

// ---------------------------------------------------------------- methods and optimizers

function checkMethod(config: ExperimentConfig, out: Reporter): void {
  const method = config.method;
  if (method.type === 'annealing') checkAnnealing(method, out);
  if ((method.type === 'kd' || method.type === 'takd') && method.alpha === 0) {
    out.report({
      severity: 'warning',
      code: 'kd-alpha-zero',
      path: ['method', 'alpha'],
      message:
        'alpha 0 gives the teacher no weight: this trains from scratch (use "type": "scratch" for that baseline)',
      data: { suggested: 0.9 },
    });
  }
}

/** TAKD's assistant is meant to sit between the teacher and the student in size. */
function checkAssistantSize(
  assistant: number | undefined,
  teacher: number | undefined,
  student: number | undefined,
  out: Reporter,
): void {
  if (assistant === undefined) return;
  const at: JsonPath = ['method', 'assistant', 'model'];
  if (teacher !== undefined && assistant >= teacher) {
    out.report({
      severity: 'warning',
      code: 'assistant-size',
      path: at,
      message: `the assistant has ${fmt(assistant)} parameters, not fewer than the teacher's ${fmt(teacher)}: TAKD's assistant should be between the teacher and the student in size`,
      data: { assistant, teacher },
    });
  } else if (student !== undefined && assistant <= student) {
    out.report({
      severity: 'warning',
      code: 'assistant-size',
      path: at,
      message: `the assistant has ${fmt(assistant)} parameters, not more than the student's ${fmt(student)}: TAKD's assistant should be between the teacher and the student in size`,
      data: { assistant, student },
    });
  }
}

// ---------------------------------------------------------------- sweeps

/** Config keys a sweep's grid may not vary: the run's name, the seed (use "seeds") and the sweep itself. */
const GRID_FORBIDDEN = new Set(['name', 'seed', 'sweep', '$schema', 'description']);
const GRID_ROOTS = new Set([
  'data',
  'teacher',
  'student',
  'method',
  'batchSize',
  'evalBatchSize',
  'backend',
  'threads',
  'scratch',
  'kd',
  'takd',
  'annealing',
]);

/** The sweep block's own rules; each expanded member is checked in full by validate.ts. */
function checkSweep(sweep: SweepConfig, out: Reporter): void {
  const dupes = <T>(values: T[]): T[] => values.filter((v, i) => values.indexOf(v) !== i);
  for (const key of ['seeds', 'methods'] as const) {
    const values = sweep[key] as unknown[] | undefined;
    if (!values) continue;
    const d = dupes(values);
    if (d.length > 0) {
      out.report({
        code: 'sweep-duplicate',
        path: ['sweep', key, values.lastIndexOf(d[0])],
        message: `${JSON.stringify(d[0])} is listed twice: every member would run twice`,
        data: { suggested: [...new Set(values)] },
      });
    }
  }
  for (const [key, values] of Object.entries(sweep.grid ?? {})) {
    const parts = key.split(',').map((k) => k.trim());
    const bad = (message: string): void =>
      out.report({
        code: 'sweep-grid-key',
        path: ['sweep', 'grid', key],
        target: 'key',
        message,
        data: { key },
      });
    if (parts.length > 1) {
      const wrong = values.findIndex((v) => !Array.isArray(v) || v.length !== parts.length);
      if (wrong >= 0) {
        out.report({
          code: 'sweep-grid-key',
          path: ['sweep', 'grid', key, wrong],
          message: `a key tying ${parts.length} paths takes values that are arrays of ${parts.length} (one per path), e.g. [${parts.map((_, i) => i + 1).join(', ')}]; got ${JSON.stringify(values[wrong])}`,
        });
        continue;
      }
    }
    const problem = parts.map((part) => gridKeyProblem(part, key)).find((m) => m !== undefined);
    if (problem) {
      bad(problem);
    } else {
      const d = dupes(values.map((v) => JSON.stringify(v)));
      if (d.length > 0) {
        out.report({
          code: 'sweep-duplicate',
          path: ['sweep', 'grid', key],
          message: `the value ${d[0]} is listed twice: its members would run twice`,
        });
      }
    }
  }
}

/** Why one dotted path cannot be a grid key, or undefined when it can. */
function gridKeyProblem(part: string, key: string): string | undefined {
  const segments = part.split('.');
  const root = segments[0];
  if (segments.some((s) => s === ''))
    return `${JSON.stringify(key)} is not a dotted config path like "student.model.hidden" or "kd.temperature" (or several joined by commas)`;
  if (GRID_FORBIDDEN.has(root)) {
    return root === 'seed'
      ? '"seed" cannot be a grid key: list the seeds in "sweep.seeds"'
      : `${JSON.stringify(root)} cannot be swept`;
  }
  if (!GRID_ROOTS.has(root)) {
    return `${JSON.stringify(root)} is not a config key or a method name (one of ${[...GRID_ROOTS].map((r) => JSON.stringify(r)).join(', ')})`;
  }
  if (['scratch', 'kd', 'takd', 'annealing', 'method'].includes(root) && segments.length < 2) {
    return `${JSON.stringify(part)} needs a key inside the method, e.g. "${root === 'method' ? 'method' : root}.${root === 'annealing' ? 'tauMax' : 'epochs'}"`;
  }
  return undefined;
}

function checkAnnealing(method: AnnealingMethod, out: Reporter): void {
  const tauMax = method.tauMax;
  const epochs = method.phase1.epochs;
  const at: JsonPath = ['method', 'phase1', 'epochs'];
  if (epochs < tauMax) {
    out.report({
      code: 'epochs-lt-taumax',
      path: at,
      message: `phase 1 needs at least one epoch per temperature: ${epochs} epochs < tauMax ${tauMax}`,
      data: { suggested: tauMax },
    });
  } else if (epochs % tauMax !== 0) {
    const base = Math.floor(epochs / tauMax);
    const extra = epochs % tauMax;
    const lower = base * tauMax;
    const suggested = Math.max(tauMax, Math.round(epochs / tauMax) * tauMax);
    out.report({
      severity: 'warning',
      code: 'epochs-not-multiple',
      path: at,
      message:
        `${epochs} epochs is not a multiple of tauMax ${tauMax}: each temperature gets ${base} epoch${base === 1 ? '' : 's'} ` +
        `and the last ${extra} (T = ${extra === 1 ? '1' : `${extra}..1`}) get ${base + 1}, so Phi never exceeds 1; ` +
        `use ${lower === suggested ? suggested : `${lower} or ${lower + tauMax}`} for equal steps`,
      data: { suggested },
    });
  }
  if (method.phase2.epochs === 0) {
    out.report({
      severity: 'info',
      code: 'phase2-skipped',
      path: ['method', 'phase2', 'epochs'],
      message: 'phase 2 is skipped: the student is the best phase-1 model, never trained on the labels',
    });
  }
}

/** Every optimizer in the config with the path of its phase's epochs. */
function optimizerLocations(config: ExperimentConfig): [JsonPath, JsonPath][] {
  const out: [JsonPath, JsonPath][] = [];
  const has = (p: JsonPath): boolean => valueAt(config, p) !== undefined;
  for (const parent of [
    ['teacher'],
    ['method'],
    ['method', 'assistant'],
    ['method', 'phase1'],
    ['method', 'phase2'],
  ]) {
    // TAKD's assistant runs for the method's epochs unless it has its own.
    const epochsAt =
      parent[1] === 'assistant' && !has([...parent, 'epochs']) ? ['method', 'epochs'] : [...parent, 'epochs'];
    if (has([...parent, 'optimizer'])) out.push([[...parent, 'optimizer'], epochsAt]);
  }
  return out;
}

function checkOptimizer(at: JsonPath, opt: OptimizerConfig, epochs: number, out: Reporter): void {
  const milestones = opt.schedule?.milestones ?? [];
  const at_m = (i: number): JsonPath => [...at, 'schedule', 'milestones', i];
  const unordered = milestones.findIndex((m, i) => i > 0 && m <= milestones[i - 1]);
  if (unordered > 0) {
    out.report({
      code: 'milestones-order',
      path: at_m(unordered),
      message: `milestones must be strictly increasing: ${milestones[unordered]} comes after ${milestones[unordered - 1]}`,
      data: { suggested: [...new Set(milestones)].sort((a, b) => a - b) },
    });
  } else if (epochs > 0) {
    let previous = -1;
    milestones.forEach((m, i) => {
      const epoch = milestoneEpoch(m, epochs);
      const why =
        epoch === 0
          ? 'falls on the first epoch, so the learning rate is lowered from the start'
          : epoch >= epochs
            ? 'falls after the last epoch, so it never applies'
            : epoch === previous
              ? 'falls on the same epoch as the previous milestone, so both apply at once'
              : undefined;
      if (why) {
        out.report({
          severity: 'warning',
          code: 'milestone-ineffective',
          path: at_m(i),
          message: `milestone ${m} of ${epochs} epoch${epochs === 1 ? '' : 's'} is epoch ${epoch}: it ${why}`,
        });
      }
      previous = epoch;
    });
  }
  if (opt.type === 'sgd' && opt.nesterov && !(opt.momentum && opt.momentum > 0)) {
    out.report({
      severity: 'warning',
      code: 'nesterov-without-momentum',
      path: [...at, 'nesterov'],
      message: 'nesterov has no effect without momentum > 0 (e.g. "momentum": 0.9)',
    });
  }
  const high = opt.type === 'adam' ? 0.1 : 1;
  if (opt.learningRate >= high) {
    out.report({
      severity: 'warning',
      code: 'lr-high',
      path: [...at, 'learningRate'],
      message: `learning rate ${opt.learningRate} is very high for ${opt.type} (typical: ${opt.type === 'adam' ? '0.0001 to 0.01' : '0.01 to 0.1'}); training will likely diverge`,
    });
  }
}
