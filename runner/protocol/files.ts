/**
 * What a run folder and a sweep folder hold, and where they live beside a config: the one
 * definition (the runner writes these files, the extension and `akd` read them).
 */
import * as path from 'node:path';

export const RUN_FILES = {
  config: 'config.json',
  events: 'events.jsonl',
  summary: 'summary.json',
  teacher: 'teacher',
  student: 'student',
  assistant: 'assistant',
  latest: path.join('checkpoints', 'latest'),
  phase1Best: path.join('checkpoints', 'phase1-best'),
  /** Reference protocol: the teacher's and the last student phase's best epochs on the test set. */
  teacherBest: path.join('checkpoints', 'teacher-best'),
  studentBest: path.join('checkpoints', 'student-best'),
  state: 'state.json',
} as const;

export const SWEEP_FILES = { manifest: 'sweep.json', events: 'sweep-events.jsonl' } as const;

/** `.akd/<kind>` beside a config: its runs, its sweeps, and the sweeps' shared-teacher cache. */
export function akdDirBeside(configPath: string, kind: 'runs' | 'sweeps' | 'teachers'): string {
  return path.join(path.dirname(path.resolve(configPath)), '.akd', kind);
}
