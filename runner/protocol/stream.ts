/**
 * What `akd ... --json` writes to stdout: run events (events.ts) and, from `akd sweep`, sweep
 * events (sweepEvents.ts), one JSON object per line. A reader of that stream gets one union and
 * tells them apart by `type`.
 */
import { parseEventLine, type RunEvent } from './events';
import type { SweepEvent } from './sweepEvents';

export type StreamEvent = RunEvent | SweepEvent;

/** One line of the stream; undefined for blank, torn or non-protocol lines. */
export function parseStreamLine(line: string): StreamEvent | undefined {
  // parseEventLine accepts any protocol object (`v` and a string `type`): `type` tells which.
  return parseEventLine(line) as StreamEvent | undefined;
}
