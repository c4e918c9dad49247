/**
 * A sweep as the extension shows it: its manifest (`sweep.json`: the members and their grid
 * values), the orchestrator's `sweep-events.jsonl`, and each member's own run state. Pure (no
 * vscode, no fs): the extension reads the files (extension/runs/runDiscovery.ts) and hands them here.
 */
import type { MethodType } from './configTypes';
import type { SweepEvent } from './sweepEvents';
import { type SweepMemberEntry } from './sweepManifest';
import { pct } from './format';
import { mean, sampleStd } from './stats';
import { isActive, type RunState } from './runState';

/** A sweep.json member as the extension keeps it: the runner's entry with its run folder made absolute. */
export type SweepMember = Pick<SweepMemberEntry, 'id' | 'index' | 'method' | 'seed' | 'overrides'> & {
  /** Absolute run folder. */
  runDir: string;
};

export interface SweepState {
  sweepDir: string;
  /** The folder name, `<yyyymmdd-hhmmss>-<name>`. */
  sweepId: string;
  name: string;
  /** The config the sweep was expanded from (sweep.json `configPath`). */
  configPath: string;
  createdAt?: string;
  members: SweepMember[];
  /** The orchestrator (`akd sweep`) of the latest session, while it has not said sweep-ended. */
  orchestratorPid?: number;
  /** The latest session's end, if it ended. */
  ended?: 'completed' | 'failed' | 'cancelled';
  /** Submitted to Slurm (a sweep-log says so, or a member has a job). */
  slurm?: boolean;
}

/** `running`: a member trains or the orchestrator is alive; `stopped`: resumable; `completed`: every member completed. */
export type SweepDisplayStatus = 'starting' | 'running' | 'stopped' | 'completed';

export function applySweepEvents(state: SweepState, events: readonly SweepEvent[]): SweepState {
  const s: SweepState = { ...state };
  for (const e of events) {
    if (e.type === 'sweep-started') {
      s.orchestratorPid = e.pid;
      s.ended = undefined;
    } else if (e.type === 'sweep-ended') {
      s.ended = e.status;
      s.orchestratorPid = undefined;
    } else if (e.type === 'sweep-log' && /Slurm/.test(e.message)) s.slurm = true;
  }
  return s;
}

export function sweepStatus(
  sweep: SweepState,
  members: readonly (RunState | undefined)[],
  orchestratorAlive: boolean,
): SweepDisplayStatus {
  if (members.some((m) => m && isActive(m.status))) return 'running';
  if (orchestratorAlive) return members.some((m) => m) ? 'running' : 'starting';
  return members.length > 0 && members.every((m) => m?.status === 'completed') ? 'completed' : 'stopped';
}

/** Per method and grid point: student test accuracy over seeds (completed members only). */
export interface SweepGroup {
  method: MethodType;
  overrides: Record<string, unknown>;
  accuracies: number[];
  mean: number;
  std: number;
}

export function sweepGroups(
  members: readonly SweepMember[],
  states: readonly (RunState | undefined)[],
): SweepGroup[] {
  const groups = new Map<string, SweepGroup>();
  members.forEach((m, i) => {
    const acc = states[i]?.status === 'completed' ? states[i]?.summary?.student.testAccuracy : undefined;
    if (typeof acc !== 'number') return;
    const key = `${m.method} ${JSON.stringify(m.overrides)}`;
    let g = groups.get(key);
    if (!g) {
      g = { method: m.method, overrides: m.overrides, accuracies: [], mean: NaN, std: NaN };
      groups.set(key, g);
    }
    g.accuracies.push(acc);
  });
  const all = [...groups.values()];
  for (const g of all) {
    g.mean = mean(g.accuracies);
    g.std = sampleStd(g.accuracies);
  }
  return all.sort((a, b) => b.mean - a.mean);
}

export function groupLabel(g: Pick<SweepGroup, 'method' | 'overrides'>): string {
  const settings = Object.entries(g.overrides).map(([k, v]) => `${k.split('.').pop()}=${JSON.stringify(v)}`);
  return settings.length > 0 ? `${g.method} ${settings.join(' ')}` : g.method;
}

/** "12 runs · 8 done · annealing 97.1±0.2 best" (percent, sample std over seeds). */
export function sweepDescription(
  members: readonly SweepMember[],
  states: readonly (RunState | undefined)[],
): string {
  const count = (pred: (s: RunState) => boolean): number => states.filter((s) => s && pred(s)).length;
  const parts = [
    `${members.length} run${members.length === 1 ? '' : 's'}`,
    `${count((s) => s.status === 'completed')} done`,
  ];
  const failed = count((s) => s.status === 'failed');
  if (failed > 0) parts.push(`${failed} failed`);
  const running = count((s) => isActive(s.status));
  if (running > 0) parts.push(`${running} running`);
  const best = sweepGroups(members, states)[0];
  if (best) parts.push(`${groupLabel(best)} ${pct(best.mean, 1)}±${pct(best.std, 1)} best`);
  return parts.join(' · ');
}
