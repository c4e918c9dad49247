/**
 * The one reader of the project's JSONL files (a run's events.jsonl, a sweep's
 * sweep-events.jsonl): read whole, or followed by polling. Polling works on NFS, where fs.watch
 * does not; the extension's views, the dashboard and the Slurm followers all tail with it.
 */
import * as fs from 'node:fs';
import { parseEventLine, type RunEvent } from './events';
import { parseSweepEventLine, type SweepEvent } from './sweepEvents';

/** Follows one JSONL file: each readNew() returns what was appended since the last one. */
export class JsonlTail<E> {
  private partial = '';

  constructor(
    readonly file: string,
    private readonly parse: (line: string) => E | undefined,
    /** Byte offset to start from (sizeOf(file): skip everything so far). */
    private offset = 0,
  ) {}

  /** Byte size of the file now, 0 when it does not exist. */
  static sizeOf(file: string): number {
    try {
      return fs.statSync(file).size;
    } catch {
      return 0;
    }
  }

  /** Start over from the first line. */
  reset(): void {
    this.offset = 0;
    this.partial = '';
  }

  /** Every complete line appended since the last call; a line still being written waits for its newline. */
  readNew(): E[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return [];
    }
    let text: string;
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) this.reset(); // truncated or replaced: read it again
      if (size === this.offset) return [];
      const buffer = Buffer.alloc(size - this.offset);
      const read = fs.readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset += read;
      text = this.partial + buffer.subarray(0, read).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    return parseLines(lines, this.parse);
  }
}

/** A run's events.jsonl, followed. */
export class EventTail extends JsonlTail<RunEvent> {
  constructor(file: string, offset = 0) {
    super(file, parseEventLine, offset);
  }
}

/** A sweep's sweep-events.jsonl, followed. */
export class SweepEventTail extends JsonlTail<SweepEvent> {
  constructor(file: string, offset = 0) {
    super(file, parseSweepEventLine, offset);
  }
}

function parseLines<E>(lines: readonly string[], parse: (line: string) => E | undefined): E[] {
  const out: E[] = [];
  for (const line of lines) {
    const e = parse(line);
    if (e !== undefined) out.push(e);
  }
  return out;
}

/** Every complete event of a run's events.jsonl, read at once (a torn last line is skipped). */
export function readEvents(file: string): RunEvent[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return parseLines(text.split('\n'), parseEventLine);
}
