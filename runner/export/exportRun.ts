/**
 * `akd export`: a run's student (or teacher) as an ONNX file that takes raw pixels and returns
 * logits, fp32 or static int8, verified in ONNX Runtime against the run's TF.js model before it
 * is written, and recorded in the run's summary.json (`exports`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isCheckpointTeacher, type ExperimentConfig } from '../protocol/configTypes';
import { DataError, loadRaw, normalizePixels, validationCount, type RawData } from '../data/dataset';
import { classLabels } from '../data/labels';
import type {
  ExportModelRole,
  ExportPrecision,
  ExportRecord,
  ExportStep,
  ExportVerification,
} from '../protocol/exportEvents';
import { EventLog } from '../store/eventLog';
import { RUN_FILES } from '../protocol/files';
import { readRun, writeJsonAtomic, type RunRecord } from '../store/runStore';
import { OPSET, type Graph } from './graph';
import { BATCH_DIM, INPUT_NAME, OUTPUT_NAME, UnsupportedModelError, layersToOnnx } from './layersToOnnx';
import { encodeModel } from './onnxProto';
import { calibrate, createSession, evaluate, runtimeName, type Images } from './onnxRuntime';
import { quantizeGraph, tensorsToCalibrate } from './quantize';

/** A one-line reason an export cannot be made (no student, an unsupported layer, a failed check). */
export class ExportError extends Error {
  constructor(
    message: string,
    readonly verification?: ExportVerification,
  ) {
    super(message);
  }
}

export interface ExportRequest {
  runDir: string;
  model?: ExportModelRole;
  quantize?: 'int8';
  /** Default: RUN/export/<model>.onnx, or <model>.int8.onnx. */
  out?: string;
  /** int8: the largest test-accuracy drop against the fp32 export that still passes (points). */
  maxDropPoints?: number;
  /** int8: training images the activation ranges are measured on. */
  calibrationSamples?: number;
  onProgress?: (step: ExportStep, message: string) => void;
}

/** fp32 must reproduce the run: accuracy within 0.1 point, logits within 1e-4 of their scale. */
export const FP32_ACCURACY_TOLERANCE_POINTS = 0.1;
export const FP32_LOGIT_TOLERANCE = 1e-4;
export const DEFAULT_MAX_INT8_DROP_POINTS = 1.5;
export const DEFAULT_CALIBRATION_SAMPLES = 500;
/** Test images whose logits are compared with TF.js's. */
const LOGIT_SAMPLES = 256;

const points = (fraction: number): number => fraction * 100;
const pct = (fraction: number): string => `${(fraction * 100).toFixed(2)}%`;

/** The TF.js model.json to export, or a one-line reason there is none. */
export function modelJsonFor(run: RunRecord, role: ExportModelRole): string {
  const config = run.config;
  if (!config)
    throw new ExportError(`${run.runDir}: ${RUN_FILES.config} is missing or unreadable: not a run folder`);
  if (role === 'teacher' && isCheckpointTeacher(config.teacher)) return config.teacher.checkpoint;
  const file = path.join(
    run.runDir,
    role === 'student' ? RUN_FILES.student : RUN_FILES.teacher,
    'model.json',
  );
  if (fs.existsSync(file)) return file;
  const why =
    run.status === 'failed'
      ? `the run failed before its ${role} was saved${run.summary?.error ? ` (${run.summary.error})` : ''}`
      : run.status === 'cancelled'
        ? `the run was cancelled before its ${role} was saved: resume it (akd resume) and export it when it completes`
        : run.status === 'running'
          ? `the run is still training: export it when it completes`
          : `${path.relative(run.runDir, file)} is missing`;
  throw new ExportError(`${run.runDir}: no ${role} to export: ${why}`);
}

export async function exportRun(req: ExportRequest): Promise<ExportRecord> {
  const t0 = Date.now();
  const role = req.model ?? 'student';
  const precision: ExportPrecision = req.quantize === 'int8' ? 'int8' : 'fp32';
  const progress = req.onProgress ?? ((): void => undefined);
  const runDir = path.resolve(req.runDir);
  const run = readRun(runDir);
  const modelJson = modelJsonFor(run, role);
  const config = run.config as ExperimentConfig;
  const out = path.resolve(
    req.out ?? path.join(runDir, 'export', `${role}${precision === 'int8' ? '.int8' : ''}.onnx`),
  );

  progress(
    'load',
    `loading the ${role} (${path.relative(process.cwd(), modelJson) || modelJson}) and the run's data`,
  );
  // TF.js only here, so that importing this module (the CLI's usage, the tests' helpers) stays cheap.
  const { selectBackend, tf } = await import('../backend/selectBackend');
  const { loadModel } = await import('../store/modelFiles');
  await selectBackend('auto');
  let raw: RawData;
  try {
    raw = loadRaw(config.data, runDir, () => undefined);
  } catch (e) {
    if (e instanceof DataError) throw new ExportError(`the run's data cannot be read: ${e.message}`);
    throw e;
  }
  const model = await loadModel(modelJson);
  try {
    const inShape = model.inputs[0].shape.slice(1);
    if (inShape.join('x') !== raw.inputShape.join('x'))
      throw new ExportError(
        `${modelJson}: the model takes ${inShape.join('x')} inputs but the run's data is ${raw.inputShape.join('x')}`,
      );
    const test: Images = {
      pixels: raw.test.images,
      labels: raw.test.labels,
      n: raw.test.n,
      shape: raw.inputShape,
    };
    if (test.n === 0)
      throw new ExportError(`${runDir}: the run's test split is empty: nothing to verify the export on`);

    progress('convert', `converting ${model.layers.length} layers to ONNX (opset ${OPSET})`);
    let graph: Graph;
    try {
      graph = layersToOnnx(model, { inputShape: raw.inputShape, normalization: raw.normalization });
    } catch (e) {
      if (e instanceof UnsupportedModelError)
        throw new ExportError(`${modelJson}: cannot export: ${e.message}`);
      throw e;
    }
    const fp32Bytes = encodeModel(
      graph.toModel({ name: role, docString: '', metadata: {}, producerVersion: '' }),
    );

    // The TF.js reference: the run's test accuracy, and this model's logits on a sample.
    const sample = Math.min(LOGIT_SAMPLES, test.n);
    const px = raw.inputShape[0] * raw.inputShape[1] * raw.inputShape[2];
    const tfLogits = tf().tidy(() => {
      const x = tf().tensor(normalizePixels(raw.test.images.subarray(0, sample * px), raw.normalization), [
        sample,
        ...raw.inputShape,
      ]);
      return (model.predict(x) as import('@tensorflow/tfjs').Tensor).dataSync() as Float32Array;
    });
    let reference = run.summary?.[role]?.testAccuracy ?? null;
    if (reference === null) {
      progress('verify', `the run recorded no test accuracy for its ${role}: measuring it in TF.js`);
      const { accuracy } = await import('../training/evaluate');
      const x = normalizePixels(raw.test.images, raw.normalization);
      reference = accuracy(model, { x, y: raw.test.labels, n: raw.test.n }, raw.inputShape, 1000);
    }

    progress('verify', `running the fp32 model in ${runtimeName()} on ${test.n} test images`);
    const fp32 = await verify(fp32Bytes, test, tfLogits, sample);
    const fp32Checks = [
      check(
        Math.abs(points(fp32.accuracy - reference)) <= FP32_ACCURACY_TOLERANCE_POINTS + 1e-9,
        `test accuracy within ${FP32_ACCURACY_TOLERANCE_POINTS} point of the run's (TF.js): ${pct(fp32.accuracy)} vs ${pct(reference)}`,
      ),
      check(
        fp32.relative <= FP32_LOGIT_TOLERANCE,
        `logits within ${FP32_LOGIT_TOLERANCE} (relative) of TF.js's on ${sample} test images: max difference ${fp32.maxDiff.toExponential(2)} (${fp32.relative.toExponential(2)} relative)`,
      ),
    ];
    let verification = verificationOf(fp32, test.n, sample, reference, fp32Checks);
    if (!verification.passed && precision === 'fp32') throw failed(verification);
    if (!verification.passed)
      throw new ExportError(
        `the fp32 conversion fails its checks, so it is not quantized: ${verification.checks.filter((c) => c.startsWith('FAILED')).join('; ')}`,
        verification,
      );

    // The fp32 file as it would be written (with its metadata): the output, or the size reference for int8.
    let calibrationSamples = 0;
    const meta = (p: ExportPrecision, accuracy: number): Record<string, string> =>
      metadata({ run, config, role, precision: p, raw, accuracy, reference, calibrationSamples, modelJson });
    const docString = (p: ExportPrecision): string => describe(role, p, raw, config);
    const finalBytes = (p: ExportPrecision, accuracy: number): Uint8Array =>
      encodeModel(
        graph.toModel({
          name: role,
          docString: docString(p),
          metadata: meta(p, accuracy),
          producerVersion: version(),
        }),
      );
    let bytes = finalBytes('fp32', fp32.accuracy);
    let quantization: ExportRecord['quantization'];
    if (precision === 'int8') {
      const fp32Size = bytes.length;
      const images = calibrationImages(raw, config, req.calibrationSamples ?? DEFAULT_CALIBRATION_SAMPLES);
      calibrationSamples = images.n;
      const tensors = tensorsToCalibrate(graph);
      progress('calibrate', `measuring ${tensors.length} activation ranges on ${images.n} training images`);
      const ranges = await calibrate(graph, tensors, images);
      progress('quantize', 'quantizing weights (int8 per output channel) and activations (uint8 per tensor)');
      quantizeGraph(graph, ranges);
      progress('verify', `running the int8 model in ${runtimeName()} on ${test.n} test images`);
      const int8 = await verify(finalBytes('int8', NaN), test, tfLogits, sample);
      const maxDrop = req.maxDropPoints ?? DEFAULT_MAX_INT8_DROP_POINTS;
      const drop = points(fp32.accuracy - int8.accuracy);
      verification = verificationOf(int8, test.n, sample, reference, [
        check(
          drop <= maxDrop + 1e-9,
          `test accuracy at most ${maxDrop} points below the fp32 export's: ${pct(int8.accuracy)} vs ${pct(fp32.accuracy)} (${drop >= 0 ? '-' : '+'}${Math.abs(drop).toFixed(2)} points)`,
        ),
        `logits against TF.js's on ${sample} test images: max difference ${int8.maxDiff.toExponential(2)} (${int8.relative.toExponential(2)} relative), not a check for int8`,
      ]);
      if (!verification.passed) throw failed(verification);
      bytes = finalBytes('int8', int8.accuracy);
      quantization = {
        calibrationSamples,
        fp32Bytes: fp32Size,
        sizeRatio: bytes.length / fp32Size,
        fp32TestAccuracy: fp32.accuracy,
        accuracyDropPoints: drop,
      };
    }

    // Written atomically, then read back from disk and run once more.
    progress('write', `writing ${out}`);
    writeFileAtomic(out, bytes);
    const seen = verification.logitsSeen;
    const reread = await verify(fs.readFileSync(out), { ...test, n: sample }, tfLogits, sample);
    if (reread.logits.some((v, i) => !(Math.abs(v - seen[i]) <= 1e-6 * (1 + Math.abs(v)))))
      throw new ExportError(`${out}: the written file does not give the verified logits`);

    const record: ExportRecord = {
      file: path.relative(runDir, out).startsWith('..') ? out : path.relative(runDir, out),
      format: 'onnx',
      model: role,
      precision,
      bytes: bytes.length,
      opset: OPSET,
      input: {
        name: INPUT_NAME,
        shape: [BATCH_DIM, ...raw.inputShape],
        layout: 'NHWC',
        dtype: 'float32',
        range: [0, 255],
      },
      output: { name: OUTPUT_NAME, shape: [BATCH_DIM, raw.classes] },
      exportedAt: new Date().toISOString(),
      seconds: (Date.now() - t0) / 1000,
      verification: stripLogits(verification),
      ...(quantization ? { quantization } : {}),
    };
    recordExport(runDir, record);
    return record;
  } finally {
    model.dispose();
  }
}

interface Measured {
  accuracy: number;
  logits: Float32Array;
  maxDiff: number;
  relative: number;
}

async function verify(
  bytes: Uint8Array,
  test: Images,
  tfLogits: Float32Array,
  sample: number,
): Promise<Measured> {
  const session = await createSession(bytes);
  try {
    const e = await evaluate(session, test, sample);
    let maxDiff = 0;
    let scale = 0;
    for (let i = 0; i < tfLogits.length; i++) {
      const d = Math.abs(e.logits[i] - tfLogits[i]);
      if (!(d <= maxDiff)) maxDiff = d; // NaN counts as the largest difference
      scale = Math.max(scale, Math.abs(tfLogits[i]));
    }
    return { accuracy: e.accuracy, logits: e.logits, maxDiff, relative: maxDiff / (scale || 1) };
  } finally {
    await session.release();
  }
}

function check(ok: boolean, what: string): string {
  return `${ok ? 'ok' : 'FAILED'}: ${what}`;
}

type VerificationWithLogits = ExportVerification & { logitsSeen: Float32Array };

function verificationOf(
  m: Measured,
  testSamples: number,
  logitSamples: number,
  reference: number,
  checks: string[],
): VerificationWithLogits {
  return {
    runtime: runtimeName(),
    testSamples,
    testAccuracy: m.accuracy,
    referenceAccuracy: reference,
    accuracyDeltaPoints: points(m.accuracy - reference),
    logitSamples,
    maxLogitDiff: m.maxDiff,
    maxLogitDiffRelative: m.relative,
    passed: checks.every((c) => !c.startsWith('FAILED')),
    checks,
    logitsSeen: m.logits,
  };
}

function stripLogits(v: VerificationWithLogits): ExportVerification {
  const { logitsSeen, ...rest } = v;
  void logitsSeen;
  return rest;
}

function failed(v: VerificationWithLogits): ExportError {
  return new ExportError(
    `verification in ${v.runtime} failed, nothing was written: ${v.checks.filter((c) => c.startsWith('FAILED')).join('; ')}`,
    stripLogits(v),
  );
}

/** Evenly spaced images of the training portion (never validation or test). */
function calibrationImages(raw: RawData, config: ExperimentConfig, count: number): Images {
  const nTrain = raw.train.n - validationCount(raw.train.n, config.data.validationFraction ?? 0.1);
  const n = Math.max(1, Math.min(count, nTrain));
  const px = raw.inputShape[0] * raw.inputShape[1] * raw.inputShape[2];
  const pixels = new Uint8Array(n * px);
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * nTrain) / n);
    pixels.set(raw.train.images.subarray(from * px, (from + 1) * px), i * px);
  }
  return { pixels, n, shape: raw.inputShape };
}

function version(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function describe(
  role: ExportModelRole,
  precision: ExportPrecision,
  raw: RawData,
  config: ExperimentConfig,
): string {
  const [h, w, c] = raw.inputShape;
  return (
    `Anneal KD ${role} of "${config.name}" (${precision}). Input "${INPUT_NAME}": float32 [N, ${h}, ${w}, ${c}] NHWC, ` +
    `raw pixel values 0..255 (the training normalisation is inside the graph). Output "${OUTPUT_NAME}": ` +
    `float32 [N, ${raw.classes}] logits (apply softmax for probabilities).`
  );
}

function metadata(m: {
  run: RunRecord;
  config: ExperimentConfig;
  role: ExportModelRole;
  precision: ExportPrecision;
  raw: RawData;
  accuracy: number;
  reference: number;
  calibrationSamples: number;
  modelJson: string;
}): Record<string, string> {
  const { raw, config, role } = m;
  const spec =
    role === 'student'
      ? config.student.model
      : isCheckpointTeacher(config.teacher)
        ? undefined
        : config.teacher.model;
  const labels = classLabels(config.data, m.run.runDir, raw.classes);
  const info = m.run.summary?.[role];
  const entries: Record<string, string | undefined> = {
    input_name: INPUT_NAME,
    input_layout: 'NHWC',
    input_shape: JSON.stringify([BATCH_DIM, ...raw.inputShape]),
    input_dtype: 'float32',
    input_range: '0,255',
    normalization: `inside the graph: (x / 255 - mean) / std per channel, mean ${JSON.stringify(raw.normalization.mean)}, std ${JSON.stringify(raw.normalization.std)}`,
    output_name: OUTPUT_NAME,
    output_shape: JSON.stringify([BATCH_DIM, raw.classes]),
    output: 'logits (no softmax)',
    classes: String(raw.classes),
    labels: labels ? JSON.stringify(labels) : undefined,
    dataset: raw.name,
    run_id: m.run.runId,
    run_name: config.name,
    method: config.method.type,
    model: role,
    architecture: spec ? JSON.stringify(spec) : `checkpoint ${m.modelJson}`,
    params: info?.params ? String(info.params) : undefined,
    precision: m.precision,
    quantization:
      m.precision === 'int8'
        ? `static QDQ: int8 weights symmetric per output channel, uint8 activations asymmetric per tensor (min/max over ${m.calibrationSamples} training images), int32 biases, float32 logits`
        : undefined,
    test_samples: String(raw.test.n),
    test_accuracy: m.accuracy.toFixed(6),
    tfjs_test_accuracy: m.reference.toFixed(6),
    producer: `anneal-kd ${version()} (akd export)`,
  };
  return Object.fromEntries(Object.entries(entries).filter((e): e is [string, string] => e[1] !== undefined));
}

function writeFileAtomic(file: string, bytes: Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
}

/**
 * summary.json `exports` (the newest record of a file replaces an older one), and an `exported`
 * event in events.jsonl, which an open dashboard is following.
 */
function recordExport(runDir: string, record: ExportRecord): void {
  const run = readRun(runDir);
  if (run.summary) {
    const exports = (run.summary.exports ?? []).filter((e) => e.file !== record.file);
    writeJsonAtomic(path.join(runDir, RUN_FILES.summary), { ...run.summary, exports: [...exports, record] });
  }
  const log = new EventLog(path.join(runDir, RUN_FILES.events));
  try {
    log.emit({ type: 'exported', record });
  } finally {
    log.close();
  }
}
