/**
 * The experiments table as data, no DOM: which columns, which rows pass the filters, in which
 * order, folded into which groups, and how each cell reads. Unit-tested in
 * test/unit/webview/tableModel.test.ts; the page (main.ts) only draws what this returns.
 */
import {
  cellValue,
  configColumn,
  configKeys,
  formatValue,
  groupRows,
  METRIC_COLUMNS,
  RUN_COLUMNS,
  statusText,
  varyingKeys,
  type CellValue,
  type ColumnDef,
  type ExperimentRow,
  type RowGroup,
} from '../../runner/protocol/experiments';
import { csvField, noteLine } from '../../runner/protocol/format';

/** "20261128-081502-tiny" -> "11-28 08:15:02". */
function runTime(runId: string): string {
  const m = /^\d{4}(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/.exec(runId);
  return m ? `${m[1]}-${m[2]} ${m[3]}:${m[4]}:${m[5]}` : runId;
}
import type { ExperimentsViewState } from './messages';

export const NUMERIC_KINDS = new Set(['percent', 'count', 'ratio', 'seconds', 'number']);
export const isNumeric = (c: ColumnDef): boolean => NUMERIC_KINDS.has(c.kind);

/** Every column the rows offer: the run's, every config key, the metrics. */
export function allColumns(rows: readonly ExperimentRow[]): ColumnDef[] {
  const sample = (k: string): CellValue =>
    rows.find((r) => r.config[k] !== undefined && r.config[k] !== null)?.config[k] ?? null;
  return [...RUN_COLUMNS, ...configKeys(rows).map((k) => configColumn(k, sample(k))), ...METRIC_COLUMNS];
}

/** The default choice: the run's columns, the config keys whose values differ, the metrics. */
export function defaultColumnIds(rows: readonly ExperimentRow[]): string[] {
  const sweeps = rows.some((r) => r.sweep);
  const results = new Set([
    'metric:finalTest',
    'metric:bestTest',
    'metric:bestVal',
    'metric:teacher',
    'metric:gap',
  ]);
  // The star and the note columns once some run has one (a person marked it: worth the room).
  const offered: Record<string, boolean> = {
    'run:sweep': sweeps,
    'run:starred': rows.some((r) => r.starred),
    'run:note': rows.some((r) => r.note),
  };
  return [
    ...RUN_COLUMNS.filter((c) => offered[c.id] ?? true).map((c) => c.id),
    // The results first (what a user compares), then what was varied, then sizes, time, backend.
    ...METRIC_COLUMNS.filter((c) => results.has(c.id)).map((c) => c.id),
    // method.type is the method column already.
    ...varyingKeys(rows)
      .filter((k) => k !== 'method.type')
      .map((k) => `config:${k}`),
    ...METRIC_COLUMNS.filter((c) => !results.has(c.id)).map((c) => c.id),
  ];
}

export function visibleColumns(rows: readonly ExperimentRow[], state: ExperimentsViewState): ColumnDef[] {
  const all = allColumns(rows);
  const byId = new Map(all.map((c) => [c.id, c]));
  const ids = state.columns ?? defaultColumnIds(rows);
  return uniqueLabels(ids.map((id) => byId.get(id)).filter((c): c is ColumnDef => c !== undefined));
}

/**
 * Config columns are labelled by their key's last segment (`tauMax`); where two shown keys share
 * it (`method.phase1.epochs`, `method.phase2.epochs`), as many segments as tell them apart
 * (`phase1.epochs`). The full path is always the header's tooltip.
 */
export function uniqueLabels(columns: readonly ColumnDef[]): ColumnDef[] {
  const config = columns.filter((c) => c.id.startsWith('config:'));
  const suffix = (k: number, path: string): string => path.split('.').slice(-k).join('.');
  const out = new Map<string, string>();
  for (const c of config) {
    const depth = c.title.split('.').length;
    let n = 1;
    while (n < depth && config.some((o) => o !== c && suffix(n, o.title) === suffix(n, c.title))) n++;
    out.set(c.id, suffix(n, c.title));
  }
  return columns.map((c) => (out.has(c.id) ? { ...c, label: out.get(c.id)! } : c));
}

// ---- cells -----------------------------------------------------------------------------------

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A number as its column reads it (accuracies in percent, the gap in points). */
export function formatNumber(kind: ColumnDef['kind'], v: number): string {
  switch (kind) {
    case 'percent':
      return (v * 100).toFixed(2);
    case 'count':
      return int(v);
    case 'ratio':
      return `${v >= 10 ? v.toFixed(0) : v.toFixed(1)}×`;
    case 'seconds':
      return formatSeconds(v);
    default:
      return formatValue(v);
  }
}

export function cellText(row: ExperimentRow, c: ColumnDef): string {
  if (c.id === 'run:status') return statusText(row);
  if (c.id === 'run:name') return `${row.name} · ${runTime(row.runId)}`;
  if (c.id === 'run:note') return noteLine(row.note);
  const v = cellValue(row, c.id);
  if (v === null) return '';
  if (typeof v === 'number') return formatNumber(c.kind === 'number' ? 'number' : c.kind, v);
  return formatValue(v);
}

/** Spread notation of a group cell: "89.38 ± 0.36" (sample std over the group's completed runs). */
export function groupCellText(g: RowGroup, c: ColumnDef, groupBy: readonly string[]): string {
  if (groupBy.includes(c.id)) return formatValue(g.values[c.id] ?? null) || '–';
  const s = g.stats[c.id];
  if (!s) {
    // A setting: the value the group's runs share, or how many they have.
    if (c.id === 'run:name' || c.id === 'run:status') return '';
    const values = new Set(g.rows.map((r) => JSON.stringify(cellValue(r, c.id))));
    if (values.size === 1) return cellText(g.rows[0], c);
    return `${values.size} values`;
  }
  if (s.n === 1 || (s.std <= 1e-9 * Math.abs(s.mean) && c.kind !== 'percent'))
    return formatNumber(c.kind, s.mean);
  if (c.kind === 'percent') return `${(s.mean * 100).toFixed(2)} ± ${(s.std * 100).toFixed(2)}`;
  return `${formatNumber(c.kind, s.mean)} ± ${formatNumber(c.kind === 'count' ? 'number' : c.kind, s.std)}`;
}

// ---- filter, sort, group ---------------------------------------------------------------------

export function filterRows(
  rows: readonly ExperimentRow[],
  state: Pick<ExperimentsViewState, 'text' | 'ranges' | 'starredOnly'>,
  columns: readonly ColumnDef[],
): ExperimentRow[] {
  const words = state.text.toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((r) => {
    if (state.starredOnly && !r.starred) return false;
    for (const range of state.ranges) {
      const v = cellValue(r, range.column);
      if (typeof v !== 'number') return false;
      if (range.min !== null && v < range.min) return false;
      if (range.max !== null && v > range.max) return false;
    }
    if (words.length === 0) return true;
    // A note is searched whether or not its column is shown (what a person wrote is how they find a run).
    const text = [r.runId, r.name, r.note ?? '', ...columns.map((c) => cellText(r, c))]
      .join(' ')
      .toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

function compareCells(a: CellValue, b: CellValue): number {
  // Empty cells last whichever the direction (handled by the caller).
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', { numeric: true });
}

export function sortRows(
  rows: readonly ExperimentRow[],
  sort: ExperimentsViewState['sort'],
): ExperimentRow[] {
  if (!sort) return [...rows];
  const key = (r: ExperimentRow): CellValue =>
    sort.column === 'run:name' ? r.runId : cellValue(r, sort.column);
  return [...rows].sort((x, y) => {
    const a = key(x);
    const b = key(y);
    if (a === null && b === null) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    const d = compareCells(a, b);
    return sort.descending ? -d : d;
  });
}

export type DisplayItem =
  | { kind: 'row'; row: ExperimentRow; grouped: boolean }
  | { kind: 'group'; group: RowGroup; key: string; collapsed: boolean };

/**
 * What the grid shows, top to bottom: rows, or (grouped) each group's row followed by its runs
 * unless folded. Groups come in the order of the sort applied to their first rows (or to their
 * mean when sorting by a statistic).
 */
export function displayItems(
  rows: readonly ExperimentRow[],
  state: ExperimentsViewState,
  columns: readonly ColumnDef[],
  expanded: ReadonlySet<string>,
): DisplayItem[] {
  const filtered = filterRows(rows, state, columns);
  const sorted = sortRows(filtered, state.sort);
  if (state.groupBy.length === 0) return sorted.map((row) => ({ kind: 'row', row, grouped: false }));
  // Statistics over seeds for the results; settings are what the group shares (or how many values it has).
  const statColumns = columns.filter((c) => isNumeric(c) && c.id.startsWith('metric:')).map((c) => c.id);
  const groups = groupRows(
    sorted,
    state.groupBy,
    statColumns,
    (id) => columns.find((c) => c.id === id)?.label ?? id,
  );
  const sortCol = state.sort?.column;
  if (sortCol && statColumns.includes(sortCol) && !state.groupBy.includes(sortCol)) {
    const m = (g: RowGroup): number => g.stats[sortCol]?.mean ?? NaN;
    groups.sort((a, b) => {
      const x = m(a);
      const y = m(b);
      if (Number.isNaN(x)) return 1;
      if (Number.isNaN(y)) return -1;
      return state.sort!.descending ? y - x : x - y;
    });
  }
  const out: DisplayItem[] = [];
  for (const g of groups) {
    const key = groupKey(g, state.groupBy);
    const collapsed = !expanded.has(key);
    out.push({ kind: 'group', group: g, key, collapsed });
    if (!collapsed) for (const row of g.rows) out.push({ kind: 'row', row, grouped: true });
  }
  return out;
}

export function groupKey(g: RowGroup, groupBy: readonly string[]): string {
  return JSON.stringify(groupBy.map((k) => g.values[k] ?? null));
}

/** The visible table as CSV: the shown columns, numbers unformatted (accuracies as fractions). */
export function toCsv(
  items: readonly DisplayItem[],
  columns: readonly ColumnDef[],
  groupBy: readonly string[],
): string {
  // Headers: config keys by their full path, the rest by their field (finalTest, status, ...).
  const header = [
    'run_dir',
    ...(groupBy.length > 0 ? ['group', 'n'] : []),
    ...columns.map((c) => c.id.slice(c.id.indexOf(':') + 1)),
  ];
  const lines = [header.map(csvField).join(',')];
  for (const item of items) {
    if (item.kind === 'group') {
      const cells = columns.map((c) => {
        if (groupBy.includes(c.id)) return formatValue(item.group.values[c.id] ?? null);
        const s = item.group.stats[c.id];
        return s ? `${s.mean}±${s.std}` : '';
      });
      lines.push(['', item.group.label, String(item.group.n), ...cells].map(csvField).join(','));
    } else {
      const cells = columns.map((c) =>
        c.id === 'run:status' ? statusText(item.row) : formatValue(cellValue(item.row, c.id)),
      );
      lines.push(
        [item.row.runDir, ...(groupBy.length > 0 ? ['', ''] : []), ...cells].map(csvField).join(','),
      );
    }
  }
  return lines.join('\n') + '\n';
}
