/**
 * The message contract between the dashboard webview and the extension: ONE module, imported by
 * both sides (extension/dashboard/ and webview/main.ts). Discriminated unions on `type`.
 *
 * Order: the webview posts `ready` first; only then does the extension post `init` (and after it
 * `events`, `runs`, `comparison`, `notice`). The extension validates every incoming message with
 * `parseWebviewMessage` (a webview is a browser page: what it sends is untrusted input); a
 * rejected message is logged and answered with `rejected`, and the panel keeps working.
 * No runtime imports: this module is bundled into the webview too.
 */
import type { RunEvent } from '../runner/protocol/events';
import type { RunState } from '../runner/protocol/runState';
import type { ComparisonData } from '../runner/protocol/comparison';

/** The charts the webview draws (ids of their canvases are `chart-<id>`). */
export const CHART_IDS = ['metrics', 'phi', 'throughput', 'compare', 'groups'] as const;
export type ChartId = (typeof CHART_IDS)[number];

/** Buttons of the summary: each runs one of the extension's commands on the selected run. */
export const RUN_ACTIONS = [
  'stopRun',
  'resumeRun',
  'rerun',
  'openConfig',
  'showRunLog',
  'revealRunFolder',
  'exportCsv',
  'exportStudent',
] as const;
export type RunAction = (typeof RUN_ACTIONS)[number];

/** What the webview keeps in `vscode.setState` (and the serializer gets back after a reload). */
export interface DashboardState {
  runDir: string | null;
  /** Runs and sweeps ticked for the comparison. */
  compare: string[];
}

/** One entry of the run picker and of the comparison's choices. */
export interface RunListItem {
  kind: 'run' | 'sweep';
  /** Run folder, or sweep folder. */
  dir: string;
  label: string;
  /** run: its display status; sweep: "N runs". */
  status: string;
  method?: string;
  configPath?: string;
  /** run: the student's test accuracy (0..1) once known. */
  studentAccuracy?: number | null;
}

// ---- webview -> extension --------------------------------------------------------------------

export type WebviewToExtension =
  | { type: 'ready'; state?: DashboardState }
  | { type: 'selectRun'; runDir: string }
  | { type: 'action'; action: RunAction; runDir: string }
  | { type: 'compare'; dirs: string[] }
  | { type: 'exportPng'; chart: ChartId; dataUrl: string }
  | { type: 'state'; state: DashboardState };

// ---- extension -> webview --------------------------------------------------------------------

export type ExtensionToWebview =
  /** The selected run from scratch: its state and every event so far (progress events thinned). */
  | {
      type: 'init';
      runDir: string | null;
      run: RunState | null;
      events: RunEvent[];
      runs: RunListItem[];
      compare: string[];
    }
  /** Events appended to the selected run since the last message (batched, throttled). */
  | { type: 'events'; runDir: string; run: RunState; events: RunEvent[] }
  /** The run list changed (a run started, ended, was deleted); `compare`: what is ticked now. */
  | { type: 'runs'; runs: RunListItem[]; compare: string[] }
  | { type: 'comparison'; data: ComparisonData }
  /** A short line for the notice area (export saved, action refused). */
  | { type: 'notice'; level: 'info' | 'error'; text: string }
  /** The last message from the webview did not match the contract (it was logged and ignored). */
  | { type: 'rejected'; reason: string };

// ---- validation ------------------------------------------------------------------------------

const MAX_PATH = 4096;
/** A chart PNG as a data URL: 30 MB is far above any canvas the dashboard draws. */
const MAX_DATA_URL = 30 * 1024 * 1024;
const MAX_COMPARE = 64;

function isPath(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length < MAX_PATH && !v.includes('\0');
}

function hasOnlyKeys(m: Record<string, unknown>, keys: readonly string[]): boolean {
  return Object.keys(m).every((k) => keys.includes(k));
}

function parseState(v: unknown): DashboardState | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as Record<string, unknown>;
  if (!hasOnlyKeys(s, ['runDir', 'compare'])) return undefined;
  if (!(s.runDir === null || isPath(s.runDir))) return undefined;
  if (!Array.isArray(s.compare) || s.compare.length > MAX_COMPARE || !s.compare.every(isPath))
    return undefined;
  return { runDir: s.runDir, compare: [...s.compare] };
}

/** Why a message is not part of the contract, or undefined when it is. */
export function rejectReason(value: unknown): string | undefined {
  return parse(value).reason;
}

/** The message if it matches the contract exactly; undefined otherwise. */
export function parseWebviewMessage(value: unknown): WebviewToExtension | undefined {
  return parse(value).message;
}

function parse(value: unknown): { message?: WebviewToExtension; reason?: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { reason: 'not an object' };
  const m = value as Record<string, unknown>;
  const bad = (why: string): { reason: string } => ({
    reason: `${typeof m.type === 'string' ? m.type.slice(0, 40) : 'message'}: ${why}`,
  });
  switch (m.type) {
    case 'ready': {
      if (!hasOnlyKeys(m, ['type', 'state'])) return bad('unexpected keys');
      if (m.state === undefined) return { message: { type: 'ready' } };
      const state = parseState(m.state);
      return state ? { message: { type: 'ready', state } } : bad('invalid state');
    }
    case 'selectRun':
      if (!hasOnlyKeys(m, ['type', 'runDir']) || !isPath(m.runDir)) return bad('runDir must be a path');
      return { message: { type: 'selectRun', runDir: m.runDir } };
    case 'action':
      if (!hasOnlyKeys(m, ['type', 'action', 'runDir'])) return bad('unexpected keys');
      if (typeof m.action !== 'string' || !(RUN_ACTIONS as readonly string[]).includes(m.action))
        return bad('unknown action');
      if (!isPath(m.runDir)) return bad('runDir must be a path');
      return { message: { type: 'action', action: m.action as RunAction, runDir: m.runDir } };
    case 'compare':
      if (
        !hasOnlyKeys(m, ['type', 'dirs']) ||
        !Array.isArray(m.dirs) ||
        m.dirs.length > MAX_COMPARE ||
        !m.dirs.every(isPath)
      ) {
        return bad(`dirs must be up to ${MAX_COMPARE} paths`);
      }
      return { message: { type: 'compare', dirs: [...(m.dirs as string[])] } };
    case 'exportPng':
      if (!hasOnlyKeys(m, ['type', 'chart', 'dataUrl'])) return bad('unexpected keys');
      if (typeof m.chart !== 'string' || !(CHART_IDS as readonly string[]).includes(m.chart))
        return bad('unknown chart');
      if (
        typeof m.dataUrl !== 'string' ||
        m.dataUrl.length > MAX_DATA_URL ||
        !/^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/.test(m.dataUrl)
      ) {
        return bad('dataUrl must be a base64 PNG data URL');
      }
      return { message: { type: 'exportPng', chart: m.chart as ChartId, dataUrl: m.dataUrl } };
    case 'state': {
      if (!hasOnlyKeys(m, ['type', 'state'])) return bad('unexpected keys');
      const state = parseState(m.state);
      return state ? { message: { type: 'state', state } } : bad('invalid state');
    }
    default:
      return { reason: `unknown message type ${JSON.stringify(m.type)?.slice(0, 40) ?? 'undefined'}` };
  }
}
