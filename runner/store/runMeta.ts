/** Writing a run's meta.json (its star and note; the format: protocol/runMeta.ts). */
import * as path from 'node:path';
import { MAX_NOTE_LENGTH, RUN_META_FILE, readRunMeta, type RunMeta } from '../protocol/runMeta';
import { writeJsonAtomic } from './runStore';

/** Apply a change to the run's meta.json (replaced atomically); `note: ''` or `undefined` removes it. */
export function updateRunMeta(runDir: string, change: { starred?: boolean; note?: string | null }): RunMeta {
  const next: RunMeta = { ...readRunMeta(runDir) };
  if (change.starred !== undefined) {
    if (change.starred) next.starred = true;
    else delete next.starred;
  }
  if (change.note !== undefined) {
    const note = (change.note ?? '').trim();
    if (note) next.note = note.slice(0, MAX_NOTE_LENGTH);
    else delete next.note;
  }
  next.updatedAt = new Date().toISOString();
  writeJsonAtomic(path.join(runDir, RUN_META_FILE), next);
  return next;
}
