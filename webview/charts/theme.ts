/**
 * Chart colours from the workbench theme's CSS variables (--vscode-*), re-read when the theme
 * changes (VS Code swaps the body class and the variables on <html>). Light, dark and both high
 * contrast themes define them.
 */
export interface ChartTheme {
  kind: 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';
  foreground: string;
  muted: string;
  grid: string;
  background: string;
  font: string;
  series: string[];
  /** Shading of alternating phases. */
  phaseFill: string[];
  mark: string;
}

function cssVar(name: string, fallback: string): string {
  return (
    getComputedStyle(document.documentElement).getPropertyValue(name).trim() ||
    getComputedStyle(document.body).getPropertyValue(name).trim() ||
    fallback
  );
}

export function themeKind(): ChartTheme['kind'] {
  const c = document.body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  return c.contains('vscode-light') ? 'light' : 'dark';
}

export function readTheme(): ChartTheme {
  const kind = themeKind();
  const dark = kind === 'dark' || kind === 'high-contrast';
  const foreground = cssVar(
    '--vscode-charts-foreground',
    cssVar('--vscode-foreground', dark ? '#cccccc' : '#333333'),
  );
  const hc = kind.startsWith('high-contrast');
  return {
    kind,
    foreground,
    muted: cssVar('--vscode-descriptionForeground', foreground),
    grid: cssVar('--vscode-charts-lines', dark ? 'rgba(128,128,128,0.35)' : 'rgba(0,0,0,0.15)'),
    background: cssVar('--vscode-editor-background', dark ? '#1e1e1e' : '#ffffff'),
    font: cssVar('--vscode-font-family', 'sans-serif'),
    series: [
      cssVar('--vscode-charts-blue', '#3794ff'),
      cssVar('--vscode-charts-orange', '#d18616'),
      cssVar('--vscode-charts-green', '#89d185'),
      cssVar('--vscode-charts-purple', '#b180d7'),
      cssVar('--vscode-charts-red', '#f14c4c'),
      cssVar('--vscode-charts-yellow', '#cca700'),
    ],
    // Phases: teacher, assistant, student phases, each a faint wash of a chart colour.
    phaseFill: [
      cssVar('--vscode-charts-purple', '#b180d7'),
      cssVar('--vscode-charts-yellow', '#cca700'),
      cssVar('--vscode-charts-blue', '#3794ff'),
      cssVar('--vscode-charts-green', '#89d185'),
    ],
    mark: hc ? cssVar('--vscode-contrastActiveBorder', foreground) : cssVar('--vscode-charts-red', '#f14c4c'),
  };
}

/** Calls `onChange` whenever the workbench theme changes. */
export function watchTheme(onChange: () => void): void {
  const observer = new MutationObserver(() => onChange());
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
}
