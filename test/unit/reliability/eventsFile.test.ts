/** events.jsonl under faults (issue defect 3): a torn last line, short writes, readers that report what they skip. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readEventsReport } from '../../../runner/protocol/eventTail';
import { EventLog } from '../../../runner/store/eventLog';
import { runAkd, tempDir } from '../../helpers/akdProcess';
import { cancelledRun, eventsOf, tinyConfig } from './tinyRun';

test('defect 3: a torn last line does not swallow the next session: resume starts on a new line, stop and a second resume see it', async () => {
  const dir = tempDir('torn');
  const config = tinyConfig(dir, 'torn', { phase1Epochs: 400 });
  const runDir = await cancelledRun(config, path.join(dir, 'runs'));
  const file = path.join(runDir, 'events.jsonl');
  // What a kill in the middle of a write leaves: the start of an event, no newline.
  fs.appendFileSync(file, '{"v":1,"time":"2026-01-01T00:00:00.000Z","type":"epoch-ended","phase":"ann');
  const before = eventsOf(runDir).length;

  let stopped: Awaited<ReturnType<typeof runAkd>> | undefined;
  let second: Awaited<ReturnType<typeof runAkd>> | undefined;
  const resumed = await runAkd(['resume', runDir, '--json'], {
    onEvent: (e) => {
      if (e.type === 'epoch-ended' && !second) {
        second = {} as never; // once
        void (async () => {
          second = await runAkd(['resume', runDir, '--json']);
          stopped = await runAkd(['stop', runDir]);
        })();
      }
    },
  });
  while (!stopped) await new Promise((r) => setTimeout(r, 50));
  assert.equal(resumed.code, 143, resumed.stderr);
  const after = eventsOf(runDir).slice(before);
  assert.equal(after[0]?.type, 'run-started', 'the new session is readable from its first event');
  assert.notEqual(second?.code, 0, 'a second resume is refused while the first runs');
  assert.match(stopped.stderr, /sent SIGTERM to pid \d+/);
  assert.equal(after[after.length - 1].type, 'run-cancelled');
  const report = readEventsReport(file);
  assert.equal(report.torn.length, 1, 'the torn fragment is reported, not parsed');
  const show = await runAkd(['show', runDir]);
  assert.match(show.stderr + show.stdout, /line \d+ is not a complete event/);
});

test('EventLog: appends start on a new line; a write cut short leaves the next event whole', () => {
  const dir = tempDir('eventlog');
  const file = path.join(dir, 'events.jsonl');
  fs.writeFileSync(file, '{"v":1,"type":"log","tim');
  const log = new EventLog(file);
  log.emit({ type: 'log', level: 'info', message: 'after a torn line' });
  log.close();
  const r = readEventsReport(file);
  assert.deepEqual(
    r.events.map((e) => e.type),
    ['log'],
  );
  assert.deepEqual(
    r.torn.map((t) => t.line),
    [1],
  );
  assert.ok(fs.readFileSync(file, 'utf8').endsWith('\n'));
});
