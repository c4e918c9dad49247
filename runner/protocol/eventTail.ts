/** Reads the events appended to a run's events.jsonl since the last read (polling: works on NFS, where fs.watch does not). */
import * as fs from 'node:fs';
import { parseEventLine, type EventPayload, type RunEvent } from './events';
import { EventLog } from '../store/eventLog';

export class EventTail {
  private pending = '';

  constructor(
    readonly file: string,
    private offset = 0,
  ) {}

  /** Byte size of the file now (where a tail that should skip everything so far starts). */
  static sizeOf(file: string): number {
    try {
      return fs.statSync(file).size;
    } catch {
      return 0;
    }
  }

  /** Every complete event appended since the last call; a torn last line waits for its end. */
  read(): RunEvent[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return [];
    }
    const out: RunEvent[] = [];
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= this.offset) return out;
      const buf = Buffer.alloc(size - this.offset);
      const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      this.pending += buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const e = parseEventLine(this.pending.slice(0, nl));
      this.pending = this.pending.slice(nl + 1);
      if (e) out.push(e);
    }
    return out;
  }
}

/** Append one event to a run's events.jsonl (open, write one line, close). */
export function appendEvent(file: string, payload: EventPayload): RunEvent {
  const log = new EventLog(file);
  try {
    return log.emit(payload);
  } finally {
    log.close();
  }
}
