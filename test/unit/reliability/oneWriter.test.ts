/**
 * One writer per run folder (issue defects 1, 5, 8): concurrent resumes, `akd stop` and a
 * reused pid, show/list after a SIGKILL. Real akd processes on tiny MNIST runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunStartedEvent } from '../../../runner/protocol/events';
import { RUN_LOCK_FILE } from '../../../runner/protocol/runLock';
import { runAkd, tempDir } from '../../helpers/akdProcess';
import { cancelledRun, eventsOf, runDirOf, tinyConfig } from './tinyRun';

test('defect 1: two akd resume started together: exactly one trains, the other is refused naming the holder', async () => {
  const dir = tempDir('two-resumes');
  const config = tinyConfig(dir, 'two', { phase1Epochs: 30 });
  const runDir = await cancelledRun(config, path.join(dir, 'runs'));
  const before = eventsOf(runDir).length;
  const [a, b] = await Promise.all([
    runAkd(['resume', runDir, '--json']),
    runAkd(['resume', runDir, '--json']),
  ]);
  const codes = [a.code, b.code].sort();
  assert.deepEqual(codes, [0, 75], `exit codes ${a.code}/${b.code}\n${a.stderr}\n${b.stderr}`);
  const refused = a.code === 75 ? a : b;
  assert.match(refused.stderr, /is (already being written|in use).*akd resume, pid \d+ on /);
  assert.equal(refused.events.length, 0, 'the refused resume wrote no event');
  const after = eventsOf(runDir).slice(before);
  assert.equal(after.filter((e) => e.type === 'run-started').length, 1, 'one session started');
  assert.equal(after.filter((e) => e.type === 'run-completed').length, 1, 'one session completed');
  const epochs = after
    .filter((e) => e.type === 'epoch-ended')
    .map((e) => `${(e as { phase: string }).phase}/${(e as { epoch: number }).epoch}`);
  assert.equal(new Set(epochs).size, epochs.length, `no epoch twice: ${epochs.join(' ')}`);
  assert.ok(!fs.existsSync(path.join(runDir, RUN_LOCK_FILE)), 'the lock goes with its holder');
});

test("defect 5: akd stop does not signal a process that reused a dead run's pid", async () => {
  const dir = tempDir('stop-reuse');
  const config = tinyConfig(dir, 'reuse', { phase1Epochs: 200 });
  let runDir = '';
  const killed = await runAkd(['run', config, '--out', path.join(dir, 'runs'), '--json'], {
    onEvent: (e, child) => {
      if (e.type === 'run-started') runDir = (e as RunStartedEvent).runDir;
      if (e.type === 'epoch-ended' && e.phase === 'anneal') child.kill('SIGKILL');
    },
  });
  assert.equal(killed.signal, 'SIGKILL');
  // The dead run's pid now belongs to another process (as after a reboot): give its pid to a live
  // `sleep`, keeping everything else the dead process recorded (its start time among it).
  const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
  const deadPid = (killed.events[0] as RunStartedEvent).pid;
  const swapPid = (file: string): void => {
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.split(`"pid":${deadPid}`).join(`"pid":${bystander.pid}`));
  };
  swapPid(path.join(runDir, 'events.jsonl'));
  if (fs.existsSync(path.join(runDir, RUN_LOCK_FILE))) swapPid(path.join(runDir, RUN_LOCK_FILE));
  try {
    const stop = await runAkd(['stop', runDir, '--wait', '2']);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(bystander.exitCode, null, `the bystander was signalled:\n${stop.stderr}`);
    assert.equal(bystander.signalCode, null);
    assert.doesNotMatch(stop.stderr, /sent SIGTERM/);
    assert.match(stop.stderr, /is gone|not running/);
  } finally {
    bystander.kill('SIGKILL');
  }
});

test('defect 8: akd show and akd list say a SIGKILLed run crashed, not running', async () => {
  const dir = tempDir('show-crashed');
  const config = tinyConfig(dir, 'crashed', { phase1Epochs: 200 });
  const killed = await runAkd(['run', config, '--out', path.join(dir, 'runs'), '--json'], {
    onEvent: (e, child) => {
      if (e.type === 'epoch-ended' && e.phase === 'anneal') child.kill('SIGKILL');
    },
  });
  assert.equal(killed.signal, 'SIGKILL');
  const runDir = runDirOf(killed);
  const show = await runAkd(['show', runDir]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /status\s+crashed/);
  const list = await runAkd(['list', path.dirname(runDir)]);
  const row = list.stdout.split('\n').find((l) => l.startsWith(path.basename(runDir)));
  assert.match(row ?? '', /\bcrashed\b/, list.stdout);
  assert.doesNotMatch(row ?? '', /\brunning\b/);
});

test('akd follow on a local run: prints it to its end, and says "crashed" once its writer is gone', async () => {
  const dir = tempDir('follow-local');
  const config = tinyConfig(dir, 'follow', { phase1Epochs: 30 });
  let runDir = '';
  let follow: Promise<Awaited<ReturnType<typeof runAkd>>> | undefined;
  const killed = await runAkd(['run', config, '--out', path.join(dir, 'runs'), '--json'], {
    onEvent: (e, child) => {
      if (e.type === 'run-started') {
        runDir = (e as RunStartedEvent).runDir;
        follow = runAkd(['follow', runDir, '--json']);
      }
      if (e.type === 'epoch-ended' && e.phase === 'anneal' && e.epoch === 3) child.kill('SIGKILL');
    },
  });
  assert.equal(killed.signal, 'SIGKILL');
  const followed = await follow!;
  assert.equal(followed.code, 1, followed.stderr);
  assert.match(followed.stderr, /crashed: its process \(pid \d+\) is gone without an end event/);
  assert.ok(
    followed.events.some((e) => e.type === 'epoch-ended' && e.phase === 'anneal'),
    'it printed the events',
  );
  const resumed = await runAkd(['resume', runDir, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const again = await runAkd(['follow', runDir, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.events[again.events.length - 1].type, 'run-completed');
});

test("two akd sweep --resume at once while a killed sweep's member still trains: one orchestrator waits for it, the other is refused, each member completes once", async () => {
  const dir = tempDir('two-sweeps');
  const config = tinyConfig(dir, 'sweep', { phase1Epochs: 30 });
  const sweepDir = path.join(dir, 'sweep');
  // A sweep killed once its first member started: a stale sweep lock, and that member lives on
  // (members run in their own process group) holding its run's lock.
  const first = await runAkd(
    ['sweep', config, '--seeds', '1,2', '--methods', 'scratch', '--out', sweepDir, '--json'],
    {
      onEvent: (e, child) => {
        if ((e as { type: string }).type === 'member-started') child.kill('SIGKILL');
      },
    },
  );
  assert.equal(first.signal, 'SIGKILL');
  const [a, b] = await Promise.all([
    runAkd(['sweep', '--resume', sweepDir, '--json']),
    runAkd(['sweep', '--resume', sweepDir, '--json']),
  ]);
  assert.deepEqual([a.code, b.code].sort(), [0, 75], `${a.stderr}\n${b.stderr}`);
  assert.match(
    (a.code === 75 ? a : b).stderr,
    /is already being run, nothing was started: akd sweep, pid \d+/,
  );
  const runDirs = fs
    .readdirSync(sweepDir)
    .map((d) => path.join(sweepDir, d))
    .filter((d) => fs.existsSync(path.join(d, 'events.jsonl')));
  assert.equal(runDirs.length, 2);
  for (const d of runDirs)
    assert.equal(
      eventsOf(d).filter((e) => e.type === 'run-completed').length,
      1,
      `${d}: exactly one run-completed`,
    );
});
