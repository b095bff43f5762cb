/**
 * `shmsnap systemd print|install|boot-restore`: the warm-restart unit
 * (core's host/systemd-units.ts writes its text; docs/systemd.md explains
 * it) for the operator's location and options, and the boot restore its
 * ExecStart runs.
 *
 * - print: the unit on stdout.
 * - install: the unit written atomically into the unit directory (temp file,
 *   fsync, rename, fsync of the directory); a different unit already there
 *   is refused without --force; `systemctl daemon-reload` only with
 *   --daemon-reload.
 * - boot-restore (the unit's ExecStart): `restore --latest` from the
 *   location, then the verdict (core's bootRestoreVerdict) turned into the
 *   exit status systemd acts on: 0 when asd may start, the refusal's or
 *   failure's status when the policy keeps it stopped.
 *
 * Only what the operator typed is carried into the unit (a flag's value
 * source is the command line): the configuration file and SHMSNAP_*
 * variables are read again by each run, so the unit does not freeze them.
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import {
  bootRestoreVerdict,
  checkUnitName,
  decodeKey,
  DEFAULT_ASD_UNIT,
  DEFAULT_UNIT_DIR,
  DEFAULT_UNIT_TIMEOUT,
  errConfigInvalid,
  errIoFailed,
  errObjectExists,
  foreignHostReason,
  isShmsnapError,
  listBackups,
  markOutrunBackups,
  NOTHING_FOUND_CODES,
  readHostIdentity,
  RESTORE_FAILURE_POLICIES,
  warmRestartLocations,
  warmRestartUnit,
  type BootRestoreOutcome,
  type RestoreFailurePolicy,
  type Sink,
  type SystemdUnitFile,
} from '@shmsnap/core';
import { listShmSegments } from '@shmsnap/shm-native';
import { addGuardOptions, codecOption, instanceOption, parseInstance, parseLocation, parsePositiveInteger, threadsOption, type GuardFlags } from '../cli-options.js';
import { execute, sinkOpener, type CliContext } from '../context.js';
import { parseDuration } from '../duration.js';
import { EXIT_OK } from '../exit-codes.js';
import type { Output } from '../render/output.js';
import { addSinkOptions, sinkOptionOf, type SinkFlags } from '../sink-options.js';
import { TOOL } from '../version.js';
import { runRestoreCommand } from './restore.js';

export const SYSTEMD_ACTIONS = ['print', 'install', 'boot-restore'] as const;
type Action = (typeof SYSTEMD_ACTIONS)[number];

type SystemdFlags = SinkFlags &
  GuardFlags & {
    location: string;
    instance: number;
    onRestoreFailure: RestoreFailurePolicy;
    codec: string;
    level?: number;
    threads: number;
    maxAge?: string;
    asdUnit: string;
    shmsnapBin?: string;
    configFile?: string;
    environmentFile?: string;
    timeoutStart: string;
    timeoutStop: string;
    unitDir: string;
    dryRun?: boolean;
    force?: boolean;
    daemonReload?: boolean;
  };

/** A local location as an absolute path (a unit runs with / as its directory); URLs as given. */
function absoluteLocation(location: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return location;
  return resolve(location);
}

/** The local directory a location's backups live in, for RequiresMountsFor=. */
function localRoot(root: string): string | undefined {
  if (root.startsWith('file://')) return fileURLToPath(root);
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(root) ? undefined : root;
}

/** The command that runs shmsnap: `--shmsnap-bin`, else this Node and this script (both absolute). */
export function shmsnapCommand(bin: string | undefined, argv: readonly string[] = process.argv, execPath = process.execPath): string[] {
  if (bin !== undefined) {
    if (!isAbsolute(bin)) throw errConfigInvalid('shmsnapBin', `'${bin}' must be an absolute path (systemd runs it from /)`);
    return [bin];
  }
  const script = argv[1];
  if (script === undefined) throw errConfigInvalid('shmsnapBin', 'this process has no script path; give the shmsnap executable');
  return [execPath, resolve(script)];
}

/** `--flag value` for each option of `command` the operator typed, among `attributes` (sink options: all of theirs, `readers` only the ones a restore takes). */
function typedFlags(command: Command, flags: Record<string, unknown>, attributes: readonly string[]): string[] {
  const out: string[] = [];
  for (const option of command.options) {
    const attribute = option.attributeName();
    if (!attributes.includes(attribute) || command.getOptionValueSource(attribute) !== 'cli') continue;
    const value = flags[attribute];
    if (option.negate) {
      if (value === false) out.push(option.long!);
      continue;
    }
    if (option.isBoolean()) {
      if (value === true) out.push(option.long!);
      continue;
    }
    // A negatable boolean's positive half is boolean too; the rest take a value.
    if (value !== undefined) out.push(option.long!, String(value));
  }
  return out;
}

/** The sink options typed: refused when secret (a unit file is world-readable: EnvironmentFile= is for credentials). */
function sinkFlagAttributes(command: Command, readers: boolean): string[] {
  const out: string[] = [];
  for (const option of command.options) {
    const made = sinkOptionOf(option);
    if (!made || command.getOptionValueSource(option.attributeName()) !== 'cli') continue;
    if (made.spec.secret === true) throw errConfigInvalid(made.spec.name, `${made.flag} is secret and a unit file is readable by every user: put it in an --environment-file (${made.variables[0]}=...)`);
    if (readers && made.spec.writes === true) continue;
    out.push(option.attributeName());
  }
  return out;
}

/** The unit for these flags. */
export function unitFor(command: Command, flags: SystemdFlags, plugins: readonly string[]): SystemdUnitFile {
  if (flags.allowRunningAsd === true) throw errConfigInvalid('allowRunningAsd', 'a unit never backs up or restores beside a running asd');
  const location = absoluteLocation(flags.location);
  const places = warmRestartLocations(location);
  const shmsnap = shmsnapCommand(flags.shmsnapBin);
  const record = flags as unknown as Record<string, unknown>;
  const pluginArgs = plugins.flatMap((p) => ['--plugin', /^[./]/.test(p) ? resolve(p) : p]);
  // Paths made absolute: a unit runs from /.
  const typed = (attribute: 'lockDir' | 'asdPidFile' | 'aerospikeConf', flag: string): string[] =>
    command.getOptionValueSource(attribute) === 'cli' && flags[attribute] !== undefined ? [flag, resolve(flags[attribute]!)] : [];
  const guard = [...typed('lockDir', '--lock-dir'), ...typed('asdPidFile', '--asd-pid-file'), ...typed('aerospikeConf', '--aerospike-conf')];
  const instance = ['--instance', String(flags.instance)];
  const restoreCommand = [
    ...shmsnap,
    'systemd',
    'boot-restore',
    '--location',
    location,
    ...instance,
    '--on-restore-failure',
    flags.onRestoreFailure,
    ...typedFlags(command, record, ['asdUnit', 'threads', 'maxAge']),
    ...guard,
    ...typedFlags(command, record, sinkFlagAttributes(command, true)),
    ...pluginArgs,
  ];
  const backupCommand = [
    ...shmsnap,
    'backup',
    '--to',
    places.backupTo,
    ...instance,
    ...typedFlags(command, record, ['codec', 'level', 'threads']),
    ...guard,
    ...typedFlags(command, record, sinkFlagAttributes(command, false)),
    ...pluginArgs,
  ];
  const local = localRoot(places.restoreFrom);
  return warmRestartUnit({
    instance: flags.instance,
    restoreCommand,
    backupCommand,
    policy: flags.onRestoreFailure,
    asdUnit: flags.asdUnit,
    ...(local === undefined ? {} : { localPath: local }),
    ...(flags.configFile === undefined ? {} : { environment: { SHMSNAP_CONFIG: resolve(flags.configFile) } }),
    ...(flags.environmentFile === undefined ? {} : { environmentFile: resolve(flags.environmentFile) }),
    timeoutStartSec: flags.timeoutStart,
    timeoutStopSec: flags.timeoutStop,
    generatedBy: `${TOOL.name} ${TOOL.version} systemd`,
  });
}

/** Writes `text` to `path` atomically: a temp file beside it, fsync, rename, fsync of the directory. */
function writeAtomically(path: string, text: string): void {
  const dir = dirname(path);
  const temp = join(dir, `.${path.slice(dir.length + 1)}.shmsnap-${process.pid}.tmp`);
  try {
    const fd = openSync(temp, 'wx', 0o644);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw errIoFailed('writing', path, error);
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

async function install(unit: SystemdUnitFile, flags: SystemdFlags, output: Output): Promise<void> {
  const dir = resolve(flags.unitDir);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // said below
  }
  if (!isDir) throw errConfigInvalid('unitDir', `${dir} is not a directory`);
  const path = join(dir, unit.name);
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (existing !== undefined && existing !== unit.text && flags.force !== true) {
    throw errObjectExists(path, `${dir} with other content (--force replaces it; --dry-run shows the new unit)`);
  }
  const enable = `systemctl enable ${unit.name}`;
  if (flags.dryRun === true) {
    output.line(unit.text.trimEnd());
    output.line(`dry run: would ${existing === undefined ? 'write' : existing === unit.text ? 'leave unchanged' : 'replace'} ${path}; nothing was written`);
    return;
  }
  if (existing === unit.text) {
    output.line(`systemd: ${path} is already this unit; nothing written`);
  } else {
    writeAtomically(path, unit.text);
    output.line(`systemd: wrote ${path}`);
  }
  if (flags.daemonReload === true) {
    try {
      await promisify(execFile)('systemctl', ['daemon-reload']);
    } catch (error) {
      // The unit is written: say so with the failure, so the operator reloads by hand.
      throw errIoFailed('running', `systemctl daemon-reload (${path} was written; reload and enable it yourself)`, error);
    }
    output.line(`systemd: ran systemctl daemon-reload; now: ${enable}`);
  } else {
    output.line(`systemd: now: systemctl daemon-reload && ${enable}`);
  }
}

/** Whether shared memory holds any segment of `instance` (then there is nothing to restore: asd starts from them). */
function segmentsOf(instance: number): number {
  return listShmSegments().filter((s) => decodeKey(s.key)?.instance === instance).length;
}

async function bootRestore(command: Command, flags: SystemdFlags, context: CliContext, output: Output, signal: AbortSignal): Promise<number> {
  const places = warmRestartLocations(absoluteLocation(flags.location));
  const say = (outcome: BootRestoreOutcome) => bootRestoreVerdict(outcome, flags.onRestoreFailure, flags.asdUnit);
  const prefix = `systemd: boot restore of instance ${flags.instance}`;
  const openSink = sinkOpener(context.registry, flags, false, process.env, (attribute) => command.getOptionValueSource(attribute));
  const present = segmentsOf(flags.instance);
  if (present > 0) {
    output.line(`${prefix}: ${present} segment(s) of it in shared memory: ${say('in-place').says}`);
    await consumeOutrun(context, places, flags.instance, openSink, output, signal);
    return EXIT_OK;
  }
  try {
    await runRestoreCommand(
      {
        from: places.restoreFrom,
        latest: true,
        depth: places.depth,
        instance: flags.instance,
        threads: flags.threads,
        overrides: { allowOtherHost: false, allowOlder: false, allowFuture: false },
        force: false,
        dryRun: false,
        guard: flags,
        ...(flags.maxAge === undefined ? {} : { maxAgeMs: parseDuration(flags.maxAge) }),
      },
      output,
      context.registry,
      openSink,
      signal,
    );
  } catch (error) {
    const outcome = isShmsnapError(error) && NOTHING_FOUND_CODES.includes(error.code) && (await backupsOfThisHost(context, places.restoreFrom, places.depth, flags.instance, openSink, signal)) === 0 ? 'first-boot' : 'unusable';
    if (outcome === 'first-boot') {
      output.line(`${prefix}: ${say(outcome).says}`);
      return EXIT_OK;
    }
    const status = output.error(error, { command: 'systemd' });
    const verdict = say(outcome);
    output.note(`${prefix}: ${verdict.says}`);
    return verdict.asdStarts ? EXIT_OK : status;
  }
  output.line(`${prefix}: ${say('restored').says}`);
  return EXIT_OK;
}

/**
 * The segments stay in place and asd goes on from them: a backup of this boot is older than the node from now on
 * (core's location/outrun.ts), so it is marked consumed. asd starts either way: a marker that cannot be written is a warning.
 */
async function consumeOutrun(context: CliContext, places: { restoreFrom: string; depth: number }, instance: number, openSink: (location: string) => Promise<Sink>, output: Output, signal: AbortSignal): Promise<void> {
  try {
    const result = await markOutrunBackups(await openSink(places.restoreFrom), (prefix) => openSink(`${places.restoreFrom}/${prefix.replace(/\/$/, '')}`), {
      codecs: context.registry,
      host: await readHostIdentity(),
      instance,
      depth: places.depth,
      tool: TOOL,
      signal,
    });
    for (const location of result.marked) output.line(`systemd: marked ${location} consumed: asd goes on from the segments it copied, so it is older than the node from now on`);
    for (const f of result.failed) output.note(`systemd: warning: could not mark ${f.location} consumed (${f.error.code}: ${f.error.message}); a later boot could restore it although asd went on since`);
  } catch (error) {
    if (isShmsnapError(error) && NOTHING_FOUND_CODES.includes(error.code)) return;
    const e = isShmsnapError(error) ? `${error.code}: ${error.message}` : String(error);
    output.note(`systemd: warning: could not look for backups of this boot to mark consumed (${e})`);
  }
}

/** This host's backups of `instance` under `root`, in any state (complete, consumed, interrupted): none means a first boot. */
async function backupsOfThisHost(context: CliContext, root: string, depth: number, instance: number, openSink: (location: string) => Promise<Sink>, signal: AbortSignal): Promise<number> {
  const host = await readHostIdentity();
  try {
    const rows = await listBackups(await openSink(root), { codecs: context.registry, depth, signal });
    return rows.filter((r) => r.instance === instance && (r.host === null || foreignHostReason(r.host, host) === undefined)).length;
  } catch (error) {
    if (isShmsnapError(error) && error.code === 'LOCATION_NOT_FOUND') return 0;
    // Cannot tell: not a first boot for sure, so the policy decides.
    return Number.POSITIVE_INFINITY;
  }
}

function parseSpan(value: string): string {
  if (!/^\S(.*\S)?$/.test(value)) throw new InvalidArgumentError('give a systemd time span, e.g. 30min, 2h or infinity.');
  return value;
}

export function defineSystemdCommand(program: Command, context: CliContext): void {
  const command = program
    .command('systemd')
    .summary('the warm-restart systemd unit: print it, install it; boot-restore is its ExecStart')
    .description(
      `The systemd unit that turns a reboot into a warm restart (docs/systemd.md): a oneshot service ordered before asd's unit (--asd-unit, default ${DEFAULT_ASD_UNIT}) whose ExecStart restores the newest complete, unconsumed backup of this host and instance from --location before asd starts, and whose ExecStop backs up after asd has stopped, to <location>/{host}/{instance}/{timestamp} (or a template of your own ending in {timestamp}). print writes the unit to stdout; install writes it into --unit-dir atomically (a different unit there is refused without --force; --daemon-reload runs systemctl daemon-reload); boot-restore is what ExecStart runs. --on-restore-failure: when the boot restore is refused (a stale, consumed, interrupted or foreign backup) or fails, cold starts asd cold, keep-stopped keeps it stopped; a first boot (no backup of this host and instance at all) and segments already in shared memory (no reboot: this boot's backups are then marked consumed, asd having outrun them) start asd under either. Only flags typed here are written into the unit; the configuration file (--config-file sets SHMSNAP_CONFIG) and the variables of --environment-file are read by each of its runs (a unit does not see your shell's SHMSNAP_* variables).`,
    )
    .addArgument(new Argument('<action>', 'print, install or boot-restore').choices(SYSTEMD_ACTIONS))
    .addOption(new Option('--location <location>', 'where the backups live: a root (each backup goes to <root>/{host}/{instance}/{timestamp}) or a template ending in {timestamp}; a directory, file:// URL or s3://bucket/prefix').argParser(parseLocation).makeOptionMandatory())
    .addOption(instanceOption('Aerospike instance (0..15)').default(0).argParser(parseInstance))
    .addOption(new Option('--on-restore-failure <policy>', 'when the boot restore is refused or fails: cold (asd starts cold) or keep-stopped (asd does not start)').choices(RESTORE_FAILURE_POLICIES).default('cold'))
    .addOption(codecOption(context.registry))
    .addOption(new Option('--level <n>', 'codec level for the shutdown backup').argParser(parsePositiveInteger('--level', 22)))
    .addOption(threadsOption())
    .addOption(
      new Option('--max-age <duration>', 'the boot restores no backup older than this (e.g. 12h); default: restore\'s 24-hour limit').argParser((value: string) => {
        parseDuration(value);
        return value;
      }),
    )
    .addOption(new Option('--asd-unit <name>', "asd's unit").default(DEFAULT_ASD_UNIT).argParser((value: string) => {
      try {
        return checkUnitName('asdUnit', value);
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message.replace(/^asdUnit: /, ''));
      }
    }))
    .addOption(new Option('--shmsnap-bin <path>', 'the shmsnap executable the unit runs (default: this Node and this script, absolute)').argParser(parseLocation))
    .addOption(new Option('--config-file <path>', "shmsnap's configuration file for the unit's runs (Environment=SHMSNAP_CONFIG=...)").argParser(parseLocation))
    .addOption(new Option('--environment-file <path>', 'an EnvironmentFile= for the runs: credentials (AWS_*, SHMSNAP_S3_*), never written into the unit').argParser(parseLocation))
    .addOption(new Option('--timeout-start <span>', 'TimeoutStartSec=: how long the restore may hold asd\'s start').default(DEFAULT_UNIT_TIMEOUT).argParser(parseSpan))
    .addOption(new Option('--timeout-stop <span>', 'TimeoutStopSec=: how long the backup may hold the shutdown').default(DEFAULT_UNIT_TIMEOUT).argParser(parseSpan))
    .addOption(new Option('--unit-dir <dir>', 'install: where the unit goes').default(DEFAULT_UNIT_DIR).argParser(parseLocation))
    .option('--dry-run', 'install: print the unit and what would be written, write nothing')
    .option('--force', 'install: replace a different unit of the same name')
    .option('--daemon-reload', 'install: run systemctl daemon-reload afterwards');
  addGuardOptions(command, { conf: true });
  addSinkOptions(command, context.registry, true).action(async (action: Action, flags: SystemdFlags) => {
    await execute(context, { dryRun: flags.dryRun === true }, 'systemd', async (output, signal) => {
      if (action === 'boot-restore') return bootRestore(command, flags, context, output, signal);
      const plugins = (program.opts() as { plugin?: string[] }).plugin ?? [];
      const unit = unitFor(command, flags, plugins);
      if (action === 'print') {
        context.streams.stdout.write(unit.text);
        return EXIT_OK;
      }
      await install(unit, flags, output);
      return EXIT_OK;
    });
  });
}
