/**
 * chart.js plugin for the epoch charts: shades each phase's stretch of the x axis (teacher,
 * anneal, finetune, ...) and marks where each temperature step starts (a dashed line, "T=3").
 */
import type { Chart, Plugin } from 'chart.js';
import type { PhaseSpan, TemperatureMark } from '../../runner/protocol/series';
import type { ChartTheme } from './theme';

export interface PhaseDecor {
  spans(): readonly PhaseSpan[];
  marks(): readonly TemperatureMark[];
  theme(): ChartTheme;
}

const PHASE_COLOR: Record<string, number> = {
  teacher: 0,
  assistant: 1,
  train: 2,
  kd: 2,
  anneal: 2,
  finetune: 3,
};

export function phasePlugin(decor: PhaseDecor): Plugin<'line'> {
  return {
    id: 'akdPhases',
    beforeDatasetsDraw(chart: Chart<'line'>) {
      const { ctx, chartArea: area, scales } = chart;
      const x = scales.x;
      if (!x || !area) return;
      const theme = decor.theme();
      ctx.save();
      ctx.font = `11px ${theme.font}`;
      ctx.textBaseline = 'top';
      for (const s of decor.spans()) {
        const left = Math.max(area.left, x.getPixelForValue(s.from - 0.5));
        const right = Math.min(area.right, x.getPixelForValue(s.to + 0.5));
        if (right <= left) continue;
        ctx.globalAlpha = theme.kind.startsWith('high-contrast') ? 0.18 : 0.1;
        ctx.fillStyle = theme.phaseFill[PHASE_COLOR[s.phase] ?? 2];
        ctx.fillRect(left, area.top, right - left, area.bottom - area.top);
        ctx.globalAlpha = 1;
        ctx.fillStyle = theme.muted;
        if (right - left > 40) ctx.fillText(s.phase, left + 4, area.top + 2);
      }
      ctx.strokeStyle = theme.mark;
      ctx.setLineDash([4, 3]);
      ctx.lineWidth = 1;
      for (const m of decor.marks()) {
        const px = x.getPixelForValue(m.x - 0.5);
        if (px < area.left || px > area.right) continue;
        ctx.beginPath();
        ctx.moveTo(px, area.top + 14);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        ctx.fillStyle = theme.mark;
        ctx.fillText(`T=${m.temperature}`, px + 3, area.top + 16);
      }
      ctx.restore();
    },
  };
}
