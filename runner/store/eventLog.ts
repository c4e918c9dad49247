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
import {
  PROTOCOL_VERSION,
  TERMINAL_EVENTS,
  parseEventLine,
  type EventPayload,
  type RunEvent,
} from '../protocol/events';
import { storeWriteError } from './storeErrors';
import { faultPoint } from './faultPoints';
import { currentProcessIdentity } from '../protocol/processIdentity';

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

/** A line of events.jsonl that is not an event: a write cut short by a kill or a full disk. */
export interface TornLine {
  /** 1-based line number. */
  line: number;
  /** Its first characters. */
  start: string;
}

export interface EventsRead {
  events: RunEvent[];
  torn: TornLine[];
  /** Why the file could not be read at all (missing is not a problem: no events yet). */
  error?: string;
}

/** Every complete event of a run's events.jsonl, and the lines that are not events. */
export function readEventsReport(file: string): EventsRead {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { events: [], torn: [], ...(err.code === 'ENOENT' ? {} : { error: `${file}: ${err.message}` }) };
  }
  const events: RunEvent[] = [];
  const torn: TornLine[] = [];
  text.split('\n').forEach((line, i) => {
    const e = parseEventLine(line);
    if (e) events.push(e);
    else if (line.trim() !== '') torn.push({ line: i + 1, start: line.slice(0, 60) });
  });
  return { events, torn };
}

/** Read every complete event of a run's events.jsonl (torn lines are skipped). */
export function readEvents(file: string): RunEvent[] {
  return readEventsReport(file).events;
}

/** "events.jsonl line 12 is torn (...)" for people; undefined when there is none. */
export function describeTornLines(file: string, torn: TornLine[]): string | undefined {
  if (torn.length === 0) return undefined;
  const first = torn[0];
  const more = torn.length > 1 ? ` (and ${torn.length - 1} more)` : '';
  return `${file}: line ${first.line} is not a complete event (a write cut short by a kill or a full disk), skipped${more}: ${JSON.stringify(first.start)}`;
}
