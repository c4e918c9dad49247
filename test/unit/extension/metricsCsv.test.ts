/** Export CSV of the dashboard: a run's metrics, one row per epoch. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metricsCsv } from '../../../extension/dashboard/metricsCsv';
import { EventBuilder } from '../../helpers/runEvents';

describe('metricsCsv', () => {
  it('one line per epoch with the phase and temperature', () => {
    const csv = metricsCsv(new EventBuilder().fullAnnealing().events).trim().split('\n');
    assert.equal(csv.length, 8);
    assert.match(csv[0], /^x,phase,epoch,epochs,temperature,phi,loss/);
    assert.match(csv[3], /^3,anneal,1,4,2,0\.5,1,/);
  });
});
