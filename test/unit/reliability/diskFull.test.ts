/**
 * A disk that fills up mid-run (issue defect 4), on a real tmpfs: the run ends failed with one
 * clear line (what, where, how much space), no temp files, the last good checkpoint intact, and
 * it resumes once there is space again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunFailedEvent } from '../../../runner/protocol/events';
import { loadResumeState, verifyChecksums } from '../../../runner/store/checkpoint';
import { readEventsReport } from '../../../runner/protocol/eventTail';
import { AKD, runAkd, tempDir } from '../../helpers/akdProcess';
import { eventsOf, runDirOf, tinyConfig } from './tinyRun';
import { mountSmallDisk, tempLeftovers } from './tmpfs';

test('defect 4: the disk fills up during a checkpoint: failed with one line, no temp files, the last checkpoint intact, resumable', async (t) => {
  const dir = tempDir('enospc');
  const disk = mountSmallDisk(dir, 8 * 1024 * 1024);
  if (typeof disk === 'string') return t.skip(disk);
  try {
    const config = tinyConfig(dir, 'full', { phase1Epochs: 30 });
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

test('no permission mid-run (EACCES): failed with one line naming the folder, the last checkpoint intact, resumable', async (t) => {
  // Root writes anywhere: the run is started as the unprivileged user "nobody", and loses the
  // right to write its checkpoints folder once phase 1 is under way.
  if (process.getuid?.() !== 0)
    return t.skip('needs root to run akd as another user and take its permissions away');
  const dir = tempDir('eacces');
  fs.chmodSync(dir, 0o755);
  const runs = path.join(dir, 'runs');
  fs.mkdirSync(runs);
  fs.chownSync(runs, 65534, 65534);
  const config = tinyConfig(dir, 'perm', { phase1Epochs: 30 });
  const asNobody = (args: string[]): Promise<{ code: number | null; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [AKD, ...args], {
        uid: 65534,
        gid: 65534,
        env: { ...process.env, HOME: dir },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      child.on('close', (code) => resolve({ code, stderr }));
    });
  let locked: string | undefined;
  const poll = setInterval(() => {
    for (const id of locked ? [] : fs.readdirSync(runs)) {
      const runDir = path.join(runs, id);
      if (eventsOf(runDir).some((e) => e.type === 'epoch-ended' && e.phase === 'anneal' && e.epoch >= 2)) {
        locked = path.join(runDir, 'checkpoints');
        fs.chmodSync(locked, 0o555);
      }
    }
  }, 10);
  const r = await asNobody(['run', config, '--out', runs]);
  clearInterval(poll);
  assert.ok(locked, 'the checkpoints folder was made read-only mid-run');
  assert.equal(r.code, 1, r.stderr);
  const line = r.stderr.split('\n').find((l) => l.startsWith('failed: '));
  assert.match(
    line ?? '',
    /^failed: permission denied: could not write .*checkpoints/,
    r.stderr.slice(-1500),
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const runDir = path.dirname(locked!);
  assert.equal(eventsOf(runDir).pop()?.type, 'run-failed');
  // The last checkpoint is whole. It is `latest/`, or, when the permission went away between the
  // swap's two renames (latest -> latest.old-PID, temp -> latest), `latest.old-PID/`, which the
  // folder could no longer rename back: resume recovers from it as after a kill at that point.
  const kept = fs.existsSync(path.join(locked!, 'latest'))
    ? 'latest'
    : fs.readdirSync(locked!).find((n) => n.startsWith('latest.old-'));
  assert.ok(kept, `a last checkpoint is left in ${fs.readdirSync(locked!).join(', ')}`);
  assert.equal(verifyChecksums(path.join(locked!, kept)), undefined);
  assert.ok(fs.existsSync(path.join(locked!, kept, 'state.json')));
  fs.chmodSync(locked!, 0o755);
  assert.equal(loadResumeState(runDir)?.position.phase, 'anneal', 'the last checkpoint is intact');
  assert.deepEqual(tempLeftovers(runDir), [], 'resume cleared what was left');
  const resumed = await asNobody(['resume', runDir]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(eventsOf(runDir).pop()?.type, 'run-completed');
});
