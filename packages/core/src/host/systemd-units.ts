/**
 * The systemd unit that makes a reboot a warm restart (docs/systemd.md):
 * one oneshot service ordered before asd's unit, whose ExecStart restores
 * at boot (before asd starts) and whose ExecStop backs up at shutdown (after
 * asd has stopped: systemd stops units in the reverse of their start order).
 *
 * Pure text: the frontend builds the two command lines (it names the flags);
 * this module orders, quotes and words the unit, so a unit test reads every
 * byte of it. Also here, because they decide what the unit means:
 * - where a location's backups go and where the boot looks for them
 *   (`warmRestartLocations`: `{host}/{instance}/{timestamp}` below a root);
 * - which outcome of the boot restore is "nothing to restore" (asd starts
 *   under either policy) and which one the failure policy decides
 *   (`bootRestoreVerdict`).
 */
import { errConfigInvalid } from '../errors.js';

/** What asd does when the boot restore is refused or fails: start cold (`cold`), or not start (`keep-stopped`). */
export type RestoreFailurePolicy = 'cold' | 'keep-stopped';
export const RESTORE_FAILURE_POLICIES: readonly RestoreFailurePolicy[] = ['cold', 'keep-stopped'];

/** The unit Aerospike's packages install for asd. */
export const DEFAULT_ASD_UNIT = 'aerospike.service';
/** Where `install` writes units: the administrator's directory, which wins over the packages' /usr/lib/systemd/system. */
export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
/**
 * How long the restore may hold asd's start, and the backup the shutdown:
 * 30 minutes is about 400 GB at the ~226 MB/s measured backing up to Ceph RGW
 * on loopback (zstd), and a hung store must not hold a reboot forever. Size
 * it to the node.
 */
export const DEFAULT_UNIT_TIMEOUT = '30min';
/** Below a root location, each backup gets a directory of its own; `restore --latest` finds the newest of this host. */
export const BACKUP_LAYOUT = '{host}/{instance}/{timestamp}';

/** The unit's name for an instance: `shmsnap-warm-restart.service`, `shmsnap-warm-restart-i3.service`. */
export function warmRestartUnitName(instance: number): string {
  return instance === 0 ? 'shmsnap-warm-restart.service' : `shmsnap-warm-restart-i${instance}.service`;
}

export interface WarmRestartLocations {
  /** The backup's `to`, with placeholders (the backup fills them in). */
  readonly backupTo: string;
  /** Where the boot restore looks (`latest`): the part before the first placeholder. */
  readonly restoreFrom: string;
  /** How many levels below `restoreFrom` the backups are. */
  readonly depth: number;
}

/**
 * `location` as the operator gave it: a root (`s3://bucket/aerospike`, each
 * backup then goes to `<root>/{host}/{instance}/{timestamp}`), or a template
 * of its own, which must end in a `{timestamp}` directory (every shutdown
 * writes a new backup: a fixed directory would refuse the second) and hold
 * placeholders only in whole path segments below a fixed root.
 */
export function warmRestartLocations(location: string): WarmRestartLocations {
  const trimmed = location.replace(/\/+$/, '');
  if (trimmed === '' || /^[a-z][a-z0-9+.-]*:\/*$/i.test(trimmed)) throw errConfigInvalid('warmRestartLocation', `'${location}' names no directory or prefix to keep backups under`);
  if (!trimmed.includes('{')) return { backupTo: `${trimmed}/${BACKUP_LAYOUT}`, restoreFrom: trimmed, depth: 3 };
  const parts = trimmed.split('/');
  const first = parts.findIndex((p) => p.includes('{'));
  const below = parts.slice(first);
  if (!below.at(-1)!.includes('{timestamp}')) {
    throw errConfigInvalid('warmRestartLocation', `'${location}' must end in a directory named by {timestamp}: each shutdown writes a new backup, and a fixed directory would refuse the second`);
  }
  if (parts.slice(0, first).join('/') === '' || /^[a-z][a-z0-9+.-]*:\/*$/i.test(parts.slice(0, first).join('/'))) {
    throw errConfigInvalid('warmRestartLocation', `'${location}' has a placeholder in its first directory: the boot looks for backups below the fixed part before it`);
  }
  return { backupTo: trimmed, restoreFrom: parts.slice(0, first).join('/'), depth: below.length };
}

/**
 * One argument of an Exec line, as systemd reads it back (systemd.service,
 * "Command lines"; systemd.unit, "Specifiers"): `%` is a specifier and `$` a
 * variable, so both are doubled; anything but plain characters is put in
 * double quotes with C escapes; a lone `;` would end the command.
 */
export function quoteExecArgument(arg: string): string {
  const doubled = arg.replaceAll('%', '%%').replaceAll('$', () => '$$');
  if (arg === ';') return '\\;';
  if (/^[A-Za-z0-9_@%+=:,./{}\-$]+$/.test(doubled)) return doubled;
  return `"${escapeC(doubled)}"`;
}

function escapeC(text: string): string {
  return text.replace(/[\\"\x00-\x1f\x7f]/g, (c) => {
    if (c === '\\') return '\\\\';
    if (c === '"') return '\\"';
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** An Exec line's value for `argv` (argv[0] absolute), with an optional prefix (`-`: a failure is ignored). */
export function execLine(argv: readonly string[], prefix = ''): string {
  const [executable, ...args] = argv;
  if (executable === undefined || !executable.startsWith('/')) throw errConfigInvalid('shmsnapBin', `the command must start with an absolute path, not '${executable ?? ''}'`);
  return `${prefix}${[executable, ...args].map(quoteExecArgument).join(' ')}`;
}

/**
 * The inverse of `execLine`, for the tests and for anyone checking a unit
 * (the e2e test runs exactly what the unit says): the prefix characters,
 * then the words, unquoted and unescaped, with `%%` and `$$` undone. Other
 * specifiers and variables are refused rather than guessed.
 */
export function parseExecLine(value: string): { prefix: string; argv: string[] } {
  const prefix = /^[@\-:+!|]*/.exec(value)![0];
  const argv: string[] = [];
  let i = prefix.length;
  const text = value;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (i >= text.length) break;
    let word = '';
    let quote: string | null = null;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (quote === null && (c === ' ' || c === '\t')) break;
      if (c === '"' || c === "'") {
        if (quote === null) quote = c;
        else if (quote === c) quote = null;
        else word += c;
        continue;
      }
      if (c === '\\') {
        const n = text[++i];
        if (n === 'n') word += '\n';
        else if (n === 't') word += '\t';
        else if (n === 'x') {
          word += String.fromCharCode(parseInt(text.slice(i + 1, i + 3), 16));
          i += 2;
        } else if (n !== undefined) word += n;
        continue;
      }
      if (c === '%' || c === '$') {
        if (text[i + 1] !== c) throw new Error(`parseExecLine: '${c}${text[i + 1] ?? ''}' is a specifier or variable this parser does not expand`);
        word += c;
        i++;
        continue;
      }
      word += c;
    }
    if (quote !== null) throw new Error('parseExecLine: unterminated quote');
    argv.push(word);
  }
  return { prefix, argv };
}

/** An Environment= assignment: double-quoted, `%` doubled (specifiers are expanded there; variables are not). */
function environmentAssignment(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw errConfigInvalid('environment', `'${name}' is not a variable name`);
  return `"${escapeC(`${name}=${value}`.replaceAll('%', '%%'))}"`;
}

/** A path in a unit setting that takes a path (specifiers expanded); control characters refused. */
function unitPath(option: string, path: string): string {
  if (!path.startsWith('/') || /[\x00-\x1f\x7f]/.test(path)) throw errConfigInvalid(option, `'${path}' must be an absolute path without control characters`);
  const doubled = path.replaceAll('%', '%%');
  return /\s|"|'|\\/.test(path) ? `"${escapeC(doubled)}"` : doubled;
}

export interface WarmRestartUnitOptions {
  readonly instance: number;
  /** ExecStart: the boot restore, which decides by its outcome (`bootRestoreVerdict`) with `policy`. */
  readonly restoreCommand: readonly string[];
  /** ExecStop: the backup. */
  readonly backupCommand: readonly string[];
  readonly policy: RestoreFailurePolicy;
  /** @default DEFAULT_ASD_UNIT */
  readonly asdUnit?: string;
  /** A local directory the backups live in: RequiresMountsFor=, so its file system is mounted before the restore and stays until the backup. */
  readonly localPath?: string;
  /** Environment= lines (SHMSNAP_CONFIG...). */
  readonly environment?: Readonly<Record<string, string>>;
  /** EnvironmentFile= (credentials: never written into a unit, which is world-readable). */
  readonly environmentFile?: string;
  /** @default DEFAULT_UNIT_TIMEOUT */
  readonly timeoutStartSec?: string;
  /** @default DEFAULT_UNIT_TIMEOUT */
  readonly timeoutStopSec?: string;
  /** Who generated it, for the header comment. */
  readonly generatedBy?: string;
}

export interface SystemdUnitFile {
  readonly name: string;
  readonly text: string;
}

const TIME_SPAN = /^(infinity|\d+(\.\d+)?\s*(us|ms|s|sec|m|min|h|hr|d|w)?(\s*\d+(\.\d+)?\s*(us|ms|s|sec|m|min|h|hr|d|w))*)$/;

function timeSpan(option: string, value: string): string {
  if (!TIME_SPAN.test(value.trim())) throw errConfigInvalid(option, `'${value}' is not a systemd time span (e.g. 30min, 1h 30min, 900, infinity)`);
  return value.trim();
}

/** A unit name as systemd takes it: `name.service`, no path, no specifiers. */
export function checkUnitName(option: string, name: string): string {
  if (!/^[A-Za-z0-9:_.\\@-]+\.service$/.test(name)) throw errConfigInvalid(option, `'${name}' is not a service unit name (e.g. aerospike.service)`);
  return name;
}

/** The warm-restart unit (docs/systemd.md explains each line). */
export function warmRestartUnit(options: WarmRestartUnitOptions): SystemdUnitFile {
  const asd = checkUnitName('asdUnit', options.asdUnit ?? DEFAULT_ASD_UNIT);
  const keep = options.policy === 'keep-stopped';
  const name = warmRestartUnitName(options.instance);
  const lines = [
    `# ${name}: generated by ${options.generatedBy ?? 'shmsnap systemd'}; docs/systemd.md explains every line.`,
    `# Boot: restores instance ${options.instance}'s shared memory before ${asd} starts. Shutdown: backs it up after ${asd} has stopped.`,
    keep
      ? `# Policy keep-stopped: a refused or failed restore fails this unit, and ${asd}, which requires it, does not start;`
      : `# Policy cold: a refused or failed restore is logged and ${asd} starts cold;`,
    '# a first boot (no backup of this host and instance at all) and segments already in place start it either way.',
    '[Unit]',
    `Description=shmsnap warm restart of Aerospike instance ${options.instance} (restore before ${asd}, back up after it)`,
    `Before=${asd}`,
    // A stop of this unit alone (an operator's) stops asd first, so its backup never meets a running asd.
    `PropagatesStopTo=${asd}`,
    // S3 needs the network at boot and until the backup is written at shutdown.
    'Wants=network-online.target',
    'After=network-online.target local-fs.target remote-fs.target',
    ...(options.localPath === undefined ? [] : [`RequiresMountsFor=${unitPath('warmRestartLocation', options.localPath)}`]),
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    ...Object.entries(options.environment ?? {}).map(([k, v]) => `Environment=${environmentAssignment(k, v)}`),
    ...(options.environmentFile === undefined ? [] : [`EnvironmentFile=${unitPath('environmentFile', options.environmentFile)}`]),
    // cold: even a crash of the restore (or a missing binary) leaves this unit active, so the shutdown still backs up.
    `ExecStart=${execLine(options.restoreCommand, keep ? '' : '-')}`,
    `ExecStop=${execLine(options.backupCommand)}`,
    `TimeoutStartSec=${timeSpan('timeoutStartSec', options.timeoutStartSec ?? DEFAULT_UNIT_TIMEOUT)}`,
    `TimeoutStopSec=${timeSpan('timeoutStopSec', options.timeoutStopSec ?? DEFAULT_UNIT_TIMEOUT)}`,
    '',
    '[Install]',
    // RequiredBy (with Before) keeps asd from starting when this unit fails; WantedBy only pulls it in.
    `${keep ? 'RequiredBy' : 'WantedBy'}=${asd}`,
    '',
  ];
  return { name, text: lines.join('\n') };
}

/** Every value of one setting in a unit's text, in order, whatever its section (for tests and checks of generated units). */
export function unitSettings(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));
}

/**
 * What the boot restore's outcome means for asd.
 * - `restored`: asd starts, warm.
 * - `in-place`: the instance's segments are still in shared memory (asd was
 *   stopped or this unit restarted without a reboot): nothing to restore,
 *   asd starts from them.
 * - `first-boot`: no backup of this host and instance at all (complete,
 *   consumed or interrupted) under the location: nothing to restore, asd
 *   starts cold under either policy; keeping it stopped would stop a new
 *   node from ever starting.
 * - `unusable`: a backup exists but was refused (only consumed or
 *   interrupted ones, stale, another host's...) or the restore failed (I/O,
 *   a checksum, the store): a warm start was expected and will not happen,
 *   so the policy decides: `cold` starts asd cold, `keep-stopped` keeps it
 *   stopped for a person to decide (retry, or start it cold on purpose).
 */
export type BootRestoreOutcome = 'restored' | 'in-place' | 'first-boot' | 'unusable';

export interface BootRestoreVerdict {
  readonly outcome: BootRestoreOutcome;
  /** Whether asd will start (the unit succeeds). */
  readonly asdStarts: boolean;
  /** Words for the journal. */
  readonly says: string;
}

export function bootRestoreVerdict(outcome: BootRestoreOutcome, policy: RestoreFailurePolicy, asdUnit = DEFAULT_ASD_UNIT): BootRestoreVerdict {
  switch (outcome) {
    case 'restored':
      return { outcome, asdStarts: true, says: `restored: ${asdUnit} can warm-start` };
    case 'in-place':
      return { outcome, asdStarts: true, says: `nothing to restore: the segments are in shared memory already (no reboot since asd ran); ${asdUnit} starts from them` };
    case 'first-boot':
      return { outcome, asdStarts: true, says: `nothing to restore: no backup of this host and instance at all (a first boot); ${asdUnit} starts cold` };
    case 'unusable':
      return policy === 'cold'
        ? { outcome, asdStarts: true, says: `no warm start: policy cold, ${asdUnit} starts cold` }
        : { outcome, asdStarts: false, says: `no warm start: policy keep-stopped, ${asdUnit} does not start (fix the cause and start it, or start it cold on purpose: docs/systemd.md)` };
  }
}

/** The codes of a boot restore that found nothing to restore from: then whether this host has any backup at all decides (`first-boot`). */
export const NOTHING_FOUND_CODES: readonly string[] = ['BACKUP_NOT_FOUND', 'LOCATION_NOT_FOUND'];
