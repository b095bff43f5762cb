/**
 * A wrong command line is reported like every other error: one line,
 * `shmsnap: USAGE_INVALID: message`, exit 2, and under `--json` the error
 * document on stdout. Commander finds the problem; its own output is
 * silenced (program.ts) and its message reworded here.
 *
 * One order is changed: commander checks required options before unknown
 * ones, so a misspelled `--too /backups` came out as "--to not specified",
 * which sends the user looking for the wrong mistake. An unknown option is
 * reported first, with the flag it most resembles.
 */
import type { Command, CommanderError } from 'commander';
import { errUsageInvalid, type ShmsnapError } from '@shmsnap/core';

/** What commander threw, and the command whose line it was parsing. */
export class UsageExit extends Error {
  constructor(
    readonly commander: CommanderError,
    readonly command: Command,
  ) {
    super(commander.message);
  }
}

/** Commander's exits that are not errors: --help, --version. */
export function isCleanExit(exit: UsageExit): boolean {
  return exit.commander.exitCode === 0;
}

/** Makes every exit of `command` a UsageExit naming it (commander would otherwise call process.exit). */
export function reportExitsOf(command: Command): void {
  command.exitOverride((error) => {
    throw new UsageExit(error, command);
  });
}

/** True when `--json` is on the command line (before a `--`): even a usage error is then a JSON document. */
export function jsonRequested(argv: readonly string[]): boolean {
  const args = argv.slice(2);
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

/** The subcommand named on the command line, if any (for the error document's `command`). */
export function commandNamed(program: Command, argv: readonly string[]): string | null {
  const names = new Set(program.commands.map((c) => c.name()));
  return argv.slice(2).find((a) => names.has(a)) ?? null;
}

/** Optimal string alignment distance (Damerau–Levenshtein without repeated edits of a substring). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidates closest to `word` (a typo, not a different word: at most 2
 * edits, and fewer than half its letters), or none.
 */
export function closest(word: string, candidates: readonly string[]): string[] {
  const bare = (s: string): string => s.replace(/^-+/, '');
  const typed = bare(word);
  let best = Infinity;
  let found: string[] = [];
  for (const candidate of new Set(candidates)) {
    const distance = editDistance(typed, bare(candidate));
    if (distance > 2 || distance * 2 >= Math.max(typed.length, 1)) continue;
    if (distance < best) [best, found] = [distance, [candidate]];
    else if (distance === best) found.push(candidate);
  }
  return found;
}

function didYouMean(word: string, candidates: readonly string[]): string {
  const found = closest(word, candidates);
  return found.length === 0 ? '' : ` (did you mean ${found.join(' or ')}?)`;
}

/** Every long flag `command` takes, its ancestors' included (--help, --version). */
function flagsOf(command: Command): string[] {
  const flags: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) {
    for (const option of c.options) if (option.long) flags.push(option.long);
    flags.push('--help');
  }
  return flags;
}

function unknownOption(command: Command, flag: string): { reason: string; details: Record<string, unknown> } {
  return { reason: `unknown option '${flag}'${flag.startsWith('--') ? didYouMean(flag, flagsOf(command)) : ''}`, details: { option: flag } };
}

/** The first argument `command` did not recognise as an option, if any (what commander reports as unknown). */
function firstUnknownOption(command: Command): string | undefined {
  // `args` holds what parsing left: operands and the unknown options; parsing it again sorts them.
  return command.parseOptions([...command.args]).unknown.find((arg) => arg.startsWith('-') && arg !== '-');
}

/** Commander's message without its "error: " prefix, on one line, without a closing period. */
function plain(message: string): string {
  return message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').replace(/\.$/, '').trim();
}

/** `--threads <n>` or `-i, --instance <n>` → the long flag. */
function longFlag(flags: string): string {
  return flags.split(/[ ,|]+/).find((f) => f.startsWith('--')) ?? flags.split(/[ ,|]+/)[0]!;
}

/** USAGE_INVALID for what commander found wrong with the command line of `command`. */
export function usageError(exit: UsageExit): ShmsnapError {
  const { commander, command } = exit;
  const where = command.parent ? `${command.parent.name()} ${command.name()}` : command.name();
  const hint = `see '${where} --help'`;
  const details = { command: command.parent ? command.name() : null };
  const usage = (reason: string, more: Record<string, unknown> = {}): ShmsnapError => errUsageInvalid(reason, hint, { ...details, ...more });
  switch (commander.code) {
    case 'commander.missingMandatoryOptionValue': {
      // A misspelled flag is the likelier mistake than a forgotten one: say that first.
      const unknown = firstUnknownOption(command);
      if (unknown) {
        const { reason, details: more } = unknownOption(command, unknown);
        return usage(reason, more);
      }
      const flags = /option '([^']+)'/.exec(commander.message)?.[1];
      return usage(flags ? `${longFlag(flags)} is required` : plain(commander.message), flags ? { option: longFlag(flags) } : {});
    }
    case 'commander.unknownOption': {
      const flag = /unknown option '([^']+)'/.exec(commander.message)?.[1];
      if (!flag) return usage(plain(commander.message));
      const { reason, details: more } = unknownOption(command, flag);
      return usage(reason, more);
    }
    case 'commander.unknownCommand': {
      const name = /unknown command '([^']+)'/.exec(commander.message)?.[1] ?? '';
      const names = command.commands.map((c) => c.name());
      return usage(`unknown command '${name}'${didYouMean(name, names)} (commands: ${names.join(', ')})`, { unknownCommand: name });
    }
    case 'commander.invalidArgument': {
      const parsed = /^error: option '([^']+)' argument '([\s\S]*)' is invalid\. ([\s\S]*)$/.exec(commander.message);
      if (!parsed) return usage(plain(commander.message));
      const flag = longFlag(parsed[1]!);
      // The parsers' messages may start by naming the flag; it is said once, first.
      const why = plain(parsed[3]!).replace(new RegExp(`^${flag} `), '');
      return usage(`${flag} '${parsed[2]}': ${why.charAt(0).toLowerCase()}${why.slice(1)}`, { option: flag, value: parsed[2] });
    }
    case 'commander.help': {
      // No command given (or `help` of one that is not there): commander printed the help on stderr; this is the one line that says why.
      const names = command.commands.map((c) => c.name());
      const [first, asked] = command.args;
      if (first === 'help' && asked !== undefined && !names.includes(asked)) {
        return usage(`unknown command '${asked}'${didYouMean(asked, names)} (commands: ${names.join(', ')})`, { unknownCommand: asked });
      }
      return usage(`no command given (commands: ${names.join(', ')})`);
    }
    default:
      return usage(plain(commander.message));
  }
}
