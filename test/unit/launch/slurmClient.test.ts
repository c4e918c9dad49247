/** Slurm client: output parsing (22.05 and newer shapes), timeouts and missing commands, sessions, launcher choice. No Slurm needed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfigText } from '../../../runner/config/validate';
import type { RunEvent } from '../../../runner/protocol/events';
import { resolveLauncher } from '../../../runner/launch/runControl';
import { latestSession, runSessions } from '../../../runner/protocol/sessions';
import {
  SlurmClient,
  SlurmError,
  jobEnded,
  parseScontrolJob,
  parseSqueueJson,
  waitStatusToExitCode,
} from '../../../runner/launch/slurmClient';
import { SlurmRunFollower, describeJobEnd } from '../../../runner/launch/slurmRun';
import { readEvents } from '../../../runner/protocol/eventTail';
import type { JobStatus } from '../../../runner/launch/slurmClient';
import { tempDir } from '../../helpers/akdProcess';

test('raw wait statuses become exit:signal', () => {
  assert.equal(waitStatusToExitCode(0), '0:0');
  assert.equal(waitStatusToExitCode(768), '3:0');
  assert.equal(waitStatusToExitCode(9), '0:9');
  assert.equal(waitStatusToExitCode(143 << 8), '143:0');
});

const squeue2205 = JSON.stringify({
  meta: { Slurm: { release: '22.05.8' } },
  errors: [],
  jobs: [
    {
      job_id: 7,
      array_job_id: 0,
      array_task_id: null,
      job_state: 'FAILED',
      state_reason: 'NonZeroExitCode',
      exit_code: 768,
      nodes: 'localhost',
      batch_host: 'localhost',
      standard_output: '/r/slurm-%j.out',
    },
    {
      job_id: 8,
      array_job_id: 0,
      array_task_id: null,
      job_state: 'PENDING',
      state_reason: 'Priority',
      exit_code: 0,
      nodes: '',
      batch_host: '',
    },
    {
      job_id: 12,
      array_job_id: 10,
      array_task_id: 2,
      job_state: 'RUNNING',
      state_reason: 'None',
      exit_code: 0,
      nodes: 'n1',
      batch_host: 'n1',
    },
    {
      job_id: 11,
      array_job_id: 10,
      array_task_id: 1,
      job_state: 'COMPLETED',
      state_reason: 'None',
      exit_code: 0,
      nodes: 'n2',
      batch_host: 'n2',
    },
    {
      job_id: 10,
      array_job_id: 10,
      array_task_id: null,
      array_task_string: '3-5%2',
      job_state: 'PENDING',
      state_reason: 'JobArrayTaskLimit',
      exit_code: 0,
    },
  ],
});

test('squeue --json (22.05): plain jobs, array tasks, and array tasks not started yet', () => {
  const m = parseSqueueJson(squeue2205, ['7', '8', '10_1', '10_2', '10_4', '10_9', '99']);
  assert.deepEqual(m.get('7'), {
    jobId: '7',
    state: 'FAILED',
    reason: 'NonZeroExitCode',
    node: 'localhost',
    exitCode: '3:0',
    stdout: '/r/slurm-%j.out',
  });
  assert.deepEqual(m.get('8'), { jobId: '8', state: 'PENDING', reason: 'Priority', exitCode: '0:0' });
  assert.equal(m.get('10_1')?.state, 'COMPLETED');
  assert.equal(m.get('10_2')?.node, 'n1');
  assert.equal(m.get('10_4')?.state, 'PENDING');
  assert.equal(m.get('10_4')?.reason, 'JobArrayTaskLimit');
  assert.ok(!m.has('10_9'), 'task 9 is not in 3-5');
  // A pending array cancelled before its tasks were split: one record, empty task string.
  const cancelled = JSON.stringify({
    jobs: [
      {
        job_id: 18,
        array_job_id: 18,
        array_task_id: null,
        array_task_string: '',
        job_state: 'CANCELLED',
        state_reason: 'BeginTime',
        exit_code: 0,
      },
    ],
  });
  assert.equal(parseSqueueJson(cancelled, ['18_2']).get('18_2')?.state, 'CANCELLED');
  assert.ok(!m.has('99'));
});

test('squeue --json (23.x+): state arrays and structured numbers', () => {
  const text = JSON.stringify({
    jobs: [
      {
        job_id: 5,
        array_job_id: { set: true, number: 0 },
        array_task_id: { set: false, number: 0 },
        job_state: ['OUT_OF_MEMORY'],
        state_reason: 'OutOfMemory',
        exit_code: { status: ['SIGNALED'], return_code: { number: 0 }, signal: { id: { number: 9 } } },
        nodes: 'n3',
      },
    ],
  });
  assert.deepEqual(parseSqueueJson(text, ['5']).get('5'), {
    jobId: '5',
    state: 'OUT_OF_MEMORY',
    reason: 'OutOfMemory',
    node: 'n3',
    exitCode: '0:9',
  });
});

test('scontrol show job: state, reason, exit code, node and an StdOut path with spaces', () => {
  const text = `JobId=31 JobName=akd-tiny
   UserId=me(1000) GroupId=me(1000) MCS_label=N/A
   JobState=TIMEOUT Reason=TimeLimit Dependency=(null)
   Requeue=0 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:15
   NodeList=node07
   BatchHost=node07
   StdOut=/shared/my runs/slurm-31.out
   Power=
`;
  assert.deepEqual(parseScontrolJob(text, '31'), {
    jobId: '31',
    state: 'TIMEOUT',
    reason: 'TimeLimit',
    node: 'node07',
    exitCode: '0:15',
    stdout: '/shared/my runs/slurm-31.out',
  });
  assert.equal(parseScontrolJob('garbage', '1'), undefined);
});

test('job end descriptions name the state, the reason and what to do', () => {
  assert.match(
    describeJobEnd({ jobId: '3', state: 'TIMEOUT', reason: 'TimeLimit', node: 'n1' }),
    /job 3 ended TIMEOUT \(reason TimeLimit\) on n1: it reached its time limit/,
  );
  assert.match(
    describeJobEnd({ jobId: '4', state: 'FAILED', reason: 'NonZeroExitCode', exitCode: '3:0' }),
    /exit code 3/,
  );
  assert.match(describeJobEnd({ jobId: '5', state: 'FAILED', exitCode: '0:9' }), /signal 9 \(SIGKILL/);
  assert.ok(jobEnded('NODE_FAIL') && jobEnded('GONE') && !jobEnded('PENDING') && !jobEnded('COMPLETING'));
});

function fakeSlurm(script: string): string {
  const dir = tempDir('fakeslurm');
  for (const cmd of ['squeue', 'scontrol', 'sbatch', 'scancel'])
    fs.writeFileSync(path.join(dir, cmd), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return dir;
}

test('Slurm not installed: a clear not-installed error, at once', async () => {
  const client = new SlurmClient({ env: { PATH: tempDir('empty') } });
  await assert.rejects(
    client.status('1'),
    (e: unknown) => e instanceof SlurmError && e.kind === 'not-installed' && /not installed/.test(e.message),
  );
});

test('a client call that hangs (controller down) fails as unreachable within the timeout', async () => {
  const client = new SlurmClient({
    timeoutMs: 400,
    env: { PATH: `${fakeSlurm('sleep 10')}:${process.env.PATH}` },
  });
  const t0 = Date.now();
  await assert.rejects(
    client.sbatch('/dev/null', os.tmpdir()),
    (e: unknown) =>
      e instanceof SlurmError && e.kind === 'unreachable' && /not reachable.*0\.4 s/.test(e.message),
  );
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
});

test("the controller's own 'unable to contact' answer is unreachable too; other refusals are rejected", async () => {
  const down = new SlurmClient({
    env: {
      PATH: `${fakeSlurm('echo "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)" >&2; exit 1')}:${process.env.PATH}`,
    },
  });
  await assert.rejects(
    down.sbatch('/dev/null', os.tmpdir()),
    (e: unknown) => e instanceof SlurmError && e.kind === 'unreachable',
  );
  const refused = new SlurmClient({
    env: {
      PATH: `${fakeSlurm('echo "sbatch: error: invalid partition specified: nope" >&2; exit 1')}:${process.env.PATH}`,
    },
  });
  await assert.rejects(
    refused.sbatch('/dev/null', os.tmpdir()),
    (e: unknown) => e instanceof SlurmError && e.kind === 'rejected' && /invalid partition/.test(e.message),
  );
  const gone = new SlurmClient({
    env: {
      PATH: `${fakeSlurm('case "$0" in *squeue) echo \'{"jobs":[]}\';; *) echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1;; esac')}:${process.env.PATH}`,
    },
  });
  assert.equal((await gone.status('77')).state, 'GONE');
});

const ev = (type: string, extra: object = {}): RunEvent =>
  ({ v: 1, time: 't', type, ...extra }) as unknown as RunEvent;

test('sessions: local and Slurm sessions, their ends and final job states', () => {
  const events = [
    ev('run-started', { pid: 1 }),
    ev('run-cancelled', { signal: 'SIGTERM' }),
    ev('job-submitted', { jobId: '5' }),
    ev('job-state', { jobId: '5', state: 'PENDING' }),
    ev('job-state', { jobId: '5', state: 'RUNNING', node: 'n1' }),
    ev('run-started', { pid: 2 }),
    ev('run-failed', { error: { message: 'x' } }),
    ev('job-state', { jobId: '5', state: 'TIMEOUT', final: true }),
    ev('job-submitted', { jobId: '9' }),
  ];
  const s = runSessions(events);
  assert.deepEqual(
    s.map((x) => x.launcher),
    ['local', 'slurm', 'slurm'],
  );
  assert.equal(s[0].ended?.type, 'run-cancelled');
  assert.equal(s[1].started?.pid, 2);
  assert.equal(s[1].ended?.type, 'run-failed');
  assert.equal(s[1].final?.state, 'TIMEOUT');
  assert.equal(latestSession(events)?.submitted?.jobId, '9');
  assert.equal(latestSession(events)?.ended, undefined);
});

test('the launcher: --launcher names the type, the config block gives the settings', () => {
  const slurm = { type: 'slurm' as const, partition: 'gpu' };
  assert.deepEqual(resolveLauncher({}, undefined), { type: 'local' });
  assert.deepEqual(resolveLauncher({ launcher: slurm }, undefined), slurm);
  assert.deepEqual(resolveLauncher({ launcher: slurm }, 'local'), { type: 'local' });
  assert.deepEqual(resolveLauncher({}, 'slurm'), { type: 'slurm' });
  assert.throws(() => resolveLauncher({}, 'pbs'), /local or slurm/);
});

const configWith = (launcher: unknown): string =>
  JSON.stringify(
    {
      name: 'x',
      data: { dataset: 'mnist' },
      teacher: {
        model: { type: 'mlp', hidden: [64] },
        epochs: 1,
        optimizer: { type: 'adam', learningRate: 0.001 },
      },
      student: { model: { type: 'mlp', hidden: [8] } },
      method: { type: 'scratch', epochs: 1, optimizer: { type: 'adam', learningRate: 0.001 } },
      launcher,
    },
    null,
    2,
  );

test('config: the launcher block is validated by the schema, with positions', () => {
  const ok = validateConfigText(
    configWith({
      type: 'slurm',
      partition: 'gpu',
      time: '2:00:00',
      cpusPerTask: 2,
      mem: '8G',
      gres: 'gpu:1',
      account: 'a',
      extraArgs: ['--qos=high'],
    }),
    '/tmp/x.akd.json',
  );
  assert.deepEqual(
    ok.problems.filter((p) => p.severity === 'error'),
    [],
  );
  assert.equal(
    validateConfigText(configWith({ type: 'local' }), '/tmp/x.akd.json').problems.filter(
      (p) => p.severity === 'error',
    ).length,
    0,
  );
  const bad = validateConfigText(
    configWith({ type: 'slurm', time: '2 hours', mem: 'lots', extraArgs: ['qos'], nodes: 3 }),
    '/tmp/x.akd.json',
  );
  const paths = bad.problems
    .filter((p) => p.severity === 'error')
    .map((p) => p.path)
    .sort();
  assert.deepEqual(
    paths,
    ['launcher.extraArgs[0]', 'launcher.mem', 'launcher.nodes', 'launcher.time'].sort(),
    JSON.stringify(bad.problems, null, 1),
  );
  assert.ok(bad.problems.every((p) => p.line > 1));
  const pbs = validateConfigText(configWith({ type: 'pbs' }), '/tmp/x.akd.json');
  assert.ok(pbs.problems.some((p) => p.path.startsWith('launcher') && p.severity === 'error'));
});

test('two followers of one pending job (a reloaded window beside the first) write each PENDING state once', () => {
  const dir = tempDir('followers');
  const file = path.join(dir, 'events.jsonl');
  fs.writeFileSync(file, '');
  const first = new SlurmRunFollower(dir, '7', 0, () => undefined);
  const second = new SlurmRunFollower(dir, '7', 0, () => undefined);
  const poll = (f: SlurmRunFollower, status: JobStatus): void => {
    f.read();
    f.status(status);
  };
  const priority: JobStatus = { jobId: '7', state: 'PENDING', reason: 'Priority' };
  poll(first, priority);
  poll(second, priority);
  poll(first, priority);
  const states = (): string[] =>
    readEvents(file).flatMap((e) => (e.type === 'job-state' ? [`${e.state}/${e.reason}`] : []));
  assert.deepEqual(states(), ['PENDING/Priority']);
  const resources: JobStatus = { ...priority, reason: 'Resources' };
  poll(second, resources);
  poll(first, resources);
  assert.deepEqual(states(), ['PENDING/Priority', 'PENDING/Resources']);
});
