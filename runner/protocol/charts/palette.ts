/**
 * The colours of every figure: the CLI's PNG/SVG, the dashboard, the experiments table. One colour
 * per method everywhere, from the Okabe-Ito palette (distinguishable with the common colour-vision
 * deficiencies, and in greyscale print by lightness).
 */

/** Okabe & Ito (2008), "Color Universal Design". */
export const OKABE_ITO = {
  black: '#000000',
  orange: '#E69F00',
  skyBlue: '#56B4E9',
  bluishGreen: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  reddishPurple: '#CC79A7',
} as const;

/**
 * Each method's colour. `scratch` (no teacher) is the baseline ink: black on paper and light
 * themes, the foreground on dark ones (see `methodColor`).
 */
export const METHOD_COLORS: Readonly<Record<string, string>> = {
  scratch: OKABE_ITO.black,
  kd: OKABE_ITO.blue,
  takd: OKABE_ITO.bluishGreen,
  annealing: OKABE_ITO.vermillion,
};

/** Colours for series that are not methods (several settings of one method, runs in order). */
export const SERIES_COLORS: readonly string[] = [
  OKABE_ITO.vermillion,
  OKABE_ITO.blue,
  OKABE_ITO.bluishGreen,
  OKABE_ITO.orange,
  OKABE_ITO.reddishPurple,
  OKABE_ITO.skyBlue,
  OKABE_ITO.yellow,
];

/** A method's colour; `ink` stands in for black (pass the theme's foreground on a dark background). */
export function methodColor(method: string, ink: string = OKABE_ITO.black): string {
  const c = METHOD_COLORS[method];
  if (c === undefined) return SERIES_COLORS[hash(method) % SERIES_COLORS.length];
  return c === OKABE_ITO.black ? ink : c;
}

export function seriesColor(i: number): string {
  return SERIES_COLORS[((i % SERIES_COLORS.length) + SERIES_COLORS.length) % SERIES_COLORS.length];
}

/** "#D55E00" + alpha 0.35 -> "rgba(213,94,0,0.35)"; other colour syntaxes are returned as they are. */
export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) return color;
  return `rgba(${parseInt(m[1], 16)},${parseInt(m[2], 16)},${parseInt(m[3], 16)},${alpha})`;
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h;
}
