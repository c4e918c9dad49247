/**
 * Sweep-level events: one JSON object per line of a sweep folder's `sweep-events.jsonl`, and the
 * stream `akd sweep --json` writes to stdout. Each member's own run keeps the per-run protocol
 * (events.ts) in its own folder. No TensorFlow import here.
 */
import type { MethodType } from './configTypes';
import type { RunStatus } from './events';
import { PROTOCOL_VERSION, parseEventLine } from './events';

interface SweepEventBase {
  v: typeof PROTOCOL_VERSION;
  time: string;
}

export interface SweepStartedEvent extends SweepEventBase {
  type: 'sweep-started';
  sweepDir: string;
  name: string;
  members: number;
  /** Members this session will run (the rest are already completed, or failed without --retry-failed). */
  toRun: number;
  concurrency: number;
  resumed: boolean;
  pid: number;
}

export interface TeacherReadyEvent extends SweepEventBase {
  type: 'teacher-ready';
  key: string;
  /** The cached teacher's folder (model.json, weights, provenance.json). */
  cacheDir: string;
  /** 'cache': it was there before this sweep session; 'trained': a member of this sweep just trained it. */
  source: 'cache' | 'trained';
  /** The run that trained it. */
  fromRun?: string;
}

export interface MemberStartedEvent extends SweepEventBase {
  type: 'member-started';
  id: string;
  index: number;
  method: MethodType;
  seed: number;
  runDir: string;
  pid: number;
  resumed: boolean;
  /** This member trains the shared teacher (the others wait for it). */
  trainsTeacher: boolean;
}

export type MemberStatus = Exclude<RunStatus, 'running'> | 'skipped';

export interface MemberEndedEvent extends SweepEventBase {
  type: 'member-ended';
  id: string;
  index: number;
  status: MemberStatus;
  exitCode: number | null;
  studentTestAccuracy: number | null;
  seconds: number;
  error?: string;
}

export interface SweepEndedEvent extends SweepEventBase {
  type: 'sweep-ended';
  status: 'completed' | 'failed' | 'cancelled';
  counts: Record<MemberStatus | 'pending', number>;
  seconds: number;
}

export interface SweepLogEvent extends SweepEventBase {
  type: 'sweep-log';
  level: 'info' | 'warning' | 'error';
  message: string;
}

export type SweepEvent =
  | SweepStartedEvent
  | TeacherReadyEvent
  | MemberStartedEvent
  | MemberEndedEvent
  | SweepEndedEvent
  | SweepLogEvent;
export type SweepEventPayload<E = SweepEvent> = E extends SweepEvent ? Omit<E, 'v' | 'time'> : never;

export const SWEEP_EVENT_TYPES: readonly SweepEvent['type'][] = [
  'sweep-started',
  'teacher-ready',
  'member-started',
  'member-ended',
  'sweep-ended',
  'sweep-log',
];

export function isSweepEvent(e: { type: string }): e is SweepEvent {
  return (SWEEP_EVENT_TYPES as readonly string[]).includes(e.type);
}

/** One line of sweep-events.jsonl; undefined for blank, torn or non-sweep lines. */
export function parseSweepEventLine(line: string): SweepEvent | undefined {
  const e: { type: string } | undefined = parseEventLine(line);
  return e && isSweepEvent(e) ? e : undefined;
}
