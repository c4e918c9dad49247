/**
 * The experiments table's data on the host side: one row per known run (RunManager: configs'
 * runs and sweep members), built from the run folder's config.json and summary.json and the run's
 * live state. Folders are read with fs/promises in batches, yielding to the event loop between
 * batches, so reading thousands of them never blocks the extension host; a row is read again only
 * when its run changed (started, ended, resumed). While runs train, their rows follow the run
 * manager's state (phase, temperature, epoch) without touching the disk.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  experimentRow,
  RUN_FILES,
  type ExperimentConfig,
  type ExperimentRow,
  type RunState,
  type RunSummary,
} from '../../runner/protocol';
import type { RunManager } from '../runs/runManager';

/** Folders read at once; the event loop gets a turn between batches. */
const BATCH = 64;

interface Cached {
  /** What the folder held when it was read. */
  config?: ExperimentConfig;
  summary?: RunSummary;
  /** The run state's status when the folder was read: a change means the files may have changed. */
  readAt: string;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

export interface LoadProgress {
  loaded: number;
  total: number;
  ms: number;
}

export class ExperimentRows {
  private readonly cache = new Map<string, Cached>();
  private rows = new Map<string, ExperimentRow>();
  /** Rows built or rebuilt since the last `changes()`. */
  private dirty = new Set<string>();
  /** Runs handed out so far (to tell removals). */
  private sent = new Set<string>();
  /** The run state each row was built from: a run manager state is replaced, never changed, when its run moves on. */
  private builtFrom = new Map<string, RunState>();
  private loading: Promise<void> | undefined;
  /** Longest time one batch kept the event loop (ms): the host tests check it stays short. */
  maxBatchMs = 0;

  constructor(private readonly runs: RunManager) {}

  /** The rows as they are now. */
  all(): ExperimentRow[] {
    return [...this.rows.values()];
  }

  get size(): number {
    return this.rows.size;
  }

  /**
   * Bring the rows up to the run manager's runs: folders not read yet (or whose run changed
   * status) are read, in batches; `onBatch` sees the progress after each. Concurrent calls share
   * one pass.
   */
  update(onBatch?: (p: LoadProgress) => void): Promise<void> {
    if (this.loading) return this.loading.then(() => this.update(onBatch));
    this.loading = this.load(onBatch).finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(onBatch?: (p: LoadProgress) => void): Promise<void> {
    const t0 = Date.now();
    const states = this.runs.allRuns();
    const known = new Set(states.map((s) => s.runDir));
    for (const dir of [...this.rows.keys()]) {
      if (!known.has(dir)) {
        this.rows.delete(dir);
        this.cache.delete(dir);
        this.builtFrom.delete(dir);
      }
    }
    const stale = states.filter((s) => this.cache.get(s.runDir)?.readAt !== readKey(s));
    // Runs not read yet show at once from their state (name, method, status); their files follow.
    for (const s of stale) if (!this.rows.has(s.runDir)) this.setRow(s);
    let loaded = 0;
    for (let i = 0; i < stale.length; i += BATCH) {
      const batch = stale.slice(i, i + BATCH);
      const read = await Promise.all(
        batch.map(async (s) => {
          const [config, summary] = await Promise.all([
            readJson<ExperimentConfig>(path.join(s.runDir, RUN_FILES.config)),
            readJson<RunSummary>(path.join(s.runDir, RUN_FILES.summary)),
          ]);
          return { s, config, summary };
        }),
      );
      const b0 = Date.now();
      for (const { s, config, summary } of read) {
        this.cache.set(s.runDir, {
          ...(config ? { config } : {}),
          ...(summary ? { summary } : {}),
          readAt: readKey(s),
        });
        this.setRow(s);
      }
      loaded += batch.length;
      this.maxBatchMs = Math.max(this.maxBatchMs, Date.now() - b0);
      onBatch?.({ loaded, total: stale.length, ms: Date.now() - t0 });
      await yieldToEventLoop();
    }
  }

  /** A run's row from what was read and its live state (cheap: no I/O). */
  row(state: RunState): ExperimentRow {
    const cached = this.cache.get(state.runDir);
    const sweep = state.sweepDir ? this.runs.getSweep(state.sweepDir) : undefined;
    return experimentRow({
      runDir: state.runDir,
      runId: state.runId,
      ...(cached?.config ? { config: cached.config } : {}),
      ...(cached?.summary && cached.summary.status === 'completed' ? { summary: cached.summary } : {}),
      state,
      ...(state.sweepDir ? { sweepDir: sweep?.sweepDir ?? state.sweepDir } : {}),
    });
  }

  private setRow(state: RunState): void {
    this.rows.set(state.runDir, this.row(state));
    this.builtFrom.set(state.runDir, state);
    this.dirty.add(state.runDir);
  }

  /**
   * Rows that changed since the last call, and rows gone. A row is rebuilt only when its run's
   * state object changed (the run manager replaces it on every event), so a call costs an
   * identity check per run, not a rebuild.
   */
  changes(): { upsert: ExperimentRow[]; remove: string[] } {
    for (const s of this.runs.allRuns()) {
      if (this.rows.has(s.runDir) && this.builtFrom.get(s.runDir) !== s) this.setRow(s);
    }
    const upsert = [...this.dirty]
      .map((d) => this.rows.get(d))
      .filter((r): r is ExperimentRow => r !== undefined);
    for (const r of upsert) this.sent.add(r.runDir);
    this.dirty.clear();
    const remove = [...this.sent].filter((d) => !this.rows.has(d));
    for (const d of remove) this.sent.delete(d);
    return { upsert, remove };
  }

  /** Everything counts as sent (after an `init` carried all rows). */
  markSent(): void {
    this.sent = new Set(this.rows.keys());
    this.dirty.clear();
  }
}

/** When a run's files may have changed: its status and start (a resume writes a new summary at its end). */
function readKey(s: RunState): string {
  return `${s.status}|${s.startedAt ?? ''}|${s.endedAt ?? ''}`;
}
