/**
 * A disk that fills up mid-run (issue defect 4), on a real tmpfs: the run ends failed with one
 * clear line (what, where, how much space), no temp files, the last good checkpoint intact, and
 * it resumes once there is space again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunFailedEvent } from '../../../runner/protocol/events';
import { loadResumeState } from '../../../runner/store/checkpoint';
import { readEventsReport } from '../../../runner/store/eventLog';
import { runAkd, tempDir } from '../../helpers/akdProcess';
import { eventsOf, runDirOf, tinyConfig } from './tinyRun';
import { mountSmallDisk, tempLeftovers } from './tmpfs';

test('defect 4: the disk fills up during a checkpoint: failed with one line, no temp files, the last checkpoint intact, resumable', async (t) => {
  const dir = tempDir('enospc');
  const disk = mountSmallDisk(dir, 8 * 1024 * 1024);
  if (typeof disk === 'string') return t.skip(disk);
  try {
    const config = tinyConfig(dir, 'full', { phase1Epochs: 400 });
    const runs = path.join(disk.dir, 'runs');
    let filler: string | undefined;
    // Fill the disk once phase 1 is under way, leaving less than a checkpoint needs.
    const poll = setInterval(() => {
      if (filler || !fs.existsSync(runs)) return;
      for (const id of fs.readdirSync(runs)) {
        const events = eventsOf(path.join(runs, id));
        if (events.some((e) => e.type === 'epoch-ended' && e.phase === 'anneal' && e.epoch >= 2))
          filler = disk.fill(24 * 1024);
      }
    }, 10);
    // Human output (no --json): what a person in a terminal sees.
    const r = await runAkd(['run', config, '--out', runs], { timeoutMs: 120_000 });
    clearInterval(poll);
    assert.ok(filler, 'the disk was filled mid-run');
    assert.equal(r.code, 1, r.stderr);
    const runDir = runDirOf(r);
    const line = r.stderr.split('\n').find((l) => l.startsWith('failed: '));
    assert.match(line ?? '', /^failed: disk full: /, r.stderr.slice(-2000));
    assert.ok(line!.includes(runDir), `names where: ${line}`);
    assert.match(line!, /\d[\d.,]* ?[kM]?B free/, `says how much space: ${line}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(tempLeftovers(runDir), [], 'temp files removed');
    const report = readEventsReport(path.join(runDir, 'events.jsonl'));
    assert.deepEqual(report.torn, [], 'no torn line');
    const end = report.events[report.events.length - 1] as RunFailedEvent;
    assert.equal(end.type, 'run-failed');
    assert.match(end.error.message, /^disk full: /);
    const state = loadResumeState(runDir); // throws if the last checkpoint is not intact
    assert.equal(state?.position.phase, 'anneal');

    fs.rmSync(filler!);
    const resumed = await runAkd(['resume', runDir, '--json'], { timeoutMs: 120_000 });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(resumed.events[resumed.events.length - 1].type, 'run-completed');
  } finally {
    disk.unmount();
  }
});
