/**
 * The shared chart definitions (runner/protocol/charts), rendered the CLI's way (chart.js on
 * @napi-rs/canvas): each chart to PNG and SVG; the SVG keeps its text as text (the method names
 * are <text> elements), the PNG shows each method in its palette colour.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracyChartHeight,
  accuracyPerMethodChart,
  capacityGapChart,
  capacityGaps,
  curveChartHeight,
  metricVsSettingChart,
  PAPER_WIDTH,
  phase1CurvesChart,
  settingStats,
  type FigureConfig,
} from '../../../runner/protocol/charts/figures';
import { METHOD_COLORS, methodColor, withAlpha } from '../../../runner/protocol/charts/palette';
import { renderFigure } from '../../../runner/compare/render';
import { mean, sampleStd } from '../../../runner/protocol/stats';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const napi = require('@napi-rs/canvas') as typeof import('@napi-rs/canvas');

const GROUPS = [
  { label: 'scratch', method: 'scratch', values: [0.9059, 0.9039, 0.902, 0.9063, 0.9087] },
  { label: 'kd T=2', method: 'kd', values: [0.9058, 0.9043, 0.8786, 0.9016, 0.9026] },
  { label: 'takd', method: 'takd', values: [0.9072, 0.9045, 0.9021, 0.9015, 0.902] },
  { label: 'annealing tauMax=5', method: 'annealing', values: [0.897, 0.8905, 0.8898, 0.8941, 0.8978] },
];

const CURVES = [
  {
    label: 'annealing tauMax=3',
    method: 'annealing',
    points: [3, 3, 2, 2, 1, 1].map((t, i) => ({ epoch: i + 1, temperature: t, value: 0.6 + 0.05 * i })),
  },
];

const SETTINGS = [1, 2, 3].flatMap((seed) =>
  [2, 4, 8].flatMap((x) => [
    { method: 'kd', x, y: 0.9 - 0.01 * Math.log2(x) + 0.002 * seed },
    { method: 'annealing', x, y: 0.89 + 0.003 * Math.log2(x) - 0.001 * seed },
  ]),
);

const CAPACITY = [
  ['mnist', 'mlp[8]', 6370],
  ['mnist', 'mlp[32]', 25450],
  ['mnist', 'cnn-small', 93322],
].flatMap(([dataset, student, params], i) =>
  ['scratch', 'kd', 'takd', 'annealing'].map((method, j) => ({
    dataset: dataset as string,
    student: student as string,
    studentParams: params as number,
    method,
    n: 5,
    mean: 0.9 + 0.02 * i + 0.002 * j,
    std: 0.003,
  })),
);

const CHARTS: { name: string; config: FigureConfig; height: number; texts: string[]; colors: string[] }[] = [
  {
    name: 'accuracy per method',
    config: accuracyPerMethodChart(GROUPS, { title: 'MNIST, 5 seeds', teacher: 0.977 }),
    height: accuracyChartHeight(GROUPS.length) + 16,
    texts: ['scratch', 'takd', 'annealing'],
    colors: [METHOD_COLORS.kd, METHOD_COLORS.annealing, METHOD_COLORS.takd],
  },
  {
    name: 'phase-1 curves',
    config: phase1CurvesChart(CURVES),
    height: curveChartHeight(),
    texts: ['T=3', 'T=2', 'T=1', 'annealing'],
    colors: [METHOD_COLORS.annealing],
  },
  {
    name: 'metric vs setting',
    config: metricVsSettingChart(SETTINGS, {
      xTitle: 'temperature',
      yTitle: 'test accuracy (%)',
      yPercent: true,
    }),
    height: 170,
    texts: ['kd', 'annealing', 'temperature'],
    colors: [METHOD_COLORS.kd, METHOD_COLORS.annealing],
  },
  {
    name: 'capacity gap',
    config: capacityGapChart(CAPACITY),
    height: 170,
    texts: ['annealing', 'scratch', 'kd'],
    colors: [METHOD_COLORS.kd],
  },
];

/** Pixels of the PNG close to `color` (the chart is antialiased: a small tolerance). */
async function pixelsOf(png: Buffer, color: string): Promise<number> {
  const img = await napi.loadImage(png);
  const c = napi.createCanvas(img.width, img.height);
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, img.width, img.height).data;
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 30) n++;
  }
  return n;
}

for (const chart of CHARTS) {
  test(`${chart.name}: PNG at 300 dpi and SVG with its text as text`, async () => {
    const png = renderFigure(chart.config, { width: PAPER_WIDTH, height: chart.height, format: 'png' });
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // IHDR: 3.4 in at 300 dpi.
    const w = png.readUInt32BE(16);
    const h = png.readUInt32BE(20);
    assert.ok(Math.abs(w - PAPER_WIDTH * (300 / 72)) <= 1, `width ${w}`);
    assert.ok(Math.abs(h - Math.round(chart.height) * (300 / 72)) <= 1, `height ${h}`);
    for (const color of chart.colors)
      assert.ok((await pixelsOf(png, color)) > 20, `${chart.name}: ${color} is drawn`);

    const svg = renderFigure(chart.config, {
      width: PAPER_WIDTH,
      height: chart.height,
      format: 'svg',
    }).toString('utf8');
    assert.match(svg, /<svg [^>]*width="245" height="\d+"/);
    for (const t of chart.texts)
      assert.match(svg, new RegExp(`<text[^>]*>${t.replace(/[[\]]/g, '\\$&')}</text>`), `"${t}" as SVG text`);
    // Real text at 8 pt (the axis labels), no glyphs turned into paths.
    assert.match(svg, /font-size="8"/);
    for (const color of chart.colors)
      assert.ok(svg.toLowerCase().includes(color.toLowerCase()) || svg.includes(withAlpha(color, 0.6)));
  });
}

test('one colour per method everywhere; scratch is the ink', () => {
  assert.equal(methodColor('annealing'), '#D55E00');
  assert.equal(methodColor('scratch', '#cccccc'), '#cccccc');
  assert.equal(methodColor('kd', '#cccccc'), METHOD_COLORS.kd);
  assert.equal(methodColor('something-else'), methodColor('something-else'));
  assert.equal(withAlpha('#D55E00', 0.5), 'rgba(213,94,0,0.5)');
});

test('metric vs setting: mean ± sample std per method and x, over the seeds', () => {
  const stats = settingStats(SETTINGS);
  assert.equal(stats.length, 6);
  const kd4 = stats.find((s) => s.method === 'kd' && s.x === 4)!;
  const ys = SETTINGS.filter((p) => p.method === 'kd' && p.x === 4).map((p) => p.y);
  assert.equal(kd4.n, 3);
  assert.ok(Math.abs(kd4.mean - mean(ys)) < 1e-12);
  assert.ok(Math.abs(kd4.std - sampleStd(ys)) < 1e-12);
});

test('capacity gap: annealing minus each baseline in points, with the standard error of the difference', () => {
  const gaps = capacityGaps(CAPACITY);
  assert.equal(gaps.length, 6);
  const g = gaps.find((x) => x.student === 'mlp[32]' && x.baseline === 'scratch')!;
  assert.ok(Math.abs(g.diff - 0.6) < 1e-9, String(g.diff));
  assert.ok(Math.abs(g.se - 100 * Math.sqrt((2 * 0.003 ** 2) / 5)) < 1e-9);
  // Without parameter counts the students are categories in the given order.
  const cfg = capacityGapChart(CAPACITY.map(({ studentParams: _p, ...r }) => r)) as unknown as {
    options: { scales: { x: { type: string } } };
  };
  assert.equal(cfg.options.scales.x.type, 'linear');
});
