/**
 * A run's sessions, read from its events: each `akd run`/`akd resume` is one session, started
 * either by `job-submitted` (Slurm) or by a `run-started` with no job before it (local). Stop,
 * resume and follow act on the latest one. No I/O here.
 */
import type { LauncherType } from './configTypes';
import {
  TERMINAL_EVENTS,
  type JobStateEvent,
  type JobSubmittedEvent,
  type RunEvent,
  type RunStartedEvent,
} from './events';

export type TerminalEvent = Extract<RunEvent, { type: 'run-completed' | 'run-failed' | 'run-cancelled' }>;

export interface RunSession {
  launcher: LauncherType;
  /** Index in the events of the event that opened the session. */
  index: number;
  submitted?: JobSubmittedEvent;
  started?: RunStartedEvent;
  ended?: TerminalEvent;
  /** The latest job-state of this session's job, and the final one once Slurm said it ended. */
  state?: JobStateEvent;
  final?: JobStateEvent;
}

export const isTerminalEvent = (e: RunEvent): e is TerminalEvent => TERMINAL_EVENTS.includes(e.type);

export function runSessions(events: RunEvent[]): RunSession[] {
  const sessions: RunSession[] = [];
  let cur: RunSession | undefined;
  events.forEach((e, index) => {
    if (e.type === 'job-submitted') {
      cur = { launcher: 'slurm', index, submitted: e };
      sessions.push(cur);
    } else if (e.type === 'run-started') {
      if (cur && cur.launcher === 'slurm' && !cur.started && !cur.ended) cur.started = e;
      else {
        cur = { launcher: 'local', index, started: e };
        sessions.push(cur);
      }
    } else if (isTerminalEvent(e)) {
      if (cur && !cur.ended) cur.ended = e;
    } else if (e.type === 'job-state' && cur?.submitted && e.jobId === cur.submitted.jobId) {
      cur.state = e;
      if (e.final) cur.final = e;
    }
  });
  return sessions;
}

export function latestSession(events: RunEvent[]): RunSession | undefined {
  const s = runSessions(events);
  return s[s.length - 1];
}
