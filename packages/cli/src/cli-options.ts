/** Options and argument parsers that several commands share. */
import { Argument, InvalidArgumentError, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { createInstanceGuard, DEFAULT_AEROSPIKE_CONF, DEFAULT_ASD_PID_FILE, DEFAULT_LOCK_DIR, type InstanceGuard, type Registry } from '@shmsnap/core';
import { loadFileLock } from '@shmsnap/shm-native';
import { noteRunInstance } from './run-report/run-facts.js';
import type { Command } from 'commander';

export function parsePositiveInteger(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a positive integer.`);
    const parsed = Number(value);
    if (parsed < 1 || parsed > max) throw new InvalidArgumentError(`${name} must be between 1 and ${max}.`);
    return parsed;
  };
}

/**
 * A location as typed: refused when empty or blank, which is what an unset
 * shell variable gives (`--to "$DIR"`) and would otherwise mean the current
 * directory.
 */
export function parseLocation(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('the location is empty (an unset shell variable?); give a directory, file:///absolute/path or s3://bucket/prefix.');
  return value;
}

/** The `<location>` argument of verify and ls. */
export function locationArgument(): Argument {
  return new Argument('<location>', 'a directory, file:// URL or s3://bucket/prefix').argParser(parseLocation);
}

export function parseInstance(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 15) throw new InvalidArgumentError('the instance must be an integer from 0 to 15.');
  return Number(value);
}

/** `a,b` → ['a', 'b']; an empty name (`a,,b`, a trailing comma) is an error, not skipped (ASMT bug §23). */
export function parseNamespaces(value: string): string[] {
  const names = value.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) throw new InvalidArgumentError(`empty namespace name in '${value}'.`);
  if (names.some((n) => Buffer.byteLength(n, 'latin1') > 31)) throw new InvalidArgumentError('namespace names are at most 31 characters.');
  return names;
}

export function parseDepth(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 8) throw new InvalidArgumentError('--depth must be 0..8.');
  return Number(value);
}

/** What each codec means for an operator; --help lists the registered ones. */
const CODEC_HELP: Readonly<Record<string, string>> = {
  none: 'none: ASMT .dat files, fastest; ASMT can restore them',
  gzip: 'gzip: ASMT .dat.gz files, compressed on every core; ASMT can restore them',
  zstd: 'zstd: .dat.zst files, faster and smaller than gzip; ASMT CANNOT restore them',
};

export function codecOption(registry: Registry): Option {
  const names = registry.codecs().map((c) => c.name);
  const lines = names.map((n) => CODEC_HELP[n] ?? n).join('; ');
  return new Option('--codec <name>', `how segments are stored (${lines})`).choices(names).default('none');
}

/** One per CPU, at most 8: a disk or a network link is saturated well before, and memory grows with it. */
export const DEFAULT_THREADS = Math.min(8, availableParallelism());

export function threadsOption(): Option {
  return new Option('--threads <n>', 'parallel work: segments transferred at once, and compression threads shared among them')
    .default(DEFAULT_THREADS)
    .argParser(parsePositiveInteger('--threads', 1024));
}

export function instanceOption(description: string): Option {
  return new Option('--instance <n>', description).argParser(parseInstance);
}

/** Repeatable: `--namespace a --namespace b` is `--namespace a,b` (commander would keep only the last). */
export function namespaceOption(description: string): Option {
  return new Option('--namespace <names>', `${description}; repeatable`).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), ...parseNamespaces(value)]);
}

/** The flags of the host guard (core's host/instance-guard.ts). */
export interface GuardFlags {
  lockDir?: string;
  asdPidFile?: string;
  aerospikeConf?: string;
  allowRunningAsd?: boolean;
}

/**
 * The host guard's flags, for the commands that touch an instance's
 * segments (backup, restore, clear): each also read from SHMSNAP_<NAME>
 * (config.ts). `--allow-running-asd` is deliberately not part of `--force`.
 */
export function addGuardOptions(command: Command, options: { readonly conf: boolean }): Command {
  command
    .addOption(new Option('--lock-dir <dir>', `where the host lock of each instance is kept (default ${DEFAULT_LOCK_DIR}; when that cannot be used, a per-user directory)`).argParser(parseLocation))
    .addOption(new Option('--asd-pid-file <path>', `Aerospike's pid file, to find a running asd /proc does not show (default ${DEFAULT_ASD_PID_FILE})`).argParser(parseLocation))
    .option('--allow-running-asd', 'go on while an asd process is alive for the instance (refused by default, even with no segment attached: a parked 8.2 asd holds none); not part of --force');
  if (options.conf) {
    command.addOption(new Option('--aerospike-conf <path>', `aerospike.conf, read for index-checkpoint-path (warned about) and the values pre-flight compares (recorded by backup) (default ${DEFAULT_AEROSPIKE_CONF})`).argParser(parseLocation));
  }
  return command;
}

/** The guard those flags describe, with the addon's flock. */
export function guardFrom(flags: GuardFlags): InstanceGuard {
  const guard = createInstanceGuard({
    tryLock: loadFileLock(),
    allowRunningAsd: flags.allowRunningAsd === true,
    ...(flags.lockDir === undefined ? {} : { lockDir: flags.lockDir }),
    ...(flags.asdPidFile === undefined ? {} : { asdPidFile: flags.asdPidFile }),
    ...(flags.aerospikeConf === undefined ? {} : { aerospikeConf: flags.aerospikeConf }),
  });
  // The run's record names the instance even when the run is refused before its result (run-report/run-facts.ts).
  const acquire = guard.acquire.bind(guard);
  guard.acquire = async (instance) => {
    noteRunInstance(instance);
    await acquire(instance);
  };
  return guard;
}
