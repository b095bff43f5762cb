/**
 * Shell completion scripts (`shmsnap completion bash|zsh`), generated from
 * the command definitions (render/command-model.ts): the commands, each
 * command's flags, the choices of a flag or argument (`--codec` → none gzip
 * zstd), and file names where a value or argument is a location or a path.
 */
import type { ArgumentModel, CommandModel, OptionModel, ProgramModel } from './command-model.js';

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

/** Values that are places on disk (or a location, which may be one) complete as file names. */
const PATH_LIKE = /location|path|dir|file/i;

function isPathLike(name: string | undefined): boolean {
  return name !== undefined && PATH_LIKE.test(name);
}

const sq = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

function bashValueCase(options: readonly OptionModel[]): string[] {
  const lines: string[] = [];
  const silent: string[] = [];
  for (const option of options) {
    if (option.value === undefined) continue;
    const pattern = option.names.join('|');
    if (option.choices) lines.push(`        ${pattern}) COMPREPLY=( $(compgen -W ${sq(option.choices.join(' '))} -- "$cur") ); return 0 ;;`);
    else if (isPathLike(option.value)) lines.push(`        ${pattern}) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;`);
    else silent.push(pattern);
  }
  // A value nothing can guess (a number, a duration): offer nothing rather than flags.
  if (silent.length > 0) lines.push(`        ${silent.join('|')}) return 0 ;;`);
  return lines;
}

function bashArgument(argument: ArgumentModel | undefined): string {
  if (argument === undefined) return '';
  if (argument.choices) return `COMPREPLY=( $(compgen -W ${sq(argument.choices.join(' '))} -- "$cur") )`;
  return 'COMPREPLY=( $(compgen -f -- "$cur") )';
}

function bashCommand(command: CommandModel): string[] {
  const flags = command.options.flatMap((o) => o.names).join(' ');
  const values = bashValueCase(command.options);
  const argument = bashArgument(command.arguments[0]);
  return [
    `    ${command.name})`,
    ...(values.length > 0 ? ['      case "$prev" in', ...values, '      esac'] : []),
    argument === ''
      ? `      COMPREPLY=( $(compgen -W ${sq(flags)} -- "$cur") ) ;;`
      : `      if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W ${sq(flags)} -- "$cur") ); else ${argument}; fi ;;`,
  ];
}

export function bashCompletion(program: ProgramModel): string {
  const name = program.name;
  const top = [...program.commands.map((c) => c.name), ...program.options.flatMap((o) => o.names)].join(' ');
  return [
    `# bash completion for ${name}, generated from its command definitions by \`${name} completion bash\`.`,
    `# Load it in a shell: source <(${name} completion bash)`,
    `# or for every shell: ${name} completion bash > /etc/bash_completion.d/${name}`,
    `_${name}() {`,
    '  local cur prev command i',
    '  COMPREPLY=()',
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  prev=""',
    '  if (( COMP_CWORD > 0 )); then prev="${COMP_WORDS[COMP_CWORD-1]}"; fi',
    '  command=""',
    // The command is the first word that is not a flag (the program-level flags take no value).
    '  for (( i = 1; i < COMP_CWORD; i++ )); do',
    '    case "${COMP_WORDS[i]}" in',
    '      -*) ;;',
    '      *) command="${COMP_WORDS[i]}"; break ;;',
    '    esac',
    '  done',
    '  case "$command" in',
    ...program.commands.flatMap(bashCommand),
    '    *)',
    `      COMPREPLY=( $(compgen -W ${sq(top)} -- "$cur") ) ;;`,
    '  esac',
    '  return 0',
    '}',
    `complete -o filenames -F _${name} ${name}`,
    '',
  ].join('\n');
}

/** One line, at most `max` characters: zsh lists descriptions in a column. */
function shortText(text: string, max = 80): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 3).trimEnd()}...` : line;
}

/** Text inside a zsh single-quoted `_arguments` spec: backslashes and brackets escaped, one line, short. */
function zshText(text: string): string {
  return shortText(text).replace(/\\/g, '\\\\').replace(/'/g, `'\\''`).replace(/([[\]])/g, '\\$1');
}

function zshAction(value: string | undefined, choices: readonly string[] | undefined): string {
  if (choices) return `(${choices.map((c) => c.replace(/([ :()\\'])/g, '\\$1')).join(' ')})`;
  if (isPathLike(value)) return '_files';
  return ' ';
}

function zshOption(option: OptionModel): string {
  const description = zshText(option.description);
  const names = option.names;
  const exclusion = names.length > 1 ? `'(${names.join(' ')})'` : '';
  const spelled = names.length > 1 ? `{${names.join(',')}}` : `'${names[0]}'`;
  if (option.value === undefined) return `${exclusion}${spelled}'[${description}]'`;
  const equals = names.map((n) => (n.startsWith('--') ? `${n}=` : n));
  const withValue = equals.length > 1 ? `{${equals.join(',')}}` : `'${equals[0]}'`;
  return `${exclusion}${withValue}'[${description}]:${zshText(option.value)}:${zshAction(option.value, option.choices)}'`;
}

function zshArgument(argument: ArgumentModel, index: number): string {
  return `'${index + 1}:${argument.required ? '' : ':'}${zshText(argument.name)}:${zshAction(argument.name, argument.choices)}'`;
}

export function zshCompletion(program: ProgramModel): string {
  const name = program.name;
  const fn = `_${name}`;
  const commands = program.commands.map((c) => `    ${sq(`${c.name}:${shortText(c.summary)}`)}`);
  const cases = program.commands.flatMap((c) => {
    const specs = [...c.options.map(zshOption), ...c.arguments.map(zshArgument)];
    return [`        ${c.name})`, `          _arguments -s \\`, ...specs.map((s) => `            ${s} \\`), '            && return 0', '          ;;'];
  });
  return [
    `#compdef ${name}`,
    `# zsh completion for ${name}, generated from its command definitions by \`${name} completion zsh\`.`,
    `# Load it in a shell: source <(${name} completion zsh)`,
    `# or install it as a function: ${name} completion zsh > "\${fpath[1]}/_${name}"`,
    `${fn}() {`,
    '  local curcontext="$curcontext" state line',
    '  typeset -A opt_args',
    '  local -a commands',
    '  commands=(',
    ...commands,
    '  )',
    '  _arguments -C \\',
    ...program.options.map((o) => `    ${zshOption(o)} \\`),
    "    '1: :->command' \\",
    "    '*:: :->arguments' \\",
    '    && return 0',
    '  case $state in',
    "    command) _describe -t commands 'command' commands ;;",
    '    arguments)',
    '      case $line[1] in',
    ...cases,
    '      esac',
    '      ;;',
    '  esac',
    '}',
    // Autoloaded from $fpath, the file is the function's body; sourced, it defines and registers it.
    `if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then ${fn} "$@"; else compdef ${fn} ${name}; fi`,
    '',
  ].join('\n');
}

export function completionScript(shell: Shell, program: ProgramModel): string {
  return shell === 'bash' ? bashCompletion(program) : zshCompletion(program);
}
