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

/** ln Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 significant digits). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularised incomplete beta function I_x(a, b), by its continued fraction (modified Lentz). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front =
    Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x)) / a;
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let f = d;
  for (let m = 1; m <= 300; m++) {
    for (const even of [true, false]) {
      const num = even
        ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m))
        : -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
      d = 1 + num * d;
      d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = 1 + num / c;
      if (Math.abs(c) < tiny) c = tiny;
      f *= c * d;
      if (!even && Math.abs(c * d - 1) < 1e-15) return front * f;
    }
  }
  return front * f;
}

/** Two-sided p-value of Student's t with `df` degrees of freedom (df may be fractional, as Welch's). */
export function studentTwoSidedP(t: number, df: number): number {
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** Welch's t-test of a vs b: t, df and the two-sided p-value; undefined as for welchT. */
export function welchTest(
  a: readonly number[],
  b: readonly number[],
): { t: number; df: number; p: number } | undefined {
  const w = welchT(a, b);
  return w && { ...w, p: studentTwoSidedP(w.t, w.df) };
}
