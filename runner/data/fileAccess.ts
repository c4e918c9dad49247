/**
 * Reading input files defensively, shared by the validator and the data readers: only regular
 * files are read (a FIFO would block the open, /dev/zero never ends), the file is opened
 * non-blocking and checked again after the open (it may have been swapped), and text inputs have
 * a size limit. JSON nesting is measured before any recursive code (the JSON-with-comments
 * parser, ajv, structuredClone) sees the value: a 2,000-deep document overflows their stacks.
 */
import * as fs from 'node:fs';

export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Deeper than any config needs (a sweep grid of nested model settings is under 10 levels). */
export const MAX_JSON_DEPTH = 64;

export type FileKind = 'file' | 'directory' | 'other' | 'missing';

/** What is at `p`, without opening it (stat does not block on a FIFO). */
export function fileKind(p: string): FileKind {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return 'missing';
  }
  return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
}

/** Why a path cannot be read as a file ("is a folder, expected a file"...), or undefined if it can. */
export function notAFileReason(kind: FileKind): string | undefined {
  switch (kind) {
    case 'file':
      return undefined;
    case 'missing':
      return 'not found';
    case 'directory':
      return 'is a directory, expected a file';
    case 'other':
      return 'is not a regular file (a FIFO, device or socket): akd reads only regular files';
  }
}

/** An error whose message names the file and says why it is not one akd reads. */
export class NotAFileError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    readonly code: string | undefined,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'NotAFileError';
  }
}

/**
 * Open a regular file for reading without blocking (O_NONBLOCK: a FIFO swapped in after the stat
 * cannot hang the open), and check what was opened. Throws NotAFileError, or the fs error.
 */
export function openRegularFile(file: string): { fd: number; size: number } {
  const reason = notAFileReason(fileKind(file));
  if (reason && fileKind(file) !== 'missing') throw new NotAFileError(file, reason, undefined);
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new NotAFileError(file, notAFileReason(st.isDirectory() ? 'directory' : 'other')!, undefined);
  }
  return { fd, size: st.size };
}

/** Read a regular text file of at most `maxBytes`; throws NotAFileError naming the file when it is not one or too large. */
export function readRegularText(file: string, maxBytes: number): string {
  const { fd, size } = openRegularFile(file);
  try {
    if (size > maxBytes)
      throw new NotAFileError(
        file,
        `is ${size.toLocaleString('en-US')} bytes, larger than the ${maxBytes.toLocaleString('en-US')} bytes akd reads from such a file`,
        'file-too-large',
      );
    const buf = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const n = fs.readSync(fd, buf, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The deepest nesting of objects and arrays in JSON text (comments and strings skipped), counting
 * only up to `stopAt` (then it returns at once).
 */
export function jsonNestingDepth(text: string, stopAt = Infinity): { depth: number; offset: number } {
  let depth = 0;
  let max = 0;
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2f) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > max) {
        max = depth;
        at = i;
        if (max > stopAt) return { depth: max, offset: at };
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return { depth: max, offset: at };
}
