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
  /** Complete lines that were not events (a write cut short by a kill or a full disk), skipped so far. */
  torn = 0;

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
    const out = parseLines(lines, this.parse);
    this.torn += out.torn.length;
    return out.events;
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

/** A line of a JSONL file that is not an event: a write cut short by a kill or a full disk. */
export interface TornLine {
  /** 1-based line number (of the lines parsed together). */
  line: number;
  /** Its first characters. */
  start: string;
}

function parseLines<E>(
  lines: readonly string[],
  parse: (line: string) => E | undefined,
): { events: E[]; torn: TornLine[] } {
  const events: E[] = [];
  const torn: TornLine[] = [];
  lines.forEach((line, i) => {
    const e = parse(line);
    if (e !== undefined) events.push(e);
    else if (line.trim() !== '') torn.push({ line: i + 1, start: line.slice(0, 60) });
  });
  return { events, torn };
}

export interface EventsRead {
  events: RunEvent[];
  torn: TornLine[];
  /** Why the file could not be read at all (a missing file is no problem: no events yet). */
  error?: string;
}

/** Every complete event of a run's events.jsonl, and the lines that are not events (skipped). */
export function readEventsReport(file: string): EventsRead {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { events: [], torn: [], ...(err.code === 'ENOENT' ? {} : { error: `${file}: ${err.message}` }) };
  }
  return parseLines(text.split('\n'), parseEventLine);
}

/** Every complete event of a run's events.jsonl, read at once (torn lines are skipped). */
export function readEvents(file: string): RunEvent[] {
  return readEventsReport(file).events;
}

/** "FILE: line 12 is not a complete event ..." for people; undefined when there is none. */
export function describeTornLines(file: string, torn: TornLine[]): string | undefined {
  if (torn.length === 0) return undefined;
  const first = torn[0];
  const more = torn.length > 1 ? ` (and ${torn.length - 1} more)` : '';
  return `${file}: line ${first.line} is not a complete event (a write cut short by a kill or a full disk), skipped${more}: ${JSON.stringify(first.start)}`;
}
