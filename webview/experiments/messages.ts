/**
 * The message contract between the experiments table (webview/experiments/) and the extension
 * (extension/experiments/): ONE module imported by both sides, discriminated unions on `type`,
 * as webview/messages.ts is for the dashboard.
 *
 * Order: the webview posts `ready` first; only then does the extension post `init` (then `rows`,
 * `progress`, `notice`). Every message from the webview is validated with
 * `parseExperimentsMessage` (the page is untrusted input); a rejected one is logged and answered
 * with `rejected`, and the panel keeps working. No runtime imports: bundled into the webview too.
 */
import type { ExperimentRow } from '../../runner/protocol/experiments';

/** What the table shows and how; kept by the page (setState) and by the extension (workspaceState). */
export interface ExperimentsViewState {
  /** Columns the user picked (ids); null: the default (the varying config keys and the metrics). */
  columns: string[] | null;
  sort: { column: string; descending: boolean } | null;
  /** Text filter over the visible cells. */
  text: string;
  /** Numeric range filters per column (the parallel coordinates' brushes set them too). */
  ranges: { column: string; min: number | null; max: number | null }[];
  /** Group by these columns (empty: no groups). */
  groupBy: string[];
  /** The plot: a metric (y) against a numeric key (x). */
  plot: { x: string | null; y: string };
  /** Only starred runs (absent in states saved before stars existed: all runs). */
  starredOnly?: boolean;
}

export const DEFAULT_VIEW_STATE: ExperimentsViewState = {
  columns: null,
  sort: { column: 'run:name', descending: true },
  text: '',
  ranges: [],
  groupBy: [],
  plot: { x: null, y: 'metric:finalTest' },
};

/** Actions on the selected rows (the toolbar, the context keys). */
export const ROW_ACTIONS = [
  'plot',
  'diffConfigs',
  'openConfig',
  'openDashboard',
  'revealRunFolder',
  'stopRun',
  'resumeRun',
  'deleteRun',
] as const;
export type RowAction = (typeof ROW_ACTIONS)[number];

export const PLOT_IDS = ['scatter', 'parallel'] as const;
export type PlotId = (typeof PLOT_IDS)[number];

// ---- webview -> extension ----------------------------------------------------------------------

export type ExperimentsToExtension =
  | { type: 'ready'; state?: ExperimentsViewState }
  | { type: 'state'; state: ExperimentsViewState }
  | { type: 'action'; action: RowAction; runDirs: string[] }
  | { type: 'exportCsv'; csv: string }
  | { type: 'exportPng'; plot: PlotId; dataUrl: string };

// ---- extension -> webview ----------------------------------------------------------------------

export type ExtensionToExperiments =
  /** Everything read so far (more may follow in `rows` while the folders are still being read). */
  | { type: 'init'; rows: ExperimentRow[]; state: ExperimentsViewState; loading: boolean }
  /** Rows added or changed (a run started, trained on, ended), and rows gone (deleted). */
  | { type: 'rows'; upsert: ExperimentRow[]; remove: string[] }
  /** Reading run folders: how far. */
  | { type: 'progress'; loaded: number; total: number; ms: number }
  | { type: 'notice'; level: 'info' | 'error'; text: string }
  | { type: 'rejected'; reason: string };

// ---- validation --------------------------------------------------------------------------------

const MAX_PATH = 4096;
const MAX_SELECTION = 5000;
const MAX_ID = 512;
/** CSV of 5,000 rows x 100 columns fits easily. */
const MAX_CSV = 64 * 1024 * 1024;
const MAX_DATA_URL = 40 * 1024 * 1024;

const isPath = (v: unknown): v is string =>
  typeof v === 'string' && v.length > 0 && v.length < MAX_PATH && !v.includes('\0');
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length < MAX_ID;
const isNumOrNull = (v: unknown): v is number | null =>
  v === null || (typeof v === 'number' && Number.isFinite(v));

function hasOnlyKeys(m: Record<string, unknown>, keys: readonly string[]): boolean {
  return Object.keys(m).every((k) => keys.includes(k));
}
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The view state if it has exactly this shape; undefined otherwise. */
export function parseViewState(v: unknown): ExperimentsViewState | undefined {
  if (
    !isObject(v) ||
    !hasOnlyKeys(v, ['columns', 'sort', 'text', 'ranges', 'groupBy', 'plot', 'starredOnly'])
  )
    return undefined;
  const { columns, sort, text, ranges, groupBy, plot, starredOnly } = v;
  if (starredOnly !== undefined && typeof starredOnly !== 'boolean') return undefined;
  if (!(columns === null || (Array.isArray(columns) && columns.length <= 2000 && columns.every(isId))))
    return undefined;
  if (!(
    sort === null ||
    (isObject(sort) &&
      hasOnlyKeys(sort, ['column', 'descending']) &&
      isId(sort.column) &&
      typeof sort.descending === 'boolean')
  ))
    return undefined;
  if (typeof text !== 'string' || text.length > 1000) return undefined;
  if (
    !Array.isArray(ranges) ||
    ranges.length > 200 ||
    !ranges.every(
      (r) =>
        isObject(r) &&
        hasOnlyKeys(r, ['column', 'min', 'max']) &&
        isId(r.column) &&
        isNumOrNull(r.min) &&
        isNumOrNull(r.max),
    )
  )
    return undefined;
  if (!Array.isArray(groupBy) || groupBy.length > 20 || !groupBy.every(isId)) return undefined;
  if (
    !isObject(plot) ||
    !hasOnlyKeys(plot, ['x', 'y']) ||
    !(plot.x === null || isId(plot.x)) ||
    !isId(plot.y)
  )
    return undefined;
  return {
    columns: columns === null ? null : [...(columns as string[])],
    sort: sort === null ? null : { column: sort.column as string, descending: sort.descending as boolean },
    text,
    ranges: (ranges as { column: string; min: number | null; max: number | null }[]).map((r) => ({
      column: r.column,
      min: r.min,
      max: r.max,
    })),
    groupBy: [...(groupBy as string[])],
    plot: { x: plot.x as string | null, y: plot.y as string },
    ...(starredOnly ? { starredOnly: true } : {}),
  };
}

/** Why a message is not part of the contract, or undefined when it is. */
export function experimentsRejectReason(value: unknown): string | undefined {
  return parse(value).reason;
}

/** The message if it matches the contract exactly; undefined otherwise. */
export function parseExperimentsMessage(value: unknown): ExperimentsToExtension | undefined {
  return parse(value).message;
}

function parse(value: unknown): { message?: ExperimentsToExtension; reason?: string } {
  if (!isObject(value)) return { reason: 'not an object' };
  const m = value;
  const bad = (why: string): { reason: string } => ({
    reason: `${typeof m.type === 'string' ? m.type.slice(0, 40) : 'message'}: ${why}`,
  });
  switch (m.type) {
    case 'ready': {
      if (!hasOnlyKeys(m, ['type', 'state'])) return bad('unexpected keys');
      if (m.state === undefined) return { message: { type: 'ready' } };
      const state = parseViewState(m.state);
      return state ? { message: { type: 'ready', state } } : bad('invalid state');
    }
    case 'state': {
      if (!hasOnlyKeys(m, ['type', 'state'])) return bad('unexpected keys');
      const state = parseViewState(m.state);
      return state ? { message: { type: 'state', state } } : bad('invalid state');
    }
    case 'action':
      if (!hasOnlyKeys(m, ['type', 'action', 'runDirs'])) return bad('unexpected keys');
      if (typeof m.action !== 'string' || !(ROW_ACTIONS as readonly string[]).includes(m.action))
        return bad('unknown action');
      if (
        !Array.isArray(m.runDirs) ||
        m.runDirs.length === 0 ||
        m.runDirs.length > MAX_SELECTION ||
        !m.runDirs.every(isPath)
      )
        return bad(`runDirs must be 1 to ${MAX_SELECTION} paths`);
      return {
        message: { type: 'action', action: m.action as RowAction, runDirs: [...(m.runDirs as string[])] },
      };
    case 'exportCsv':
      if (
        !hasOnlyKeys(m, ['type', 'csv']) ||
        typeof m.csv !== 'string' ||
        m.csv.length > MAX_CSV ||
        m.csv.includes('\0')
      )
        return bad('csv must be text');
      return { message: { type: 'exportCsv', csv: m.csv } };
    case 'exportPng':
      if (!hasOnlyKeys(m, ['type', 'plot', 'dataUrl'])) return bad('unexpected keys');
      if (typeof m.plot !== 'string' || !(PLOT_IDS as readonly string[]).includes(m.plot))
        return bad('unknown plot');
      if (
        typeof m.dataUrl !== 'string' ||
        m.dataUrl.length > MAX_DATA_URL ||
        !/^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/.test(m.dataUrl)
      )
        return bad('dataUrl must be a base64 PNG data URL');
      return { message: { type: 'exportPng', plot: m.plot as PlotId, dataUrl: m.dataUrl } };
    default:
      return { reason: `unknown message type ${JSON.stringify(m.type)?.slice(0, 40) ?? 'undefined'}` };
  }
}
