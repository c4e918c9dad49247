/**
 * Rules about what a run would fail on when it reads its input, checked by validate before any
 * run folder exists: data paths that are folders, FIFOs or devices; IDX files whose header
 * promises more data than the file holds; a split that leaves no training data; a teacher
 * checkpoint that is JSON but no model, or whose weights file is shorter than its manifest; a
 * model too large for the wasm backend.
 */
import type { ProblemSpec } from './problems';
import type { FileKind } from '../data/fileAccess';
import { notAFileReason } from '../data/fileAccess';
import type { IdxHeader } from './dataShape';

export interface Report {
  report(spec: ProblemSpec): void;
}

export interface InputContext {
  fileKind?: (absPath: string) => FileKind;
  fileSize?: (absPath: string) => number | undefined;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** Reports a path that exists but is not a regular file; returns whether it is one. */
export function checkRegularFile(
  ctx: InputContext,
  at: (string | number)[],
  abs: string,
  what: string,
  out: Report,
): boolean {
  const kind = ctx.fileKind?.(abs) ?? 'file';
  if (kind === 'file' || kind === 'missing') return true;
  out.report({
    code: 'file-not-regular',
    path: at,
    message: `${what} ${abs} ${notAFileReason(kind)}`,
    data: { path: abs, kind },
  });
  return false;
}

/** An uncompressed IDX file holds at least what its header promises (a header claiming 2^31 images does not). */
export function checkIdxSize(
  ctx: InputContext,
  at: (string | number)[],
  abs: string,
  gz: boolean,
  header: IdxHeader,
  out: Report,
): void {
  const size = gz ? undefined : ctx.fileSize?.(abs);
  if (size === undefined) return;
  const want = 4 + 4 * header.dims.length + header.dims.reduce((a, b) => a * b, 1);
  if (size < want) {
    out.report({
      code: 'idx-invalid',
      path: at,
      message: `${abs} is truncated: its header says ${header.dims.map(fmt).join(' x ')} (${fmt(want)} bytes with the header), the file has ${fmt(size)}`,
      data: { path: abs, bytes: size, expected: want },
    });
  }
}

/** Samples left for training after the validation split (the runner's own rounding). */
export function checkTrainingLeft(train: number | undefined, fraction: number, out: Report): boolean {
  if (train === undefined) return true;
  const left = train - Math.round(train * fraction);
  if (left >= 1) return true;
  out.report({
    code: 'no-training-data',
    path: ['data', 'validationFraction'],
    message: `validationFraction ${fraction} of ${fmt(train)} training examples leaves no training data (the validation split takes them all)`,
  });
  return false;
}

const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  float16: 2,
  string: 0,
};

interface ManifestWeight {
  name?: unknown;
  shape?: unknown;
  dtype?: unknown;
  quantization?: unknown;
}

/**
 * A TF.js layers model.json must hold a Keras topology (class_name + config), and its weight files
 * together the bytes its manifest lists (plain float32/int32 weights; quantized ones are not sized).
 * Returns what is wrong, or undefined.
 */
export function checkpointContentProblem(
  ctx: InputContext,
  modelTopology: unknown,
  groups: { paths: unknown[]; weights: unknown[] }[],
  fileOf: (p: string) => string,
): string | undefined {
  const topo = modelTopology as { class_name?: unknown; config?: unknown; model_config?: unknown } | null;
  const keras =
    topo && typeof topo === 'object' ? ((topo.model_config as typeof topo | undefined) ?? topo) : undefined;
  if (
    !keras ||
    typeof keras.class_name !== 'string' ||
    typeof keras.config !== 'object' ||
    keras.config === null
  )
    return 'not a TF.js layers model: its "modelTopology" has no Keras model ("class_name" and "config")';
  for (const g of groups) {
    let expected = 0;
    for (const w of g.weights as ManifestWeight[]) {
      if (w.quantization !== undefined) return undefined;
      const per = DTYPE_BYTES[typeof w.dtype === 'string' ? w.dtype : 'float32'];
      if (!per || !Array.isArray(w.shape)) return undefined;
      expected += per * (w.shape as number[]).reduce((a, b) => a * b, 1);
    }
    let actual = 0;
    for (const p of g.paths) {
      const size = typeof p === 'string' ? ctx.fileSize?.(fileOf(p)) : undefined;
      if (size === undefined) return undefined;
      actual += size;
    }
    if (actual !== expected) {
      const files = (g.paths as string[]).map(fileOf).join(', ');
      return `${files}: ${fmt(actual)} bytes of weights, the manifest in model.json needs ${fmt(expected)}: ${actual < expected ? 'truncated' : 'not these weights'}`;
    }
  }
  return undefined;
}

/**
 * Training a model of this size on the wasm backend fails today ("memory access out of bounds":
 * measured with an MLP student, 12.7M parameters train, 13.5M do not).
 */
export const WASM_PARAMS_LIMIT = 12_000_000;

export function checkWasmModelSize(
  backend: string | undefined,
  nativeAvailable: boolean,
  models: { at: (string | number)[]; role: string; params: number | undefined }[],
  out: Report,
): void {
  const wasm = backend === 'wasm' || ((backend ?? 'auto') === 'auto' && !nativeAvailable);
  if (!wasm) return;
  for (const m of models) {
    if (m.params === undefined || m.params <= WASM_PARAMS_LIMIT) continue;
    out.report({
      severity: 'warning',
      code: 'model-large-for-wasm',
      path: m.at,
      message: `the ${m.role} has ${fmt(m.params)} parameters: training models past about ${fmt(WASM_PARAMS_LIMIT)} on the wasm backend fails ("memory access out of bounds"); use "backend": "cpu" (slow) or install @tensorflow/tfjs-node`,
      data: { params: m.params, limit: WASM_PARAMS_LIMIT },
    });
  }
}
