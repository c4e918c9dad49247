/** LTTB keeps the shape of a long series within a point budget. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lttb, pointBudget, shapeForChart } from '../../../webview/shaping/decimate';
import type { XY } from '../../../runner/protocol/series';

const wave = (n: number): XY[] =>
  Array.from({ length: n }, (_, i) => ({ x: i, y: Math.sin(i / 50) + (i === 7777 ? 5 : 0) }));

describe('lttb', () => {
  it('returns the series unchanged when it is short enough', () => {
    const data = wave(100);
    assert.deepEqual(lttb(data, 200), data);
    assert.deepEqual(shapeForChart(data, 200), data);
  });

  it('reduces 10,000 points to the budget, keeping the ends, the order and a lone spike', () => {
    const data = wave(10_000);
    const out = lttb(data, 500);
    assert.equal(out.length, 500);
    assert.deepEqual(out[0], data[0]);
    assert.deepEqual(out[out.length - 1], data[data.length - 1]);
    assert.ok(
      out.every((p, i) => i === 0 || p.x > out[i - 1].x),
      'x increasing',
    );
    assert.ok(
      out.some((p) => p.x === 7777),
      'the spike survives',
    );
    assert.ok(Math.max(...out.map((p) => p.y)) > 4);
  });

  it('is fast: 10,000 points in well under a frame', () => {
    const data = wave(10_000);
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) lttb(data, 1000);
    assert.ok((performance.now() - t0) / 10 < 16, 'one call under 16 ms');
  });

  it('drops gaps (null) before downsampling', () => {
    const data: XY[] = [...wave(1000), { x: 1000, y: null }];
    assert.ok(lttb(data, 100).every((p) => p.y !== null));
  });

  it('the budget follows the canvas width', () => {
    assert.equal(pointBudget(50), 200);
    assert.equal(pointBudget(800), 1600);
    assert.equal(pointBudget(Number.NaN), 1000);
  });
});
