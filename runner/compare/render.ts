/**
 * Figures rendered without a browser: a chart.js configuration from runner/protocol/charts
 * (the definitions the dashboard and the experiments table draw too) onto @napi-rs/canvas
 * (Skia, prebuilt binary in its npm platform package), as PNG at a print resolution or as SVG
 * with its text as <text> elements (selectable, searchable, editable in a vector editor).
 *
 * Loaded lazily: `akd compare` without --png/--svg never loads a canvas.
 */
import type { FigureConfig, FigureStyle } from '../protocol/charts/figures';
import { PAPER } from '../protocol/charts/figures';

export type FigureFormat = 'png' | 'svg';

export interface RenderOptions {
  /** Size in the chart's units (points for paper figures). */
  width: number;
  height: number;
  format: FigureFormat;
  /** PNG resolution in dots per inch for a chart sized in points (default 300). */
  dpi?: number;
  style?: FigureStyle;
}

type CanvasModule = typeof import('@napi-rs/canvas');
type ChartModule = typeof import('chart.js');
type ChartItem = import('chart.js').ChartItem;

let loaded: { canvas: CanvasModule; chart: ChartModule; family: string } | undefined;

function load(style: FigureStyle): { canvas: CanvasModule; chart: ChartModule; family: string } {
  if (loaded) return loaded;
  let canvas: CanvasModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    canvas = require('@napi-rs/canvas') as CanvasModule;
  } catch (e) {
    throw new Error(
      `figures need the npm package @napi-rs/canvas (with its prebuilt platform package): ${(e as Error).message.split('\n')[0]}`,
      { cause: e },
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const chart = require('chart.js') as ChartModule;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const errorBars = require('chartjs-chart-error-bars') as typeof import('chartjs-chart-error-bars');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const annotation = require('chartjs-plugin-annotation') as import('chart.js').Plugin & {
    default?: import('chart.js').Plugin;
  };
  chart.Chart.register(
    ...chart.registerables,
    errorBars.ScatterWithErrorBarsController,
    errorBars.PointWithErrorBar,
    annotation.default ?? annotation,
  );
  // The first family of the style's list that this machine has (Skia resolves one family per text run).
  const installed = new Set(canvas.GlobalFonts.families.map((f) => f.family));
  const wanted = style.font.split(',').map((f) => f.trim().replace(/^["']|["']$/g, ''));
  const family = wanted.find((f) => installed.has(f)) ?? [...installed][0];
  if (!family) throw new Error('no fonts found for the figures (install e.g. fonts-dejavu-core)');
  loaded = { canvas, chart, family };
  return loaded;
}

/** A config whose fonts name the one family this machine has (the config is copied, not changed). */
function withFamily<T>(value: T, family: string): T {
  if (Array.isArray(value)) return value.map((v) => withFamily(v, family)) as T;
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = k === 'family' && typeof v === 'string' ? family : withFamily(v, family);
  }
  return out as T;
}

export function renderFigure(config: FigureConfig, o: RenderOptions): Buffer {
  const style = o.style ?? PAPER;
  const { canvas, chart, family } = load(style);
  chart.Chart.defaults.font.family = family;
  chart.Chart.defaults.font.size = style.fontSize;
  const background: import('chart.js').Plugin = {
    id: 'akdBackground',
    beforeDraw(c) {
      if (!style.background) return;
      const ctx = c.ctx;
      ctx.save();
      ctx.fillStyle = style.background;
      ctx.fillRect(0, 0, c.width, c.height);
      ctx.restore();
    },
  };
  const cfg = withFamily(config, family);
  const width = Math.round(o.width);
  const height = Math.round(o.height);
  if (o.format === 'svg') {
    // Text stays text (no ConvertTextToPaths flag); sizes in points map to SVG user units.
    const svg = canvas.createCanvas(width, height, canvas.SvgExportFlag.NoPrettyXML);
    const c = new chart.Chart(svg as unknown as ChartItem, {
      ...cfg,
      options: { ...cfg.options, devicePixelRatio: 1, responsive: false, animation: false },
      plugins: [...(cfg.plugins ?? []), background],
    });
    c.draw();
    const out = svg.getContent();
    c.destroy();
    return Buffer.from(out);
  }
  const scale = (o.dpi ?? 300) / 72;
  const png = canvas.createCanvas(width, height);
  const c = new chart.Chart(png as unknown as ChartItem, {
    ...cfg,
    options: { ...cfg.options, devicePixelRatio: scale, responsive: false, animation: false },
    plugins: [...(cfg.plugins ?? []), background],
  });
  c.draw();
  const out = png.toBuffer('image/png');
  c.destroy();
  return out;
}

/** The file's format from its extension. */
export function formatOf(file: string): FigureFormat | undefined {
  const ext = file.toLowerCase().split('.').pop();
  return ext === 'png' || ext === 'svg' ? ext : undefined;
}
