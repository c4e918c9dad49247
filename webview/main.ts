/**
 * The dashboard page (dist/webview/dashboard.js). Talks to the extension only through the typed
 * contract in messages.ts: posts `ready` first, then renders what the extension sends. Events
 * arrive in batches; the page folds them into the shaping modules and redraws at most every
 * RENDER_MS (charts append points and update without animation).
 */
import './dashboard.css';
import type { RunEvent, RunStartedEvent, RunSummary } from '../runner/protocol/events';
import { applyEvents, initialRunState, type RunState } from '../runner/protocol/runState';
import { REFERENCE_PROTOCOL_LABEL, type PhaseName } from '../runner/protocol/events';
import { accuracyPerMethodChart, type FigureStyle } from '../runner/protocol/charts/figures';
import { methodColor } from '../runner/protocol/charts/palette';
import { elapsedTick } from './shaping/axisFormat';
import {
  Chart,
  LinearScale,
  PointElement,
  ScatterController,
  Title,
  type ChartConfiguration,
} from 'chart.js';
import { PointWithErrorBar, ScatterWithErrorBarsController } from 'chartjs-chart-error-bars';
import annotationPlugin from 'chartjs-plugin-annotation';
import { LiveChart, type SeriesSpec } from './charts/liveChart';
import { phasePlugin } from './charts/phasePlugin';
import { readTheme, watchTheme, type ChartTheme } from './charts/theme';
import { badge, button, checkbox, isChecked, select, setDisabled, setOptions } from './components/controls';
import type {
  ChartId,
  DashboardState,
  ExtensionToWebview,
  RunAction,
  RunListItem,
  WebviewToExtension,
} from './messages';
import type { ComparisonData } from '../runner/protocol/comparison';
import { compactCount, pct } from '../runner/protocol/format';
import { estimate, formatDuration } from './shaping/eta';
import { exportLine, exportsOf } from './shaping/exports';
import { RunSeries, type XY } from '../runner/protocol/series';
import { phaseTimeline, stepStatusText, type Timeline } from './shaping/timeline';

interface VsCodeApi {
  postMessage(message: WebviewToExtension): void;
  getState(): DashboardState | undefined;
  setState(state: DashboardState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

Chart.register(
  ScatterController,
  LinearScale,
  PointElement,
  Title,
  ScatterWithErrorBarsController,
  PointWithErrorBar,
  annotationPlugin,
);

const RENDER_MS = 250;
const vscode = acquireVsCodeApi();
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

// ---- state -----------------------------------------------------------------------------------

let state: DashboardState = vscode.getState() ?? { runDir: null, compare: [] };
let run: RunState | null = null;
let events: RunEvent[] = [];
let series = new RunSeries();
let seriesVersion = 0;
let runs: RunListItem[] = [];
let comparison: ComparisonData | null = null;
let theme: ChartTheme = readTheme();
let renderTimer: ReturnType<typeof setTimeout> | undefined;
let rejected = 0;

function post(message: WebviewToExtension): void {
  vscode.postMessage(message);
}
function saveState(): void {
  vscode.setState(state);
  post({ type: 'state', state });
}

// ---- layout ----------------------------------------------------------------------------------

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

const ACTIONS: { action: RunAction; label: string; title: string }[] = [
  { action: 'stopRun', label: 'Stop', title: 'Stop the run (it writes a checkpoint)' },
  { action: 'resumeRun', label: 'Resume', title: 'Resume the run from its checkpoint' },
  { action: 'rerun', label: 'Rerun', title: 'Run the same config again' },
  { action: 'openConfig', label: 'Open Config', title: "Open the run's config" },
  { action: 'revealRunFolder', label: 'Reveal Folder', title: 'Reveal the run folder in the explorer' },
  { action: 'showRunLog', label: 'Show Log', title: "Show the run's events as a log" },
  { action: 'exportCsv', label: 'Export CSV', title: 'Save the metrics per epoch as CSV' },
  {
    action: 'exportStudent',
    label: 'Export Student…',
    title: 'Export the student as ONNX (fp32 or int8), verified in ONNX Runtime',
  },
];

function chartCard(id: ChartId, title: string, description: string): HTMLElement {
  const canvas = el('canvas', { id: `chart-${id}`, role: 'img', 'aria-label': description });
  const exportButton = button('PNG', () => exportPng(id), {
    appearance: 'secondary',
    title: `Export "${title}" as PNG`,
    id: `export-${id}`,
  });
  return el(
    'div',
    { class: 'card' },
    el('div', { class: 'head' }, el('h2', {}, title), exportButton),
    el('div', { class: 'chart-box' }, canvas),
  );
}

/** The comparison's groups: test accuracy per method and setting, mean ± std over seeds (hidden without groups). */
function groupsCard(): HTMLElement {
  const card = chartCard(
    'groups',
    'Test accuracy per method (mean ± std over seeds)',
    'Student test accuracy per method and setting: mean ± sample std over seeds, each seed as a circle',
  );
  card.id = 'groups-card';
  card.hidden = true;
  return card;
}

function buildPage(): void {
  const picker = select(
    [],
    undefined,
    (value) => {
      if (value && value !== state.runDir) post({ type: 'selectRun', runDir: value });
    },
    'Run',
  );
  picker.id = 'run-picker';
  const actions = el(
    'div',
    { class: 'row', id: 'actions' },
    ...ACTIONS.map((a) => {
      const b = button(
        a.label,
        () => {
          if (state.runDir) post({ type: 'action', action: a.action, runDir: state.runDir });
        },
        {
          appearance: a.action === 'stopRun' ? 'primary' : 'secondary',
          title: a.title,
          id: `action-${a.action}`,
        },
      );
      return b;
    }),
  );
  document.body.append(
    el(
      'header',
      {},
      el('h1', { id: 'title' }, 'Anneal KD'),
      el(
        'div',
        { class: 'row' },
        el('span', { id: 'status-badge' }),
        el('span', { id: 'subtitle', class: 'muted' }),
      ),
      el('div', { class: 'row' }, el('label', { class: 'muted', for: 'run-picker' }, 'Run'), picker),
      el('div', { id: 'notice', role: 'status', 'aria-live': 'polite' }),
    ),
    el(
      'section',
      { id: 'progress', 'aria-label': 'Phase progress' },
      el('h2', {}, 'Progress'),
      el('ol', { id: 'steps' }),
      el('dl', { class: 'facts', id: 'progress-facts' }),
    ),
    el(
      'section',
      { id: 'summary', 'aria-label': 'Summary' },
      el('h2', {}, 'Summary'),
      el('dl', { class: 'facts', id: 'summary-facts' }),
      el('ul', { class: 'exports', id: 'exports', 'aria-label': 'Exported files' }),
      actions,
    ),
    el(
      'section',
      { id: 'charts', 'aria-label': 'Charts' },
      el(
        'div',
        { class: 'grid' },
        chartCard(
          'metrics',
          'Loss and accuracy per epoch',
          "Each phase's loss on its own series (cross-entropy, KD loss, and annealing's MSE on its own scale) and the accuracy per epoch, phases shaded, temperature steps marked",
        ),
        chartCard('phi', 'Phi(T) over time', 'The annealing target scale Phi(T) over the run time'),
        chartCard('throughput', 'Throughput', 'Samples per second over the run time'),
      ),
    ),
    el(
      'section',
      { id: 'compare', 'aria-label': 'Comparison' },
      el('h2', {}, 'Comparison'),
      el(
        'p',
        { class: 'muted' },
        'Tick runs (e.g. scratch, KD and annealing on the same data) or a sweep, then Compare.',
      ),
      el('div', { id: 'compare-choices' }),
      el(
        'div',
        { class: 'row' },
        button('Compare', () => requestComparison(), {
          id: 'compare-button',
          title: 'Compare the ticked runs',
        }),
      ),
      el(
        'div',
        { class: 'grid spaced' },
        chartCard(
          'compare',
          'Student accuracy',
          'Student validation accuracy per epoch of each compared run',
        ),
        groupsCard(),
      ),
      el('div', { class: 'table-wrap' }, el('table', { id: 'compare-table' })),
      el('div', { class: 'table-wrap' }, el('table', { id: 'compare-groups' })),
    ),
  );
}

// ---- charts ----------------------------------------------------------------------------------

let metricsChart: LiveChart;
let phiChart: LiveChart;
let throughputChart: LiveChart;
let compareChart: LiveChart;

function canvas(id: ChartId): HTMLCanvasElement {
  return $<HTMLCanvasElement>(`chart-${id}`);
}

/** Seconds since the start as an axis label, as precise as the tick step needs (axisFormat.ts). */
function minutes(v: number, step: number): string {
  return elapsedTick(v, step);
}

/** Which loss each phase minimises: each on its own series, MSE on a scale of its own. */
const LOSSES: { label: string; phases: PhaseName[]; axis: 'y' | 'y3'; color: number }[] = [
  { label: 'cross-entropy', phases: ['teacher', 'train', 'finetune'], axis: 'y', color: 1 },
  { label: 'KD loss (CE + T²·KL)', phases: ['kd', 'assistant'], axis: 'y', color: 4 },
  { label: 'anneal MSE (Phi(T)-scaled logits)', phases: ['anneal'], axis: 'y3', color: 3 },
];

/** The metrics chart's series for the run shown: its losses, and the accuracy it selects on. */
function metricSpecs(): SeriesSpec[] {
  const started = runStarted();
  const method = started?.config.method.type ?? run?.method;
  const phases = new Set<PhaseName>(series.points.map((p) => p.phase));
  // Before the first epoch: the phases the method will go through.
  if (phases.size === 0 && method) {
    for (const p of [
      'teacher',
      ...(method === 'annealing'
        ? ['anneal', 'finetune']
        : method === 'scratch'
          ? ['train']
          : method === 'takd'
            ? ['assistant', 'kd']
            : ['kd']),
    ] as PhaseName[])
      phases.add(p);
  }
  const losses = LOSSES.filter((l) => l.phases.some((p) => phases.has(p))).map((l): SeriesSpec => ({
    label: l.label,
    color: l.color,
    axis: l.axis,
    data: () => series.lossOf(l.phases),
  }));
  const reference = (run?.protocol ?? started?.protocol) === 'reference';
  return [
    ...losses,
    reference
      ? { label: 'test acc (reference protocol)', color: 0, axis: 'y2', data: () => series.testAccuracy() }
      : { label: 'val acc', color: 0, axis: 'y2', data: () => series.valAccuracy() },
    { label: 'train acc', color: 2, axis: 'y2', dashed: true, data: () => series.trainAccuracy() },
  ];
}
let metricLabels = '';

function buildCharts(): void {
  const decor = { spans: () => series.spans, marks: () => series.marks, theme: () => theme };
  metricsChart = new LiveChart(
    canvas('metrics'),
    metricSpecs(),
    {
      x: { title: 'epoch (all phases)' },
      y: { title: 'loss (CE / KD)', min: 0, display: 'auto' },
      y2: { title: 'accuracy', min: 0, max: 1, percent: true },
      y3: { title: 'anneal MSE', min: 0, display: 'auto' },
      plugins: [phasePlugin(decor)],
    },
    theme,
  );
  metricLabels = metricSpecs()
    .map((s) => s.label)
    .join('|');
  phiChart = new LiveChart(
    canvas('phi'),
    [{ label: 'Phi(T)', color: 3, stepped: true, data: () => series.phi }],
    {
      x: { title: 'time' },
      y: { title: 'Phi(T)', min: 0, max: 1 },
      xTick: minutes,
    },
    theme,
  );
  throughputChart = new LiveChart(
    canvas('throughput'),
    [{ label: 'samples/s', color: 2, data: () => series.throughput }],
    {
      x: { title: 'time' },
      y: { title: 'samples/s', min: 0 },
      xTick: minutes,
    },
    theme,
  );
  compareChart = new LiveChart(
    canvas('compare'),
    [],
    {
      x: { title: 'student epoch' },
      y: { title: 'val accuracy', percent: true },
    },
    theme,
  );
}

/** Another run, or the first events of a method's phases: the metrics chart's series follow. */
function refreshMetricSpecs(): boolean {
  const specs = metricSpecs();
  const labels = specs.map((s) => s.label).join('|');
  if (labels === metricLabels) return false;
  metricLabels = labels;
  metricsChart.setSeries(specs, theme);
  return true;
}

function exportPng(id: ChartId): void {
  if (id === 'groups') {
    const c = canvas('groups');
    const out = document.createElement('canvas');
    out.width = c.width;
    out.height = c.height;
    const ctx = out.getContext('2d');
    if (!ctx) return;
    ctx.fillStyle = theme.background;
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(c, 0, 0);
    post({ type: 'exportPng', chart: id, dataUrl: out.toDataURL('image/png') });
    return;
  }
  const chart = { metrics: metricsChart, phi: phiChart, throughput: throughputChart, compare: compareChart }[
    id
  ];
  post({ type: 'exportPng', chart: id, dataUrl: chart.toPng(theme.background) });
}

// ---- rendering -------------------------------------------------------------------------------

function scheduleRender(): void {
  if (renderTimer) return;
  renderTimer = setTimeout(() => {
    renderTimer = undefined;
    render(false);
  }, RENDER_MS);
}

function facts(target: HTMLElement, items: [string, string, string?][]): void {
  target.replaceChildren(
    ...items.map(([k, v, id]) => el('div', id ? { id } : {}, el('dt', {}, k), el('dd', {}, v))),
  );
}

function runStarted(): RunStartedEvent | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.type === 'run-started') return e;
  }
  return undefined;
}

function summaryOf(): RunSummary | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.type === 'run-completed') return e.summary;
  }
  return run?.summary;
}

function renderProgress(timeline: Timeline): void {
  const list = $('steps');
  list.replaceChildren(
    ...timeline.steps.map((s) => {
      const li = el(
        'li',
        { 'data-step': s.id, 'data-state': s.state, 'aria-label': `${s.label}: ${stepStatusText(s)}` },
        el('span', { class: 'name' }, s.label),
        el('span', { class: 'state' }, stepStatusText(s)),
      );
      if (s.phi !== undefined) li.title = `Phi(T) = ${s.phi.toFixed(3)}`;
      return li;
    }),
  );
  list.dataset.done = String(timeline.steps.filter((s) => s.state === 'done').length);
  list.dataset.total = String(timeline.steps.length);
  const eta = estimate(events, timeline, Date.now());
  const active = run?.status === 'running' || run?.status === 'starting';
  facts($('progress-facts'), [
    [
      'current',
      timeline.current
        ? `${timeline.current.label} · ${stepStatusText(timeline.current)}`
        : (run?.status ?? '–'),
    ],
    [
      'temperature',
      timeline.temperature !== undefined ? `T = ${timeline.temperature}` : '–',
      'fact-temperature',
    ],
    ['Phi(T)', timeline.phi !== undefined ? timeline.phi.toFixed(3) : '–', 'fact-phi'],
    ['elapsed', formatDuration(eta.elapsedSeconds), 'fact-elapsed'],
    [
      'remaining',
      active
        ? eta.remainingSeconds !== null
          ? `≈ ${formatDuration(eta.remainingSeconds)}`
          : 'measuring…'
        : '–',
      'fact-eta',
    ],
    ['samples/s', eta.samplesPerSecond !== null ? eta.samplesPerSecond.toFixed(0) : '–'],
  ]);
}

/** "per augmented batch · 1.2 s in the last epoch (9.8 s in all)", or "cached once per run". */
function teacherTargetsText(started: RunStartedEvent | undefined): string {
  const how = run?.teacherTargets ?? started?.teacherTargets;
  if (!how) return '–';
  if (how === 'cached') return 'cached once per run (no augmentation)';
  let last: number | undefined;
  let total = 0;
  for (const e of events) {
    if (e.type === 'epoch-ended' && e.targetSeconds !== undefined) {
      last = e.targetSeconds;
      total += e.targetSeconds;
    }
  }
  return `per augmented batch${last !== undefined ? ` · ${last.toFixed(1)} s in the last epoch (${total.toFixed(1)} s in all)` : ''}`;
}

function renderSummary(): void {
  const started = runStarted();
  const s = summaryOf();
  const teacherParams = s?.teacher.params ?? started?.teacher.params;
  const studentParams = s?.student.params ?? started?.student.params;
  const compression =
    s?.compression ?? (teacherParams && studentParams ? teacherParams / studentParams : undefined);
  facts($('summary-facts'), [
    ['method', run?.method ?? started?.config.method.type ?? '–'],
    [
      'teacher',
      started
        ? `${started.teacher.type} · ${compactCount(teacherParams)} params${started.teacher.source === 'checkpoint' ? ' (checkpoint)' : ''}`
        : '–',
    ],
    ['student', started ? `${started.student.type} · ${compactCount(studentParams)} params` : '–'],
    ['compression', compression ? `${compression.toFixed(1)}×` : '–', 'fact-compression'],
    ['teacher test acc', s ? `${pct(s.teacher.testAccuracy)}%` : '–', 'fact-teacher-acc'],
    [
      'student test acc',
      s
        ? `${pct(s.student.testAccuracy)}%`
        : run?.lastValAccuracy !== undefined
          ? `val ${pct(run.lastValAccuracy)}%`
          : '–',
      'fact-student-acc',
    ],
    ['backend', started ? started.backend : '–'],
    [
      'data',
      started
        ? `${started.data.train} train · ${started.data.validation} val · ${started.data.test} test`
        : '–',
    ],
    [
      'protocol',
      (run?.protocol ?? started?.protocol) === 'reference'
        ? REFERENCE_PROTOCOL_LABEL
        : 'held-out (selected on validation)',
      'fact-protocol',
    ],
    ['teacher targets', teacherTargetsText(started), 'fact-teacher-targets'],
  ]);
  const status = run?.status ?? 'unknown';
  const enabled: Record<RunAction, boolean> = {
    stopRun: status === 'running' || status === 'starting',
    resumeRun: status === 'cancelled' || status === 'failed' || status === 'interrupted',
    rerun: Boolean(run?.configPath),
    openConfig: Boolean(run?.configPath),
    revealRunFolder: Boolean(run),
    showRunLog: Boolean(run),
    exportCsv: events.length > 0,
    exportStudent: status === 'completed',
  };
  const exported = exportsOf(events, s);
  const list = $('exports');
  list.replaceChildren(
    ...exported.map((r) =>
      el('li', { title: `${r.file}: ${r.verification.checks.join('; ')}` }, exportLine(r)),
    ),
  );
  list.hidden = exported.length === 0;
  for (const a of ACTIONS) setDisabled($(`action-${a.action}`), !enabled[a.action]);
}

function renderHeader(): void {
  // The run shown below: the extension's state of it, or (a run it does not follow) its own events.
  const shown = run;
  $('title').textContent = shown ? (shown.name ?? shown.runId) : 'No run selected';
  const b = $('status-badge');
  b.replaceChildren(badge(shown?.status ?? 'no run'));
  b.dataset.status = shown?.status ?? 'none';
  document.body.dataset.status = shown?.status ?? 'none';
  document.body.dataset.protocol = shown?.protocol ?? 'held-out';
  $('subtitle').textContent = shown
    ? `${shown.runId}${shown.method ? ` · ${shown.method}` : ''}${shown.protocol === 'reference' ? ` · ${REFERENCE_PROTOCOL_LABEL}` : ''}`
    : 'Run an experiment (▶ Run above a *.akd.json config), then pick it here.';
}

function render(full: boolean): void {
  const t0 = performance.now();
  const timeline = phaseTimeline(events, run?.status === 'interrupted');
  renderHeader();
  renderProgress(timeline);
  renderSummary();
  // The epoch axis spans the whole plan: where the run stands shows at a glance.
  const planned = timeline.steps.reduce((n, st) => n + st.epochs, 0);
  metricsChart.setXRange(
    planned > 0 ? 0.5 : undefined,
    planned > 0 ? Math.max(planned, series.points.length) + 0.5 : undefined,
  );
  const respecified = refreshMetricSpecs();
  const reset = full || respecified || series.version !== seriesVersion;
  seriesVersion = series.version;
  metricsChart.refresh(reset);
  phiChart.refresh(reset);
  throughputChart.refresh(reset);
  // How long a render took (a full one after init; the e2e check reads it for a 10,000-epoch run).
  document.body.dataset[full ? 'fullRenderMs' : 'renderMs'] = String(Math.round(performance.now() - t0));
}

// ---- run list and comparison -----------------------------------------------------------------

function renderRunList(): void {
  const picker = $('run-picker');
  const options = runs
    .filter((r) => r.kind === 'run')
    .map((r) => ({ value: r.dir, label: `${r.label} · ${r.status}` }));
  setOptions(picker, options, state.runDir ?? undefined);
  const choices = $('compare-choices');
  const checked = new Set(state.compare);
  choices.replaceChildren(
    ...runs.map((r) => {
      const acc =
        r.studentAccuracy !== undefined && r.studentAccuracy !== null
          ? ` · student ${pct(r.studentAccuracy, 1)}%`
          : '';
      return checkbox(
        `${r.kind === 'sweep' ? 'sweep ' : ''}${r.label} · ${r.status}${acc}`,
        checked.has(r.dir),
        () => undefined,
        r.dir,
      );
    }),
  );
  choices.dataset.count = String(runs.length);
}

function requestComparison(): void {
  const dirs = [...$('compare-choices').children]
    .filter((c) => isChecked(c as HTMLElement))
    .map((c) => (c as HTMLElement).dataset.value ?? '')
    .filter(Boolean);
  state = { ...state, compare: dirs };
  saveState();
  post({ type: 'compare', dirs });
}

function cell(text: string, num = false): HTMLTableCellElement {
  return el('td', num ? { class: 'num' } : {}, text);
}

let groupsChart: Chart | undefined;

/** Mean ± std per method and setting with each seed: the shared chart definition (runner/protocol/charts). */
function drawGroupsChart(data: ComparisonData): void {
  const card = $('groups-card');
  groupsChart?.destroy();
  groupsChart = undefined;
  const groups = data.groups.filter((g) => (g.values?.length ?? 0) > 0);
  card.hidden = groups.length === 0;
  const c = canvas('groups');
  c.dataset.groups = String(groups.length);
  if (groups.length === 0) return;
  const style: FigureStyle = {
    ink: theme.foreground,
    muted: theme.muted,
    grid: theme.grid,
    font: theme.font,
    fontSize: 12,
    responsive: true,
  };
  const teacher = groups.map((g) => g.teacher).find((t) => t !== null) ?? null;
  const config = accuracyPerMethodChart(
    groups.map((g) => ({ label: g.label, method: g.method, values: g.values ?? [] })),
    { teacher, style },
  ) as ChartConfiguration;
  c.parentElement!.style.height = `${Math.max(160, 60 + 34 * groups.length)}px`;
  groupsChart = new Chart(c, config);
}

function renderComparison(): void {
  const data = comparison;
  const table = $('compare-table');
  const groups = $('compare-groups');
  if (!data) {
    table.replaceChildren();
    groups.replaceChildren();
    return;
  }
  // One colour per method, the same as in the experiments table and akd compare's figures.
  const specs: SeriesSpec[] = data.runs.map((r, i) => ({
    label: r.label,
    color: i,
    colorValue: (t) => methodColor(r.method, t.foreground),
    data: (): XY[] => r.curve,
  }));
  compareChart.setSeries(specs, theme);
  drawGroupsChart(data);
  const head = el(
    'tr',
    {},
    ...[
      '',
      'run',
      'method',
      'status',
      'final test %',
      'best val %',
      'student params',
      'teacher params',
      'duration',
      'backend',
    ].map((h, i) => el('th', i >= 4 && i <= 8 ? { class: 'num' } : {}, h)),
  );
  table.replaceChildren(
    el('thead', {}, head),
    el(
      'tbody',
      {},
      ...data.runs.map((r) => {
        const swatch = el('span', { class: 'swatch' });
        swatch.style.background = methodColor(r.method, theme.foreground);
        return el(
          'tr',
          { 'data-run-dir': r.dir, 'data-run-id': r.runId },
          el('td', {}, swatch),
          cell(`${r.label}${r.sweep ? ` (${r.sweep}, seed ${r.seed})` : ''}`),
          cell(r.method),
          cell(r.status),
          cell(pct(r.finalAccuracy), true),
          cell(pct(r.bestAccuracy), true),
          cell(compactCount(r.studentParams), true),
          cell(compactCount(r.teacherParams), true),
          cell(formatDuration(r.seconds), true),
          cell(r.backend ?? '–'),
        );
      }),
    ),
  );
  table.dataset.rows = String(data.runs.length);
  if (data.groups.length === 0) {
    groups.replaceChildren();
    groups.dataset.rows = '0';
    return;
  }
  const ghead = el(
    'tr',
    {},
    ...[
      'method · setting',
      'n',
      'test % (mean ± std)',
      'best %',
      'teacher %',
      'student params',
      'mean duration',
    ].map((h, i) => el('th', i > 0 ? { class: 'num' } : {}, h)),
  );
  groups.replaceChildren(
    el('thead', {}, ghead),
    el(
      'tbody',
      {},
      ...data.groups.map((g) =>
        el(
          'tr',
          { 'data-method': g.method },
          cell(g.label),
          cell(`${g.n}${g.incomplete ? ` (+${g.incomplete} not done)` : ''}`, true),
          cell(g.mean !== null ? `${pct(g.mean)} ± ${pct(g.std)}` : '–', true),
          cell(pct(g.best), true),
          cell(pct(g.teacher), true),
          cell(compactCount(g.studentParams), true),
          cell(formatDuration(g.seconds), true),
        ),
      ),
    ),
  );
  groups.dataset.rows = String(data.groups.length);
}

// ---- messages --------------------------------------------------------------------------------

function notice(level: 'info' | 'error', text: string): void {
  const n = $('notice');
  n.dataset.level = level;
  n.textContent = text;
}

function onMessage(m: ExtensionToWebview): void {
  switch (m.type) {
    case 'init':
      state = { runDir: m.runDir, compare: m.compare };
      vscode.setState(state);
      events = m.events.slice();
      // A run the extension does not follow (moved, not discovered yet): its own events say what it is.
      run =
        m.run ??
        (m.runDir && events.length > 0
          ? applyEvents(initialRunState(m.runDir.split(/[\\/]/).pop() ?? m.runDir, m.runDir), events)
          : null);
      series = new RunSeries(events);
      seriesVersion = series.version;
      runs = m.runs;
      renderRunList();
      render(true);
      break;
    case 'events':
      if (m.runDir !== state.runDir) return;
      run = m.run;
      for (const e of m.events) {
        events.push(e);
        series.add(e);
      }
      scheduleRender();
      break;
    case 'runs':
      runs = m.runs;
      state = { ...state, compare: m.compare };
      vscode.setState(state);
      renderRunList();
      break;
    case 'comparison':
      comparison = m.data;
      renderComparison();
      if (m.data.errors.length > 0) notice('error', m.data.errors.join('; '));
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

function isMessage(v: unknown): v is ExtensionToWebview {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
}

// ---- start -----------------------------------------------------------------------------------

buildPage();
buildCharts();
render(true);
window.addEventListener('message', (e: MessageEvent<unknown>) => {
  if (isMessage(e.data)) onMessage(e.data);
});
watchTheme(() => {
  theme = readTheme();
  for (const c of [metricsChart, phiChart, throughputChart, compareChart]) c.applyTheme(theme);
  renderComparison();
  if (run) renderHeader();
  document.body.dataset.theme = theme.kind;
});
document.body.dataset.theme = theme.kind;
// Elapsed time and the estimate tick on their own while a run goes.
setInterval(() => {
  if (run?.status === 'running') renderProgress(phaseTimeline(events));
}, 1000);
// Tests only (the extension sets data-test-hooks outside production): post any message, e.g. a malformed one.
if (document.body.dataset.testHooks === '1') {
  (window as unknown as { akdTestPost: (m: unknown) => void }).akdTestPost = (m) =>
    vscode.postMessage(m as WebviewToExtension);
}
post({ type: 'ready', state });
