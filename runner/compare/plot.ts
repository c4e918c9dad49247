/**
 * The comparison plot, rendered headlessly to PNG: (top) student test accuracy per group as
 * mean ± std over seeds with each seed's value, (bottom) the mean phase-1 validation curves of
 * the annealing groups, with the temperature of each step.
 */
import { pct, percent } from '../protocol/format';
import type { Group } from './collect';
import { Canvas, GLYPH_H, type Rgb } from './png';

const METHOD_COLORS: Record<string, Rgb> = {
  scratch: [120, 120, 120],
  kd: [31, 119, 180],
  takd: [44, 160, 44],
  annealing: [214, 39, 40],
};
const CURVE_COLORS: Rgb[] = [
  [214, 39, 40],
  [255, 127, 14],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [23, 190, 207],
  [188, 189, 34],
  [31, 119, 180],
];
const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];
const LIGHT: Rgb = [150, 150, 150];

const lighten = (c: Rgb, f: number): Rgb => c.map((v) => Math.round(v + (255 - v) * f)) as Rgb;

/** Tick positions at a "nice" step (1, 2 or 5 times a power of ten) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9); k++)
    out.push(Number((k * step).toPrecision(12)));
  return out;
}

function fmtPct(v: number, step: number): string {
  const digits = step * 100 >= 1 ? 0 : step * 100 >= 0.1 ? 1 : 2;
  return pct(v, digits);
}

export interface PlotOptions {
  title?: string;
  width?: number;
}

export function renderComparisonPng(groups: Group[], opts: PlotOptions = {}): Buffer {
  const shown = groups.filter((g) => g.test.n > 0);
  const curves = groups.filter((g) => g.annealCurve && g.annealCurve.some((p) => p.valAccuracy !== null));
  const S = 2; // text scale
  const lineH = GLYPH_H * S;
  const labelW = Math.min(760, Math.max(...shown.map((g) => Canvas.textWidth(g.label, S)), 60) + 16);
  const width = opts.width ?? Math.max(1000, 20 + labelW + 560);
  const rowH = 26;
  const topH = 70 + Math.max(1, shown.length) * rowH + 50;
  const curveLegend = curves.length;
  // Panel offset 10, titles 84, plot 300, axis labels 8 + 2 lines + 24, then one legend line per curve.
  const bottomH = curves.length > 0 ? 10 + 84 + 300 + 8 + 2 * lineH + 24 + curveLegend * (lineH + 8) + 16 : 0;
  const c = new Canvas(width, topH + bottomH);

  // ---------------- top: accuracy per group
  const teacher = shown.map((g) => g.teacherTest).find((t) => t !== null) ?? null;
  const title = opts.title ?? 'student test accuracy, mean ± std over seeds';
  c.text(20, 16, title, INK, S);
  c.text(
    20,
    16 + lineH + 8,
    `dots: single seeds${teacher !== null ? `   teacher: ${percent(teacher)}` : ''}`,
    LIGHT,
    S,
  );
  const x0 = 20 + labelW;
  const x1 = width - 30;
  const y0 = 70;
  if (shown.length > 0) {
    const values = shown.flatMap((g) => [
      g.test.mean - g.test.std,
      g.test.mean + g.test.std,
      ...g.runs
        .filter((r) => r.studentTest !== null && r.status === 'completed')
        .map((r) => r.studentTest as number),
    ]);
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    const pad = Math.max((hi - lo) * 0.08, 0.001);
    lo -= pad;
    hi += pad;
    const X = (v: number): number => x0 + ((v - lo) / (hi - lo)) * (x1 - x0);
    const ticks = niceTicks(lo, hi);
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : 0.01;
    const yAxis = y0 + shown.length * rowH + 6;
    for (const t of ticks) {
      c.line(X(t), y0 - 4, X(t), yAxis, GRID);
      c.text(X(t), yAxis + 8, fmtPct(t, step), INK, S, 'center');
    }
    c.text((x0 + x1) / 2, yAxis + 8 + lineH + 6, 'test accuracy %', INK, S, 'center');
    c.line(x0, yAxis, x1, yAxis, INK);
    shown.forEach((g, i) => {
      const y = y0 + i * rowH + rowH / 2;
      const color = METHOD_COLORS[g.method] ?? INK;
      c.text(x0 - 10, y - lineH / 2, g.label, color, S, 'right');
      for (const r of g.runs) {
        if (r.status === 'completed' && r.studentTest !== null)
          c.disc(X(r.studentTest), y, 2.5, lighten(color, 0.55));
      }
      if (g.test.n > 1) {
        const a = X(g.test.mean - g.test.std);
        const b = X(g.test.mean + g.test.std);
        c.line(a, y, b, y, color, 2);
        c.line(a, y - 6, a, y + 6, color, 2);
        c.line(b, y - 6, b, y + 6, color, 2);
      }
      c.disc(X(g.test.mean), y, 5, color);
    });
  } else {
    c.text(x0, y0, 'no completed runs', INK, S);
  }

  // ---------------- bottom: annealing phase-1 curves
  if (curves.length > 0) {
    const top = topH + 10;
    c.line(20, top - 6, width - 20, top - 6, GRID);
    c.text(20, top + 6, 'annealing phase 1: validation accuracy per epoch (mean over seeds)', INK, S);
    c.text(20, top + 6 + lineH + 8, 'dashed: temperature steps of the first curve', LIGHT, S);
    const px0 = 90;
    const px1 = width - 30;
    const py0 = top + 84;
    const py1 = py0 + 300;
    const maxEpoch = Math.max(...curves.map((g) => g.annealCurve!.length));
    const vals = curves.flatMap((g) =>
      g.annealCurve!.map((p) => p.valAccuracy).filter((v): v is number => v !== null),
    );
    let lo = Math.min(...vals);
    let hi = Math.max(...vals);
    const pad = Math.max((hi - lo) * 0.06, 0.002);
    lo = Math.max(0, lo - pad);
    hi = Math.min(1, hi + pad);
    const X = (epoch: number): number => px0 + ((epoch - 0.5) / maxEpoch) * (px1 - px0);
    const Y = (v: number): number => py1 - ((v - lo) / (hi - lo)) * (py1 - py0);
    const yt = niceTicks(lo, hi, 5);
    const ystep = yt.length > 1 ? yt[1] - yt[0] : 0.01;
    for (const t of yt) {
      c.line(px0, Y(t), px1, Y(t), GRID);
      c.text(px0 - 8, Y(t) - lineH / 2, fmtPct(t, ystep), INK, S, 'right');
    }
    c.line(px0, py1, px1, py1, INK);
    c.line(px0, py0, px0, py1, INK);
    for (const t of niceTicks(1, maxEpoch, 10).filter((e) => Number.isInteger(e))) {
      c.text(X(t), py1 + 8, String(t), INK, S, 'center');
    }
    c.text((px0 + px1) / 2, py1 + 8 + lineH + 6, 'phase-1 epoch', INK, S, 'center');
    // Temperature steps of the first (best-listed) curve: a dashed line where T changes, T on top.
    const ref = curves[0].annealCurve!;
    ref.forEach((p, i) => {
      if (i === 0 || p.temperature !== ref[i - 1].temperature) {
        if (i > 0) c.line(X(p.epoch - 0.5), py0, X(p.epoch - 0.5), py1, LIGHT, 1, 4);
        c.text(
          X(p.epoch) + (i === 0 ? 0 : 2),
          py0 - lineH - 6,
          `T${p.temperature}`,
          LIGHT,
          S,
          i === 0 ? 'left' : 'left',
        );
      }
    });
    curves.forEach((g, k) => {
      const color = CURVE_COLORS[k % CURVE_COLORS.length];
      let prev: [number, number] | undefined;
      for (const p of g.annealCurve!) {
        if (p.valAccuracy === null) {
          prev = undefined;
          continue;
        }
        const pt: [number, number] = [X(p.epoch), Y(p.valAccuracy)];
        if (prev) c.line(prev[0], prev[1], pt[0], pt[1], color, 2);
        c.disc(pt[0], pt[1], 3, color);
        prev = pt;
      }
      const ly = py1 + 8 + 2 * lineH + 24 + k * (lineH + 8);
      c.rect(px0, ly + 2, 24, lineH - 4, color);
      c.text(px0 + 34, ly, g.label, INK, S);
    });
  }
  return c.toPng();
}
