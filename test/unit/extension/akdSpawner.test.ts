/**
 * The extension's one spawn helper for runs and sweeps, on real child processes (a stand-in for
 * bin/akd.js: the real runner would train): a start is pending until the runner names its
 * folder, then resolves with it; a runner that exits first is refused with its exit reason and
 * last stderr lines; the gate refuses in an untrusted workspace and past maxConcurrentRuns.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type * as vscode from 'vscode';
import { AkdSpawner, RunRefusedError, type AkdOptions } from '../../../extension/runs/akdSpawner';
import type { StreamEvent } from '../../../runner/protocol';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-spawner-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A stand-in for bin/akd.js: `announce RUNDIR` prints run-started then a log event; `refuse` fails like an invalid config. */
const script = path.join(dir, 'fake-akd.js');
fs.writeFileSync(
  script,
  `
  const [mode, runDir] = process.argv.slice(2);
  const emit = (e) => process.stdout.write(JSON.stringify({ v: 1, time: new Date().toISOString(), ...e }) + '\\n');
  if (mode === 'announce') {
    emit({ type: 'log', level: 'info', message: 'before the start' });
    emit({ type: 'run-started', runId: 'r1', runDir, pid: process.pid, backend: 'cpu' });
    emit({ type: 'log', level: 'info', message: 'after the start' });
  } else {
    process.stderr.write('exp.akd.json:3:5 method.tauMax must be >= 1 [minimum]\\n');
    process.exitCode = 2;
  }
`,
);

const lines: string[] = [];
const log = {
  info: (l: string) => lines.push(l),
  warn: (l: string) => lines.push(l),
  error: (l: string) => lines.push(l),
} as unknown as vscode.LogOutputChannel;

function spawner(over: Partial<AkdOptions> = {}, active = 0): AkdSpawner {
  const options: AkdOptions = {
    runnerScript: script,
    node: () => process.execPath,
    maxConcurrentRuns: () => 2,
    stopTimeoutMs: () => 1000,
    isTrusted: () => true,
    log,
    ...over,
  };
  return new AkdSpawner(
    options,
    () => active,
    () => undefined,
  );
}

describe('AkdSpawner', () => {
  it('a start is pending until the runner names its folder, then resolves with it and gets every later event', async () => {
    const akd = spawner();
    const runDir = path.join(dir, 'runs', 'r1');
    const seen: string[] = [];
    let exited = false;
    const started = akd.startAnnounced<string>({
      what: 'Run Experiment',
      args: ['announce', runDir],
      configPath: path.join(dir, 'exp.akd.json'),
      announce: (e: StreamEvent) => (e.type === 'run-started' ? e.runDir : undefined),
      onEvent: (e) => seen.push(e.type === 'log' ? e.message : e.type),
      label: (announced) => (announced ? path.basename(announced) : 'exp.akd.json'),
      onExit: () => {
        exited = true;
      },
    });
    assert.deepEqual(akd.startingConfigs(), [path.join(dir, 'exp.akd.json')], 'pending');
    assert.equal(await started, runDir);
    assert.deepEqual(akd.startingConfigs(), [], 'no longer pending once announced');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(seen, ['run-started', 'after the start']);
    assert.ok(exited);
  });

  it('a runner that exits before naming its folder is refused with why and its last stderr lines', async () => {
    const akd = spawner();
    let exitedWith: unknown = 'not yet';
    await assert.rejects(
      akd.startAnnounced<string>({
        what: 'Run Experiment',
        args: ['refuse'],
        configPath: path.join(dir, 'exp.akd.json'),
        announce: () => undefined,
        label: () => 'exp.akd.json',
        onExit: (announced) => {
          exitedWith = announced;
        },
      }),
      (e: Error) =>
        e instanceof RunRefusedError &&
        /^Run Experiment: the config is invalid\. exp\.akd\.json:3:5 method\.tauMax/.test(e.message),
    );
    assert.equal(exitedWith, undefined);
    assert.deepEqual(akd.startingConfigs(), []);
  });

  it('the gate: untrusted, missing runner, too many runs', () => {
    assert.throws(() => spawner({ isTrusted: () => false }).assertCanStart('Run Experiment'), /not trusted/);
    assert.throws(
      () => spawner({ runnerScript: path.join(dir, 'nope.js') }).assertCanStart('Run Sweep'),
      /^Error: Run Sweep: the runner is missing/,
    );
    assert.throws(
      () => spawner({}, 2).assertCanStart('Resume Run'),
      /Resume Run: 2 runs are already going \(annealKd\.maxConcurrentRuns is 2\)/,
    );
    spawner({}, 1).assertCanStart('Run Experiment');
  });
});
