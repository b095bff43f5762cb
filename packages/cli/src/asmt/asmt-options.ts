/**
 * ASMT's command line, exactly (docs/asmt-format.md §1): POSIX getopt with the
 * option string `abchi:n:p:rt:vz`, options left to right, combined flags
 * (`-zc`, `-ba`, `-i3`), `atoi` numbers, the same validation order, messages
 * and exit statuses. Pure: returns what to print and the status, or the
 * parsed options.
 *
 * Where ASMT loses data or reports success on a no-op (§23), this does not:
 * an empty element in `-n` is an error before anything runs (ASMT skips it
 * and exits 0).
 */

export interface AsmtOptions {
  readonly analyze: boolean;
  readonly operation: 'backup' | 'restore';
  readonly crc: boolean;
  /** 0..15, or 65535 for every instance (ASMT's undocumented wildcard, §23.9). */
  readonly instance: number;
  readonly namespaces: readonly string[];
  readonly directory: string;
  /** undefined: one per CPU (ASMT's default, also for -t 65535). */
  readonly threads: number | undefined;
  readonly verbose: boolean;
  readonly compress: boolean;
  /** Printed before running (the -r -z warning). */
  readonly warnings: readonly string[];
}

export interface AsmtExit {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export const ALL_INSTANCES = 65535;
const DEFAULT_THREADS = 65535;

export function shortUsage(cpus: number): string {
  return [
    'Usage: asmt -b|-r [-a] [-c] [-i <instance>] -n <namespaces> -p <pathname> [-t <threads>] [-v] [-z]',
    '',
    'Options:',
    '  -a  Analyze only: run every check of the backup (-b) or restore (-r) and print the plan.',
    '  -b  Back up shared-memory segments to files.',
    '  -c  Check CRC-32 of every segment (shmsnap always does).',
    '  -h  Print this help.',
    '  -i  Instance of the Aerospike server, 0..15 (default is 0).',
    '  -n  Comma-separated list of namespace names.',
    '  -p  Pathname of the directory holding the segment files.',
    '  -r  Restore shared-memory segments from files.',
    `  -t  Maximum number of I/O threads (default is #CPUs, in this case ${cpus}).`,
    '  -v  Verbose output.',
    '  -z  Compress files on backup (gzip, .dat.gz).',
    '',
    'Notes:',
    '  Run as the same user and group as the Aerospike server, or as root.',
    '  The Aerospike server must be stopped (cleanly) before a backup or restore.',
    '',
  ].join('\n');
}

export function longUsage(cpus: number): string {
  return [
    shortUsage(cpus),
    'Possible primary option combinations:',
    '  -b   backup',
    '  -r   restore',
    '  -ba  analyze a backup',
    '  -ra  analyze a restore',
    '',
    'Examples:',
    '  asmt -b -v -p /var/backups/asmt -n test',
    '  asmt -b -z -c -p /var/backups/asmt -n test,bar',
    '  asmt -r -v -p /var/backups/asmt -n test',
    '  asmt -r -a -v -i 1 -p /var/backups/asmt -n test',
    '',
  ].join('\n');
}

/** C's atoi: optional blanks and sign, then digits; anything else stops it; nothing parsed is 0. */
export function atoi(text: string): number {
  const match = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  if (!match) return 0;
  const value = Number(match[1]);
  // atoi is undefined beyond int; the common result is a 32-bit wrap.
  return value | 0;
}

const WITH_ARGUMENT = new Set(['i', 'n', 'p', 't']);
const FLAGS = new Set(['a', 'b', 'c', 'h', 'r', 'v', 'z']);

export function parseAsmtArguments(args: readonly string[], cpus: number, program = 'asmt'): AsmtOptions | AsmtExit {
  const seen = new Set<string>();
  const values = new Map<string, string>();
  const positional: string[] = [];
  const usageExit = (stderr = ''): AsmtExit => ({ status: 1, stdout: longUsage(cpus), stderr });

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      // GNU getopt moves operands to the end; ASMT then rejects them.
      positional.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const option = arg[j]!;
      if (WITH_ARGUMENT.has(option)) {
        const attached = arg.slice(j + 1);
        if (attached !== '') values.set(option, attached);
        else if (i + 1 < args.length) values.set(option, args[++i]!);
        else return usageExit(`${program}: option requires an argument -- '${option}'\n`);
        seen.add(option);
        break;
      }
      if (!FLAGS.has(option)) return usageExit(`${program}: invalid option -- '${option}'\n`);
      if (option === 'h') return { status: 0, stdout: longUsage(cpus), stderr: '' };
      seen.add(option);
    }
  }
  if (positional.length > 0) return usageExit();

  const failWithUsage = (message: string, blankLine: boolean): AsmtExit => ({
    status: 1,
    stdout: `${message}\n${blankLine ? '\n' : ''}${shortUsage(cpus)}`,
    stderr: '',
  });
  if (seen.has('b') === seen.has('r')) return failWithUsage("Must specify exactly one of backup ('-b') or restore ('-r').", true);
  if (!values.has('p')) return failWithUsage("Must specify pathname of file directory (use '-p').", true);
  const warnings: string[] = [];
  if (seen.has('r') && seen.has('z')) warnings.push("Unnecessary to specify compress ('-z') with restore ('-r').\n");
  const instance = values.has('i') ? atoi(values.get('i')!) : 0;
  if ((instance < 0 || instance > 15) && instance !== ALL_INSTANCES) return failWithUsage("Instance must be from 0..15 (use '-i').", false);
  const threads = values.has('t') ? atoi(values.get('t')!) : DEFAULT_THREADS;
  if ((threads < 1 || threads > 1024) && threads !== DEFAULT_THREADS) return failWithUsage("Max threads must be in the range 1..1024 (use '-t').", false);

  return {
    analyze: seen.has('a'),
    operation: seen.has('b') ? 'backup' : 'restore',
    crc: seen.has('c'),
    instance,
    namespaces: values.has('n') ? values.get('n')!.split(',') : [],
    directory: values.get('p')!,
    threads: threads === DEFAULT_THREADS ? undefined : threads,
    verbose: seen.has('v'),
    compress: seen.has('z') && seen.has('b'),
    warnings,
  };
}

export function isAsmtExit(value: AsmtOptions | AsmtExit): value is AsmtExit {
  return 'status' in value;
}
