/**
 * A chart.js line chart that follows a growing series without re-rendering from scratch: new
 * points are appended to the datasets and drawn with `update('none')` (no animation); a series
 * longer than the canvas can show is downsampled with LTTB (shaping/decimate.ts) instead. The
 * canvas carries the counts for tests and for screen readers: data-points (points in the first
 * series), data-rendered (points drawn), data-counts ("label:n,...").
 */
import {
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartDataset,
  type ChartOptions,
  type Plugin,
} from 'chart.js';
import { pointBudget, shapeForChart } from '../shaping/decimate';
import { tickStep } from '../shaping/axisFormat';
import type { XY } from '../../runner/protocol/series';
import type { ChartTheme } from './theme';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  CategoryScale,
  Legend,
  Tooltip,
  Filler,
);

export interface SeriesSpec {
  label: string;
  /** Index into the theme's series colours. */
  color: number;
  /** A colour of its own (a method's, from runner/protocol/charts/palette), instead of `color`. */
  colorValue?: (theme: ChartTheme) => string;
  axis?: 'y' | 'y2' | 'y3';
  stepped?: boolean;
  dashed?: boolean;
  /** The full series (the chart decides what to draw of it). */
  data(): readonly XY[];
}

export interface AxisSpec {
  title: string;
  /** 'auto': shown only while a series uses it. */
  display?: boolean | 'auto';
  min?: number;
  max?: number;
  percent?: boolean;
}

export interface LiveChartOptions {
  x: AxisSpec;
  y: AxisSpec;
  y2?: AxisSpec;
  /** A second left axis (a loss on its own scale). */
  y3?: AxisSpec;
  plugins?: Plugin<'line'>[];
  /** Tick formatter of the x axis; `step`: the distance between its ticks. */
  xTick?: (v: number, step: number) => string;
}

type LineDataset = ChartDataset<'line', XY[]>;
type Scales = NonNullable<ChartOptions<'line'>['scales']>;
type Scale = Scales[string];

export class LiveChart {
  readonly chart: Chart<'line', XY[]>;
  private specs: SeriesSpec[];
  private decimated: boolean[] = [];

  constructor(
    readonly canvas: HTMLCanvasElement,
    specs: SeriesSpec[],
    private readonly options: LiveChartOptions,
    theme: ChartTheme,
  ) {
    this.specs = specs;
    this.chart = new Chart<'line', XY[]>(canvas, {
      type: 'line',
      data: { datasets: specs.map((s) => this.dataset(s, theme)) },
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: this.scales(theme),
        plugins: {
          legend: { labels: { color: theme.foreground, boxWidth: 12, font: { family: theme.font } } },
          tooltip: { enabled: true },
        },
      },
      plugins: options.plugins ?? [],
    });
    this.writeCounts();
  }

  private dataset(s: SeriesSpec, theme: ChartTheme): LineDataset {
    const color = s.colorValue ? s.colorValue(theme) : theme.series[s.color % theme.series.length];
    return {
      label: s.label,
      data: [],
      borderColor: color,
      backgroundColor: color,
      borderWidth: 2,
      pointRadius: 2,
      pointHoverRadius: 4,
      yAxisID: s.axis ?? 'y',
      stepped: s.stepped ? 'before' : false,
      spanGaps: false,
      ...(s.dashed ? { borderDash: [6, 4] } : {}),
    };
  }

  private scales(theme: ChartTheme): Scales {
    const axis = (a: AxisSpec, position: 'left' | 'right' | 'bottom', grid: boolean): Scale => ({
      type: 'linear',
      position,
      ...(a.display !== undefined ? { display: a.display } : {}),
      ...(a.min !== undefined ? { min: a.min } : {}),
      ...(a.max !== undefined ? { max: a.max } : {}),
      title: { display: true, text: a.title, color: theme.muted, font: { family: theme.font } },
      ticks: {
        color: theme.muted,
        font: { family: theme.font },
        maxTicksLimit: 8,
        ...(a.percent ? { callback: (v: string | number) => `${Math.round(Number(v) * 100)}%` } : {}),
        ...(position === 'bottom' && this.options.xTick
          ? {
              callback: (v: string | number, _i: number, ticks: { value: number }[]) =>
                this.options.xTick!(Number(v), tickStep(ticks)),
            }
          : {}),
        ...(position === 'bottom' && !this.options.xTick
          ? { callback: (v: string | number) => (Number.isInteger(Number(v)) ? String(v) : '') }
          : {}),
      },
      grid: { display: grid, color: theme.grid },
      border: { color: theme.grid },
    });
    return {
      x: axis(this.options.x, 'bottom', true),
      y: axis(this.options.y, 'left', true),
      ...(this.options.y2 ? { y2: axis(this.options.y2, 'right', false) } : {}),
      ...(this.options.y3 ? { y3: axis(this.options.y3, 'left', false) } : {}),
    };
  }

  /** Fix the x axis to a range (the epoch chart spans the whole plan, so progress shows), or let it follow the data. */
  setXRange(min: number | undefined, max: number | undefined): void {
    if (this.options.x.min === min && this.options.x.max === max) return;
    this.options.x.min = min;
    this.options.x.max = max;
    const x = this.chart.options.scales?.x as { min?: number; max?: number } | undefined;
    if (x) {
      x.min = min;
      x.max = max;
    }
  }

  /** Replace the series (another run, another comparison). */
  setSeries(specs: SeriesSpec[], theme: ChartTheme): void {
    this.specs = specs;
    this.decimated = [];
    this.chart.data.datasets = specs.map((s) => this.dataset(s, theme));
    this.refresh(true);
  }

  /**
   * Bring the drawn data up to date: append what is new, or (reset, or a series past its point
   * budget) reshape it whole. One `update('none')` at the end.
   */
  refresh(reset = false): void {
    const budget = pointBudget(this.canvas.clientWidth || this.canvas.width);
    this.specs.forEach((spec, i) => {
      const ds = this.chart.data.datasets[i];
      const full = spec.data();
      if (!reset && !this.decimated[i] && full.length <= budget && full.length >= ds.data.length) {
        for (let j = ds.data.length; j < full.length; j++) ds.data.push(full[j]);
      } else {
        ds.data = shapeForChart(full, budget);
        this.decimated[i] = full.length > budget;
      }
      (ds as { pointRadius?: number }).pointRadius = ds.data.length > 60 ? 0 : 2;
    });
    this.chart.update('none');
    this.writeCounts();
  }

  private writeCounts(): void {
    const full = this.specs.map((s) => s.data().length);
    const drawn = this.chart.data.datasets.map((d) => d.data.length);
    this.canvas.dataset.points = String(full[0] ?? 0);
    this.canvas.dataset.rendered = String(drawn[0] ?? 0);
    this.canvas.dataset.counts = this.specs.map((s, i) => `${s.label}:${full[i]}`).join(',');
    this.canvas.dataset.series = String(this.specs.length);
    // The x axis as drawn (the checks assert that no two ticks read the same).
    const ticks = this.chart.scales?.x?.ticks ?? [];
    this.canvas.dataset.xTicks = ticks.map((t) => String(t.label ?? '')).join('|');
  }

  applyTheme(theme: ChartTheme): void {
    this.chart.data.datasets.forEach((ds, i) => {
      const spec = this.specs[i];
      if (!spec) return;
      const color = spec.colorValue ? spec.colorValue(theme) : theme.series[spec.color % theme.series.length];
      ds.borderColor = color;
      ds.backgroundColor = color;
    });
    this.chart.options.scales = this.scales(theme);
    const legend = this.chart.options.plugins?.legend;
    if (legend?.labels) legend.labels.color = theme.foreground;
    this.chart.update('none');
  }

  /** The chart as a PNG data URL, on the editor background (a bare canvas is transparent). */
  toPng(background: string): string {
    const c = document.createElement('canvas');
    c.width = this.canvas.width;
    c.height = this.canvas.height;
    const ctx = c.getContext('2d');
    if (!ctx) return this.canvas.toDataURL('image/png');
    ctx.fillStyle = background;
    ctx.fillRect(0, 0, c.width, c.height);
    ctx.drawImage(this.canvas, 0, 0);
    return c.toDataURL('image/png');
  }

  destroy(): void {
    this.chart.destroy();
  }
}
