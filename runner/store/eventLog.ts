/**
 * Appends run events to `events.jsonl`, one JSON line each, written straight to the file
 * descriptor (no buffering in this process), so a killed run leaves every event it emitted.
 *
 * A process killed (or a disk that filled up) in the middle of a line leaves a torn line. So an
 * append always starts on a fresh line (the next session's first event never glues onto the
 * fragment), every write loops until the whole line is out (writeSync may write less), and readers
 * skip a torn line and say where it is.
 */
import * as fs from 'node:fs';
import { PROTOCOL_VERSION, TERMINAL_EVENTS, type EventPayload, type RunEvent } from '../protocol/events';
import { currentProcessIdentity } from '../protocol/processIdentity';
import { storeWriteError } from './storeErrors';
import { faultPoint } from './faultPoints';

export type EventListener = (event: RunEvent) => void;

/** Write all of `data` at the end of the file (O_APPEND), however many calls it takes. */
function writeFully(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done);
}

/** Whether a non-empty file's last byte is not a newline (it ends in a torn line). */
function endsMidLine(fd: number): boolean {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  fs.readSync(fd, last, 0, 1, size - 1);
  return last[0] !== 0x0a;
}

export class EventLog {
  private fd: number | undefined;
  private readonly listeners: EventListener[] = [];
  /** The file ends in a torn line (found on open, or left by a write that failed half-way). */
  private midLine: boolean;
  /** Why the run's end could not be written to the file, if it could not. */
  lostEnd: unknown;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a+');
    this.midLine = endsMidLine(this.fd);
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  emit(payload: EventPayload): RunEvent {
    // Every session's start records who writes it (see RunStartedEvent.process).
    const withWriter =
      payload.type === 'run-started' && !payload.process
        ? { ...payload, process: currentProcessIdentity() }
        : payload;
    const event = { v: PROTOCOL_VERSION, time: new Date().toISOString(), ...withWriter } as RunEvent;
    if (this.fd !== undefined) {
      const line = Buffer.from((this.midLine ? '\n' : '') + JSON.stringify(event) + '\n', 'utf8');
      // Until the write is known complete, assume it was cut short (the next append then starts afresh).
      this.midLine = true;
      try {
        const fd = this.fd;
        faultPoint('event-write', () => writeFully(fd, line.subarray(0, line.length >> 1)));
        writeFully(fd, line);
        this.midLine = false;
      } catch (e) {
        const err = storeWriteError(e, this.file, line.length);
        // A run's end that cannot be written (disk full) is still told to the listeners (the terminal,
        // the editor's stdout); readers of the file infer the crash from the writer being gone.
        if (!TERMINAL_EVENTS.includes(event.type)) throw err;
        this.lostEnd = err;
      }
    }
    for (const l of this.listeners) l(event);
    return event;
  }

  close(): void {
    if (this.fd !== undefined) {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
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
