/** Messages from the dashboard webview are untrusted input: only the contract's shapes pass. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWebviewMessage, rejectReason } from '../../../webview/messages';

const PNG = 'data:image/png;base64,iVBORw0KGgo=';

describe('parseWebviewMessage', () => {
  it('accepts the contract', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseWebviewMessage({ type: 'ready', state: { runDir: '/r', compare: ['/a'] } }), {
      type: 'ready',
      state: { runDir: '/r', compare: ['/a'] },
    });
    assert.deepEqual(parseWebviewMessage({ type: 'action', action: 'showRunLog', runDir: '/r' }), {
      type: 'action',
      action: 'showRunLog',
      runDir: '/r',
    });
    assert.deepEqual(parseWebviewMessage({ type: 'selectRun', runDir: '/r' }), {
      type: 'selectRun',
      runDir: '/r',
    });
    assert.deepEqual(parseWebviewMessage({ type: 'compare', dirs: ['/a', '/b'] }), {
      type: 'compare',
      dirs: ['/a', '/b'],
    });
    assert.deepEqual(parseWebviewMessage({ type: 'exportPng', chart: 'metrics', dataUrl: PNG }), {
      type: 'exportPng',
      chart: 'metrics',
      dataUrl: PNG,
    });
    assert.deepEqual(parseWebviewMessage({ type: 'state', state: { runDir: null, compare: [] } }), {
      type: 'state',
      state: { runDir: null, compare: [] },
    });
  });

  it('rejects anything else, with a reason', () => {
    for (const bad of [
      null,
      'ready',
      42,
      [],
      {},
      { type: 'ready', extra: 1 },
      { type: 'action', action: 'deleteRun', runDir: '/r' },
      { type: 'action', action: 'workbench.action.terminal.new', runDir: '/r' },
      { type: 'action', action: 'showRunLog' },
      { type: 'action', action: 'showRunLog', runDir: 'x'.repeat(5000) },
      { type: 'selectRun', runDir: 7 },
      { type: 'compare', dirs: '/a' },
      { type: 'compare', dirs: Array(65).fill('/a') },
      { type: 'exportPng', chart: 'metrics', dataUrl: 'data:text/html;base64,PHNjcmlwdD4=' },
      { type: 'exportPng', chart: 'secrets', dataUrl: PNG },
      { type: 'state', state: { runDir: 1, compare: [] } },
      { type: 'command', command: 'showRunLog', runDir: '/r' },
    ]) {
      assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad)?.slice(0, 80));
      assert.ok(rejectReason(bad), 'a reason for the log');
    }
    assert.match(rejectReason({ type: 'bogus' }) ?? '', /unknown message type "bogus"/);
    assert.equal(rejectReason({ type: 'ready' }), undefined);
  });
});
