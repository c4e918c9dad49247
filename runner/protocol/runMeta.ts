/**
 * What a person says about a run, kept beside what the runner wrote: `<run>/meta.json` holds its
 * star and its note. Written by `akd star|unstar|note` (the editor runs those too), read by
 * `akd list|show`, the run states (so the Runs view and the Experiments table), the comparison rows,
 * and `akd gc`, which never touches a starred run. The runner's training never writes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const RUN_META_FILE = 'meta.json';

export interface RunMeta {
  starred?: boolean;
  note?: string;
  /** When a person last changed it (ISO time). */
  updatedAt?: string;
}

/** The longest note kept (a note is a line or a paragraph, not a document). */
export const MAX_NOTE_LENGTH = 2000;

/** A run's meta.json, or {} when it has none; a damaged file reads as {} (the run is still listed). */
export function readRunMeta(runDir: string): RunMeta {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(path.join(runDir, RUN_META_FILE), 'utf8'));
  } catch {
    return {};
  }
  return parseRunMeta(value);
}

/** Only the fields it should have, of the right types. */
export function parseRunMeta(value: unknown): RunMeta {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  const v = value as Record<string, unknown>;
  const out: RunMeta = {};
  if (v.starred === true) out.starred = true;
  if (typeof v.note === 'string' && v.note.trim() !== '') out.note = v.note.slice(0, MAX_NOTE_LENGTH);
  if (typeof v.updatedAt === 'string') out.updatedAt = v.updatedAt;
  return out;
}

/** The fields a run's state and its comparison row carry (none when unset). */
export function metaFields(meta: RunMeta): { starred?: true; note?: string } {
  return { ...(meta.starred ? { starred: true as const } : {}), ...(meta.note ? { note: meta.note } : {}) };
}
