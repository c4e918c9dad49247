/**
 * When the run store cannot write: a full disk, a quota, no permission, a read-only filesystem.
 * These end a run as failed with one line that says what could not be written, where, and how
 * much space it needed against how much is free, instead of a stack trace.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const STORE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS']);

/** A write to the run store failed for a reason outside the program; the message is for people, as is. */
export class StoreWriteError extends Error {
  override name = 'StoreWriteError';
  constructor(
    message: string,
    readonly code: string,
    readonly file: string,
  ) {
    super(message);
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** Free bytes (for an unprivileged writer) on the filesystem holding `p` or its nearest existing parent. */
export function freeBytes(p: string): number | undefined {
  for (let d = p; ; d = path.dirname(d)) {
    try {
      const s = fs.statfsSync(d);
      return s.bavail * s.bsize;
    } catch {
      if (path.dirname(d) === d) return undefined;
    }
  }
}

export function isStoreFault(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && STORE_CODES.has((e as NodeJS.ErrnoException).code ?? '');
}

/**
 * The error a failed write of `target` (`bytes` long, when known) becomes: a StoreWriteError for
 * a full disk or missing permission, the error itself otherwise.
 */
export function storeWriteError(e: unknown, target: string, bytes?: number): unknown {
  if (e instanceof StoreWriteError || !isStoreFault(e)) return e;
  const code = e.code!;
  const where = e.path && e.path !== target ? `${target} (at ${e.path})` : target;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT': {
      const free = freeBytes(target);
      const need = bytes !== undefined ? `${formatBytes(bytes)} needed, ` : '';
      const what = code === 'EDQUOT' ? 'disk quota exceeded' : 'disk full';
      return new StoreWriteError(
        `${what}: could not write ${where} (${need}${free !== undefined ? `${formatBytes(free)} free` : 'free space unknown'}); free some space, then akd resume continues from the last checkpoint`,
        code,
        target,
      );
    }
    case 'EROFS':
      return new StoreWriteError(`read-only filesystem: could not write ${where}`, code, target);
    default:
      return new StoreWriteError(
        `permission denied: could not write ${where}; the run folder must be writable by this user`,
        code,
        target,
      );
  }
}
