/**
 * Appends run events to `events.jsonl`, one JSON line each, written straight to the file
 * descriptor (no buffering in this process), so a killed run leaves every event it emitted.
 */
import * as fs from 'node:fs';
import { PROTOCOL_VERSION, parseEventLine, type EventPayload, type RunEvent } from '../protocol/events';

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

/** Read every complete event of a run's events.jsonl (a torn last line is skipped). */
export function readEvents(file: string): RunEvent[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const events: RunEvent[] = [];
  for (const line of text.split('\n')) {
    const e = parseEventLine(line);
    if (e) events.push(e);
  }
  return events;
}
