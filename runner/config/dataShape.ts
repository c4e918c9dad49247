/**
 * What the data config implies without loading the data: image shape, number of classes,
 * split sizes, the files a CIFAR folder must hold. No TF.js import; only IDX headers are read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { DataConfig } from '../protocol/configTypes';
import { openRegularFile } from '../data/fileAccess';

export interface DataShape {
  shape: [number, number, number];
  classes: number;
}

/** Reads the first `length` bytes of a file (fewer if it is shorter); undefined if unreadable. */
export type ReadBytes = (absPath: string, length: number) => Uint8Array | undefined;

export const readFileStart: ReadBytes = (absPath, length) => {
  let fd: number | undefined;
  try {
    fd = openRegularFile(absPath).fd; // never a FIFO or a device: it would block or never end
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, 0);
    return buf.subarray(0, n);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
};

/** The files of the CIFAR binary versions, and the folder name their archives extract to. */
export const CIFAR_FILES = {
  cifar10: {
    folder: 'cifar-10-batches-bin',
    train: [
      'data_batch_1.bin',
      'data_batch_2.bin',
      'data_batch_3.bin',
      'data_batch_4.bin',
      'data_batch_5.bin',
    ],
    test: ['test_batch.bin'],
  },
  cifar100: { folder: 'cifar-100-binary', train: ['train.bin'], test: ['test.bin'] },
} as const;

const MNIST_SHAPE: DataShape = { shape: [28, 28, 1], classes: 10 };
/** Split sizes of the datasets whose size is fixed. */
const FIXED_SIZES = {
  mnist: { train: 60000, test: 10000 },
  cifar10: { train: 50000, test: 10000 },
  cifar100: { train: 50000, test: 10000 },
} as const;

export interface IdxHeader {
  /** IDX type byte: 0x08 is unsigned byte, the only type MNIST-style files use. */
  dataType: number;
  /** e.g. [60000, 28, 28] for images, [60000] for labels. */
  dims: number[];
}

/** The header of an IDX file (gzip-compressed when the name ends in .gz), or undefined if unreadable or not IDX. */
export function readIdxHeader(absPath: string, readBytes: ReadBytes = readFileStart): IdxHeader | undefined {
  const gz = isGzip(absPath);
  const bytes = readBytes(absPath, idxHeaderBytes(gz));
  return bytes ? parseIdxHeader(bytes, gz) : undefined;
}

export const isGzip = (p: string): boolean => p.toLowerCase().endsWith('.gz');

/** How many bytes to read to be sure to get a header (more when compressed). */
export const idxHeaderBytes = (gz: boolean): number => (gz ? 4096 : 4 + 4 * 4);

/** Parse the start of an IDX file; undefined if it is not one. */
export function parseIdxHeader(start: Uint8Array, gz: boolean): IdxHeader | undefined {
  let bytes = start;
  if (gz) {
    try {
      // A truncated stream is fine: only the first bytes are needed.
      bytes = zlib.gunzipSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch {
      return undefined;
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) return undefined;
  const rank = bytes[3];
  if (rank < 1 || rank > 4 || bytes.length < 4 + 4 * rank) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  return { dataType: bytes[2], dims };
}

/** A data path as an absolute path, relative to the config's folder (or the working directory). */
export function resolveDataPath(p: string, configPath?: string): string {
  return path.resolve(configPath ? path.dirname(configPath) : process.cwd(), p);
}

/**
 * Input shape [height, width, channels] and number of classes. MNIST and IDX: 28x28x1 and 10
 * classes, unless the IDX training-images header (when readable) gives other dimensions.
 * CIFAR-10: 32x32x3 and 10; CIFAR-100: 32x32x3 and 100 (fine labels).
 */
export function inputShapeFor(
  data: DataConfig,
  configPath?: string,
  readBytes: ReadBytes = readFileStart,
): DataShape {
  if ('format' in data) {
    switch (data.format) {
      case 'cifar10':
        return { shape: [32, 32, 3], classes: 10 };
      case 'cifar100':
        return { shape: [32, 32, 3], classes: 100 };
      case 'idx': {
        const header = readIdxHeader(resolveDataPath(data.trainImages, configPath), readBytes);
        const [, rows, cols, channels] = header?.dims ?? [];
        if (rows && cols) return { shape: [rows, cols, channels ?? 1], classes: 10 };
        return { ...MNIST_SHAPE, shape: [...MNIST_SHAPE.shape] };
      }
    }
  }
  return { ...MNIST_SHAPE, shape: [...MNIST_SHAPE.shape] };
}

/** Number of examples in the full train and test splits, where known without loading the data. */
export function splitSizes(
  data: DataConfig,
  configPath?: string,
  readBytes: ReadBytes = readFileStart,
): { train?: number; test?: number } {
  if (!('format' in data)) return { ...FIXED_SIZES.mnist };
  if (data.format !== 'idx') return { ...FIXED_SIZES[data.format] };
  const count = (p: string): number | undefined =>
    readIdxHeader(resolveDataPath(p, configPath), readBytes)?.dims[0];
  return { train: count(data.trainImages), test: count(data.testImages) };
}
