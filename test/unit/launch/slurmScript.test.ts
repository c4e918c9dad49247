/** The sbatch script and its quoting: bash round trips, #SBATCH lines, rejected values. No Slurm needed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { SlurmLauncher } from '../../../runner/protocol/configTypes';
import {
  SlurmScriptError,
  checkSlurmLauncher,
  sbatchOptions,
  sbatchQuote,
  sbatchScript,
  shellQuote,
  slurmPathPattern,
} from '../../../runner/launch/slurmScript';

const NASTY = [
  'plain',
  'with space',
  "it's",
  'say "hi"',
  '$HOME and ${PATH} and $(id) and `id`',
  'back\\slash',
  'semi;colon && rm -rf /',
  'new\nline',
  'tab\there',
  '#hash',
  '*glob?[a]',
  '~tilde',
  '-dash',
  '',
  'ünïcödé',
  'mixed \'"$`\\',
];

test('shellQuote survives bash for every awkward string (spaces, quotes, $, backticks, newlines)', () => {
  const script = `printf '%s\\0' ${NASTY.map(shellQuote).join(' ')}`;
  const out = execFileSync('bash', ['-c', script], { encoding: 'utf8' });
  assert.deepEqual(out.split('\0').slice(0, -1), NASTY);
});

test('shellQuote leaves simple words alone and rejects NUL', () => {
  assert.equal(shellQuote('/work/main/bin/akd.js'), '/work/main/bin/akd.js');
  assert.equal(shellQuote("a'b"), `'a'\\''b'`);
  assert.throws(() => shellQuote('a\0b'), SlurmScriptError);
});

test('sbatchQuote: bare when safe, double-quoted with backslash escapes otherwise, newlines rejected', () => {
  assert.equal(sbatchQuote('--partition=gpu', 'x'), '--partition=gpu');
  assert.equal(sbatchQuote('--output=/a b/slurm-%j.out', 'x'), '"--output=/a b/slurm-%j.out"');
  assert.equal(sbatchQuote('--comment=say "hi" #1', 'x'), '"--comment=say \\"hi\\" #1"');
  assert.equal(sbatchQuote('--comment=a\\b', 'x'), '"--comment=a\\\\b"');
  assert.throws(() => sbatchQuote('--comment=a\nb', 'extraArgs'), /newline/);
  assert.throws(() => sbatchQuote('--x=a\rb', 'extraArgs'), /newline/);
  assert.throws(() => sbatchQuote('', 'x'), /empty/);
});

test('output paths: % is doubled for Slurm patterns, a backslash is refused', () => {
  assert.equal(slurmPathPattern('/runs/50%-done'), '/runs/50%%-done');
  assert.throws(() => slurmPathPattern('/runs/a\\b'), /backslash/);
});

const full: SlurmLauncher = {
  type: 'slurm',
  partition: 'gpu,debug',
  time: '1-02:00:00',
  cpusPerTask: 4,
  mem: '8G',
  gres: 'gpu:a100:1',
  account: 'proj-42',
  extraArgs: ['--qos=high', '--comment=two words', '--constraint=a100|h100'],
};

const base = {
  jobName: 'akd-tiny',
  output: '/shared/runs/it\'s "x" $HOME/slurm-%j.out',
  workDir: '/shared/anneal kd',
  nodeBinary: '/opt/node 20/bin/node',
  args: ['/shared/anneal kd/bin/akd.js', '_run-job', '/shared/runs/it\'s "x" $HOME'],
};

test('sbatchScript: one #SBATCH line per setting, in a fixed order, before any command', () => {
  const script = sbatchScript({ launcher: full, ...base, dependency: 'afterok:12', array: '0-2%2' });
  const lines = script.split('\n');
  assert.equal(lines[0], '#!/bin/bash');
  const directives = lines.filter((l) => l.startsWith('#SBATCH'));
  assert.deepEqual(directives, [
    '#SBATCH --job-name=akd-tiny',
    '#SBATCH "--output=/shared/runs/it\'s \\"x\\" $HOME/slurm-%j.out"',
    '#SBATCH --partition=gpu,debug',
    '#SBATCH --account=proj-42',
    '#SBATCH --time=1-02:00:00',
    '#SBATCH --cpus-per-task=4',
    '#SBATCH --mem=8G',
    '#SBATCH --gres=gpu:a100:1',
    '#SBATCH --array=0-2%2',
    '#SBATCH --dependency=afterok:12',
    '#SBATCH --kill-on-invalid-dep=yes',
    '#SBATCH --qos=high',
    '#SBATCH "--comment=two words"',
    '#SBATCH "--constraint=a100|h100"',
  ]);
  // sbatch stops reading directives at the first command: all of them come first.
  const firstCommand = lines.findIndex((l, i) => i > 0 && !l.startsWith('#') && l.trim() !== '');
  assert.ok(lines.slice(firstCommand).every((l) => !l.startsWith('#SBATCH')));
  assert.ok(script.endsWith(`exec "$node_bin" ${base.args.map(shellQuote).join(' ')}\n`));
});

test('sbatchScript: the bash part really runs the right argv (paths with spaces, quotes and $)', () => {
  const script = sbatchScript({
    launcher: { type: 'slurm' },
    ...base,
    workDir: '/',
    nodeBinary: '/bin/echo-not-here',
  });
  // Swap node for printf and run the script body in bash: the arguments must arrive intact.
  const body = script
    .replace('if ! "$node_bin" -e', 'if false && "$node_bin" -e')
    .replace('exec "$node_bin"', "exec printf '%s\\0'");
  const out = execFileSync('bash', ['-c', body], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  assert.deepEqual(out.split('\0').slice(0, -1), base.args);
});

test('a minimal launcher block gives only the lines akd needs', () => {
  assert.deepEqual(sbatchOptions({ launcher: { type: 'slurm' }, ...base, output: '/r/slurm-%j.out' }), [
    '--job-name=akd-tiny',
    '--output=/r/slurm-%j.out',
  ]);
});

test('invalid launcher values are rejected before anything is submitted', () => {
  const bad: [Partial<SlurmLauncher>, RegExp][] = [
    [{ time: '90 minutes' }, /Slurm time/],
    [{ time: '1:2:3:4' }, /Slurm time/],
    [{ mem: '8 GB' }, /Slurm size/],
    [{ cpusPerTask: 0 }, /positive integer/],
    [{ extraArgs: ['qos=high'] }, /not an sbatch option/],
    [{ extraArgs: ['--output=/elsewhere'] }, /akd sets --output itself/],
    [{ extraArgs: ['-o', '/x'] }, /akd sets -o itself|not an sbatch option/],
    [{ extraArgs: ['--array=0-9'] }, /akd sets --array/],
  ];
  for (const [patch, re] of bad)
    assert.throws(() => checkSlurmLauncher({ type: 'slurm', ...patch }), re, JSON.stringify(patch));
  assert.throws(
    () =>
      sbatchScript({ launcher: { type: 'slurm', extraArgs: ['--comment=a\n#SBATCH --wrap=rm'] }, ...base }),
    /newline/,
  );
  for (const time of ['30', '30:00', '2:00:00', '1-0', '1-12:00', '1-12:00:00', 'UNLIMITED'])
    checkSlurmLauncher({ type: 'slurm', time });
});

test('a sweep array spec: member indices as ranges, throttled to the concurrency', async () => {
  const { arraySpec } = await import('../../../runner/launch/slurmSweep');
  assert.equal(arraySpec([1, 2], 2), '1-2%2');
  assert.equal(arraySpec([0, 1, 2, 3, 4], 2), '0-4%2');
  assert.equal(arraySpec([5, 0, 3, 2], 8), '0,2-3,5%4');
  assert.equal(arraySpec([7], 0), '7%1');
});
