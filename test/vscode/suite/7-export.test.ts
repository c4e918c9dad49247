/**
 * Export Student… inside the extension host: the command runs the bundled `akd export` on a
 * completed run (the choice given, as a script would), and the verified file, summary.json's
 * `exports`, the run's events and the refusal for a run without a student are checked. The page
 * side (the button, the dialogs, the list in the summary) is checked in a real browser by
 * harness/dashboardChecks.ts.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExportOutcome } from '../../../extension/runs/exportProcess';
import type { RunSummary } from '../../../runner/protocol';
import { readEvents } from '../../../runner/protocol';
import { api, completedRunDir } from './helpers';

suite('export', function () {
  this.timeout(120_000);
  let runDir: string;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-export-'));

  suiteSetup(async () => {
    runDir = await completedRunDir();
  });

  suiteTeardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('Export Student… writes a verified int8 file and records it in summary.json and the events', async () => {
    const out = path.join(tmp, 'student.int8.onnx');
    const outcome = await vscode.commands.executeCommand<ExportOutcome>('annealKd.exportStudent', runDir, {
      precision: 'int8',
      out,
    });
    assert.ok(outcome?.ok, JSON.stringify(outcome));
    assert.equal(outcome.record.file, out);
    assert.equal(outcome.record.verification.passed, true);
    assert.equal(fs.statSync(out).size, outcome.record.bytes);
    const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as RunSummary;
    assert.deepEqual(
      summary.exports?.find((e) => e.file === out),
      outcome.record,
    );
    const events = readEvents(path.join(runDir, 'events.jsonl'));
    assert.equal(events[events.length - 1].type, 'exported');
    const { runs } = await api();
    await runs.refresh();
    assert.equal(runs.get(runDir)?.status, 'completed', 'the run stays completed');
  });

  test("a run without a student is reported with akd's reason, and nothing is written", async () => {
    const copy = path.join(tmp, 'no-student');
    fs.cpSync(runDir, copy, { recursive: true });
    fs.rmSync(path.join(copy, 'student'), { recursive: true });
    const outcome = await vscode.commands.executeCommand<ExportOutcome>('annealKd.exportStudent', copy, {
      precision: 'fp32',
      out: path.join(tmp, 'none.onnx'),
    });
    assert.ok(outcome && !outcome.ok);
    assert.equal(outcome.error, `${copy}: no student to export: student/model.json is missing`);
    assert.equal(fs.existsSync(path.join(tmp, 'none.onnx')), false);
  });
});
