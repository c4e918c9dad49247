/** How numbers and events read as text (akd's output, Show Run Log, the dashboard). */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactCount, pct } from '../../../runner/protocol/format';

describe('format', () => {
  it('formats', () => {
    assert.equal(pct(0.92514), '92.51');
    assert.equal(pct(null), '–');
    assert.equal(compactCount(6370), '6.37k');
    assert.equal(compactCount(1234567), '1.23M');
  });
});
