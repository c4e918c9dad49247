/**
 * Reader for the official CIFAR-10 / CIFAR-100 "binary version" archives
 * (cifar-10-batches-bin, cifar-100-binary). Plain typed arrays only.
 *
 * Record layout: label byte(s) then 3072 pixel bytes stored planar
 * (1024 R, 1024 G, 1024 B, each row-major 32x32). We convert to NHWC
 * (RGB interleaved per pixel), the layout TensorFlow.js convolutions expect.
 */

import * as fs from 'fs';
import * as path from 'path';
import { DataError, fsError, openForRead, readAt } from './idxReader';

export type CifarKind = 'cifar10' | 'cifar100';
export type CifarSplitName = 'train' | 'test';

export const CIFAR_SIDE = 32;
export const CIFAR_CHANNELS = 3;
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_IMAGE_BYTES = CIFAR_PIXELS * CIFAR_CHANNELS;

interface CifarFormat {
  title: string;
  /** Bytes before the pixels in each record. */
  labelBytes: number;
  /** Offset of the label we use within those bytes (CIFAR-100: the fine label). */
  labelOffset: number;
  classes: number;
  train: string[];
  test: string[];
  /** Folder name inside the official tarball, accepted one level down. */
  archiveFolder: string;
}

const FORMATS: Record<CifarKind, CifarFormat> = {
  cifar10: {
    title: 'CIFAR-10',
    labelBytes: 1,
    labelOffset: 0,
    classes: 10,
    train: [
      'data_batch_1.bin',
      'data_batch_2.bin',
      'data_batch_3.bin',
      'data_batch_4.bin',
      'data_batch_5.bin',
    ],
    test: ['test_batch.bin'],
    archiveFolder: 'cifar-10-batches-bin',
  },
  cifar100: {
    title: 'CIFAR-100',
    labelBytes: 2,
    labelOffset: 1,
    classes: 100,
    train: ['train.bin'],
    test: ['test.bin'],
    archiveFolder: 'cifar-100-binary',
  },
};

export interface CifarSplit {
  n: number;
  /** uint8 pixels, NHWC [n, 32, 32, 3]. */
  images: Uint8Array;
  labels: Int32Array;
  /** Absolute paths of the files the records came from (all files of the split). */
  files: string[];
}

export interface ReadCifarOptions {
  /** Keep only the first `limit` records of the split (files in order). */
  limit?: number;
}

export function cifarClasses(kind: CifarKind): number {
  return FORMATS[kind].classes;
}

export function cifarRecordBytes(kind: CifarKind): number {
  return FORMATS[kind].labelBytes + CIFAR_IMAGE_BYTES;
}

/** File names the split needs, in reading order. */
export function cifarFileNames(kind: CifarKind, split: CifarSplitName): string[] {
  return [...FORMATS[kind][split]];
}

export function readCifar(
  dir: string,
  kind: CifarKind,
  split: CifarSplitName,
  opts: ReadCifarOptions = {},
): CifarSplit {
  const fmt = FORMATS[kind];
  if (!fs.existsSync(dir)) throw new DataError(dir, `folder not found; ${requiredFilesHint(kind)}`);
  const folder = resolveFolder(dir, fmt);
  const files = fmt[split].map((name) => path.join(folder, name));
  const counts = files.map((file) => recordCount(file, kind));
  const total = counts.reduce((a, b) => a + b, 0);
  const n = opts.limit === undefined ? total : Math.min(total, checkLimit(folder, opts.limit));

  const images = new Uint8Array(n * CIFAR_IMAGE_BYTES);
  const labels = new Int32Array(n);
  let done = 0;
  for (let i = 0; i < files.length && done < n; i++) {
    const take = Math.min(counts[i], n - done);
    readRecords(files[i], fmt, take, images, labels, done);
    done += take;
  }
  return { n, images, labels, files };
}

/** Accepts the folder itself or its parent holding the unpacked official archive folder. */
function resolveFolder(dir: string, fmt: CifarFormat): string {
  const probe = (d: string): boolean => fs.existsSync(path.join(d, fmt.test[0]));
  if (probe(dir)) return dir;
  const nested = path.join(dir, fmt.archiveFolder);
  if (probe(nested)) return nested;
  return dir;
}

function checkLimit(folder: string, limit: number): number {
  if (!(Number.isInteger(limit) && limit >= 0)) {
    throw new DataError(folder, `invalid limit ${limit}: must be a non-negative integer`);
  }
  return limit;
}

/** Validates existence and size without reading the records. */
function recordCount(file: string, kind: CifarKind): number {
  const fmt = FORMATS[kind];
  let size: number;
  try {
    const stat = fs.statSync(file);
    if (stat.isDirectory()) throw new DataError(file, 'is a directory, expected a file');
    size = stat.size;
  } catch (err) {
    const e = fsError(file, err);
    if (e.reason === 'file not found')
      throw new DataError(file, `file not found; ${requiredFilesHint(kind)}`);
    throw e;
  }
  const rec = cifarRecordBytes(kind);
  if (size % rec !== 0) {
    throw new DataError(
      file,
      `truncated: ${size} bytes is not a multiple of the ${rec}-byte ${fmt.title} record size ` +
        `(${Math.floor(size / rec)} whole records + ${size % rec} bytes)`,
    );
  }
  return size / rec;
}

function requiredFilesHint(kind: CifarKind): string {
  const fmt = FORMATS[kind];
  return `a ${fmt.title} folder (official binary version, ${fmt.archiveFolder}) must contain ${[...fmt.train, ...fmt.test].join(', ')}`;
}

/** Reads the first `count` records of `file` into `images`/`labels` starting at sample `at`. */
function readRecords(
  file: string,
  fmt: CifarFormat,
  count: number,
  images: Uint8Array,
  labels: Int32Array,
  at: number,
): void {
  const rec = fmt.labelBytes + CIFAR_IMAGE_BYTES;
  const { fd } = openForRead(file);
  let bytes: Uint8Array;
  try {
    bytes = readAt(fd, file, 0, count * rec);
  } finally {
    fs.closeSync(fd);
  }
  for (let r = 0; r < count; r++) {
    const base = r * rec;
    const label = bytes[base + fmt.labelOffset];
    if (label >= fmt.classes) {
      throw new DataError(
        file,
        `record ${r}: label ${label} out of range 0..${fmt.classes - 1} for ${fmt.title}`,
      );
    }
    labels[at + r] = label;
    planarToInterleaved(bytes, base + fmt.labelBytes, images, (at + r) * CIFAR_IMAGE_BYTES);
  }
}

/** CHW planes -> HWC: out[p*3 + c] = src[c*1024 + p]. */
function planarToInterleaved(src: Uint8Array, from: number, dst: Uint8Array, to: number): void {
  const g = from + CIFAR_PIXELS;
  const b = g + CIFAR_PIXELS;
  for (let p = 0; p < CIFAR_PIXELS; p++) {
    const o = to + p * 3;
    dst[o] = src[from + p];
    dst[o + 1] = src[g + p];
    dst[o + 2] = src[b + p];
  }
}
