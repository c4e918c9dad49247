/** The run lock and process identity, in process: who may take a lock, and when a lock is stale. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { identityStatus, processStartTime } from '../../../runner/protocol/processIdentity';
import { RUN_LOCK_FILE, readRunLock, runWriter } from '../../../runner/protocol/runLock';
import { RunLockedError, acquireRunLock } from '../../../runner/store/runLock';
import { tempDir } from '../../helpers/akdProcess';

const lockFile = (dir: string): string => path.join(dir, RUN_LOCK_FILE);
const writeLock = (dir: string, holder: object): void =>
  fs.writeFileSync(lockFile(dir), JSON.stringify({ v: 1, command: 'run', acquiredAt: 'then', ...holder }));

/** A live process that is not us, and its identity. */
async function bystander(): Promise<{ pid: number; startTime: string | undefined; stop(): void }> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  return { pid: child.pid!, startTime: processStartTime(child.pid!), stop: () => child.kill('SIGKILL') };
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

test('process identity: this process is alive; the same pid with another start time is not; an exited pid is not', async () => {
  const me = { pid: process.pid, host: os.hostname(), startTime: processStartTime(process.pid) };
  if (process.platform === 'linux') assert.match(me.startTime ?? '', /^.+:\d+$/);
  assert.equal(identityStatus(me), 'alive');
  assert.equal(identityStatus({ ...me, startTime: 'another-boot:1' }), 'dead');
  assert.equal(identityStatus({ pid: await deadPid(), host: os.hostname() }), 'dead');
  assert.equal(identityStatus({ ...me, host: 'some-other-host' }), 'unknown');
});

test('run lock: taken, refused to a live holder naming it, released only by its holder, nested in the same process', async () => {
  const dir = tempDir('lock-basic');
  const lock = acquireRunLock(dir, { command: 'resume' });
  const text = fs.readFileSync(lockFile(dir), 'utf8');
  assert.equal(JSON.parse(text).pid, process.pid);
  assert.equal(runWriter(dir).state, 'writing');
  const nested = acquireRunLock(dir, { command: 'settle' });
  nested.release();
  assert.ok(fs.existsSync(lockFile(dir)), 'a nested take does not release the outer one');
  lock.release();
  assert.ok(!fs.existsSync(lockFile(dir)));

  const other = await bystander();
  try {
    writeLock(dir, { pid: other.pid, host: os.hostname(), startTime: other.startTime, command: 'run' });
    assert.throws(
      () => acquireRunLock(dir, { command: 'resume', refusal: () => 'busy' }),
      (e: Error) => e instanceof RunLockedError && /^busy: akd run, pid \d+ on /.test(e.message),
    );
    // Not ours: a release by someone else's handle leaves it.
    assert.equal(readRunLock(dir).kind, 'held');
  } finally {
    other.stop();
  }
});

test('run lock: stale when the holder is gone or its pid is another process now; taken over', async () => {
  const dir = tempDir('lock-stale');
  writeLock(dir, { pid: await deadPid(), host: os.hostname(), startTime: 'x:1' });
  assert.equal(runWriter(dir).state, 'gone');
  acquireRunLock(dir, { command: 'resume' }).release();

  const other = await bystander();
  try {
    writeLock(dir, { pid: other.pid, host: os.hostname(), startTime: 'another-boot:1' });
    assert.equal(runWriter(dir).state, 'gone', 'a reused pid is not the holder');
    const lock = acquireRunLock(dir, { command: 'resume' });
    assert.equal(JSON.parse(fs.readFileSync(lockFile(dir), 'utf8')).pid, process.pid);
    lock.release();
  } finally {
    other.stop();
  }
});

test("run lock on a shared filesystem: another host's holder counts as alive unless its Slurm job ended", () => {
  const dir = tempDir('lock-host');
  writeLock(dir, { pid: 4242, host: 'node07' });
  assert.throws(
    () => acquireRunLock(dir, { command: 'resume', slurmJobEnded: () => true }),
    /cannot be checked from .*; if that process is gone, delete .*run\.lock/,
  );
  writeLock(dir, { pid: 4242, host: 'node07', jobId: '99' });
  assert.throws(() => acquireRunLock(dir, { command: 'resume', slurmJobEnded: () => false }), RunLockedError);
  assert.throws(
    () => acquireRunLock(dir, { command: 'resume', slurmJobEnded: () => undefined }),
    RunLockedError,
  );
  acquireRunLock(dir, { command: 'resume', slurmJobEnded: (id) => id === '99' }).release();
});

test('run lock: a damaged lock file is waited for while fresh, taken over once old', () => {
  const dir = tempDir('lock-damaged');
  fs.writeFileSync(lockFile(dir), '{"pid": 12');
  assert.throws(() => acquireRunLock(dir, { command: 'resume' }), /is damaged/);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(lockFile(dir), old, old);
  acquireRunLock(dir, { command: 'resume' }).release();
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')),
    [],
    'no temp files of the lock left',
  );
});
