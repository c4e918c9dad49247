/** `akd help` (every command, one line each) and `akd help COMMAND` (that command's usage only), from spec.ts. */
import { COMMANDS, type CommandSpec, type OptionSpec } from './spec';

function optionName(name: string, o: OptionSpec): string {
  if (o.type === 'boolean') return `--${name}`;
  const value = o.choices ? o.choices.join('|') : (o.value ?? 'VALUE');
  return `--${name} ${value}`;
}

function wrap(text: string, width: number, indent: string): string {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.join(`\n${indent}`);
}

/** "akd run CONFIG [options]". */
export function synopsis(spec: CommandSpec, parent?: CommandSpec): string {
  const name = parent ? `akd ${parent.name} ${spec.name}` : `akd ${spec.name}`;
  const opts = Object.keys(spec.options ?? {}).length > 0 ? ' [options]' : '';
  return `${name}${spec.args ? ` ${spec.args}` : ''}${opts}`;
}

/** One command's usage: synopsis, what it does, its options (and its subcommands). */
export function commandUsage(spec: CommandSpec, parent?: CommandSpec): string {
  const lines = [`Usage: ${synopsis(spec, parent)}`, '', spec.summary];
  if (spec.details) lines.push('', spec.details);
  const subs = (spec.subcommands ?? []).filter((s) => !s.hidden);
  if (subs.length > 0) {
    lines.push('', 'Commands:');
    const width = Math.max(...subs.map((s) => synopsis(s, spec).length));
    for (const s of subs) lines.push(`  ${synopsis(s, spec).padEnd(width)}  ${s.summary}`);
    lines.push('', `akd help ${spec.name} COMMAND (or akd ${spec.name} COMMAND --help): one of them.`);
  }
  const options: [string, string][] = Object.entries(spec.options ?? {}).map(([n, o]) => [
    optionName(n, o) + (o.multiple ? ' (repeatable)' : ''),
    o.help,
  ]);
  options.push(['--help', 'this usage']);
  lines.push('', 'Options:');
  const width = Math.min(34, Math.max(...options.map(([n]) => n.length)));
  for (const [name, help] of options) {
    const pad = name.length > width ? `\n  ${' '.repeat(width)}` : ' '.repeat(width - name.length);
    lines.push(`  ${name}${pad}  ${wrap(help, 96 - width, ' '.repeat(width + 4))}`);
  }
  return lines.join('\n');
}

/** Every command, one line each. */
export function overviewUsage(): string {
  const shown = COMMANDS.filter((c) => !c.hidden);
  const width = Math.max(...shown.map((c) => `${c.name}${c.args ? ` ${c.args}` : ''}`.length));
  return [
    'akd — Anneal KD: knowledge distillation experiments with TensorFlow.js',
    '',
    'Usage: akd COMMAND [ARGS] [options]',
    '',
    'Commands:',
    ...shown.map((c) => `  ${`${c.name}${c.args ? ` ${c.args}` : ''}`.padEnd(width)}  ${c.summary}`),
    '',
    "akd help COMMAND (or akd COMMAND --help) prints one command's usage and options.",
    'Exit codes: 0 ok, 1 failed, 2 invalid config or option (nothing was run), 64 wrong arguments,',
    '75 another process is writing that run (run.lock; nothing was done),',
    '130/143 stopped by SIGINT/SIGTERM (the run checkpointed; akd resume continues it).',
  ].join('\n');
}
