/**
 * The import rules `npm run lint` enforces (.dependency-cruiser.cjs) fail on deliberate
 * violations: each case writes a small tree with this project's folder names into a temporary
 * folder and runs the real dependency-cruiser with the project's own rule file on it.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO } from '../../helpers/akdProcess';

const DEPCRUISE = path.join(REPO, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const RULES = path.join(REPO, '.dependency-cruiser.cjs');
const roots: string[] = [];
after(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

/** What every case has: the contract, a store, the webview contract, and a clean extension and page. */
const BASE: Record<string, string> = {
  'runner/protocol/events.ts': `export type RunEvent = { type: string };\n`,
  'runner/protocol/index.ts': `export * from './events';\n`,
  'runner/store/runStore.ts': `import type { RunEvent } from '../protocol/events';\nexport const runs: RunEvent[] = [];\n`,
  'runner/config/validate.ts': `import type { RunEvent } from '../protocol/events';\nexport const ok = (e: RunEvent) => !!e;\n`,
  'webview/messages.ts': `import type { RunEvent } from '../runner/protocol/events';\nexport type Msg = { events: RunEvent[] };\n`,
  'webview/main.ts': `import type { Msg } from './messages';\nexport const m: Msg | undefined = undefined;\n`,
  'extension/panel.ts':
    `import type { RunEvent } from '../runner/protocol';\nimport { ok } from '../runner/config/validate';\n` +
    `import type { Msg } from '../webview/messages';\nexport const x = (e: RunEvent, m?: Msg) => ok(e) && m;\n`,
};

/** The rules a tree breaks, by name (no tree: the base alone). */
function violations(files: Record<string, string> = {}): string[] {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-import-rules-'));
  roots.push(root);
  for (const [file, text] of Object.entries({ ...BASE, ...files })) {
    fs.mkdirSync(path.join(root, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  }
  // The same command and output as `npm run lint:imports`: one `error RULE: from → to` line each.
  const r = spawnSync(process.execPath, [DEPCRUISE, 'runner', 'extension', 'webview', '--config', RULES], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.match(r.stdout, /dependency violations|no dependency violations found/, r.stderr);
  const names = [...new Set([...r.stdout.matchAll(/^\s*error ([\w-]+):/gm)].map((m) => m[1]))].sort();
  assert.equal(r.status === 0, names.length === 0, `exit ${r.status} with ${names.join(', ')}`);
  return names;
}

describe('import rules (dependency-cruiser, run by npm run lint)', () => {
  it('a tree that keeps them passes', () => {
    assert.deepEqual(violations(), []);
  });

  it('the extension reaching into the runner past protocol/ and config/ fails', () => {
    assert.deepEqual(
      violations({
        'extension/bad.ts': `import { runs } from '../runner/store/runStore';\nexport const n = runs;\n`,
      }),
      ['extension-through-the-contract'],
    );
  });

  it('the extension importing the page (anything of webview/ but messages.ts) fails', () => {
    assert.deepEqual(
      violations({ 'extension/bad.ts': `import { m } from '../webview/main';\nexport const n = m;\n` }),
      ['extension-webview-contract-only'],
    );
  });

  it('the webview importing the extension fails', () => {
    assert.deepEqual(
      violations({ 'webview/bad.ts': `import { x } from '../extension/panel';\nexport const n = x;\n` }),
      ['webview-not-extension'],
    );
  });

  it('the webview importing the protocol barrel (it re-exports Node-only readers) fails', () => {
    assert.deepEqual(
      violations({
        'webview/bad.ts': `import type { RunEvent } from '../runner/protocol';\nexport type E = RunEvent;\n`,
      }),
      ['webview-through-the-protocol'],
    );
  });

  it('the protocol importing anything else of the runner fails', () => {
    assert.deepEqual(
      violations({
        'runner/protocol/bad.ts': `import { runs } from '../store/runStore';\nexport const n = runs;\n`,
      }),
      ['protocol-is-a-leaf', 'runner-layer-protocol'],
    );
  });

  it('a lower room importing a higher one fails (store -> cli)', () => {
    assert.deepEqual(
      violations({
        'runner/cli/akd.ts': `export const main = 1;\n`,
        'runner/store/bad.ts': `import { main } from '../cli/akd';\nexport const n = main;\n`,
      }),
      ['runner-layer-models-data-backend-store'],
    );
  });

  it('training importing the sweeps (their teacher cache) fails: the cache is passed into the run', () => {
    assert.deepEqual(
      violations({
        'runner/sweep/teacherCache.ts': `export const cache = 1;\n`,
        'runner/training/run.ts': `import { cache } from '../sweep/teacherCache';\nexport const c = cache;\n`,
      }),
      ['runner-layer-training'],
    );
  });

  it('an import circle fails anywhere, runner/training/ included', () => {
    const circle = (dir: string): Record<string, string> => ({
      [`${dir}/a.ts`]: `import { b } from './b';\nexport const a = () => b;\n`,
      [`${dir}/b.ts`]: `import { a } from './a';\nexport const b = () => a;\n`,
    });
    assert.deepEqual(violations(circle('runner/cli/commands')), ['no-circular']);
    assert.deepEqual(violations(circle('extension/runs')), ['no-circular']);
    assert.deepEqual(violations(circle('runner/training')), ['no-circular']);
  });

  it('the runner importing vscode, or the extension reaching TensorFlow.js, fails', () => {
    assert.deepEqual(
      violations({ 'runner/store/bad.ts': `import * as vscode from 'vscode';\nexport const v = vscode;\n` }),
      ['runner-never-vscode'],
    );
    assert.deepEqual(
      violations({ 'extension/bad.ts': `import * as tf from '@tensorflow/tfjs';\nexport const t = tf;\n` }),
      ['extension-never-trains'],
    );
  });
});
