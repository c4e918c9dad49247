/** Time-axis labels: neighbouring ticks never read the same (the Phi(T) chart's "4s 4s 4.1s"). */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { elapsedTick, tickStep } from '../../../webview/shaping/axisFormat';

const labels = (from: number, step: number, n: number): string[] =>
  Array.from({ length: n }, (_, i) => elapsedTick(from + i * step, step));

describe('elapsedTick', () => {
  it('gives distinct labels at any tick step', () => {
    for (const [from, step] of [
      [4, 0.05],
      [4, 0.1],
      [0, 0.5],
      [10, 2],
      [60, 5],
      [100, 20],
      [0, 60],
      [0, 300],
      [0, 1800],
      [3600, 3600],
    ]) {
      const l = labels(from, step, 8);
      assert.equal(new Set(l).size, l.length, `${from} by ${step}: ${l.join(' ')}`);
    }
  });

  it('reads naturally', () => {
    assert.deepEqual(labels(4, 0.05, 3), ['4.00s', '4.05s', '4.10s']);
    assert.deepEqual(labels(0, 5, 3), ['0s', '5s', '10s']);
    assert.deepEqual(labels(60, 10, 3), ['1m00s', '1m10s', '1m20s']);
    assert.deepEqual(labels(0, 120, 3), ['0m', '2m', '4m']);
    assert.deepEqual(labels(0, 30 * 60 * 2, 3), ['0h00', '1h00', '2h00']);
  });

  it('takes the step from the ticks', () => {
    assert.equal(tickStep([{ value: 1 }, { value: 1.5 }, { value: 2 }]), 0.5);
    assert.equal(tickStep([{ value: 3 }]), 1);
  });
});
