/**
 * Appends run events to `events.jsonl`, one JSON line each, written straight to the file
 * descriptor (no buffering in this process), so a killed run leaves every event it emitted.
 */
import * as fs from 'node:fs';
import { PROTOCOL_VERSION, type EventPayload, type RunEvent } from '../protocol/events';

export type EventListener = (event: RunEvent) => void;

export class EventLog {
  private fd: number | undefined;
  private readonly listeners: EventListener[] = [];

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a');
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  emit(payload: EventPayload): RunEvent {
    const event = { v: PROTOCOL_VERSION, time: new Date().toISOString(), ...payload } as RunEvent;
    if (this.fd !== undefined) fs.writeSync(this.fd, JSON.stringify(event) + '\n');
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
