/**
 * `akd completion bash|zsh`: shell completion scripts made from the command table (spec.ts), so
 * they offer exactly the commands, subcommands, options and option values the parser accepts.
 * Static scripts: a TAB never starts Node.
 */
import { COMMANDS, type CommandSpec, type OptionSpec, type PositionalKind } from './spec';

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

const visible = (specs: readonly CommandSpec[]): CommandSpec[] => specs.filter((c) => !c.hidden);

/** Every (command path, spec) pair a completion handles: `run`, `queue add`, ... */
function leaves(): { path: string; spec: CommandSpec }[] {
  const out: { path: string; spec: CommandSpec }[] = [];
  for (const c of visible(COMMANDS)) {
    if (c.subcommands)
      for (const s of visible(c.subcommands)) out.push({ path: `${c.name} ${s.name}`, spec: s });
    else out.push({ path: c.name, spec: c });
  }
  return out;
}

function positionalWords(spec: CommandSpec): readonly string[] | undefined {
  if (spec.name === 'help') return visible(COMMANDS).map((c) => c.name);
  return spec.words;
}

// ---------------------------------------------------------------- bash

function bashValueCase(name: string, o: OptionSpec): string | undefined {
  if (o.type === 'boolean') return undefined;
  const reply = o.choices
    ? `COMPREPLY=( $(compgen -W "${o.choices.join(' ')}" -- "$cur") )`
    : o.complete === 'dir'
      ? 'COMPREPLY=( $(compgen -d -- "$cur") )'
      : o.complete === 'file'
        ? 'COMPREPLY=( $(compgen -f -- "$cur") )'
        : o.complete === 'config'
          ? '_akd_configs'
          : ':';
  return `--${name}) ${reply}; return 0 ;;`;
}

function bashPositional(kind: PositionalKind | undefined, words: readonly string[] | undefined): string {
  if (words) return `COMPREPLY=( $(compgen -W "${words.join(' ')}" -- "$cur") )`;
  switch (kind) {
    case 'config':
      return '_akd_configs';
    case 'run':
      return '_akd_runs';
    case 'dir':
      return 'COMPREPLY=( $(compgen -d -- "$cur") )';
    case 'file':
      return 'COMPREPLY=( $(compgen -f -- "$cur") )';
    default:
      return ':';
  }
}

export function bashCompletion(): string {
  const top = visible(COMMANDS);
  const cases = leaves().map(({ path, spec }) => {
    const opts = Object.keys(spec.options ?? {})
      .map((n) => `--${n}`)
      .concat('--help')
      .join(' ');
    const values = Object.entries(spec.options ?? {})
      .map(([n, o]) => bashValueCase(n, o))
      .filter((x): x is string => x !== undefined);
    return [
      `    "${path}")`,
      ...(values.length > 0
        ? ['      case "$prev" in', ...values.map((v) => `        ${v}`), '      esac']
        : []),
      `      opts="${opts}"`,
      `      if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$opts" -- "$cur") ); return 0; fi`,
      `      ${bashPositional(spec.positional, positionalWords(spec))}`,
      '      ;;',
    ].join('\n');
  });
  const groups = top
    .filter((c) => c.subcommands)
    .map(
      (c) =>
        `  if [ "$cmd" = ${c.name} ]; then\n` +
        `    if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=( $(compgen -W "${visible(c.subcommands ?? [])
          .map((s) => s.name)
          .join(' ')}" -- "$cur") ); return 0; fi\n` +
        `    cmd="${c.name} \${COMP_WORDS[2]}"\n  fi`,
    );
  return `# bash completion for akd (Anneal KD): eval "$(akd completion bash)"
_akd_configs() {
  local IFS=$'\\n'
  COMPREPLY=( $(compgen -f -X '!*.akd.json' -- "$cur") $(compgen -d -- "$cur") )
}
_akd_runs() {
  local IFS=$'\\n'
  COMPREPLY=( $(compgen -d -- "$cur") )
  if [ -d .akd/runs ]; then COMPREPLY+=( $(cd .akd/runs && compgen -d -- "$cur") ); fi
}
_akd() {
  local cur prev cmd opts
  COMPREPLY=()
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${top.map((c) => c.name).join(' ')} --help" -- "$cur") )
    return 0
  fi
  cmd="\${COMP_WORDS[1]}"
${groups.join('\n')}
  case "$cmd" in
${cases.join('\n')}
  esac
  return 0
}
complete -o filenames -o bashdefault -F _akd akd
`;
}

// ---------------------------------------------------------------- zsh

/** A help text as _arguments and _describe take it: no brackets, colons or quotes, one short clause. */
function zshText(text: string): string {
  const first = text.split(/[;(]/)[0].trim();
  return first.replace(/[[\]]/g, '').replace(/:/g, '\\:').replace(/'/g, '').replace(/`/g, '');
}

function zshAction(o: Pick<OptionSpec, 'choices' | 'complete'>, kind?: PositionalKind): string {
  if (o.choices) return `(${o.choices.join(' ')})`;
  const c = o.complete ?? kind;
  if (c === 'dir' || c === 'run') return '_files -/';
  if (c === 'file') return '_files';
  if (c === 'config') return '_files -g "*.akd.json(-.)"';
  return ' ';
}

function zshArguments(spec: CommandSpec): string[] {
  const specs = Object.entries(spec.options ?? {}).map(([n, o]) => {
    const help = zshText(o.help);
    if (o.type === 'boolean') return `'--${n}[${help}]'`;
    return `'${o.multiple ? '*' : ''}--${n}=[${help}]:${(o.value ?? 'value').toLowerCase()}:${zshAction(o)}'`;
  });
  specs.push(`'--help[this usage]'`);
  const words = positionalWords(spec);
  if (words) specs.push(`'1:${spec.name === 'help' ? 'command' : 'value'}:(${words.join(' ')})'`);
  else if (spec.positional) specs.push(`'*:${spec.positional}:${zshAction({}, spec.positional)}'`);
  return specs;
}

export function zshCompletion(): string {
  const top = visible(COMMANDS);
  const describe = (specs: CommandSpec[]): string =>
    specs.map((c) => `'${c.name}:${zshText(c.summary.replace(/\.$/, ''))}'`).join(' ');
  const cases = top.map((c) => {
    if (c.subcommands) {
      const subs = visible(c.subcommands);
      return [
        `    ${c.name})`,
        '      if (( CURRENT == 2 )); then',
        `        local -a subcommands; subcommands=(${describe(subs)})`,
        `        _describe -t commands 'akd ${c.name} command' subcommands`,
        '        return',
        '      fi',
        '      local sub=$words[2]',
        '      shift words; (( CURRENT-- ))',
        '      case $sub in',
        ...subs.map((s) => `        ${s.name}) _arguments -s ${zshArguments(s).join(' ')} ;;`),
        '      esac',
        '      ;;',
      ].join('\n');
    }
    return `    ${c.name}) _arguments -s ${zshArguments(c).join(' ')} ;;`;
  });
  return `#compdef akd
# zsh completion for akd (Anneal KD): akd completion zsh > "\${fpath[1]}/_akd", or source <(akd completion zsh) after compinit
_akd() {
  if (( CURRENT == 2 )); then
    local -a commands; commands=(${describe(top)})
    _describe -t commands 'akd command' commands
    return
  fi
  local cmd=$words[2]
  shift words; (( CURRENT-- ))
  case $cmd in
${cases.join('\n')}
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _akd "$@"
else
  compdef _akd akd
fi
`;
}

export function completionScript(shell: Shell): string {
  return shell === 'bash' ? bashCompletion() : zshCompletion();
}
