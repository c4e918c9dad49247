import { test } from 'node:test';
import assert from 'node:assert/strict';
import { annealingSchedule, phi, stepForEpoch } from '../../../runner/protocol/annealingSchedule';

test('Phi(T) = 1 - (T-1)/tauMax: 1/tauMax at T = tauMax, 1 at T = 1', () => {
  assert.equal(phi(10, 10), 0.1);
  assert.equal(phi(1, 10), 1);
  assert.ok(Math.abs(phi(5, 10) - 0.6) < 1e-12);
  assert.equal(phi(1, 1), 1);
  assert.throws(() => phi(0, 10), /temperature must lie in \[1, 10\]/);
  assert.throws(() => phi(11, 10), RangeError);
  assert.throws(() => phi(1, 0), /tauMax must be an integer >= 1/);
});

test('divisible epochs: T = tauMax..1, equal epochs per temperature, scale rising to 1', () => {
  const s = annealingSchedule(10, 20);
  assert.deepEqual(
    s.map((x) => x.temperature),
    [10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
  );
  assert.ok(s.every((x) => x.epochs === 2));
  assert.deepEqual(
    s.map((x) => x.firstEpoch),
    [0, 2, 4, 6, 8, 10, 12, 14, 16, 18],
  );
  for (let i = 1; i < s.length; i++) assert.ok(s[i].phi > s[i - 1].phi);
  assert.ok(Math.abs(s[0].phi - 0.1) < 1e-12);
  assert.equal(s[s.length - 1].phi, 1);
});

test('non-divisible epochs: the remainder goes to the lowest temperatures and Phi never exceeds 1', () => {
  const s = annealingSchedule(4, 11); // 2 each, 3 extra
  assert.deepEqual(
    s.map((x) => [x.temperature, x.epochs]),
    [
      [4, 2],
      [3, 3],
      [2, 3],
      [1, 3],
    ],
  );
  assert.equal(
    s.reduce((n, x) => n + x.epochs, 0),
    11,
  );
  for (let e = 0; e < 11; e++) assert.ok(stepForEpoch(s, e).phi <= 1);
  assert.equal(stepForEpoch(s, 10).temperature, 1);
  assert.throws(() => stepForEpoch(s, 11), /past the end/);
});

test('epochs equal to tauMax: one epoch per temperature; fewer is an error (no zero-epoch steps)', () => {
  const s = annealingSchedule(3, 3);
  assert.deepEqual(
    s.map((x) => x.epochs),
    [1, 1, 1],
  );
  assert.throws(() => annealingSchedule(10, 9), /epochs 9 < tauMax 10/);
  assert.throws(() => annealingSchedule(10, 0), RangeError);
});

test('tauMax 1 is plain logit matching at full scale', () => {
  const s = annealingSchedule(1, 5);
  assert.deepEqual(
    s.map((x) => [x.temperature, x.phi, x.epochs]),
    [[1, 1, 5]],
  );
});
