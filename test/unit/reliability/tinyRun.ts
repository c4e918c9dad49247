/** Tiny real runs for the reliability suites: an MLP teacher and student on a small MNIST subset, about a second each. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent, RunStartedEvent } from '../../../runner/protocol/events';
import { readEvents } from '../../../runner/protocol/eventTail';
import { runAkd, writeConfig, type AkdResult } from '../../helpers/akdProcess';

const adam = (learningRate: number): object => ({ type: 'adam', learningRate });

export interface TinyOptions {
  teacherEpochs?: number;
  phase1Epochs?: number;
  phase2Epochs?: number;
  trainLimit?: number;
  seed?: number;
}

/** An annealing config (teacher, anneal T=2..1, finetune): every phase of a run, checkpoints at each epoch. */
export function tinyConfig(dir: string, name: string, o: TinyOptions = {}): string {
  return writeConfig(dir, name, {
    name,
    seed: o.seed ?? 1,
    data: { dataset: 'mnist', trainLimit: o.trainLimit ?? 1000, testLimit: 200, validationFraction: 0.1 },
    teacher: { model: { type: 'mlp', hidden: [16] }, epochs: o.teacherEpochs ?? 2, optimizer: adam(0.003) },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: {
      type: 'annealing',
      tauMax: 2,
      phase1: { epochs: o.phase1Epochs ?? 2, optimizer: adam(0.003) },
      phase2: { epochs: o.phase2Epochs ?? 1, optimizer: adam(0.001) },
    },
    batchSize: 64,
    backend: 'wasm',
    threads: 1,
  });
}

/** The run folder a finished `akd run|resume --json` wrote (from its run-started, or the stderr's "run folder:"). */
export function runDirOf(r: AkdResult): string {
  const started = r.events.find((e): e is RunStartedEvent => e.type === 'run-started');
  if (started) return started.runDir;
  const m = /run folder: (.+)/.exec(r.stderr);
  if (!m) throw new Error(`no run folder in the output:\n${r.stderr}`);
  return m[1].trim();
}

export function eventsOf(runDir: string): RunEvent[] {
  return readEvents(path.join(runDir, 'events.jsonl'));
}

/** Start a run and stop it with SIGTERM once `when` says so: a cancelled run with a checkpoint. */
export async function cancelledRun(
  config: string,
  out: string,
  when: (e: RunEvent) => boolean = (e) => e.type === 'epoch-ended' && e.phase === 'anneal',
): Promise<string> {
  let sent = false;
  const r = await runAkd(['run', config, '--out', out, '--json'], {
    onEvent: (e, child) => {
      if (!sent && when(e)) {
        sent = true;
        child.kill('SIGTERM');
      }
    },
  });
  if (r.code !== 143) throw new Error(`expected a cancelled run (exit 143), got ${r.code}:\n${r.stderr}`);
  return runDirOf(r);
}

export function fileExists(p: string): boolean {
  return fs.existsSync(p);
}
