/**
 * The run queue in the editor: the same `ROOT/.akd/queue.json` terminals use (ROOT: each
 * workspace folder; runner/protocol/queue.ts), read here and changed only through `akd queue`.
 * The window drains it: whenever annealKd.maxConcurrentRuns leaves a slot free, it starts
 * `akd queue next`, which claims the next entry and trains it in its own process (followed like
 * any run this window starts). Nothing lives in the window alone: after a reload the next window
 * reads the same file, re-attaches to the claimed runs and keeps draining.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  claimableCount,
  queueFile,
  queuePosition,
  readQueue,
  type QueueEntry,
  type QueueState,
} from '../../runner/protocol/queue';
import { RunRefusedError, type AkdSpawner } from './akdSpawner';

/** An entry as the views show it. */
export interface QueuedItem {
  root: string;
  entry: QueueEntry;
  /** 1-based among the queued entries of its root; undefined while claimed (running). */
  position?: number;
}

export interface RunQueueOptions {
  /** Whether the window starts queued runs by itself (annealKd.queue.autoStart). */
  autoStart(): boolean;
  /** The folders whose .akd/queue.json is a queue (the workspace folders). */
  roots(): string[];
  /** Start a claimer for ROOT; resolves with its run folder, undefined when it found nothing. */
  startClaimer(root: string, configPath: string): Promise<string | undefined>;
}

const POLL_MS = 2000;

export type MoveTarget = 'up' | 'down' | 'top' | 'bottom';

export class RunQueue implements vscode.Disposable {
  private readonly states = new Map<string, { queue?: QueueState; error?: string }>();
  /** Claimers started per root that have not named their run yet. */
  private readonly claiming = new Map<string, number>();
  private readonly changed = new vscode.EventEmitter<void>();
  /** The queue file of some root changed (views re-render). */
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private poller: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(
    private readonly akd: AkdSpawner,
    private readonly options: RunQueueOptions,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/.akd/queue.json');
    const onFile = (): void => this.reload();
    watcher.onDidCreate(onFile, undefined, this.disposables);
    watcher.onDidChange(onFile, undefined, this.disposables);
    watcher.onDidDelete(onFile, undefined, this.disposables);
    this.disposables.push(watcher, this.changed);
  }

  /** The root a config queues under: its workspace folder, else its own folder. */
  rootOf(configPath: string): string {
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(configPath));
    return folder ? folder.uri.fsPath : path.dirname(configPath);
  }

  /** Re-read every root's queue file (cheap: one small JSON file each); fires when anything changed. */
  reload(): void {
    if (this.disposed) return;
    let changed = false;
    const roots = new Set(this.options.roots());
    for (const r of [...this.states.keys()]) if (!roots.has(r)) this.states.delete(r);
    for (const root of roots) {
      const before = JSON.stringify(this.states.get(root));
      let next: { queue?: QueueState; error?: string };
      try {
        next = { queue: readQueue(root) };
      } catch (e) {
        next = { error: (e as Error).message };
      }
      if (JSON.stringify(next) !== before) {
        this.states.set(root, next);
        changed = true;
      }
    }
    this.schedulePolling();
    if (changed) this.changed.fire();
    this.scheduleDrain();
  }

  /** Every entry, queued ones with their position, root by root. */
  items(): QueuedItem[] {
    const out: QueuedItem[] = [];
    for (const [root, s] of this.states)
      for (const entry of s.queue?.entries ?? [])
        out.push({ root, entry, ...(s.queue ? { position: queuePosition(s.queue, entry.id) } : {}) });
    return out;
  }

  /** The queued (not yet claimed) entries, in the order they will start. */
  queued(): QueuedItem[] {
    return this.items()
      .filter((i) => i.entry.state === 'queued')
      .sort((a, b) => a.root.localeCompare(b.root) || (a.position ?? 0) - (b.position ?? 0));
  }

  /** A root's queue file could not be read (shown instead of its entries). */
  errors(): { root: string; error: string }[] {
    return [...this.states].flatMap(([root, s]) => (s.error ? [{ root, error: s.error }] : []));
  }

  find(root: string, id: string): QueuedItem | undefined {
    return this.items().find((i) => i.root === root && i.entry.id === id);
  }

  private async akdQueue(args: string[], root: string, what: string): Promise<string> {
    const out = await this.akd.run(['queue', ...args, '--root', root], root, 'queue');
    this.reload();
    if (out.code !== 0) {
      const lines = out.stderr.trim().split('\n').filter(Boolean);
      throw new RunRefusedError(
        `${what}: ${lines.slice(-3).join(' ') || `akd queue exited ${out.code}`}`,
        out.code,
      );
    }
    return out.stdout;
  }

  /** `akd queue add CONFIG [--set ...]` (validated there first); resolves with the entry and its position. */
  async add(
    configPath: string,
    set: readonly string[] = [],
  ): Promise<{ root: string; entry: QueueEntry; position: number }> {
    configPath = path.resolve(configPath);
    const root = this.rootOf(configPath);
    const stdout = await this.akdQueue(
      ['add', configPath, '--json', ...set.flatMap((s) => ['--set', s])],
      root,
      'Queue Experiment',
    );
    const added = JSON.parse(stdout) as QueueEntry & { position: number };
    this.akd.log.info(
      `queued ${added.id} at position ${added.position}: ${configPath} ${set.join(' ')}`.trim(),
    );
    return { root, entry: added, position: added.position };
  }

  /** `akd queue remove ID`: a queued entry only. */
  async remove(root: string, id: string): Promise<void> {
    await this.akdQueue(['remove', id], root, 'Cancel Queued Run');
  }

  /** `akd queue move ID up|down|top|bottom`. */
  async move(root: string, id: string, to: MoveTarget): Promise<void> {
    await this.akdQueue(['move', id, to], root, 'Move Queued Run');
  }

  /** Look for work soon (coalesces the many reasons to: a run ended, the file changed, settings). */
  scheduleDrain(delayMs = 200): void {
    if (this.disposed || this.drainTimer) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      this.drain();
    }, delayMs);
  }

  /**
   * Start one claimer per free slot while some root has claimable entries (queued ones, and
   * claimed ones whose claimer is gone). Never more claimers for a root than it has entries.
   */
  drain(): void {
    if (this.disposed || !this.options.autoStart()) return;
    let free = this.akd.freeSlots();
    for (const [root, s] of this.states) {
      if (!s.queue || free <= 0) continue;
      const claimable = claimableCount(s.queue) - (this.claiming.get(root) ?? 0);
      const next = s.queue.entries.filter((e) => e.state === 'queued');
      for (let k = 0; k < claimable && free > 0; k++, free--) {
        try {
          this.akd.assertCanStart('Start Queued Run');
        } catch {
          return; // untrusted, or the runner is missing: the entries wait (the views say so)
        }
        const guess = next[k]?.configPath ?? s.queue.entries[0]?.configPath ?? path.join(root, 'queued');
        this.claiming.set(root, (this.claiming.get(root) ?? 0) + 1);
        this.akd.log.info(`queue ${queueFile(root)}: a slot is free, starting the next entry`);
        void this.options
          .startClaimer(root, guess)
          .then(
            (runDir) => {
              if (!runDir) this.akd.log.info(`queue ${queueFile(root)}: nothing left to claim`);
            },
            (e: unknown) => this.akd.log.warn(`queue ${queueFile(root)}: ${(e as Error).message}`),
          )
          .finally(() => {
            this.claiming.set(root, Math.max(0, (this.claiming.get(root) ?? 1) - 1));
            this.reload();
          });
      }
    }
  }

  /** Re-read now and then while a queue has entries (claims of killed processes, other windows, terminals). */
  private schedulePolling(): void {
    const needed = [...this.states.values()].some((s) => (s.queue?.entries.length ?? 0) > 0);
    if (needed && !this.poller) this.poller = setInterval(() => this.reload(), POLL_MS);
    else if (!needed && this.poller) {
      clearInterval(this.poller);
      this.poller = undefined;
    }
  }

  dispose(): void {
    // Claimers keep going when the window closes (their runs are detached); the file stays.
    this.disposed = true;
    if (this.poller) clearInterval(this.poller);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    for (const d of this.disposables) d.dispose();
  }
}
