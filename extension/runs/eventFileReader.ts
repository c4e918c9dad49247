/**
 * Reads a run's events.jsonl incrementally: each call returns the events appended since the
 * last one. A line still being written (no newline yet) waits for the next call.
 */
import * as fs from 'node:fs';
import { parseEventLine, type RunEvent } from '../../runner/protocol';

export class EventFileReader {
  private offset = 0;
  private partial = '';

  constructor(readonly file: string) {}

  /** Start over (after the file was replaced, or to re-read a run from scratch). */
  reset(): void {
    this.offset = 0;
    this.partial = '';
  }

  readNew(): RunEvent[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return [];
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) this.reset(); // truncated or replaced
      if (size === this.offset) return [];
      const buffer = Buffer.alloc(size - this.offset);
      const read = fs.readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset += read;
      const text = this.partial + buffer.subarray(0, read).toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      return lines.map(parseEventLine).filter((e): e is RunEvent => e !== undefined);
    } finally {
      fs.closeSync(fd);
    }
  }
}
