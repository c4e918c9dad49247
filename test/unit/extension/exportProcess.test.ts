// Export Student's process (extension/runs/exportProcess.ts) with the real akd on a real short
// run: progress steps in order, the verified record, cancellation, a one-line failure; and the
// dashboard's list of exports (webview/shaping/exports.ts) read back from the run's files.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExportStep } from '../../../runner/protocol';
import { readRun } from '../../../runner/store/runStore';
import { exportArgs, startExport, type ExportChoice } from '../../../extension/runs/exportProcess';
import type { RunnerCommand } from '../../../extension/runs/runnerProcess';
import { exportLine, exportsOf } from '../../../webview/shaping/exports';
import { AKD, runAkd, tempDir, writeConfig } from '../../helpers/akdProcess';

let runDir: string;
let dir: string;

before(async () => {
  dir = tempDir('export-ext');
  const config = writeConfig(dir, 'tiny', {
    name: 'tiny',
    seed: 2,
    data: { dataset: 'mnist', trainLimit: 800, testLimit: 300 },
    teacher: {
      model: { type: 'mlp', hidden: [8] },
      epochs: 1,
      optimizer: { type: 'adam', learningRate: 0.005 },
    },
    student: { model: { type: 'mlp', hidden: [16] } },
    method: { type: 'scratch', epochs: 2, optimizer: { type: 'adam', learningRate: 0.005 } },
    backend: 'wasm',
  });
  const r = await runAkd(['run', config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const started = r.events.find((e) => e.type === 'run-started');
  assert.ok(started?.type === 'run-started');
  runDir = started.runDir;
});

const command = (folder: string, choice: ExportChoice): RunnerCommand => ({
  node: process.execPath,
  script: AKD,
  args: exportArgs(folder, choice),
  cwd: path.dirname(folder),
});

test('an export reports its steps in order, then the verified record; the dashboard lists it', async () => {
  const steps: ExportStep[] = [];
  const fp32 = await startExport(command(runDir, { precision: 'fp32' }), (step) => steps.push(step)).outcome;
  assert.ok(fp32.ok, JSON.stringify(fp32));
  assert.deepEqual(steps, ['load', 'convert', 'verify', 'write']);
  assert.equal(fp32.record.file, path.join('export', 'student.onnx'));
  assert.ok(fs.existsSync(path.join(runDir, 'export', 'student.onnx')));

  steps.length = 0;
  const out = path.join(dir, 'elsewhere', 'tiny.int8.onnx');
  const int8 = await startExport(command(runDir, { precision: 'int8', out }), (step) => steps.push(step))
    .outcome;
  assert.ok(int8.ok, JSON.stringify(int8));
  assert.deepEqual(steps, ['load', 'convert', 'verify', 'calibrate', 'quantize', 'verify', 'write']);
  assert.equal(int8.record.file, out);

  // What the dashboard shows, from the run's own files: summary.json and the appended events.
  const run = readRun(runDir);
  assert.equal(run.status, 'completed', 'an export does not change the run status');
  const fromSummary = exportsOf([], run.summary);
  const fromEvents = exportsOf(run.events, undefined);
  assert.deepEqual(fromSummary, [fp32.record, int8.record]);
  assert.deepEqual(fromEvents, [fp32.record, int8.record]);
  assert.match(
    exportLine(int8.record),
    /^tiny\.int8\.onnx · [\d.]+ kB · int8 \(0\.\d\d× fp32\) · test [\d.]+% \(fp32 [\d.]+%\)$/,
  );
  assert.match(
    exportLine(fp32.record),
    /^student\.onnx · [\d.]+ kB · fp32 · test [\d.]+% \(TF\.js [\d.]+%\)$/,
  );

  // Exported again: one record per file, the newest last.
  const again = await startExport(command(runDir, { precision: 'fp32' }), () => undefined).outcome;
  assert.ok(again.ok);
  const latest = exportsOf(readRun(runDir).events, readRun(runDir).summary);
  assert.deepEqual(
    latest.map((r) => r.file),
    [out, path.join('export', 'student.onnx')],
  );
  assert.equal(latest[1].exportedAt, again.record.exportedAt);
});

test('a cancelled export writes nothing', async () => {
  const out = path.join(dir, 'cancelled.int8.onnx');
  const job: ReturnType<typeof startExport> = startExport(
    command(runDir, { precision: 'int8', out }),
    (step) => {
      if (step === 'convert') job.cancel();
    },
  );
  const outcome = await job.outcome;
  assert.deepEqual(outcome, { ok: false, error: 'cancelled: nothing was written', cancelled: true });
  assert.equal(fs.existsSync(out), false);
});

test("a run without a student fails with akd's one-line reason", async () => {
  const copy = path.join(dir, 'no-student');
  fs.cpSync(runDir, copy, { recursive: true });
  fs.rmSync(path.join(copy, 'student'), { recursive: true });
  const outcome = await startExport(command(copy, { precision: 'fp32' }), () => undefined).outcome;
  assert.equal(outcome.ok, false);
  assert.ok(!outcome.ok);
  assert.equal(outcome.error, `${copy}: no student to export: student/model.json is missing`);
});
