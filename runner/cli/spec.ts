/**
 * Every `akd` command and its options, declared once: the parser (util.parseArgs, strict), the
 * usage (`akd help`, `akd help COMMAND`, `akd COMMAND --help`) and the shell completions
 * (`akd completion bash|zsh`) are all made from this table. No imports of the runner: help and
 * completion must not load TensorFlow.js.
 */

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** May be given several times (`--set A=1 --set B=2`). */
  multiple?: boolean;
  /** The value's placeholder in the usage: DIR, FILE, N... */
  value?: string;
  /** The values it accepts (also offered by the completions). */
  choices?: readonly string[];
  /** What the value names, for the completions: a file, a folder, a config. */
  complete?: 'file' | 'dir' | 'config';
  help: string;
}

/** What a command's positional arguments are, for the usage and the completions. */
export type PositionalKind = 'config' | 'run' | 'dir' | 'file' | 'id' | 'text' | 'word';

export interface CommandSpec {
  name: string;
  /** The positional arguments as the usage shows them: "CONFIG", "RUN...", "[DIR]". */
  args?: string;
  positional?: PositionalKind;
  /** Words the first positional may be (completion), e.g. `completion bash|zsh`. */
  words?: readonly string[];
  /** One line for the command list. */
  summary: string;
  /** More lines for `akd help COMMAND`. */
  details?: string;
  options?: Record<string, OptionSpec>;
  /** Subcommands (`akd queue add ...`): the first positional picks one. */
  subcommands?: CommandSpec[];
  /** Internal (what a sweep or a Slurm job runs): parsed, not listed. */
  hidden?: boolean;
}

const json = (what: string): OptionSpec => ({ type: 'boolean', help: what });
const ROOT: OptionSpec = {
  type: 'string',
  value: 'DIR',
  complete: 'dir',
  help: 'the folder whose .akd/queue.json is the queue (default: the current folder)',
};
const SET: OptionSpec = {
  type: 'string',
  multiple: true,
  value: 'KEY=VALUE',
  help: 'override a config value: a dotted path and a JSON value (--set method.tauMax=5 --set student.model.hidden=[64]); validated like the file',
};
const LAUNCHER: OptionSpec = {
  type: 'string',
  value: 'TYPE',
  choices: ['local', 'slurm'],
  help: "where it trains: local (in this process) or slurm (sbatch); overrides the config's launcher type",
};

export const COMMANDS: CommandSpec[] = [
  {
    name: 'run',
    args: 'CONFIG',
    positional: 'config',
    summary: "Train the config's teacher and student.",
    details: `The run goes to .akd/runs/<id>/ beside CONFIG (or under --out DIR). With --launcher slurm it is
submitted as a Slurm batch job and followed like a local run (settings: the config's "launcher"
block; the repo and the run folder must be on a filesystem the compute nodes share).
SIGINT/SIGTERM stop at the next batch boundary, write a checkpoint and exit 130/143.
An unknown --set key or a bad value exits 2 naming the key; nothing is run.`,
    options: {
      out: { type: 'string', value: 'DIR', complete: 'dir', help: 'put the run folder under DIR' },
      json: json("stream the run's events to stdout, one JSON object per line"),
      backend: {
        type: 'string',
        value: 'NAME',
        choices: ['auto', 'tensorflow', 'wasm', 'cpu'],
        help: "the TF.js backend (overrides the config's)",
      },
      threads: {
        type: 'string',
        value: 'auto|N',
        help: 'data-parallel training threads on wasm/cpu (overrides the config\'s "threads")',
      },
      set: SET,
      launcher: LAUNCHER,
      detach: { type: 'boolean', help: 'Slurm: return after submitting; prints RUNDIR<TAB>JOBID' },
    },
  },
  {
    name: 'resume',
    args: 'RUN|SWEEP_DIR',
    positional: 'run',
    summary: 'Continue a cancelled or crashed run (or a sweep) from its last checkpoint.',
    details: `RUN is a run folder or an id under ./.akd/runs. A Slurm run is resubmitted (--launcher local
trains it here instead). A sweep folder: the same as akd sweep --resume SWEEP_DIR.`,
    options: {
      json: json("stream the run's events to stdout as JSON lines"),
      launcher: LAUNCHER,
      detach: { type: 'boolean', help: 'Slurm: return after submitting' },
      concurrency: { type: 'string', value: 'N', help: 'a sweep: members at a time' },
      'retry-failed': { type: 'boolean', help: 'a sweep: run failed members again' },
      from: {
        type: 'string',
        value: 'CHECKPOINT',
        choices: ['latest', 'previous'],
        help: 'a run: continue from the latest checkpoint (default) or the one before it, when the latest is damaged (akd says so)',
      },
    },
  },
  {
    name: 'sweep',
    args: 'CONFIG',
    positional: 'config',
    summary: 'Run a config\'s "sweep" block: seeds x methods x grid, one shared teacher.',
    details: `Expands the config's "sweep" block (the flags override it) into members, one akd process each,
N at a time (default: the cores), sharing one teacher trained once and cached in .akd/teachers/.
The sweep goes to .akd/sweeps/<id>/ beside CONFIG (or DIR). With --launcher slurm: the teacher as
one job, the other members as one job array.
  akd sweep --resume SWEEP_DIR [--retry-failed]   continue a stopped sweep: completed members are
                                                  skipped, cancelled and crashed ones resumed`,
    options: {
      seeds: { type: 'string', value: '1,2,3', help: 'the seeds (comma-separated)' },
      methods: {
        type: 'string',
        value: 'LIST',
        help: 'the methods: scratch,kd,takd,annealing (comma-separated)',
      },
      out: { type: 'string', value: 'DIR', complete: 'dir', help: 'the sweep folder' },
      concurrency: { type: 'string', value: 'N', help: 'members at a time' },
      'teacher-cache': {
        type: 'string',
        value: 'DIR',
        complete: 'dir',
        help: 'the shared-teacher cache (default: .akd/teachers beside CONFIG)',
      },
      'dry-run': { type: 'boolean', help: 'print the members and their settings; run nothing' },
      resume: { type: 'string', value: 'SWEEP_DIR', complete: 'dir', help: 'continue a stopped sweep' },
      'retry-failed': { type: 'boolean', help: 'with --resume: run failed members again' },
      json: json('stream sweep and member events to stdout as JSON lines'),
      launcher: LAUNCHER,
      detach: { type: 'boolean', help: 'Slurm: return after submitting; one RUNDIR<TAB>JOBID line a member' },
    },
  },
  {
    name: 'compare',
    args: 'RUN_OR_SWEEP_DIR...',
    positional: 'dir',
    summary: 'Student test accuracy per method and setting: mean ± std over seeds, tables, plot.',
    details: `Per method and swept setting: the student's test accuracy as mean ± sample std over seeds, the
best seed, n, the final student's validation accuracy (pick settings on that), the gap to the
teacher, parameters and wall time. --png/--svg draw it for a paper column (3.4 in, 8 pt text; PNG
at 300 dpi, SVG with its text as text): accuracy per method with error bars and each seed, and
(FILE-phase1) the annealing phase-1 curves per T. --json prints the comparison the editor's dashboard shows, as one
object: {runs, groups, errors}.`,
    options: {
      json: json('the comparison as one JSON object'),
      csv: { type: 'string', value: 'FILE', complete: 'file', help: 'write the table as CSV' },
      md: { type: 'string', value: 'FILE', complete: 'file', help: 'write the table as Markdown' },
      png: { type: 'string', value: 'FILE', complete: 'file', help: 'draw the plot as PNG' },
      svg: {
        type: 'string',
        value: 'FILE',
        complete: 'file',
        help: 'draw the plot as SVG (its text as text)',
      },
      'runs-csv': { type: 'string', value: 'FILE', complete: 'file', help: 'write one row per run as CSV' },
      title: { type: 'string', value: 'TEXT', help: "the plot's title" },
      'best-only': { type: 'boolean', help: 'only the best setting per method (by validation accuracy)' },
    },
  },
  {
    name: 'export',
    args: 'RUN',
    positional: 'run',
    summary: "The run's student (or teacher) as ONNX, verified in ONNX Runtime before it is written.",
    details: `Raw float32 pixels 0..255 NHWC [N,H,W,C] in, logits out, batchnorm folded; default
RUN/export/student.onnx (student.int8.onnx). fp32 must match the run's test accuracy within 0.1
point and its logits within 1e-4; int8 (static, calibrated on N training images) at most --max-drop
points below fp32. Recorded in the run's summary.json "exports".`,
    options: {
      format: { type: 'string', value: 'FORMAT', choices: ['onnx'], help: 'the file format (onnx)' },
      quantize: {
        type: 'string',
        value: 'TYPE',
        choices: ['int8'],
        help: 'quantize the weights and activations',
      },
      model: {
        type: 'string',
        value: 'ROLE',
        choices: ['student', 'teacher'],
        help: 'which model of the run (default student)',
      },
      out: {
        type: 'string',
        value: 'FILE',
        complete: 'file',
        help: 'where to write it (default RUN/export/)',
      },
      json: json('stream the progress and the result as JSON lines'),
      'max-drop': {
        type: 'string',
        value: 'POINTS',
        help: 'int8: the most test accuracy it may lose against fp32 (default 1.5)',
      },
      'calibration-images': {
        type: 'string',
        value: 'N',
        help: 'int8: training images to calibrate the activations on (default 500)',
      },
    },
  },
  {
    name: 'stop',
    args: 'RUN|SWEEP_DIR',
    positional: 'run',
    summary: "Stop a run or a sweep's running members; each checkpoints and ends cancelled.",
    details: 'Slurm: scancel; local: SIGTERM. Waits up to --wait seconds for the checkpoint.',
    options: {
      wait: { type: 'string', value: 'SECONDS', help: 'how long to wait for the run to end (default 120)' },
      json: json("print the run's end as JSON"),
    },
  },
  {
    name: 'follow',
    args: 'RUN',
    positional: 'run',
    summary: 'Re-attach to a run (a Slurm job, or a local run started elsewhere) and follow it to its end.',
    details: 'A local run whose process died is reported as crashed (akd resume continues it).',
    options: { json: json("stream the run's events as JSON lines") },
  },
  {
    name: 'validate',
    args: 'CONFIG...',
    positional: 'config',
    summary: 'Check configs: exit 0 if valid, 2 if not; one line per problem.',
    details: 'Each problem: FILE:LINE:COL PATH message [code].',
    options: {
      set: { ...SET, help: 'check the config with these overrides applied (as akd run --set would run it)' },
    },
  },
  {
    name: 'list',
    args: '[DIR]',
    positional: 'dir',
    summary: 'The runs under DIR (default: ./.akd/runs), one line each, starred ones marked.',
    options: {
      json: json('a JSON array: one object per run (status, method, accuracies, star, note, folder)'),
      starred: { type: 'boolean', help: 'only starred runs' },
    },
  },
  {
    name: 'show',
    args: 'RUN',
    positional: 'run',
    summary: "One run's summary, star and note. RUN is a run folder or an id under ./.akd/runs.",
    options: { json: json('one JSON object: the run as akd list --json shows it, with its summary') },
  },
  {
    name: 'queue',
    args: 'add|list|remove|move|start',
    words: ['add', 'list', 'remove', 'move', 'start'],
    summary: 'A queue of runs shared by the editor and terminals (ROOT/.akd/queue.json).',
    details: `ROOT is the current folder or --root DIR; the editor uses each workspace folder. Several drainers
(terminals, the editor) may drain one queue: each entry is claimed atomically and runs exactly
once; an entry whose drainer was killed is resumed from its checkpoint or returned to the queue.
Slurm runs bypass the queue (Slurm queues them): use akd run --launcher slurm.`,
    subcommands: [
      {
        name: 'add',
        args: 'CONFIG',
        positional: 'config',
        summary: 'Queue a run of CONFIG (validated with its --set overrides first).',
        options: {
          set: SET,
          out: { type: 'string', value: 'DIR', complete: 'dir', help: 'put the run folder under DIR' },
          root: ROOT,
          json: json('print the new entry as JSON'),
        },
      },
      {
        name: 'list',
        summary: 'The entries: queued ones by position, then running ones with their run folder.',
        options: { root: ROOT, json: json('a JSON object {root, file, entries}') },
      },
      {
        name: 'remove',
        args: 'ID...',
        positional: 'id',
        summary: 'Take queued entries off the queue (a running entry: stop its run with akd stop).',
        options: { root: ROOT },
      },
      {
        name: 'move',
        args: 'ID up|down|top|bottom|POSITION',
        positional: 'id',
        summary:
          'Move a queued entry: one place up or down, to the top or bottom, or to a position (1 = next).',
        options: { root: ROOT },
      },
      {
        name: 'start',
        summary: 'Drain the queue, N runs at a time; returns when it is empty.',
        details: `Each run is its own akd process (akd queue next). SIGINT/SIGTERM stop the runs at their next
batch boundary with a checkpoint; their entries go back to the queue and resume next time.`,
        options: {
          jobs: { type: 'string', value: 'N', help: 'runs at a time (default 1)' },
          root: ROOT,
          json: json("stream the runs' events as JSON lines"),
        },
      },
      {
        name: 'next',
        summary: 'Claim the next entry and run it in this process (what the editor and queue start run).',
        details: 'Exits 0 with nothing done when no entry is left to claim (stderr says so).',
        options: {
          root: ROOT,
          json: json("stream the run's events as JSON lines"),
          drainer: { type: 'string', value: 'TOKEN', help: 'the akd queue start that started it' },
        },
        hidden: true,
      },
    ],
  },
  {
    name: 'gc',
    args: '[DIR]',
    positional: 'dir',
    summary: "Free space: completed runs' checkpoints, unreferenced teacher caches (--dry-run first).",
    details: `DIR is a folder with .akd/ (default: the current one), or an .akd/runs folder. Removes the
checkpoints/ of completed runs (summary.json, events.jsonl, config.json and the final models stay),
with --failed also those of failed runs, and the .akd/teachers/ caches no run refers to. Never
touches a running, queued, cancelled or resumable run's checkpoints, nor anything of a starred run.
Prints the space freed per kind.`,
    options: {
      'dry-run': { type: 'boolean', help: 'say what would be removed; remove nothing' },
      'older-than': { type: 'string', value: 'DAYS', help: 'only runs that ended more than DAYS days ago' },
      failed: { type: 'boolean', help: "also failed runs' checkpoints" },
      json: json('the plan (or what was removed) as one JSON object'),
    },
  },
  {
    name: 'star',
    args: 'RUN...',
    positional: 'run',
    summary: 'Star runs (kept in <run>/meta.json; akd gc never touches a starred run).',
  },
  { name: 'unstar', args: 'RUN...', positional: 'run', summary: 'Take the star off runs.' },
  {
    name: 'note',
    args: 'RUN [TEXT]',
    positional: 'run',
    summary: "Set a run's note (kept in <run>/meta.json); no TEXT prints it, --clear removes it.",
    options: { clear: { type: 'boolean', help: 'remove the note' } },
  },
  {
    name: 'help',
    args: '[COMMAND]',
    positional: 'word',
    summary: "Every command, or one command's usage.",
  },
  {
    name: 'completion',
    args: 'bash|zsh',
    words: ['bash', 'zsh'],
    positional: 'word',
    summary: 'Print a shell completion script.',
    details: `bash: eval "$(akd completion bash)" (or save it to ~/.local/share/bash-completion/completions/akd)
zsh:  akd completion zsh > "\${fpath[1]}/_akd" (or: source <(akd completion zsh) after compinit)`,
  },
  {
    name: 'run-member',
    args: 'MEMBER_DIR | SWEEP_DIR --index N|--member ID',
    summary: 'One sweep member, run or resumed from its folder (what a local sweep starts).',
    options: {
      index: { type: 'string', value: 'N', help: "the member's index" },
      member: { type: 'string', value: 'ID', help: "the member's id" },
      json: json('stream events as JSON lines'),
    },
    hidden: true,
  },
  {
    name: '_run-job',
    args: 'RUNDIR',
    summary: 'What a Slurm job runs on its compute node (one session of an existing run folder).',
    hidden: true,
  },
];

export function findCommand(
  name: string,
  within: readonly CommandSpec[] = COMMANDS,
): CommandSpec | undefined {
  return within.find((c) => c.name === name);
}
