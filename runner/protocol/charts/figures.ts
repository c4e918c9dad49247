/**
 * THE chart definitions: plain functions from results to chart.js configurations, called by the
 * CLI (`akd compare --png/--svg`, rendered in Node onto @napi-rs/canvas: runner/compare/render.ts),
 * the dashboard and the experiments table (rendered by chart.js in the webview). So a figure in a
 * paper, in the dashboard and in the table is drawn by the same code, with the same colour per
 * method (palette.ts).
 *
 * Why here, in runner/protocol: the contract is the one place both the runner's CLI and the webview
 * may import (the runner never imports webview/, the webview imports the runner only through
 * runner/protocol). The module stays a leaf of the contract: no runtime import at all (chart.js's
 * types only; error bars and annotations are data for the chartjs-chart-error-bars and
 * chartjs-plugin-annotation plugins, which each renderer registers).
 *
 * Sizes are in the chart's own units: CSS pixels in a webview, points (1/72 in) in a paper figure
 * (PAPER: a 3.4 in column, 8 pt text; the renderer scales to the output's dpi).
 */
import type { ChartConfiguration } from 'chart.js';
import type {} from 'chartjs-chart-error-bars';
import type {} from 'chartjs-plugin-annotation';
import { mean, sampleStd } from '../stats';
import { methodColor, seriesColor, withAlpha } from './palette';

/** A chart.js configuration as the renderers take it (error-bar and annotation parts included). */
export type FigureConfig = ChartConfiguration;

export interface FigureStyle {
  /** Text, axes and the `scratch` colour. */
  ink: string;
  /** Secondary text (axis titles, annotations). */
  muted: string;
  grid: string;
  /** A CSS font-family list. */
  font: string;
  /** Text size in the chart's units (pt for paper figures, px in a webview). */
  fontSize: number;
  /** Fill behind the chart (renderers paint it; undefined: transparent). */
  background?: string;
  /** Webviews: follow the container's size. Paper figures: fixed size. */
  responsive?: boolean;
}

/** Paper figures: a 3.4 in (245 pt) column, 8 pt text, black on white. */
export const PAPER: FigureStyle = {
  ink: '#000000',
  muted: '#333333',
  grid: '#dddddd',
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  fontSize: 8,
  background: '#ffffff',
};
export const PAPER_WIDTH = 245;

/** Height (in the style's units) that fits `rows` rows of a per-method chart (`labels`: two lines where they wrap). */
export function accuracyChartHeight(
  rows: number,
  style: FigureStyle = PAPER,
  labels: readonly string[] = [],
): number {
  const lines = labels.length > 0 ? Math.max(...labels.map((l) => wrapLabel(l).length)) : 1;
  return Math.round(style.fontSize * (7 + (0.9 + 1.25 * lines) * Math.max(1, rows)));
}

/** A row label in lines of at most `width` characters (a paper column leaves about a third of it to labels). */
export function wrapLabel(text: string, width = LABEL_WIDTH): string[] {
  const words = text.split(' ');
  const lines: string[] = [];
  for (const w of words) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 1 + w.length <= width) lines[lines.length - 1] = `${last} ${w}`;
    else lines.push(w);
  }
  return lines.length > 0 ? lines : [''];
}
const LABEL_WIDTH = 26;
export function curveChartHeight(style: FigureStyle = PAPER): number {
  return Math.round(style.fontSize * 22);
}

// ---- inputs ----------------------------------------------------------------------------------

/** One method and setting over seeds: `values` are the seeds' results (fractions for accuracies). */
export interface MethodGroup {
  label: string;
  method: string;
  values: readonly number[];
}

export interface CurvePoint {
  epoch: number;
  temperature?: number;
  value: number | null;
}
export interface Curve {
  label: string;
  method: string;
  points: readonly CurvePoint[];
}

/** One run's result at a setting (a seed): metric-vs-setting plots. */
export interface SettingPoint {
  method: string;
  x: number;
  y: number;
}

/** A row of a capacity-gap study's results.csv: accuracy over seeds of one (dataset, student, method). */
export interface CapacityRow {
  dataset: string;
  student: string;
  /** The student's parameter count: the x axis (log scale) when every row has it. */
  studentParams?: number;
  method: string;
  n: number;
  mean: number;
  std: number;
}

// ---- shared parts ----------------------------------------------------------------------------

const font = (
  s: FigureStyle,
  scale = 1,
  weight?: 'bold',
): { family: string; size: number; weight?: 'bold' } => ({
  family: s.font,
  size: Math.round(s.fontSize * scale * 10) / 10,
  ...(weight ? { weight } : {}),
});

/** Digits a percent tick needs at this tick step (0.5 % steps: one decimal). */
function percentDigits(step: number): number {
  const p = Math.abs(step) * 100;
  return p >= 1 || p === 0 ? 0 : p >= 0.1 ? 1 : 2;
}

type TickCallback = (value: number | string, index: number, ticks: { value: number }[]) => string;

const percentTicks: TickCallback = (value, _i, ticks) => {
  const step = ticks.length > 1 ? Math.abs(ticks[1].value - ticks[0].value) : 0.01;
  return (Number(value) * 100).toFixed(percentDigits(step));
};

function axis(
  s: FigureStyle,
  title: string,
  extra: Record<string, unknown> = {},
  ticks: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    type: 'linear',
    title: { display: true, text: title, color: s.ink, font: font(s), padding: 2 },
    ticks: { color: s.ink, font: font(s, 0.95), padding: 2, ...ticks },
    grid: { color: s.grid, tickLength: 3 },
    border: { color: s.ink },
    ...extra,
  };
}

function base(s: FigureStyle, title: string | undefined): Record<string, unknown> {
  return {
    animation: false,
    responsive: s.responsive ?? false,
    maintainAspectRatio: false,
    color: s.ink,
    font: font(s),
    layout: { padding: { top: 2, right: 6, bottom: 2, left: 2 } },
    plugins: {
      title: title
        ? {
            display: true,
            text: title,
            color: s.ink,
            font: font(s, 1.05, 'bold'),
            padding: { top: 0, bottom: 4 },
          }
        : { display: false },
      legend: {
        display: true,
        position: 'top',
        align: 'start',
        labels: {
          color: s.ink,
          font: font(s, 0.95),
          boxWidth: s.fontSize,
          boxHeight: s.fontSize * 0.8,
          padding: s.fontSize * 0.6,
          // Seeds and other helper datasets stay out of the legend.
          filter: (item: { text?: string }) => !!item.text && !item.text.startsWith('\u200b'),
        },
      },
      tooltip: { enabled: s.responsive ?? false },
      annotation: { annotations: {} },
    },
  };
}

/** Legend-less helper datasets are labelled with a leading zero-width space. */
const HIDDEN = '\u200b';

const METHOD_ORDER = ['scratch', 'kd', 'takd', 'annealing'];
/** Methods in the order every table lists them (scratch, kd, takd, annealing, then the rest by name). */
function byMethodOrder(methods: Iterable<string>): string[] {
  const rank = (m: string): number =>
    METHOD_ORDER.includes(m) ? METHOD_ORDER.indexOf(m) : METHOD_ORDER.length;
  return [...new Set(methods)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Ticks exactly at the data's x values (a few settings: 2, 4, 8), on a linear or log axis. */
function ticksAt(xs: readonly number[]): ((scale: { ticks: { value: number }[] }) => void) | undefined {
  const distinct = [...new Set(xs.filter((x) => Number.isFinite(x)))].sort((a, b) => a - b);
  if (distinct.length === 0 || distinct.length > 8) return undefined;
  return (scale) => {
    scale.ticks = distinct.map((value) => ({ value }));
  };
}

/** 6370 -> "6.4k", 1199882 -> "1.2M", 0.001 -> "0.001". */
function shortNumber(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e6) return `${Number((n / 1e6).toPrecision(2))}M`;
  if (a >= 1e3) return `${Number((n / 1e3).toPrecision(2))}k`;
  return String(Number(n.toPrecision(3)));
}

function finite(x: number | null | undefined): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function teacherFitsRange(groups: readonly MethodGroup[], t: number): boolean {
  const v = groups.flatMap((g) => g.values.filter(finite));
  if (v.length === 0) return true;
  const span = Math.max(...v) - Math.min(...v);
  return t - Math.max(...v) <= 2 * span && Math.min(...v) - t <= 2 * span;
}

// ---- 1. accuracy per method ------------------------------------------------------------------

export interface AccuracyOptions {
  title?: string;
  /** The teacher's accuracy: a dashed reference line. */
  teacher?: number | null;
  /** Axis title (default: the student's test accuracy). */
  axisTitle?: string;
  style?: FigureStyle;
}

/**
 * Student accuracy per method and setting: mean ± sample std over seeds as a dot with error bars,
 * each seed as a small open circle, one row per group (labels on the left, coloured by method).
 */
export function accuracyPerMethodChart(
  groups: readonly MethodGroup[],
  o: AccuracyOptions = {},
): FigureConfig {
  const s = o.style ?? PAPER;
  const shown = groups.filter((g) => g.values.some(finite));
  const labels = shown.map((g) => g.label);
  const methods = byMethodOrder(shown.map((g) => g.method));
  const datasets: unknown[] = [];
  for (const m of methods) {
    const color = methodColor(m, s.ink);
    const rows = shown.map((g, i) => ({ g, i })).filter(({ g }) => g.method === m);
    datasets.push({
      type: 'scatterWithErrorBars',
      label: m,
      data: rows.map(({ g, i }) => {
        const v = g.values.filter(finite);
        const mu = mean(v);
        const sd = v.length > 1 ? sampleStd(v) : 0;
        return { x: mu, xMin: mu - sd, xMax: mu + sd, y: i, yMin: i, yMax: i };
      }),
      backgroundColor: color,
      borderColor: color,
      pointRadius: s.fontSize * 0.4,
      errorBarColor: color,
      errorBarWhiskerColor: color,
      errorBarLineWidth: Math.max(1, s.fontSize / 8),
      errorBarWhiskerSize: s.fontSize * 0.7,
      order: 1,
    });
    datasets.push({
      type: 'scatter',
      label: `${HIDDEN}${m} seeds`,
      data: rows.flatMap(({ g, i }) => g.values.filter(finite).map((x) => ({ x, y: i }))),
      backgroundColor: 'rgba(0,0,0,0)',
      borderColor: withAlpha(color, 0.6),
      borderWidth: Math.max(0.75, s.fontSize / 12),
      pointRadius: s.fontSize * 0.3,
      order: 2,
    });
  }
  const config = base(s, o.title);
  const annotations: Record<string, unknown> = {};
  if (finite(o.teacher) && teacherFitsRange(groups, o.teacher)) {
    annotations.teacher = {
      type: 'line',
      xMin: o.teacher,
      xMax: o.teacher,
      borderColor: s.muted,
      borderWidth: 1,
      borderDash: [3, 2],
      label: {
        display: true,
        content: `teacher ${(o.teacher * 100).toFixed(1)}`,
        position: 'start',
        // Left of the line, inside the plot.
        xAdjust: -s.fontSize * 0.85 * 0.3 * `teacher ${(o.teacher * 100).toFixed(1)}`.length - 2,
        backgroundColor: 'rgba(0,0,0,0)',
        color: s.muted,
        font: font(s, 0.85),
        padding: 1,
      },
    };
  }
  const values = shown.flatMap((g) => g.values.filter(finite));
  // The teacher's line only when it fits without squeezing the students' differences flat.
  const span = Math.max(...values) - Math.min(...values);
  const teacherFits =
    finite(o.teacher) &&
    o.teacher - Math.max(...values) <= 2 * span &&
    Math.min(...values) - o.teacher <= 2 * span;
  const teacher = teacherFits ? [o.teacher as number] : [];
  const lo = Math.min(...values, ...teacher);
  const hi = Math.max(...values, ...teacher);
  const pad = Math.max((hi - lo) * 0.08, 0.002);
  return {
    type: 'scatterWithErrorBars',
    data: { datasets },
    options: {
      ...config,
      plugins: {
        ...(config.plugins as object),
        legend: { display: false },
        annotation: { annotations },
      },
      scales: {
        x: axis(
          s,
          (o.axisTitle ?? 'student test accuracy (%), mean ± std') +
            (finite(o.teacher) && teacher.length === 0 ? `; teacher ${(o.teacher * 100).toFixed(1)}` : ''),
          values.length > 0 ? { suggestedMin: lo - pad, suggestedMax: hi + pad } : {},
          { callback: percentTicks, maxTicksLimit: 6 },
        ),
        y: axis(
          s,
          '',
          { min: -0.6, max: Math.max(0, shown.length - 1) + 0.6, reverse: true, title: { display: false } },
          {
            stepSize: 1,
            autoSkip: false,
            callback: (v: number | string) => wrapLabel(labels[Number(v)] ?? ''),
            color: (ctx: { tick?: { value: number } }) => {
              const g = shown[ctx.tick?.value ?? -1];
              return g ? methodColor(g.method, s.ink) : s.ink;
            },
          },
        ),
      },
    },
  } as unknown as FigureConfig;
}

// ---- 2. phase-1 curves with temperature steps ------------------------------------------------

export interface CurveOptions {
  title?: string;
  axisTitle?: string;
  xTitle?: string;
  style?: FigureStyle;
}

/**
 * Annealing phase 1: validation accuracy per epoch, one line per curve, a dashed line where the
 * temperature of the first curve steps down, labelled with T.
 */
export function phase1CurvesChart(curves: readonly Curve[], o: CurveOptions = {}): FigureConfig {
  const s = o.style ?? PAPER;
  const shown = curves.filter((c) => c.points.some((p) => finite(p.value)));
  const oneMethod = new Set(shown.map((c) => c.method)).size <= 1;
  const datasets = shown.map((c, i) => {
    const color = oneMethod && shown.length > 1 ? seriesColor(i) : methodColor(c.method, s.ink);
    return {
      type: 'line',
      label: c.label,
      data: c.points.map((p) => ({ x: p.epoch, y: p.value })),
      borderColor: color,
      backgroundColor: color,
      borderWidth: Math.max(1, s.fontSize / 7),
      pointRadius: s.fontSize * 0.25,
      spanGaps: false,
    };
  });
  const annotations: Record<string, unknown> = {};
  const ref = shown[0]?.points ?? [];
  ref.forEach((p, i) => {
    if (p.temperature === undefined) return;
    const changed = i === 0 || ref[i - 1].temperature !== p.temperature;
    if (!changed) return;
    annotations[`t${i}`] = {
      type: 'line',
      xMin: p.epoch - 0.5,
      xMax: p.epoch - 0.5,
      borderColor: i === 0 ? 'rgba(0,0,0,0)' : withAlpha(s.muted.startsWith('#') ? s.muted : '#555555', 0.7),
      borderWidth: 1,
      borderDash: [3, 2],
      label: {
        display: true,
        content: `T=${p.temperature}`,
        position: 'start',
        xAdjust: s.fontSize * 1.2,
        backgroundColor: 'rgba(0,0,0,0)',
        color: s.muted,
        font: font(s, 0.85),
        padding: 0,
      },
    };
  });
  const config = base(s, o.title);
  return {
    type: 'line',
    data: { datasets },
    options: {
      ...config,
      plugins: {
        ...(config.plugins as object),
        legend: { ...(config.plugins as { legend: object }).legend, display: shown.length > 0 },
        annotation: { annotations },
      },
      scales: {
        x: axis(s, o.xTitle ?? 'phase-1 epoch', {}, { precision: 0, maxTicksLimit: 10 }),
        y: axis(
          s,
          o.axisTitle ?? 'validation accuracy (%)',
          {},
          { callback: percentTicks, maxTicksLimit: 6 },
        ),
      },
    },
  } as unknown as FigureConfig;
}

// ---- 3. a metric against a setting -----------------------------------------------------------

export interface SettingOptions {
  xTitle: string;
  yTitle: string;
  /** y is a fraction shown as percent. */
  yPercent?: boolean;
  /** x on a log scale (learning rates, parameter counts); only when every x > 0. */
  xLog?: boolean;
  title?: string;
  style?: FigureStyle;
}

/** Mean ± sample std of y at each x, per method; the seeds' single values alongside. */
export function settingStats(points: readonly SettingPoint[]): {
  method: string;
  x: number;
  n: number;
  mean: number;
  std: number;
}[] {
  const by = new Map<string, SettingPoint[]>();
  for (const p of points) {
    if (!finite(p.x) || !finite(p.y)) continue;
    const k = `${p.method}\u0000${p.x}`;
    by.set(k, [...(by.get(k) ?? []), p]);
  }
  return [...by.values()]
    .map((ps) => {
      const ys = ps.map((p) => p.y);
      return {
        method: ps[0].method,
        x: ps[0].x,
        n: ys.length,
        mean: mean(ys),
        std: ys.length > 1 ? sampleStd(ys) : 0,
      };
    })
    .sort((a, b) => a.method.localeCompare(b.method) || a.x - b.x);
}

/**
 * Any metric (y) against any numeric setting (x), coloured by method: each run as a faint point,
 * the mean ± std over seeds at each x as a dot with error bars, joined per method.
 */
export function metricVsSettingChart(points: readonly SettingPoint[], o: SettingOptions): FigureConfig {
  const s = o.style ?? PAPER;
  const stats = settingStats(points);
  const methods = byMethodOrder(stats.map((p) => p.method));
  const datasets: unknown[] = [];
  for (const m of methods) {
    const color = methodColor(m, s.ink);
    datasets.push({
      type: 'scatterWithErrorBars',
      label: m,
      data: stats
        .filter((p) => p.method === m)
        .map((p) => ({
          x: p.x,
          xMin: p.x,
          xMax: p.x,
          y: p.mean,
          yMin: p.mean - p.std,
          yMax: p.mean + p.std,
        })),
      showLine: true,
      borderColor: color,
      backgroundColor: color,
      borderWidth: Math.max(1, s.fontSize / 8),
      pointRadius: s.fontSize * 0.35,
      errorBarColor: color,
      errorBarWhiskerColor: color,
      errorBarWhiskerSize: s.fontSize * 0.6,
      order: 1,
    });
    datasets.push({
      type: 'scatter',
      label: `${HIDDEN}${m} runs`,
      data: points
        .filter((p) => p.method === m && finite(p.x) && finite(p.y))
        .map((p) => ({ x: p.x, y: p.y })),
      backgroundColor: withAlpha(color, 0.35),
      borderColor: withAlpha(color, 0.35),
      pointRadius: s.fontSize * 0.25,
      order: 2,
    });
  }
  const logX = Boolean(o.xLog) && points.every((p) => !finite(p.x) || p.x > 0);
  const config = base(s, o.title);
  return {
    type: 'scatterWithErrorBars',
    data: { datasets },
    options: {
      ...config,
      scales: {
        x: axis(
          s,
          o.xTitle,
          {
            type: logX ? 'logarithmic' : 'linear',
            grace: '5%',
            afterBuildTicks: ticksAt(stats.map((p) => p.x)),
          },
          { maxTicksLimit: 8, callback: (v: number | string) => shortNumber(Number(v)) },
        ),
        y: axis(
          s,
          o.yTitle,
          { grace: '5%' },
          o.yPercent ? { callback: percentTicks, maxTicksLimit: 6 } : { maxTicksLimit: 6 },
        ),
      },
    },
  } as unknown as FigureConfig;
}

// ---- 4. the capacity gap ---------------------------------------------------------------------

export interface GapPoint {
  dataset: string;
  student: string;
  studentParams?: number;
  baseline: string;
  /** mean(annealing) - mean(baseline), accuracy points (percent). */
  diff: number;
  /** Standard error of that difference, sqrt(s_a^2/n_a + s_b^2/n_b), in points. */
  se: number;
}

/** annealing - baseline per (dataset, student), with the standard error of the difference. */
export function capacityGaps(
  rows: readonly CapacityRow[],
  baselines: readonly string[] = ['scratch', 'kd'],
): GapPoint[] {
  const cell = (d: string, st: string, m: string): CapacityRow | undefined =>
    rows.find((r) => r.dataset === d && r.student === st && r.method === m);
  const out: GapPoint[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    const k = `${r.dataset}\u0000${r.student}`;
    if (seen.has(k)) continue;
    seen.add(k);
    const a = cell(r.dataset, r.student, 'annealing');
    if (!a || a.n < 1) continue;
    for (const b of baselines) {
      const base = cell(r.dataset, r.student, b);
      if (!base || base.n < 1) continue;
      const se = Math.sqrt((a.std * a.std) / a.n + (base.std * base.std) / base.n);
      out.push({
        dataset: r.dataset,
        student: r.student,
        ...(r.studentParams !== undefined ? { studentParams: r.studentParams } : {}),
        baseline: b,
        diff: (a.mean - base.mean) * 100,
        se: se * 100,
      });
    }
  }
  return out;
}

const POINT_STYLES = ['circle', 'triangle', 'rect', 'rectRot', 'crossRot', 'star'] as const;

export interface GapOptions {
  baselines?: readonly string[];
  title?: string;
  style?: FigureStyle;
}

/**
 * The capacity-gap plot: annealing minus each baseline (test accuracy points, ± 1 standard error of
 * the difference) against the student's size; one series per (baseline, dataset), coloured by the
 * baseline's method colour, one point shape per dataset; a line at zero (no difference).
 */
export function capacityGapChart(rows: readonly CapacityRow[], o: GapOptions = {}): FigureConfig {
  const s = o.style ?? PAPER;
  const gaps = capacityGaps(rows, o.baselines);
  const byParams =
    gaps.length > 0 && gaps.every((g) => finite(g.studentParams) && (g.studentParams as number) > 0);
  const students = [...new Set(gaps.map((g) => g.student))];
  const datasetsOf = [...new Set(gaps.map((g) => g.dataset))];
  const series = new Map<string, GapPoint[]>();
  for (const g of gaps) {
    const k = `${g.baseline}\u0000${g.dataset}`;
    series.set(k, [...(series.get(k) ?? []), g]);
  }
  // Side by side at one student: a small offset per series (in log space for parameter counts).
  const keys = [...series.keys()];
  const datasets = keys.map((k, j) => {
    const ps = series.get(k)!;
    const { baseline, dataset } = ps[0];
    const color = methodColor(baseline, s.ink);
    const offset = (j - (keys.length - 1) / 2) * 0.06;
    const xOf = (g: GapPoint): number =>
      byParams
        ? (g.studentParams as number) * Math.pow(10, offset / 2)
        : students.indexOf(g.student) + offset;
    return {
      type: 'scatterWithErrorBars',
      label: `vs ${baseline}${datasetsOf.length > 1 ? `, ${dataset}` : ''}`,
      data: ps
        .map((g) => ({
          x: xOf(g),
          xMin: xOf(g),
          xMax: xOf(g),
          y: g.diff,
          yMin: g.diff - g.se,
          yMax: g.diff + g.se,
        }))
        .sort((a, b) => a.x - b.x),
      showLine: true,
      borderColor: color,
      backgroundColor: color,
      borderWidth: Math.max(1, s.fontSize / 8),
      borderDash: datasetsOf.indexOf(dataset) > 0 ? [4, 2] : [],
      pointStyle: POINT_STYLES[datasetsOf.indexOf(dataset) % POINT_STYLES.length],
      pointRadius: s.fontSize * 0.4,
      errorBarColor: color,
      errorBarWhiskerColor: color,
      errorBarWhiskerSize: s.fontSize * 0.6,
    };
  });
  const config = base(s, o.title);
  return {
    type: 'scatterWithErrorBars',
    data: { datasets },
    options: {
      ...config,
      plugins: {
        ...(config.plugins as object),
        subtitle: {
          display: true,
          text: 'annealing − baseline, test accuracy points, ± 1 s.e. of the difference',
          color: s.muted,
          font: font(s, 0.9),
          padding: { bottom: 2 },
        },
        legend: {
          ...(config.plugins as { legend: { labels: object } }).legend,
          labels: {
            ...(config.plugins as { legend: { labels: object } }).legend.labels,
            usePointStyle: true,
          },
        },
        annotation: {
          annotations: {
            zero: {
              type: 'line',
              yMin: 0,
              yMax: 0,
              borderColor: s.muted,
              borderWidth: 1,
              borderDash: [2, 2],
            },
          },
        },
      },
      scales: {
        x: byParams
          ? axis(
              s,
              'student parameters',
              {
                type: 'logarithmic',
                grace: '5%',
                afterBuildTicks: ticksAt(gaps.map((g) => g.studentParams as number)),
              },
              { callback: (v: number | string) => shortNumber(Number(v)), autoSkip: false },
            )
          : axis(
              s,
              'student',
              { min: -0.5, max: Math.max(0, students.length - 1) + 0.5 },
              { stepSize: 1, autoSkip: false, callback: (v: number | string) => students[Number(v)] ?? '' },
            ),
        y: axis(s, 'Δ test accuracy (points)', { grace: '10%' }, { maxTicksLimit: 7 }),
      },
    },
  } as unknown as FigureConfig;
}

/** Students of a capacity-gap table by size, for a consistent order (rows keep their first appearance otherwise). */
export function sortByStudentSize(rows: readonly CapacityRow[]): CapacityRow[] {
  return [...rows].sort((a, b) => (a.studentParams ?? 0) - (b.studentParams ?? 0));
}
