/**
 * `akd compare`'s figures: its groups (collect.ts) as the inputs of the shared chart definitions
 * (runner/protocol/charts/figures.ts), rendered for a paper column (render.ts).
 */
import * as path from 'node:path';
import {
  accuracyChartHeight,
  accuracyPerMethodChart,
  curveChartHeight,
  PAPER,
  PAPER_WIDTH,
  phase1CurvesChart,
  type FigureConfig,
} from '../protocol/charts/figures';
import type { Group } from './collect';

export interface Figure {
  /** What the figure shows, for file names: "" (the main one) or "phase1". */
  suffix: '' | 'phase1';
  config: FigureConfig;
  width: number;
  height: number;
}

/** Accuracy per method and setting; and, when annealing runs are among them, their phase-1 curves. */
export function compareFigures(groups: readonly Group[], title?: string): Figure[] {
  const shown = groups.filter((g) => g.test.n > 0);
  const teacher = shown.map((g) => g.teacherTest).find((t) => t !== null) ?? null;
  const figures: Figure[] = [
    {
      suffix: '',
      config: accuracyPerMethodChart(
        shown.map((g) => ({
          label: g.label,
          method: g.method,
          values: g.runs
            .filter((r) => r.status === 'completed' && r.studentTest !== null)
            .map((r) => r.studentTest as number),
        })),
        { ...(title ? { title } : {}), teacher },
      ),
      width: PAPER_WIDTH,
      height:
        accuracyChartHeight(
          shown.length,
          PAPER,
          shown.map((g) => g.label),
        ) + (title ? PAPER.fontSize * 2 : 0),
    },
  ];
  const curves = groups.filter((g) => g.annealCurve?.some((p) => p.valAccuracy !== null));
  if (curves.length > 0) {
    figures.push({
      suffix: 'phase1',
      config: phase1CurvesChart(
        curves.map((g) => ({
          label: g.label,
          method: g.method,
          points: g.annealCurve!.map((p) => ({
            epoch: p.epoch,
            temperature: p.temperature,
            value: p.valAccuracy,
          })),
        })),
        { title: 'annealing phase 1: validation accuracy (mean over seeds)' },
      ),
      width: PAPER_WIDTH,
      height: curveChartHeight() + PAPER.fontSize * 1.6 * Math.ceil(curves.length / 2),
    });
  }
  return figures;
}

/** results.png -> results-phase1.png */
export function figureFile(file: string, suffix: Figure['suffix']): string {
  if (!suffix) return file;
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}-${suffix}${ext}`;
}
