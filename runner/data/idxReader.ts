/**
 * Reader for the IDX format used by MNIST / Fashion-MNIST / KMNIST.
 * Plain typed arrays only (no TensorFlow import): the dataset loader does the
 * float conversion. Every failure surfaces as a `DataError` naming the file.
 *
 * Layout: magic (2 zero bytes, type byte, ndims byte), then ndims big-endian
 * uint32 dimension sizes, then the data in row-major order.
 */

import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { NotAFileError, openRegularFile } from './fileAccess';

/** A data-loading failure that is the user's data's fault (not a bug): shown as-is. */
export class DataError extends Error {
  override name = 'DataError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

export interface IdxArray {
  /** Dimensions of `data`; dims[0] is already truncated by `limit`. */
  dims: number[];
  data: Uint8Array;
  /** First dimension as declared by the header (before `limit`), to cross-check image/label files. */
  fullCount: number;
}

export interface ReadIdxOptions {
  /** Keep only the first `limit` entries of the first dimension. */
  limit?: number;
}

export const IDX_UBYTE = 0x08;

/** Known IDX element types: anything else in the type byte means "not an IDX file". */
const IDX_TYPES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

const GZIP_MAGIC = [0x1f, 0x8b];

export function readIdx(file: string, opts: ReadIdxOptions = {}): IdxArray {
  checkLimit(file, opts.limit);
  const fd = openFile(file);
  try {
    const size = fileSize(fd, file);
    const head = readAt(fd, file, 0, Math.min(4, size));
    if (isGzip(file, head)) {
      return parseIdx(file, gunzip(file, readAt(fd, file, 0, size)), opts.limit);
    }
    return readPlain(fd, file, size, opts.limit);
  } finally {
    fs.closeSync(fd);
  }
}

/** gzip by sniffing; a `.gz` name that holds plain IDX (browsers auto-decompress) is read as plain. */
function isGzip(file: string, head: Uint8Array): boolean {
  if (head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) return true;
  if (!file.toLowerCase().endsWith('.gz')) return false;
  const looksLikeIdx = head.length === 4 && head[0] === 0 && head[1] === 0 && head[2] in IDX_TYPES;
  if (looksLikeIdx) return false;
  throw new DataError(file, 'corrupt gzip: not a gzip stream (missing 1f 8b magic)');
}

function gunzip(file: string, bytes: Uint8Array): Uint8Array {
  try {
    return zlib.gunzipSync(bytes);
  } catch (err) {
    throw new DataError(file, `corrupt gzip: ${errorMessage(err)}`);
  }
}

/** Plain files: read the header, then only the bytes `limit` needs. */
function readPlain(fd: number, file: string, size: number, limit: number | undefined): IdxArray {
  const magic = readAt(fd, file, 0, Math.min(4, size));
  const ndims = checkMagic(file, magic);
  const headerBytes = 4 + 4 * ndims;
  const dims = parseDims(file, readAt(fd, file, 4, Math.min(4 * ndims, size - 4)), ndims);
  const layout = dataLayout(file, dims, size - headerBytes, limit);
  const data = readAt(fd, file, headerBytes, layout.bytes);
  return { dims: layout.dims, data, fullCount: dims[0] };
}

/** In-memory (decompressed) files. */
function parseIdx(file: string, bytes: Uint8Array, limit: number | undefined): IdxArray {
  const ndims = checkMagic(file, bytes.subarray(0, 4));
  const headerBytes = 4 + 4 * ndims;
  const dims = parseDims(file, bytes.subarray(4, headerBytes), ndims);
  const layout = dataLayout(file, dims, bytes.length - headerBytes, limit);
  // Copy when limited so the (possibly large) decompressed buffer can be freed.
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, layout.bytes);
  const data = layout.bytes < bytes.length - headerBytes ? view.slice() : view;
  return { dims: layout.dims, data, fullCount: dims[0] };
}

/** Returns ndims. */
function checkMagic(file: string, magic: Uint8Array): number {
  if (magic.length < 4) {
    throw new DataError(file, `truncated: file has ${magic.length} bytes, too short for an IDX header`);
  }
  const [z0, z1, type, ndims] = magic;
  if (z0 !== 0 || z1 !== 0 || !(type in IDX_TYPES) || ndims === 0) {
    const hex = Array.from(magic, (b) => b.toString(16).padStart(2, '0')).join('');
    throw new DataError(file, `not an IDX file: magic 0x${hex} (expected 0x00000803/0x00000801)`);
  }
  if (type !== IDX_UBYTE) {
    const hex = type.toString(16).padStart(2, '0');
    throw new DataError(
      file,
      `unsupported IDX data type 0x${hex} (${IDX_TYPES[type]}); only 0x08 (unsigned byte) is supported`,
    );
  }
  return ndims;
}

function parseDims(file: string, bytes: Uint8Array, ndims: number): number[] {
  if (bytes.length < 4 * ndims) {
    throw new DataError(
      file,
      `truncated: header declares ${ndims} dimensions (${4 + 4 * ndims} header bytes), file has ${4 + bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 * i, false));
  return dims;
}

/** Validates the data size against the header and applies `limit`. */
function dataLayout(
  file: string,
  dims: number[],
  available: number,
  limit: number | undefined,
): { dims: number[]; bytes: number } {
  const total = dims.reduce((a, b) => a * b, 1);
  if (available < total) {
    throw new DataError(
      file,
      `truncated: header says ${dims.join('x')} = ${total} bytes of data, file has ${Math.max(0, available)}`,
    );
  }
  const perItem = dims.slice(1).reduce((a, b) => a * b, 1);
  const count = limit === undefined ? dims[0] : Math.min(limit, dims[0]);
  return { dims: [count, ...dims.slice(1)], bytes: count * perItem };
}

function checkLimit(file: string, limit: number | undefined): void {
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new DataError(file, `invalid limit ${limit}: must be a non-negative integer`);
  }
}

// ---- fs helpers: translate Node errors into DataErrors ----

function openFile(file: string): number {
  try {
    // Regular files only, opened without blocking: a FIFO would hang the open, a device never end.
    return openRegularFile(file).fd;
  } catch (err) {
    if (err instanceof NotAFileError) throw new DataError(file, err.reason);
    throw fsError(file, err);
  }
}

function fileSize(fd: number, file: string): number {
  try {
    return fs.fstatSync(fd).size;
  } catch (err) {
    throw fsError(file, err);
  }
}

/** Reads exactly `length` bytes at `position` (loops: large reads can come back short). */
export function readAt(fd: number, file: string, position: number, length: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, length));
  let done = 0;
  try {
    while (done < out.length) {
      const n = fs.readSync(fd, out, done, out.length - done, position + done);
      if (n === 0) break;
      done += n;
    }
  } catch (err) {
    throw fsError(file, err);
  }
  if (done < out.length)
    throw new DataError(file, `truncated: expected ${out.length} bytes at offset ${position}, got ${done}`);
  return out;
}

/** Opens a file for reading with DataError translation (shared with the CIFAR reader). */
export function openForRead(file: string): { fd: number; size: number } {
  const fd = openFile(file);
  return { fd, size: fileSize(fd, file) };
}

export function fsError(file: string, err: unknown): DataError {
  if (err instanceof DataError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new DataError(file, 'file not found');
    case 'EISDIR':
      return new DataError(file, 'is a directory, expected a file');
    case 'EACCES':
    case 'EPERM':
      return new DataError(file, 'permission denied');
    default:
      return new DataError(file, `cannot read: ${errorMessage(err)}`);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `train-images-idx3-ubyte.gz` -> `train-images-idx3-ubyte` (for display names). */
export function idxBaseName(file: string): string {
  return path.basename(file).replace(/\.gz$/i, '');
}
