/**
 * Runs on a real single-node Slurm (Debian's slurm-wlm) that this file starts under a temporary
 * folder on 127.0.0.1 and stops at the end: submit, follow, stop, resume, failures Slurm causes,
 * and Slurm being down. Skipped (saying why) only when slurm-wlm is not installed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type {
  JobStateEvent,
  JobSubmittedEvent,
  RunEvent,
  RunStartedEvent,
  RunSummary,
} from '../../../runner/protocol/events';
import { readEvents } from '../../../runner/protocol/eventTail';
import { AKD, runAkd, tempDir, writeConfig } from '../../helpers/akdProcess';
import { SlurmCluster, slurmUnavailable } from '../../helpers/slurmCluster';

const unavailable = slurmUnavailable();
if (unavailable) process.stderr.write(`# SKIPPING the Slurm launcher tests: ${unavailable}\n`);

const adam = (learningRate: number) => ({ type: 'adam', learningRate });

function tinyConfig(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    seed: 3,
    data: { dataset: 'mnist', trainLimit: 1000, testLimit: 300, validationFraction: 0.1 },
    teacher: { model: { type: 'mlp', hidden: [32] }, epochs: 1, optimizer: adam(0.003) },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: {
      type: 'annealing',
      tauMax: 2,
      phase1: { epochs: 2, optimizer: adam(0.003) },
      phase2: { epochs: 1, optimizer: adam(0.001) },
    },
    batchSize: 64,
    backend: 'wasm',
    threads: 1,
    ...overrides,
  };
}

/** A run long enough to act on while it trains (0.05-0.1 s per epoch here); runs that are never finished can be much longer. */
const longConfig = (name: string, epochs = 200): Record<string, unknown> =>
  tinyConfig(name, {
    data: { dataset: 'mnist', trainLimit: 2000, testLimit: 300, validationFraction: 0.1 },
    method: {
      type: 'annealing',
      tauMax: 2,
      phase1: { epochs, optimizer: adam(0.003) },
      phase2: { epochs: 1, optimizer: adam(0.001) },
    },
  });

const shape = (events: RunEvent[]): string[] =>
  events
    .filter((e) => !e.type.startsWith('job-') && e.type !== 'progress' && e.type !== 'log')
    .map((e) => (e.type === 'phase-started' || e.type === 'epoch-ended' ? `${e.type}:${e.phase}` : e.type));

const ofType = <T extends RunEvent['type']>(events: RunEvent[], type: T): Extract<RunEvent, { type: T }>[] =>
  events.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type);

const runDirOf = (events: RunEvent[]): string =>
  ofType(events, 'job-submitted')[0]?.runDir ??
  (events.find((e) => e.type === 'run-started') as RunStartedEvent).runDir;

const summaryOf = (runDir: string): RunSummary =>
  JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as RunSummary;

describe('Slurm launcher on a real single-node cluster', { skip: unavailable, concurrency: false }, () => {
  const cluster = new SlurmCluster();

  before(async () => {
    await cluster.start();
  });

  after(async () => {
    await cluster.stop();
  });

  test('a tiny run submitted with --launcher slurm completes, with the same events as a local run, into a folder with an awkward path', async (t) => {
    const dir = tempDir('slurm-ok');
    const config = writeConfig(dir, 'tiny', tinyConfig('tiny'));
    const t0 = Date.now();
    const local = await runAkd(['run', config, '--json']);
    const localMs = Date.now() - t0;
    assert.equal(local.code, 0, local.stderr);

    // Spaces, quotes, $, # and % in the run folder's path: #SBATCH quoting, %-escaping and bash quoting all matter.
    const out = path.join(dir, `runs with space/it's "q" $HOME #1 50%`);
    const t1 = Date.now();
    const r = await runAkd(['run', config, '--launcher', 'slurm', '--json', '--out', out], {
      env: cluster.env(),
    });
    const slurmMs = Date.now() - t1;
    assert.equal(r.code, 0, `${r.stderr}\n${cluster.logs()}`);
    assert.deepEqual(shape(r.events), shape(local.events));
    assert.equal(r.events[0].type, 'job-submitted');
    const submitted = r.events[0] as JobSubmittedEvent;
    const runDir = submitted.runDir;
    assert.equal(path.dirname(runDir), out);
    const states = ofType(r.events, 'job-state');
    const running = states.find((s) => s.state === 'RUNNING') as JobStateEvent;
    assert.equal(running.source, 'job');
    assert.equal(running.node, 'localhost');
    const final = states[states.length - 1];
    assert.deepEqual([final.state, final.final, final.exitCode], ['COMPLETED', true, '0:0']);
    // The terminal event is the run's, before the final job-state.
    const terminalIndex = r.events.findIndex((e) => e.type === 'run-completed');
    assert.ok(terminalIndex > 0 && r.events.indexOf(final) > terminalIndex);
    // The folder holds the same stream, the script, Slurm's output and a summary with the job.
    assert.deepEqual(
      readEvents(path.join(runDir, 'events.jsonl')).map((e) => e.type),
      r.events.map((e) => e.type),
    );
    assert.ok(
      fs.existsSync(path.join(runDir, `slurm-${submitted.jobId}.out`)),
      'Slurm wrote the output where akd said',
    );
    const summary = summaryOf(runDir);
    assert.equal(summary.status, 'completed');
    assert.deepEqual(summary.job, {
      launcher: 'slurm',
      jobId: submitted.jobId,
      node: 'localhost',
      state: 'COMPLETED',
      exitCode: '0:0',
    });
    const localSummary = (
      local.events[local.events.length - 1] as Extract<RunEvent, { type: 'run-completed' }>
    ).summary;
    assert.equal(summary.student.testAccuracy, localSummary.student.testAccuracy, 'same seed, same result');

    const startMs = Date.parse(running.time) - Date.parse(submitted.time);
    const runStarted = r.events.find((e) => e.type === 'run-started')!;
    t.diagnostic(
      `submit-to-start ${startMs} ms (job running on its node), submit-to-run-started ${Date.parse(runStarted.time) - Date.parse(submitted.time)} ms; ` +
        `wall: local ${localMs} ms, slurm ${slurmMs} ms, overhead ${slurmMs - localMs} ms`,
    );
    assert.ok(startMs < 10_000, `submit to start took ${startMs} ms`);
  });

  test('akd stop on a running job ends it as cancelled with a checkpoint; akd resume --launcher slurm finishes it', async () => {
    const dir = tempDir('slurm-stop');
    const config = writeConfig(dir, 'long', longConfig('long', 60));
    let stop: ReturnType<typeof runAkd> | undefined;
    const r = await runAkd(['run', config, '--launcher', 'slurm', '--json'], {
      env: cluster.env(),
      onEvent: (e) => {
        if (!stop && e.type === 'epoch-ended' && e.phase === 'anneal' && e.epoch === 2) {
          stop = runAkd(['stop', runDirFrom(dir)], { env: cluster.env() });
        }
      },
    });
    assert.ok(stop, 'the run reached anneal epoch 2');
    const stopped = await stop!;
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stderr, /cancelled Slurm job \d+/);
    assert.equal(r.code, 143, r.stderr);
    const runDir = runDirOf(r.events);
    const cancelled = ofType(r.events, 'run-cancelled');
    assert.equal(cancelled.length, 1);
    assert.equal(cancelled[0].signal, 'SIGTERM');
    assert.equal(cancelled[0].position?.phase, 'anneal');
    assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'latest', 'state.json')));
    const final = ofType(r.events, 'job-state').pop()!;
    assert.deepEqual([final.state, final.final], ['CANCELLED', true]);
    assert.equal(summaryOf(runDir).status, 'cancelled');
    assert.equal(summaryOf(runDir).job?.state, 'CANCELLED');

    const resumed = await runAkd(['resume', runDir, '--json'], { env: cluster.env() });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(resumed.events[0].type, 'job-submitted', 'the config.json remembers the slurm launcher');
    assert.equal((resumed.events[0] as JobSubmittedEvent).resume, true);
    const started = ofType(resumed.events, 'run-started')[0];
    assert.equal(started.resumedFrom?.phase, 'anneal');
    assert.ok(
      !ofType(resumed.events, 'phase-started').some((p) => p.phase === 'teacher'),
      'the teacher is not trained again',
    );
    assert.equal(summaryOf(runDir).status, 'completed');
    const all = readEvents(path.join(runDir, 'events.jsonl'))
      .map((e) => e.type)
      .filter((t) => t.startsWith('run-') || t === 'job-submitted');
    assert.deepEqual(all, [
      'job-submitted',
      'run-started',
      'run-cancelled',
      'job-submitted',
      'run-started',
      'run-completed',
    ]);
  });

  test("a node failure while training ends the run as failed with Slurm's reason (resumable from its checkpoint)", async () => {
    const dir = tempDir('slurm-nodefail');
    const config = writeConfig(dir, 'nodefail', longConfig('nodefail'));
    let downed = false;
    const r = await runAkd(['run', config, '--launcher', 'slurm', '--json'], {
      env: cluster.env(),
      onEvent: (e) => {
        if (!downed && e.type === 'epoch-ended' && e.phase === 'anneal' && e.epoch === 2) {
          downed = true;
          spawnSync(
            'scontrol',
            ['update', 'NodeName=localhost', 'State=DOWN', 'Reason=akd test: node failure'],
            { env: cluster.env(), timeout: 5000 },
          );
        }
      },
    });
    await cluster.waitIdle();
    assert.ok(downed);
    assert.equal(r.code, 1, r.stderr);
    const failed = ofType(r.events, 'run-failed');
    assert.equal(failed.length, 1);
    assert.match(
      failed[0].error.message,
      /ended NODE_FAIL \(reason NodeDown\).*its node failed.*checkpoint.*akd resume/s,
    );
    const final = ofType(r.events, 'job-state').pop()!;
    assert.deepEqual([final.state, final.reason, final.final], ['NODE_FAIL', 'NodeDown', true]);
    const runDir = runDirOf(r.events);
    const summary = summaryOf(runDir);
    assert.equal(summary.status, 'failed');
    assert.match(summary.error ?? '', /NODE_FAIL/);
    assert.equal(summary.job?.state, 'NODE_FAIL');
    assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'latest', 'state.json')));
  });

  test("a job killed without a word (SIGKILL, as the OOM killer does) is marked failed by the follower with Slurm's state and the output's tail", async () => {
    const dir = tempDir('slurm-kill');
    const config = writeConfig(dir, 'killed', longConfig('killed'));
    let killed = false;
    const r = await runAkd(['run', config, '--launcher', 'slurm', '--json'], {
      env: cluster.env(),
      onEvent: (e) => {
        if (!killed && e.type === 'epoch-ended' && e.phase === 'anneal' && e.epoch === 2) {
          killed = true;
          const jobId = ofTypeSoFar.submitted;
          spawnSync('scancel', ['--batch', '--signal=KILL', jobId], { env: cluster.env(), timeout: 5000 });
        }
        if (e.type === 'job-submitted') ofTypeSoFar.submitted = e.jobId;
      },
    });
    assert.ok(killed);
    assert.equal(r.code, 1, r.stderr);
    const failed = ofType(r.events, 'run-failed');
    assert.equal(failed.length, 1, 'the follower wrote the end the run could not');
    assert.match(
      failed[0].error.message,
      /Slurm job \d+ ended FAILED .*killed by signal 9.*before the run reported an end/s,
    );
    const final = ofType(r.events, 'job-state').pop()!;
    assert.deepEqual([final.state, final.exitCode, final.source], ['FAILED', '0:9', 'follower']);
    // Never "running" forever: akd list/show agree.
    const show = spawnSync(process.execPath, [AKD, 'show', runDirOf(r.events)], { encoding: 'utf8' });
    assert.match(show.stdout, /status\s+failed/);
  });

  test('akd follow re-attaches to a detached run and follows it to its end', async () => {
    const dir = tempDir('slurm-follow');
    const config = writeConfig(dir, 'later', tinyConfig('later'));
    const r = await runAkd(['run', config, '--launcher', 'slurm', '--detach', '--json'], {
      env: cluster.env(),
    });
    assert.equal(r.code, 0, r.stderr);
    const submitted = r.events[0] as JobSubmittedEvent;
    assert.equal(submitted.type, 'job-submitted');
    const f = await runAkd(['follow', submitted.runDir, '--json'], { env: cluster.env() });
    assert.equal(f.code, 0, f.stderr);
    const types = f.events.map((e) => e.type);
    assert.equal(types[0], 'job-submitted', 'the session is printed from its start');
    assert.equal(types.filter((t) => t === 'run-completed').length, 1);
    const final = ofType(f.events, 'job-state').pop()!;
    assert.deepEqual([final.state, final.final], ['COMPLETED', true]);
    assert.deepEqual(
      readEvents(path.join(submitted.runDir, 'events.jsonl')).map((e) => e.type),
      types,
    );
  });

  test('a job cancelled while still pending ends as cancelled; --detach returns at once with the folder and job id', async () => {
    const dir = tempDir('slurm-pending');
    const config = writeConfig(
      dir,
      'later',
      tinyConfig('later', { launcher: { type: 'slurm', extraArgs: ['--begin=now+1hour'] } }),
    );
    const r = await runAkd(['run', config, '--detach'], { env: cluster.env() });
    assert.equal(r.code, 0, r.stderr);
    const [runDir, jobId] = r.stdout.trim().split('\t');
    assert.ok(fs.existsSync(path.join(runDir, 'events.jsonl')) && /^\d+$/.test(jobId), r.stdout);
    const shown = spawnSync(process.execPath, [AKD, 'show', runDir], { encoding: 'utf8' });
    assert.match(shown.stdout, /status\s+queued\n/);
    assert.match(shown.stdout, new RegExp(`job\\s+slurm job ${jobId}`));
    const stopped = await runAkd(['stop', runDir, '--json'], { env: cluster.env() });
    assert.equal(stopped.code, 0, stopped.stderr);
    const events = readEvents(path.join(runDir, 'events.jsonl'));
    assert.deepEqual(
      events.map((e) => e.type),
      ['job-submitted', 'job-state', 'run-cancelled'],
    );
    const final = events[1] as JobStateEvent;
    assert.deepEqual([final.state, final.reason, final.final], ['CANCELLED', 'BeginTime', true]);
    assert.equal(stopped.events[0]?.type, 'run-cancelled');
  });

  test('a 3-member sweep runs as one job array after one teacher job: the teacher is trained once', async () => {
    const dir = tempDir('slurm-sweep');
    const config = writeConfig(dir, 'sw', tinyConfig('sw', { sweep: { seeds: [1, 2, 3], concurrency: 2 } }));
    const out = path.join(dir, 'sweep');
    const r = await runSweepAkd(
      ['sweep', config, '--launcher', 'slurm', '--json', '--out', out],
      cluster.env(),
    );
    assert.equal(r.code, 0, `${r.stderr}\n${cluster.logs()}`);
    const sweepEvents = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
    const log = sweepEvents.find((e) => e.type === 'sweep-log')!.message as string;
    const m = /teacher job (\d+); array job (\d+) \(2 tasks, 2 at a time, after job (\d+)\)/.exec(log);
    assert.ok(m && m[1] === m[3], log);
    const [, teacherJob, arrayJob] = m!;
    assert.match(
      fs.readFileSync(path.join(out, 'array.sbatch'), 'utf8'),
      new RegExp(`#SBATCH --array=1-2%2\\n#SBATCH --dependency=afterany:${teacherJob}`),
    );
    assert.deepEqual(
      sweepEvents.filter((e) => e.type === 'member-ended').map((e) => e.status),
      ['completed', 'completed', 'completed'],
    );
    assert.equal(sweepEvents.filter((e) => e.type === 'teacher-ready').length, 1);
    assert.equal(sweepEvents[sweepEvents.length - 1].type, 'sweep-ended');
    assert.equal(sweepEvents[sweepEvents.length - 1].status, 'completed');

    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'sweep.json'), 'utf8')) as {
      members: { id: string; index: number; runDir: string; trainsTeacher: boolean }[];
    };
    let teacherPhases = 0;
    for (const member of manifest.members) {
      const events = readEvents(path.join(out, member.runDir, 'events.jsonl'));
      const submitted = ofType(events, 'job-submitted')[0];
      assert.equal(submitted.jobId, member.trainsTeacher ? teacherJob : `${arrayJob}_${member.index}`);
      if (!member.trainsTeacher) assert.deepEqual(submitted.dependsOn, [teacherJob]);
      assert.equal(
        ofType(events, 'job-state').find((s) => s.state === 'RUNNING')?.jobId,
        submitted.jobId,
        'the task knows its array id',
      );
      assert.equal(ofType(events, 'run-completed').length, 1);
      assert.equal(ofType(events, 'job-state').pop()?.state, 'COMPLETED');
      teacherPhases += ofType(events, 'phase-started').filter((p) => p.phase === 'teacher').length;
      // Every member's run starts only after the teacher job ended.
      if (!member.trainsTeacher) {
        const trainer = manifest.members.find((x) => x.trainsTeacher)!;
        const trainerEnd = ofType(
          readEvents(path.join(out, trainer.runDir, 'events.jsonl')),
          'run-completed',
        )[0];
        assert.ok(Date.parse(ofType(events, 'run-started')[0].time) >= Date.parse(trainerEnd.time));
      }
    }
    assert.equal(teacherPhases, 1, 'the shared teacher is trained exactly once');
  });

  test('a detached sweep lists its members and jobs, refuses a second start while queued, and akd stop SWEEP_DIR cancels it all', async () => {
    const dir = tempDir('slurm-sweep-stop');
    const config = writeConfig(
      dir,
      'later',
      tinyConfig('later', {
        sweep: { seeds: [1, 2, 3], concurrency: 2 },
        launcher: { type: 'slurm', extraArgs: ['--begin=now+1hour'] },
      }),
    );
    const out = path.join(dir, 'sweep');
    const r = await runSweepAkd(['sweep', config, '--detach', '--out', out], cluster.env());
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    assert.equal(lines.length, 3);
    assert.ok(
      lines.every(
        ([runDir, jobId]) => fs.existsSync(path.join(runDir, 'events.jsonl')) && /^\d+(_\d+)?$/.test(jobId),
      ),
      r.stdout,
    );
    const again = await runSweepAkd(['sweep', '--resume', out], cluster.env());
    assert.equal(again.code, 2);
    assert.match(again.stderr, /3 member\(s\) still queued or running as Slurm jobs/);
    const stopped = await runAkd(['stop', out], { env: cluster.env() });
    assert.equal(stopped.code, 0, stopped.stderr);
    for (const [runDir, jobId] of lines) {
      const events = readEvents(path.join(runDir, 'events.jsonl'));
      assert.deepEqual(
        events.map((e) => e.type),
        ['job-submitted', 'job-state', 'run-cancelled'],
        runDir,
      );
      assert.deepEqual(
        [(events[1] as JobStateEvent).jobId, (events[1] as JobStateEvent).state],
        [jobId, 'CANCELLED'],
      );
    }
    await cluster.drain();
  });

  test('Slurm down: a clear error within the timeout, and no run folder left behind; not installed: says so', async () => {
    const dir = tempDir('slurm-down');
    const config = writeConfig(dir, 'down', tinyConfig('down'));
    const env = { ...cluster.env(), SLURM_CONF: await cluster.downConf(), AKD_SLURM_TIMEOUT_MS: '2000' };
    const t0 = Date.now();
    const r = await runAkd(['run', config, '--launcher', 'slurm'], { env });
    const ms = Date.now() - t0;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /could not submit the run to Slurm: the Slurm controller is not reachable/);
    assert.ok(ms < 2000 + 3000, `took ${ms} ms`);
    assert.deepEqual(
      fs.readdirSync(path.join(dir, '.akd', 'runs')),
      [],
      'the unsubmitted run folder is removed',
    );

    const none = await runAkd(['run', config, '--launcher', 'slurm'], {
      env: { ...env, PATH: tempDir('no-slurm') },
    });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /Slurm is not installed here: "sbatch" is not on PATH/);
  });
});

const ofTypeSoFar: { submitted: string } = { submitted: '' };

/** akd sweep prints sweep events (not run events) with --json: collect stdout as it is. */
function runSweepAkd(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = spawnSync(process.execPath, [AKD, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return Promise.resolve({ code: r.status, stdout: r.stdout, stderr: r.stderr });
}

function runDirFrom(dir: string): string {
  const root = path.join(dir, '.akd', 'runs');
  return path.join(root, fs.readdirSync(root)[0]);
}
