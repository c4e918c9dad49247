/**
 * Labels of a time axis (seconds since the run started): precise enough that neighbouring ticks
 * never read the same ("4s 4s 4.1s" was a tick every 0.05 s printed to one decimal), no more.
 * Pure, unit-tested (test/unit/webview/axisFormat.test.ts).
 */

/** Decimals that tell ticks `step` apart. */
function decimals(step: number): number {
  if (!(step > 0)) return 0;
  return Math.min(3, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
}

/** One tick: `v` seconds on an axis whose ticks are `step` seconds apart. */
export function elapsedTick(v: number, step: number): string {
  if (step >= 3600 || (v >= 7200 && step >= 600)) {
    const h = Math.floor(v / 3600);
    const m = Math.round((v % 3600) / 60);
    return `${h}h${String(m).padStart(2, '0')}`;
  }
  if (step >= 60) {
    const minutes = v / 60;
    return `${minutes.toFixed(decimals(step / 60))}m`;
  }
  if (v >= 60 && step >= 1) {
    const m = Math.floor(v / 60);
    const s = v - m * 60;
    return `${m}m${s.toFixed(decimals(step)).padStart(2 + (decimals(step) > 0 ? decimals(step) + 1 : 0), '0')}s`;
  }
  return `${v.toFixed(decimals(step))}s`;
}

/** The step of a scale's ticks (chart.js passes them to the tick callback). */
export function tickStep(ticks: readonly { value: number }[]): number {
  let step = Infinity;
  for (let i = 1; i < ticks.length; i++) step = Math.min(step, Math.abs(ticks[i].value - ticks[i - 1].value));
  return Number.isFinite(step) ? step : 1;
}
