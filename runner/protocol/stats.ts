/** Summary statistics for comparing methods over seeds: pure functions. */

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); 0 for a single value, NaN for none. */
  std: number;
  /** Standard error of the mean, std / sqrt(n). */
  sem: number;
  best: number;
  worst: number;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (Bessel's correction); 0 for one value, NaN for none. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  if (xs.length === 1) return 0;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (xs.length - 1));
}

export function summarize(xs: readonly number[]): Summary {
  const n = xs.length;
  const std = sampleStd(xs);
  return {
    n,
    mean: mean(xs),
    std,
    sem: n > 0 ? std / Math.sqrt(n) : NaN,
    best: n > 0 ? Math.max(...xs) : NaN,
    worst: n > 0 ? Math.min(...xs) : NaN,
  };
}

/**
 * Welch's t statistic for the difference of two means (a - b) and its degrees of freedom
 * (Welch-Satterthwaite); undefined when either side has fewer than two values or no spread.
 */
export function welchT(a: readonly number[], b: readonly number[]): { t: number; df: number } | undefined {
  if (a.length < 2 || b.length < 2) return undefined;
  const va = sampleStd(a) ** 2 / a.length;
  const vb = sampleStd(b) ** 2 / b.length;
  if (va + vb === 0) return undefined;
  const t = (mean(a) - mean(b)) / Math.sqrt(va + vb);
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { t, df };
}

/** Per-index mean of several series of possibly different lengths (for averaging curves over seeds). */
export function meanSeries(series: readonly (readonly (number | null)[])[]): (number | null)[] {
  const len = Math.max(0, ...series.map((s) => s.length));
  const out: (number | null)[] = [];
  for (let i = 0; i < len; i++) {
    const vals = series
      .map((s) => s[i])
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    out.push(vals.length > 0 ? mean(vals) : null);
  }
  return out;
}
