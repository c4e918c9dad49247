/** Messages from the dashboard webview are untrusted input: only the contract's shapes pass. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWebviewMessage } from '../../../webview/messages';

describe('parseWebviewMessage', () => {
  it('accepts the contract', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseWebviewMessage({ type: 'command', command: 'showRunLog', runDir: '/r' }), { type: 'command', command: 'showRunLog', runDir: '/r' });
  });

  it('rejects anything else', () => {
    for (const bad of [null, 'ready', 42, {}, { type: 'ready', extra: 1 }, { type: 'command', command: 'deleteRun', runDir: '/r' },
      { type: 'command', command: 'workbench.action.terminal.new', runDir: '/r' }, { type: 'command', command: 'showRunLog' },
      { type: 'command', command: 'showRunLog', runDir: 'x'.repeat(5000) }]) {
      assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad)?.slice(0, 80));
    }
  });
});
