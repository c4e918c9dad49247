/**
 * The CLI's command table (runner/cli/spec.ts): strict options (an unknown option or a bad value
 * exits 2 naming it), per-command help, the completion scripts (run in a real bash; zsh checked
 * by zsh itself where it is installed), and every flag the CLI had before still parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { handledCommands } from '../../../runner/cli/akd';
import { parseCommandArgs, OptionError } from '../../../runner/cli/args';
import { bashCompletion, zshCompletion } from '../../../runner/cli/completion';
import { COMMANDS, findCommand, type CommandSpec } from '../../../runner/cli/spec';
import { AKD, REPO, tempDir } from '../../helpers/akdProcess';

function akd(args: string[], cwd = REPO): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [AKD, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const spec = (name: string, sub?: string): CommandSpec => {
  const c = findCommand(name);
  assert.ok(c, name);
  if (!sub) return c;
  const s = findCommand(sub, c.subcommands);
  assert.ok(s, `${name} ${sub}`);
  return s;
};

test('an unknown option exits 2 with one line naming it (and a likely meant one); nothing runs', () => {
  const dir = tempDir('opts');
  const r = akd(['run', path.join(REPO, 'examples', 'mnist-cnn-to-mlp.akd.json'), '--outt', dir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^akd run: unknown option --outt \(did you mean --out\?\)$/m);
  assert.match(r.stderr, /Usage: akd run CONFIG \[options\] \(akd help run\)/);
  assert.equal(fs.readdirSync(dir).length, 0, 'no run folder');
  assert.equal(fs.existsSync(path.join(REPO, 'examples', '.akd', 'runs', 'x')), false);

  const q = akd(['queue', 'list', '--verbose']);
  assert.equal(q.code, 2);
  assert.match(q.stderr, /^akd queue list: unknown option --verbose$/m);

  const short = akd(['list', '-x']);
  assert.equal(short.code, 2);
  assert.match(short.stderr, /akd list: unknown option -x/);
});

test('option values: missing, stray, not one of the choices, not a number: exit 2 naming the option', () => {
  const missing = akd(['compare', 'x', '--csv']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^akd compare: --csv needs a value$/m);
  const stray = akd(['list', '--json=yes']);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /^akd list: --json takes no value$/m);
  const choice = akd(['run', 'x.akd.json', '--backend', 'gpu']);
  assert.equal(choice.code, 2);
  assert.match(choice.stderr, /^akd run: --backend must be auto, tensorflow, wasm, cpu; got "gpu"$/m);
  const jobs = akd(['queue', 'start', '--jobs', 'many']);
  assert.equal(jobs.code, 2);
  assert.match(jobs.stderr, /--jobs must be an integer 1\.\.64, got "many"/);
  const days = akd(['gc', '--older-than', '-3']);
  assert.equal(days.code, 2);
  assert.match(days.stderr, /--older-than/);
  // Wrong arguments (not options) keep their own code.
  const noConfig = akd(['run']);
  assert.equal(noConfig.code, 64);
  assert.match(noConfig.stderr, /akd run needs a CONFIG file/);
  const unknown = akd(['frobnicate']);
  assert.equal(unknown.code, 64);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});

test("akd help COMMAND and akd COMMAND --help print that command's usage only", () => {
  const help = akd(['help', 'run']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: akd run CONFIG \[options\]$/m);
  for (const o of Object.keys(spec('run').options ?? {})) assert.match(help.stdout, new RegExp(`--${o}\\b`));
  assert.doesNotMatch(help.stdout, /akd sweep|akd compare|--seeds|--csv/, 'no other command');
  const flag = akd(['run', '--help']);
  assert.equal(flag.code, 0);
  assert.equal(flag.stdout, help.stdout);
  // Even with other arguments, and after a subcommand.
  assert.equal(akd(['run', 'x.akd.json', '--json', '-h']).stdout, help.stdout);
  const add = akd(['queue', 'add', '--help']);
  assert.equal(add.code, 0);
  assert.match(add.stdout, /^Usage: akd queue add CONFIG \[options\]$/m);
  assert.match(add.stdout, /--set KEY=VALUE \(repeatable\)/);
  assert.doesNotMatch(add.stdout, /--jobs/);
  assert.equal(akd(['help', 'queue', 'add']).stdout, add.stdout);
  const queue = akd(['help', 'queue']);
  assert.match(queue.stdout, /akd queue start \[options\]/);
  assert.doesNotMatch(queue.stdout, /queue next/, 'hidden subcommands are not listed');
  // The overview lists every visible command once.
  const all = akd(['help']);
  assert.equal(all.code, 0);
  for (const c of COMMANDS.filter((c) => !c.hidden))
    assert.match(all.stdout, new RegExp(`^  ${c.name}\\b`, 'm'));
  assert.doesNotMatch(all.stdout, /run-member|_run-job/);
  const none = akd(['help', 'nope']);
  assert.equal(none.code, 64);
});

test('every command in the table has a handler and every handler a command', () => {
  const paths = COMMANDS.flatMap((c) =>
    c.subcommands ? c.subcommands.map((s) => `${c.name} ${s.name}`) : [c.name],
  );
  assert.deepEqual([...paths].sort(), [...handledCommands()].sort());
});

test('every flag the CLI had before parses as before', () => {
  const ok = (name: string, argv: string[], sub?: string): ReturnType<typeof parseCommandArgs> =>
    parseCommandArgs(spec(name, sub), argv);
  const run = ok('run', [
    'c.akd.json',
    '--out',
    'o',
    '--json',
    '--backend=wasm',
    '--threads',
    '2',
    '--launcher',
    'slurm',
    '--detach',
  ]);
  assert.deepEqual(run.positional, ['c.akd.json']);
  assert.equal(run.flags.get('out'), 'o');
  assert.equal(run.flags.get('backend'), 'wasm');
  assert.equal(run.flags.get('detach'), true);
  ok('resume', ['r', '--json', '--launcher', 'local', '--detach', '--concurrency', '2', '--retry-failed']);
  const sweep = ok('sweep', [
    'c.akd.json',
    '--seeds',
    '1,2',
    '--methods',
    'kd,annealing',
    '--out',
    'o',
    '--concurrency',
    '2',
    '--teacher-cache',
    't',
    '--dry-run',
    '--json',
    '--launcher',
    'slurm',
    '--detach',
  ]);
  assert.equal(sweep.flags.get('seeds'), '1,2');
  ok('sweep', ['--resume', 'S', '--retry-failed', '--json']);
  ok('compare', [
    'a',
    'b',
    '--csv',
    'x',
    '--md',
    'y',
    '--png',
    'z',
    '--runs-csv',
    'w',
    '--title',
    'T',
    '--best-only',
  ]);
  ok('compare', ['a', '--json']);
  ok('stop', ['r', '--wait', '5', '--json']);
  ok('follow', ['r', '--json']);
  ok('validate', ['a', 'b']);
  ok('list', ['dir']);
  ok('show', ['r']);
  ok('run-member', ['S', '--index', '3', '--json']);
  ok('run-member', ['S', '--member', 'kd-s1']);
  // --set repeats, in order; a value may hold "=".
  const set = ok('run', ['c', '--set', 'a.b=1', '--set=name="x=y"']);
  assert.deepEqual(set.flags.get('set'), ['a.b=1', 'name="x=y"']);
  // `--` ends the options.
  assert.deepEqual(ok('validate', ['--', '--odd.akd.json']).positional, ['--odd.akd.json']);
  assert.throws(() => ok('list', ['--bogus']), OptionError);
});

function bashComplete(line: string): string[] {
  // What bash does on TAB: COMP_WORDS/COMP_CWORD from the line, then the function complete -F registered.
  const script = `${bashCompletion()}
line=${JSON.stringify(line)}
read -r -a COMP_WORDS <<< "$line"
[[ "$line" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
fn=$(complete -p akd | sed -E 's/.*-F ([^ ]+).*/\\1/')
"$fn" akd "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "\${COMPREPLY[@]}"
`;
  const dir = tempDir('complete');
  fs.writeFileSync(path.join(dir, 'a.akd.json'), '{}');
  fs.writeFileSync(path.join(dir, 'notes.txt'), '');
  fs.mkdirSync(path.join(dir, 'sub'));
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).sort();
}

test('akd completion bash: commands, subcommands, options, option values and configs, in a real bash', () => {
  const r = akd(['completion', 'bash']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, bashCompletion());
  assert.deepEqual(bashComplete('akd ru'), ['run']);
  assert.deepEqual(bashComplete('akd q'), ['queue']);
  assert.deepEqual(bashComplete('akd queue '), ['add', 'list', 'move', 'remove', 'start']);
  assert.deepEqual(bashComplete('akd queue start --'), ['--help', '--jobs', '--json', '--root']);
  assert.deepEqual(bashComplete('akd run --b'), ['--backend']);
  assert.deepEqual(bashComplete('akd run --backend '), ['auto', 'cpu', 'tensorflow', 'wasm']);
  assert.deepEqual(bashComplete('akd run --launcher s'), ['slurm']);
  assert.deepEqual(bashComplete('akd completion '), ['bash', 'zsh']);
  // A CONFIG: *.akd.json files and folders, not other files.
  assert.deepEqual(bashComplete('akd run '), ['a.akd.json', 'sub']);
  assert.ok(bashComplete('akd help ').includes('queue'));
  const bad = akd(['completion', 'fish']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /give a shell, bash or zsh; got "fish"/);
});

test('akd completion zsh: one _arguments spec per option; zsh reads it and registers _akd', (t) => {
  const script = akd(['completion', 'zsh']).stdout;
  assert.equal(script, zshCompletion());
  assert.match(script, /^#compdef akd$/m);
  assert.match(script, /'--backend=\[the TF\.js backend\]:name:\(auto tensorflow wasm cpu\)'/);
  assert.match(script, /'\*--set=\[override a config value\\: a dotted path and a JSON value\]:key=value: '/);
  assert.match(script, /'\*:config:_files -g "\*\.akd\.json\(-\.\)"'/);
  assert.match(script, /add\) _arguments -s .*'--root=/);
  const zsh = spawnSync('zsh', ['--version'], { encoding: 'utf8' });
  if (zsh.error) {
    t.skip('zsh is not installed here (the script text is checked above)');
    return;
  }
  const dir = tempDir('zsh');
  fs.writeFileSync(path.join(dir, '_akd'), script);
  const syntax = spawnSync('zsh', ['-n', path.join(dir, '_akd')], { encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  const loaded = spawnSync(
    'zsh',
    [
      '-f',
      '-c',
      `autoload -Uz compinit && compinit -u -d ${dir}/zcd && source ${dir}/_akd && print -r -- $_comps[akd]`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(loaded.status, 0, loaded.stderr);
  assert.equal(loaded.stdout.trim(), '_akd');
});
