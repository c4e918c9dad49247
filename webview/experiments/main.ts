/**
 * The experiments table page (dist/webview/experiments.js). Talks to the extension only through
 * ./messages.ts: posts `ready` first, then draws what `init` and `rows` bring. The table is a
 * keyboard-navigable ARIA grid whose rows are virtualized (only the rows in view, plus a few, are
 * in the DOM), so thousands of runs scroll smoothly; the data work (columns, filters, sort,
 * groups) is tableModel.ts. Below it: a metric against a setting (the shared chart definition,
 * runner/protocol/charts) and parallel coordinates whose axis brushes filter the table.
 */
import './experiments.css';
import {
  Chart,
  Legend,
  LinearScale,
  LogarithmicScale,
  LineElement,
  PointElement,
  ScatterController,
  Title,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { PointWithErrorBar, ScatterWithErrorBarsController } from 'chartjs-chart-error-bars';
import annotationPlugin from 'chartjs-plugin-annotation';
import { metricVsSettingChart, type FigureStyle } from '../../runner/protocol/charts/figures';
import { methodColor, withAlpha } from '../../runner/protocol/charts/palette';
import { cellValue, type ColumnDef, type ExperimentRow } from '../../runner/protocol/experiments';
import { readTheme, watchTheme, type ChartTheme } from '../charts/theme';
import {
  DEFAULT_VIEW_STATE,
  type ExperimentsToExtension,
  type ExperimentsViewState,
  type ExtensionToExperiments,
  type RowAction,
} from './messages';
import {
  allColumns,
  cellText,
  displayItems,
  groupCellText,
  isNumeric,
  toCsv,
  visibleColumns,
  type DisplayItem,
} from './tableModel';

Chart.register(
  ScatterController,
  LinearScale,
  LogarithmicScale,
  PointElement,
  LineElement,
  Legend,
  Title,
  Tooltip,
  ScatterWithErrorBarsController,
  PointWithErrorBar,
  annotationPlugin,
);

interface VsCodeApi {
  postMessage(message: ExperimentsToExtension): void;
  getState(): ExperimentsViewState | undefined;
  setState(state: ExperimentsViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

const ROW_H = 26;
const OVERSCAN = 12;
const PLOT_DELAY_MS = 150;

// ---- state -----------------------------------------------------------------------------------

let view: ExperimentsViewState = vscode.getState() ?? DEFAULT_VIEW_STATE;
const rows = new Map<string, ExperimentRow>();
let columns: ColumnDef[] = [];
/** Every column the rows offer (recomputed once per render). */
let allCols: ColumnDef[] = [];
let items: DisplayItem[] = [];
const selected = new Set<string>();
let anchor: number | undefined;
const expanded = new Set<string>();
/** The keyboard's cell: row -1 is the header. */
let active = { row: -1, col: 0 };
let theme: ChartTheme = readTheme();
let rejected = 0;
let renderQueued = false;
let plotChart: Chart | undefined;

const post = (m: ExperimentsToExtension): void => vscode.postMessage(m);
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function button(label: string, onClick: () => void, attrs: Record<string, string> = {}): HTMLButtonElement {
  const b = el('button', { type: 'button', ...attrs }, label);
  b.addEventListener('click', onClick);
  return b;
}

function saveView(next: Partial<ExperimentsViewState>): void {
  view = { ...view, ...next };
  vscode.setState(view);
  post({ type: 'state', state: view });
  queueRender();
}

// ---- layout ----------------------------------------------------------------------------------

const ACTIONS: { action: RowAction; label: string; title: string; min: number; max?: number }[] = [
  { action: 'plot', label: 'Plot', title: "Open the dashboard's comparison of the selected runs", min: 1 },
  {
    action: 'diffConfigs',
    label: 'Compare Configs',
    title: "Diff two runs' resolved config.json",
    min: 2,
    max: 2,
  },
  { action: 'openConfig', label: 'Open Config', title: "Open the selected runs' configs", min: 1 },
  { action: 'openDashboard', label: 'Dashboard', title: 'Open the dashboard on the run', min: 1, max: 1 },
  {
    action: 'revealRunFolder',
    label: 'Reveal Folder',
    title: 'Reveal the run folder in the explorer',
    min: 1,
    max: 1,
  },
  { action: 'stopRun', label: 'Stop', title: 'Stop the selected running runs', min: 1 },
  {
    action: 'resumeRun',
    label: 'Resume',
    title: 'Resume the selected cancelled, failed or interrupted runs',
    min: 1,
  },
  { action: 'deleteRun', label: 'Delete', title: 'Delete the selected runs (asks first)', min: 1 },
];

function buildPage(): void {
  const text = el('input', {
    id: 'filter-text',
    type: 'search',
    placeholder: 'Filter (any cell: kd, 0.001, running…)',
    'aria-label': 'Filter the runs by text',
  });
  text.value = view.text;
  text.addEventListener('input', () => saveView({ text: text.value }));
  const starredOnly = el('input', { id: 'filter-starred', type: 'checkbox' });
  starredOnly.checked = view.starredOnly === true;
  starredOnly.addEventListener('change', () => saveView({ starredOnly: starredOnly.checked }));
  const starredLabel = el(
    'label',
    { for: 'filter-starred', title: 'Only the runs you starred (Star Run in the Runs view, or akd star)' },
    starredOnly,
    ' ★ only',
  );
  const rangeColumn = el('select', { id: 'range-column', 'aria-label': 'Column of a numeric range filter' });
  const rangeMin = el('input', {
    id: 'range-min',
    type: 'number',
    step: 'any',
    placeholder: 'min',
    'aria-label': 'Minimum',
  });
  const rangeMax = el('input', {
    id: 'range-max',
    type: 'number',
    step: 'any',
    placeholder: 'max',
    'aria-label': 'Maximum',
  });
  const addRange = button(
    'Add range',
    () => {
      const column = rangeColumn.value;
      const min = rangeMin.value === '' ? null : fromDisplay(column, Number(rangeMin.value));
      const max = rangeMax.value === '' ? null : fromDisplay(column, Number(rangeMax.value));
      if (!column || (min === null && max === null)) return;
      saveView({ ranges: [...view.ranges.filter((r) => r.column !== column), { column, min, max }] });
      rangeMin.value = '';
      rangeMax.value = '';
    },
    { id: 'range-add', title: 'Keep only runs whose value in that column is in the range' },
  );
  document.body.append(
    el(
      'header',
      {},
      el('h1', {}, 'Experiments'),
      el('span', { id: 'counts', class: 'muted', role: 'status', 'aria-live': 'polite' }),
      el('span', { id: 'notice', role: 'status', 'aria-live': 'polite' }),
    ),
    el(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Table controls' },
      text,
      starredLabel,
      popoverButton('columns', 'Columns…', 'Choose the columns (the choice is kept)'),
      popoverButton(
        'group',
        'Group by…',
        'Fold runs with the same values of these keys (seeds) into mean ± std',
      ),
      el('span', { class: 'range' }, rangeColumn, rangeMin, rangeMax, addRange),
      button('Export CSV', () => exportCsv(), { id: 'export-csv', title: 'Save the visible table as CSV' }),
    ),
    el('div', { id: 'popover', class: 'popover', hidden: '' }),
    el('div', { id: 'chips', class: 'chips', 'aria-label': 'Active filters and groups' }),
    el(
      'div',
      { id: 'actions', class: 'toolbar', role: 'toolbar', 'aria-label': 'Actions on the selected runs' },
      el('span', { id: 'selection', class: 'muted' }),
      ...ACTIONS.map((a) =>
        button(a.label, () => act(a.action), {
          id: `action-${a.action}`,
          title: a.title,
          'data-action': a.action,
        }),
      ),
    ),
    el('div', { id: 'sort-status', class: 'sr-only', role: 'status', 'aria-live': 'polite' }),
    el(
      'div',
      {
        id: 'grid',
        role: 'grid',
        tabindex: '0',
        'aria-multiselectable': 'true',
        'aria-label':
          'Runs: arrow keys move, Space selects, Enter sorts a header or folds a group, Shift+Enter opens a run',
      },
      // One scroller for both directions: the header row sticks to its top.
      el(
        'div',
        { id: 'viewport', role: 'presentation' },
        el('div', { id: 'grid-head', role: 'rowgroup', class: 'head' }),
        el('div', { id: 'spacer', role: 'presentation' }, el('div', { id: 'body', role: 'rowgroup' })),
      ),
    ),
    el(
      'section',
      { id: 'plots', 'aria-label': 'Plots' },
      el(
        'div',
        { class: 'card' },
        el(
          'div',
          { class: 'head' },
          el('h2', {}, 'Result against a setting'),
          el('label', { for: 'plot-y', class: 'muted' }, 'y'),
          el('select', { id: 'plot-y' }),
          el('label', { for: 'plot-x', class: 'muted' }, 'x'),
          el('select', { id: 'plot-x' }),
          button('PNG', () => exportPng('scatter'), {
            id: 'export-scatter',
            title: 'Export the plot as PNG',
          }),
        ),
        el(
          'div',
          { class: 'chart-box' },
          el('canvas', {
            id: 'chart-scatter',
            role: 'img',
            'aria-label': 'The chosen metric against the chosen setting, mean ± std per method',
          }),
        ),
      ),
      el(
        'div',
        { class: 'card' },
        el(
          'div',
          { class: 'head' },
          el('h2', {}, 'Parallel coordinates'),
          el('span', { class: 'muted' }, 'drag along an axis to filter; double-click it to clear'),
          button('PNG', () => exportPng('parallel'), {
            id: 'export-parallel',
            title: 'Export the parallel coordinates as PNG',
          }),
        ),
        el(
          'div',
          { class: 'chart-box pcp' },
          el('canvas', {
            id: 'chart-parallel',
            role: 'img',
            'aria-label':
              'Parallel coordinates of the varying settings and the metric; brushed ranges filter the table',
          }),
        ),
      ),
    ),
  );
  $('plot-y').addEventListener('change', () =>
    saveView({ plot: { ...view.plot, y: ($('plot-y') as HTMLSelectElement).value } }),
  );
  $('plot-x').addEventListener('change', () =>
    saveView({ plot: { ...view.plot, x: ($('plot-x') as HTMLSelectElement).value || null } }),
  );
  $('viewport').addEventListener('scroll', () => renderBody(), { passive: true });
  $('grid').addEventListener('keydown', onGridKey);
  $('grid').addEventListener('click', onGridClick);
  $('grid').addEventListener('dblclick', onGridDoubleClick);
  setupParallelBrushing();
  new ResizeObserver(() => {
    renderBody();
    drawParallel();
  }).observe($('viewport'));
}

function popoverButton(kind: 'columns' | 'group', label: string, title: string): HTMLButtonElement {
  return button(label, () => togglePopover(kind), {
    id: `${kind}-button`,
    title,
    'aria-haspopup': 'true',
    'aria-expanded': 'false',
  });
}

let popoverKind: 'columns' | 'group' | null = null;

function togglePopover(kind: 'columns' | 'group'): void {
  const pop = $('popover');
  if (popoverKind === kind) {
    closePopover();
    return;
  }
  popoverKind = kind;
  $(`${kind}-button`).setAttribute('aria-expanded', 'true');
  const rowList = [...rows.values()];
  const all = allCols;
  const chosen = new Set(kind === 'columns' ? visibleColumns(rowList, view).map((c) => c.id) : view.groupBy);
  const candidates =
    kind === 'columns'
      ? all
      : all.filter(
          (c) =>
            c.id.startsWith('config:') ||
            c.id === 'run:method' ||
            c.id === 'run:sweep' ||
            c.id === 'run:protocol',
        );
  const list = el('div', {
    class: 'checks',
    role: 'group',
    'aria-label': kind === 'columns' ? 'Columns' : 'Group by',
  });
  for (const c of candidates) {
    const id = `pick-${kind}-${c.id}`;
    const box = el('input', { type: 'checkbox', id, 'data-column': c.id });
    box.checked = chosen.has(c.id);
    box.addEventListener('change', () => {
      if (kind === 'columns') {
        const ids = visibleColumns(rowList, view).map((x) => x.id);
        saveView({ columns: box.checked ? [...ids, c.id] : ids.filter((x) => x !== c.id) });
      } else {
        saveView({ groupBy: box.checked ? [...view.groupBy, c.id] : view.groupBy.filter((x) => x !== c.id) });
      }
    });
    list.append(
      el('label', { for: id, title: c.title }, box, ` ${c.id.startsWith('config:') ? c.title : c.label}`),
    );
  }
  pop.replaceChildren(
    el(
      'div',
      { class: 'head' },
      el('strong', {}, kind === 'columns' ? 'Columns' : 'Group by'),
      kind === 'columns'
        ? button(
            'Only what varies',
            () => {
              saveView({ columns: null });
              closePopover();
            },
            {
              id: 'columns-default',
              title: 'Back to the default: the config keys whose values differ, and the metrics',
            },
          )
        : button(
            'No groups',
            () => {
              saveView({ groupBy: [] });
              closePopover();
            },
            { id: 'group-none' },
          ),
      button('Close', () => closePopover(), { id: 'popover-close' }),
    ),
    list,
  );
  pop.hidden = false;
  (list.querySelector('input') as HTMLInputElement | null)?.focus();
}

function closePopover(): void {
  if (popoverKind) $(`${popoverKind}-button`).setAttribute('aria-expanded', 'false');
  const kind = popoverKind;
  popoverKind = null;
  $('popover').hidden = true;
  if (kind) $(`${kind}-button`).focus();
}

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && popoverKind) closePopover();
});

// ---- rendering -------------------------------------------------------------------------------

function queueRender(): void {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function render(): void {
  const t0 = performance.now();
  const rowList = [...rows.values()];
  allCols = allColumns(rowList);
  columns = visibleColumns(rowList, view);
  items = displayItems(rowList, view, columns, expanded);
  active.col = Math.min(active.col, Math.max(0, columns.length - 1));
  active.row = Math.min(active.row, items.length - 1);
  renderHead();
  $('spacer').style.height = `${items.length * ROW_H}px`;
  renderBody();
  renderChips();
  renderCounts();
  renderActions();
  schedulePlots();
  document.body.dataset.renderMs = String(Math.round(performance.now() - t0));
  document.body.dataset.rows = String(rows.size);
  document.body.dataset.items = String(items.length);
  // Runs that pass the filters (in groups too): what a brush or a filter changes.
  document.body.dataset.matching = String(shownRows().length);
}

/** Column widths in px: the run and the status wide, the rest by their header. */
function widths(): number[] {
  return columns.map((c) =>
    c.id === 'run:name'
      ? view.groupBy.length > 0
        ? 320
        : 210
      : c.id === 'run:status'
        ? 150
        : Math.max(64, Math.min(150, 18 + 7.5 * c.label.length)),
  );
}

let plotTimer: ReturnType<typeof setTimeout> | undefined;

/** The plots follow the table a moment later: a burst of rows (a first read, live runs) redraws them once. */
function schedulePlots(): void {
  if (plotTimer) clearTimeout(plotTimer);
  plotTimer = setTimeout(() => {
    plotTimer = undefined;
    renderPlotControls();
    drawScatter();
    drawParallel();
  }, PLOT_DELAY_MS);
}

function template(): string {
  return `28px ${widths()
    .map((w) => `minmax(${w}px, ${w}fr)`)
    .join(' ')}`;
}

function renderHead(): void {
  const head = $('grid-head');
  const grid = $('grid');
  grid.setAttribute('aria-rowcount', String(items.length + 1));
  grid.setAttribute('aria-colcount', String(columns.length + 1));
  grid.style.setProperty('--columns', template());
  grid.style.setProperty('--table-width', `${28 + widths().reduce((a, b) => a + b, 0)}px`);
  const cells = columns.map((c, i) => {
    const sorted = view.sort?.column === c.id;
    const h = el(
      'div',
      {
        role: 'columnheader',
        id: `cell--1-${i}`,
        class: `cell${isNumeric(c) ? ' num' : ''}${active.row === -1 && active.col === i ? ' active' : ''}`,
        title: c.title,
        'data-column': c.id,
        'aria-colindex': String(i + 2),
        'aria-sort': sorted ? (view.sort!.descending ? 'descending' : 'ascending') : 'none',
      },
      c.label,
      sorted
        ? el('span', { class: 'sort-mark', 'aria-hidden': 'true' }, view.sort!.descending ? ' ▼' : ' ▲')
        : '',
    );
    return h;
  });
  head.replaceChildren(
    el(
      'div',
      { role: 'row', class: 'row', 'aria-rowindex': '1' },
      el(
        'div',
        { role: 'columnheader', class: 'cell sel', 'aria-colindex': '1' },
        el('span', { class: 'sr-only' }, 'selected'),
      ),
      ...cells,
    ),
  );
}

function renderBody(): void {
  const viewport = $('viewport');
  // The header row scrolls with the body (sticky): the body starts one row down.
  const top = Math.max(0, viewport.scrollTop - ROW_H);
  const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((top + viewport.clientHeight) / ROW_H) + OVERSCAN);
  const body = $('body');
  body.style.transform = `translateY(${first * ROW_H}px)`;
  const out: HTMLElement[] = [];
  for (let i = first; i < last; i++) out.push(renderItem(items[i], i));
  body.replaceChildren(...out);
  document.body.dataset.domRows = String(out.length);
  updateActiveDescendant();
}

function renderItem(item: DisplayItem, i: number): HTMLElement {
  const rowAttrs: Record<string, string> = {
    role: 'row',
    'aria-rowindex': String(i + 2),
    'data-index': String(i),
  };
  if (item.kind === 'group') {
    const g = item.group;
    const row = el('div', {
      ...rowAttrs,
      class: 'row group',
      'aria-expanded': String(!item.collapsed),
      'data-group': item.key,
      'data-n': String(g.n),
    });
    row.append(
      el(
        'div',
        { role: 'gridcell', class: 'cell sel', 'aria-colindex': '1' },
        el('span', { class: 'twisty', 'aria-hidden': 'true' }, item.collapsed ? '▸' : '▾'),
      ),
      ...columns.map((c, j) => {
        const text =
          c.id === 'run:name'
            ? `${g.label} (n=${g.n}${g.rows.length > g.n ? `, +${g.rows.length - g.n} not done` : ''})`
            : groupCellText(g, c, view.groupBy);
        return el(
          'div',
          {
            role: 'gridcell',
            id: `cell-${i}-${j}`,
            class: `cell${isNumeric(c) ? ' num' : ''}${active.row === i && active.col === j ? ' active' : ''}`,
            'aria-colindex': String(j + 2),
            'data-column': c.id,
            title: text,
          },
          text,
        );
      }),
    );
    return row;
  }
  const r = item.row;
  const isSelected = selected.has(r.runDir);
  const row = el('div', {
    ...rowAttrs,
    class: `row${item.grouped ? ' member' : ''}${isSelected ? ' selected' : ''}`,
    'aria-selected': String(isSelected),
    'data-run-dir': r.runDir,
    'data-status': r.status,
  });
  const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
  swatch.style.background = methodColor(r.method, theme.foreground);
  row.append(
    el('div', { role: 'gridcell', class: 'cell sel', 'aria-colindex': '1' }, swatch),
    ...columns.map((c, j) => {
      const text = cellText(r, c);
      const cell = el(
        'div',
        {
          role: 'gridcell',
          id: `cell-${i}-${j}`,
          class: `cell${isNumeric(c) ? ' num' : ''}${active.row === i && active.col === j ? ' active' : ''}`,
          'aria-colindex': String(j + 2),
          'data-column': c.id,
        },
        text,
      );
      if (c.id === 'run:name')
        cell.title = `${r.runId}\n${r.runDir}${r.protocol === 'reference' ? '\nreference protocol: selected on test' : ''}`;
      else if (c.id === 'run:note' && r.note) cell.title = r.note;
      else if (text.length > 14) cell.title = text;
      return cell;
    }),
  );
  return row;
}

function renderChips(): void {
  const chips: HTMLElement[] = [];
  for (const r of view.ranges) {
    const c = columns.find((x) => x.id === r.column) ?? allCols.find((x) => x.id === r.column);
    const label = `${c?.label ?? r.column} ${r.min !== null ? `≥ ${toDisplay(r.column, r.min)}` : ''}${r.min !== null && r.max !== null ? ' and ' : ''}${r.max !== null ? `≤ ${toDisplay(r.column, r.max)}` : ''}`;
    chips.push(
      el(
        'span',
        { class: 'chip', 'data-range': r.column },
        label,
        button('×', () => saveView({ ranges: view.ranges.filter((x) => x.column !== r.column) }), {
          'aria-label': `Remove the filter on ${c?.label ?? r.column}`,
          class: 'chip-x',
        }),
      ),
    );
  }
  if (view.groupBy.length > 0) {
    const labels = view.groupBy.map((id) => allCols.find((c) => c.id === id)?.label ?? id);
    chips.push(
      el(
        'span',
        { class: 'chip' },
        `grouped by ${labels.join(', ')}: mean ± std over completed runs`,
        button('×', () => saveView({ groupBy: [] }), {
          'aria-label': 'Remove the grouping',
          class: 'chip-x',
        }),
      ),
    );
  }
  $('chips').replaceChildren(...chips);
  const select = $('range-column') as HTMLSelectElement;
  const numeric = allCols.filter(isNumeric);
  const current = select.value;
  select.replaceChildren(
    ...numeric.map((c) => el('option', { value: c.id }, c.id.startsWith('config:') ? c.title : c.label)),
  );
  if (numeric.some((c) => c.id === current)) select.value = current;
}

/** Percent columns are typed in percent (92.5), stored as fractions. */
function fromDisplay(column: string, v: number): number {
  const c = allCols.find((x) => x.id === column);
  return c?.kind === 'percent' ? v / 100 : v;
}
function toDisplay(column: string, v: number): string {
  const c = allCols.find((x) => x.id === column);
  return c?.kind === 'percent' ? `${Number((v * 100).toFixed(2))}%` : String(Number(v.toPrecision(4)));
}

function renderCounts(): void {
  const shown = items.filter((i) => i.kind === 'row').length;
  const groups = items.filter((i) => i.kind === 'group').length;
  const what = groups > 0 ? ` · ${groups} groups` : shown !== rows.size ? ` · ${shown} shown` : '';
  $('counts').textContent = `${rows.size} runs${what}${loading ? ` · reading ${loading}` : ''}`;
}

function renderActions(): void {
  const sel = [...selected].filter((d) => rows.has(d));
  $('selection').textContent =
    sel.length === 0 ? 'Select runs (click, Space; Shift for a range)' : `${sel.length} selected`;
  for (const a of ACTIONS) {
    const statuses = sel.map((d) => rows.get(d)!.status);
    let ok = sel.length >= a.min && (a.max === undefined || sel.length <= a.max);
    if (a.action === 'stopRun') ok = ok && statuses.every((s) => s === 'running' || s === 'starting');
    if (a.action === 'resumeRun')
      ok = ok && statuses.every((s) => s === 'cancelled' || s === 'failed' || s === 'interrupted');
    if (a.action === 'deleteRun') ok = ok && statuses.every((s) => s !== 'running' && s !== 'starting');
    ($(`action-${a.action}`) as HTMLButtonElement).disabled = !ok;
  }
}

function updateActiveDescendant(): void {
  const id = `cell-${active.row}-${active.col}`;
  const grid = $('grid');
  if (document.getElementById(id)) grid.setAttribute('aria-activedescendant', id);
  else grid.removeAttribute('aria-activedescendant');
  for (const e of document.querySelectorAll('#grid .cell.active')) e.classList.remove('active');
  document.getElementById(id)?.classList.add('active');
}

// ---- keyboard and mouse ----------------------------------------------------------------------

function scrollIntoView(row: number): void {
  if (row < 0) return;
  const viewport = $('viewport');
  // Row `row` sits at (row + 1) * ROW_H in the scroller (the sticky header takes the first row).
  const top = row * ROW_H;
  if (top < viewport.scrollTop) viewport.scrollTop = top;
  else if (top + 2 * ROW_H > viewport.scrollTop + viewport.clientHeight)
    viewport.scrollTop = top + 2 * ROW_H - viewport.clientHeight;
}

function moveTo(row: number, col: number, extend = false): void {
  active = {
    row: Math.max(-1, Math.min(items.length - 1, row)),
    col: Math.max(0, Math.min(columns.length - 1, col)),
  };
  if (extend && active.row >= 0) selectRange(anchor ?? active.row, active.row);
  scrollIntoView(active.row);
  renderHead();
  renderBody();
}

function selectRange(a: number, b: number): void {
  selected.clear();
  for (let i = Math.min(a, b); i <= Math.max(a, b); i++) {
    const it = items[i];
    if (it?.kind === 'row') selected.add(it.row.runDir);
  }
  renderActions();
}

function toggleSelect(index: number): void {
  const it = items[index];
  if (!it) return;
  if (it.kind === 'group') {
    const dirs = it.group.rows.map((r) => r.runDir);
    const all = dirs.every((d) => selected.has(d));
    for (const d of dirs)
      if (all) selected.delete(d);
      else selected.add(d);
  } else if (selected.has(it.row.runDir)) selected.delete(it.row.runDir);
  else selected.add(it.row.runDir);
  anchor = index;
  renderBody();
  renderActions();
}

function sortBy(col: number): void {
  const c = columns[col];
  if (!c) return;
  const descending = view.sort?.column === c.id ? !view.sort.descending : isNumeric(c);
  saveView({ sort: { column: c.id, descending } });
  $('sort-status').textContent = `Sorted by ${c.label}, ${descending ? 'descending' : 'ascending'}`;
}

function toggleGroup(index: number, open?: boolean): void {
  const it = items[index];
  if (it?.kind !== 'group') return;
  const isOpen = expanded.has(it.key);
  if (open === undefined ? isOpen : !open) expanded.delete(it.key);
  else expanded.add(it.key);
  queueRender();
}

function onGridKey(e: KeyboardEvent): void {
  const page = Math.max(1, Math.floor($('viewport').clientHeight / ROW_H) - 1);
  const it = items[active.row];
  let handled = true;
  switch (e.key) {
    case 'ArrowDown':
      moveTo(active.row + 1, active.col, e.shiftKey);
      break;
    case 'ArrowUp':
      moveTo(active.row - 1, active.col, e.shiftKey);
      break;
    case 'ArrowRight':
      if (it?.kind === 'group' && it.collapsed && active.col === 0) toggleGroup(active.row, true);
      else moveTo(active.row, active.col + 1);
      break;
    case 'ArrowLeft':
      if (it?.kind === 'group' && !it.collapsed && active.col === 0) toggleGroup(active.row, false);
      else moveTo(active.row, active.col - 1);
      break;
    case 'Home':
      moveTo(e.ctrlKey ? 0 : active.row, 0);
      break;
    case 'End':
      moveTo(e.ctrlKey ? items.length - 1 : active.row, columns.length - 1);
      break;
    case 'PageDown':
      moveTo(active.row + page, active.col, e.shiftKey);
      break;
    case 'PageUp':
      moveTo(active.row - page, active.col, e.shiftKey);
      break;
    case ' ':
      if (active.row === -1) sortBy(active.col);
      else toggleSelect(active.row);
      break;
    case 'Enter':
      if (active.row === -1) sortBy(active.col);
      else if (it?.kind === 'group') toggleGroup(active.row);
      else if (it?.kind === 'row' && e.shiftKey)
        post({ type: 'action', action: 'openDashboard', runDirs: [it.row.runDir] });
      else toggleSelect(active.row);
      break;
    case 'a':
      if (e.ctrlKey || e.metaKey) {
        selected.clear();
        for (const x of items) if (x.kind === 'row') selected.add(x.row.runDir);
        renderBody();
        renderActions();
      } else handled = false;
      break;
    default:
      handled = false;
  }
  if (handled) e.preventDefault();
}

function cellPosition(target: EventTarget | null): { row: number; col: number } | undefined {
  const cell = (target as HTMLElement | null)?.closest?.(
    '[role="gridcell"],[role="columnheader"]',
  ) as HTMLElement | null;
  const rowEl = cell?.closest('[role="row"]') as HTMLElement | null;
  if (!cell || !rowEl) return undefined;
  const col = Math.max(0, Number(cell.getAttribute('aria-colindex')) - 2);
  const row = rowEl.dataset.index !== undefined ? Number(rowEl.dataset.index) : -1;
  return { row, col };
}

function onGridClick(e: MouseEvent): void {
  const p = cellPosition(e.target);
  if (!p) return;
  $('grid').focus();
  if (p.row === -1) {
    active = p;
    sortBy(p.col);
    return;
  }
  const it = items[p.row];
  active = p;
  if (it?.kind === 'group') {
    toggleGroup(p.row);
    return;
  }
  if (e.shiftKey && anchor !== undefined) selectRange(anchor, p.row);
  else if (e.ctrlKey || e.metaKey) toggleSelect(p.row);
  else {
    selected.clear();
    toggleSelect(p.row);
  }
  renderBody();
}

function onGridDoubleClick(e: MouseEvent): void {
  const p = cellPosition(e.target);
  const it = p ? items[p.row] : undefined;
  if (it?.kind === 'row') post({ type: 'action', action: 'openDashboard', runDirs: [it.row.runDir] });
}

function act(action: RowAction): void {
  const runDirs = [...selected].filter((d) => rows.has(d));
  if (runDirs.length > 0) post({ type: 'action', action, runDirs });
}

// ---- plots -----------------------------------------------------------------------------------

function figureStyle(): FigureStyle {
  return {
    ink: theme.foreground,
    muted: theme.muted,
    grid: theme.grid,
    font: theme.font,
    fontSize: 12,
    responsive: true,
  };
}

/** Rows the plots draw: those the table shows (text and range filters applied). */
function shownRows(): ExperimentRow[] {
  const out = new Map<string, ExperimentRow>();
  for (const it of items) {
    if (it.kind === 'row') out.set(it.row.runDir, it.row);
    else for (const r of it.group.rows) out.set(r.runDir, r);
  }
  return [...out.values()];
}

function numericConfigColumns(): ColumnDef[] {
  return allCols.filter((c) => c.id.startsWith('config:') && isNumeric(c));
}

function renderPlotControls(): void {
  const metrics = allCols.filter((c) => c.id.startsWith('metric:') && isNumeric(c));
  const keys = numericConfigColumns();
  const varying = new Set(columns.map((c) => c.id));
  const xs = [...keys].sort((a, b) => Number(varying.has(b.id)) - Number(varying.has(a.id)));
  const ySel = $('plot-y') as HTMLSelectElement;
  const xSel = $('plot-x') as HTMLSelectElement;
  ySel.replaceChildren(...metrics.map((c) => el('option', { value: c.id }, c.label)));
  ySel.value = view.plot.y;
  xSel.replaceChildren(...xs.map((c) => el('option', { value: c.id }, c.title)));
  // Default x: the varying key (not the seed) with the most distinct values.
  const distinct = (id: string): number => new Set([...rows.values()].map((r) => cellValue(r, id))).size;
  const best = xs
    .filter((c) => varying.has(c.id) && c.id !== 'config:seed')
    .sort((a, b) => distinct(b.id) - distinct(a.id))[0];
  const x = view.plot.x && xs.some((c) => c.id === view.plot.x) ? view.plot.x : ((best ?? xs[0])?.id ?? '');
  xSel.value = x;
}

function drawScatter(): void {
  const x = ($('plot-x') as HTMLSelectElement).value;
  const y = view.plot.y;
  const all = allCols;
  const xc = all.find((c) => c.id === x);
  const yc = all.find((c) => c.id === y);
  const points = shownRows()
    .filter((r) => r.status === 'completed')
    .map((r) => ({ method: r.method, x: cellValue(r, x), y: cellValue(r, y) }))
    .filter(
      (p): p is { method: string; x: number; y: number } =>
        typeof p.x === 'number' && typeof p.y === 'number',
    );
  const config = metricVsSettingChart(points, {
    xTitle: xc?.title ?? 'setting',
    yTitle: `${yc?.label ?? y}${yc?.kind === 'percent' ? '' : ''}`,
    yPercent: yc?.kind === 'percent',
    xLog: Boolean(xc && /learningRate|lr|params|weightDecay/i.test(xc.title)),
    style: figureStyle(),
  }) as ChartConfiguration;
  const canvas = $<HTMLCanvasElement>('chart-scatter');
  canvas.dataset.points = String(points.length);
  canvas.dataset.methods = [...new Set(points.map((p) => p.method))].join(',');
  if (plotChart) plotChart.destroy();
  plotChart = new Chart(canvas, config);
}

// Parallel coordinates on a canvas: axes are the visible numeric config keys and the plot's metric.

interface Axis {
  id: string;
  label: string;
  x: number;
  min: number;
  max: number;
}
let axes: Axis[] = [];
const PCP = { top: 44, bottom: 30, left: 50, right: 50 };

function drawParallel(): void {
  const canvas = $<HTMLCanvasElement>('chart-parallel');
  const box = canvas.parentElement!.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.floor(box.width * dpr));
  canvas.height = Math.max(1, Math.floor(box.height * dpr));
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const w = box.width;
  const h = box.height;
  ctx.clearRect(0, 0, w, h);
  const data = [...rows.values()];
  const ids = [
    ...columns.filter((c) => c.id.startsWith('config:') && isNumeric(c)).map((c) => c.id),
    view.plot.y,
  ];
  const all = allCols;
  axes = ids.map((id, i) => {
    const vals = data.map((r) => cellValue(r, id)).filter((v): v is number => typeof v === 'number');
    const c = all.find((x) => x.id === id);
    return {
      id,
      label: columns.find((x) => x.id === id)?.label ?? c?.label ?? id,
      x: PCP.left + (ids.length > 1 ? (i * (w - PCP.left - PCP.right)) / (ids.length - 1) : 0),
      min: vals.length ? Math.min(...vals) : 0,
      max: vals.length ? Math.max(...vals) : 1,
    };
  });
  canvas.dataset.axes = String(axes.length);
  const y = (a: Axis, v: number): number =>
    a.max === a.min
      ? (PCP.top + h - PCP.bottom) / 2
      : h - PCP.bottom - ((v - a.min) / (a.max - a.min)) * (h - PCP.top - PCP.bottom);
  const visible = new Set(shownRows().map((r) => r.runDir));
  let drawn = 0;
  for (const pass of [false, true]) {
    for (const r of data) {
      const inside = visible.has(r.runDir);
      if (inside !== pass) continue;
      ctx.beginPath();
      let started = false;
      for (const a of axes) {
        const v = cellValue(r, a.id);
        if (typeof v !== 'number') {
          started = false;
          continue;
        }
        if (!started) ctx.moveTo(a.x, y(a, v));
        else ctx.lineTo(a.x, y(a, v));
        started = true;
      }
      ctx.strokeStyle = inside
        ? withAlpha(methodColor(r.method, theme.foreground), 0.75)
        : withAlpha(
            theme.kind.includes('dark') || theme.kind === 'high-contrast' ? '#888888' : '#999999',
            0.18,
          );
      ctx.lineWidth = inside ? 1.4 : 1;
      ctx.stroke();
      if (inside) drawn++;
    }
  }
  canvas.dataset.lines = String(drawn);
  ctx.font = `12px ${theme.font}`;
  ctx.textAlign = 'center';
  for (const a of axes) {
    ctx.strokeStyle = theme.foreground;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(a.x, PCP.top);
    ctx.lineTo(a.x, h - PCP.bottom);
    ctx.stroke();
    ctx.fillStyle = theme.foreground;
    // Neighbouring names alternate between two lines, each at most two axis gaps wide.
    const room = axes.length > 1 ? 1.9 * (axes[1].x - axes[0].x) : w;
    let label = a.label;
    while (label.length > 3 && ctx.measureText(label).width > room) label = `…${label.slice(2)}`;
    ctx.fillText(label, a.x, PCP.top - 14 - (axes.indexOf(a) % 2) * 13);
    ctx.fillStyle = theme.muted;
    ctx.fillText(toDisplay(a.id, a.max), a.x, PCP.top - 1);
    ctx.fillText(toDisplay(a.id, a.min), a.x, h - PCP.bottom + 14);
    const range = view.ranges.find((r) => r.column === a.id);
    if (range) {
      const top = y(a, range.max ?? a.max);
      const bottom = y(a, range.min ?? a.min);
      ctx.fillStyle = withAlpha('#0072B2', 0.25);
      ctx.strokeStyle = theme.foreground;
      ctx.fillRect(a.x - 7, top, 14, bottom - top);
      ctx.strokeRect(a.x - 7, top, 14, bottom - top);
    }
  }
  if (brush) {
    ctx.fillStyle = withAlpha('#0072B2', 0.3);
    ctx.fillRect(brush.axis.x - 7, Math.min(brush.y0, brush.y1), 14, Math.abs(brush.y1 - brush.y0));
  }
}

let brush: { axis: Axis; y0: number; y1: number } | undefined;

function setupParallelBrushing(): void {
  const canvas = $<HTMLCanvasElement>('chart-parallel');
  const local = (e: MouseEvent): { x: number; y: number } => {
    const b = canvas.getBoundingClientRect();
    return { x: e.clientX - b.left, y: e.clientY - b.top };
  };
  const axisAt = (x: number): Axis | undefined => axes.find((a) => Math.abs(a.x - x) <= 12);
  canvas.addEventListener('mousedown', (e) => {
    const p = local(e);
    const a = axisAt(p.x);
    if (!a) return;
    brush = { axis: a, y0: p.y, y1: p.y };
  });
  window.addEventListener('mousemove', (e) => {
    if (!brush) return;
    brush.y1 = local(e).y;
    drawParallel();
  });
  window.addEventListener('mouseup', () => {
    if (!brush) return;
    const { axis: a, y0, y1 } = brush;
    brush = undefined;
    if (Math.abs(y1 - y0) < 3) return drawParallel();
    const h = canvas.getBoundingClientRect().height;
    const value = (py: number): number =>
      a.min + ((h - PCP.bottom - py) / (h - PCP.top - PCP.bottom)) * (a.max - a.min);
    const lo = value(Math.max(y0, y1));
    const hi = value(Math.min(y0, y1));
    saveView({
      ranges: [...view.ranges.filter((r) => r.column !== a.id), { column: a.id, min: lo, max: hi }],
    });
  });
  canvas.addEventListener('dblclick', (e) => {
    const a = axisAt(local(e).x);
    if (a) saveView({ ranges: view.ranges.filter((r) => r.column !== a.id) });
  });
}

// ---- exports ---------------------------------------------------------------------------------

function exportCsv(): void {
  post({ type: 'exportCsv', csv: toCsv(items, columns, view.groupBy) });
}

function exportPng(plot: 'scatter' | 'parallel'): void {
  const canvas = $<HTMLCanvasElement>(`chart-${plot}`);
  const c = document.createElement('canvas');
  c.width = canvas.width;
  c.height = canvas.height;
  const ctx = c.getContext('2d');
  if (!ctx) return;
  ctx.fillStyle = theme.background;
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.drawImage(canvas, 0, 0);
  post({ type: 'exportPng', plot, dataUrl: c.toDataURL('image/png') });
}

// ---- messages --------------------------------------------------------------------------------

let loading = '';

function notice(level: 'info' | 'error', text: string): void {
  const n = $('notice');
  n.dataset.level = level;
  n.textContent = text;
}

function onMessage(m: ExtensionToExperiments): void {
  switch (m.type) {
    case 'init':
      rows.clear();
      for (const r of m.rows) rows.set(r.runDir, r);
      // The extension keeps the view (workspaceState): the same columns in every panel and after a reload.
      view = m.state;
      vscode.setState(view);
      ($('filter-text') as HTMLInputElement).value = view.text;
      ($('filter-starred') as HTMLInputElement).checked = view.starredOnly === true;
      loading = m.loading ? '…' : '';
      queueRender();
      break;
    case 'rows':
      for (const d of m.remove) {
        rows.delete(d);
        selected.delete(d);
      }
      for (const r of m.upsert) rows.set(r.runDir, r);
      queueRender();
      break;
    case 'progress':
      loading = m.loaded < m.total ? `${m.loaded}/${m.total}` : '';
      if (m.loaded >= m.total) document.body.dataset.loadedMs = String(m.ms);
      renderCounts();
      break;
    case 'notice':
      notice(m.level, m.text);
      break;
    case 'rejected':
      rejected++;
      document.body.dataset.rejected = String(rejected);
      notice('error', `The extension ignored a malformed message (${m.reason}).`);
      break;
  }
}

buildPage();
render();
window.addEventListener('message', (e: MessageEvent<unknown>) => {
  const d = e.data as { type?: unknown } | null;
  if (typeof d === 'object' && d !== null && typeof d.type === 'string')
    onMessage(d as ExtensionToExperiments);
});
watchTheme(() => {
  theme = readTheme();
  document.body.dataset.theme = theme.kind;
  queueRender();
});
document.body.dataset.theme = theme.kind;
if (document.body.dataset.testHooks === '1') {
  (window as unknown as { akdTestPost: (m: unknown) => void }).akdTestPost = (m) =>
    vscode.postMessage(m as ExperimentsToExtension);
}
post({ type: 'ready', ...(vscode.getState() ? { state: vscode.getState() } : {}) });
