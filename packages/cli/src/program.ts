/**
 * The command line: parse, call core, render. No backup logic lives here.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { schemeOf, type Registry, type Sink } from '@shmsnap/core';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';
import { availableParallelism } from 'node:os';
import { runBackupCommand } from './commands/backup.js';
import { runDemo } from './commands/demo.js';
import { runInspect } from './commands/inspect.js';
import { runLsCommand } from './commands/ls.js';
import { runRestoreCommand } from './commands/restore.js';
import { runVerifyCommand } from './commands/verify.js';
import { parseDuration } from './duration.js';
import { addS3Options, s3SinkOptions, type S3Flags } from './s3-options.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { withInterrupt } from './interrupt.js';
import { Output, type OutputStreams } from './output.js';
import { createDefaultRegistry } from './default-registry.js';
import { TOOL_VERSION } from './version.js';

export function parsePositiveInteger(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a positive integer.`);
    const parsed = Number(value);
    if (parsed < 1 || parsed > max) throw new InvalidArgumentError(`${name} must be between 1 and ${max}.`);
    return parsed;
  };
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

/** What each codec means for an operator; --help lists the registered ones. */
const CODEC_HELP: Readonly<Record<string, string>> = {
  none: 'none: ASMT .dat files, fastest; ASMT can restore them',
  gzip: "gzip: ASMT .dat.gz files, compressed on every core; ASMT can restore them",
  zstd: 'zstd: .dat.zst files, faster and smaller than gzip; ASMT CANNOT restore them',
};

function codecOption(registry: Registry): Option {
  const names = registry.codecs().map((c) => c.name);
  const lines = names.map((n) => CODEC_HELP[n] ?? n).join('; ');
  return new Option('--codec <name>', `how segments are stored (${lines})`).choices(names).default('none');
}

/** One per CPU, at most 8: a disk or a network link is saturated well before, and memory grows with it. */
const DEFAULT_THREADS = Math.min(8, availableParallelism());

function threadsOption(): Option {
  return new Option('--threads <n>', 'parallel work: segments transferred at once, and compression threads shared among them').default(DEFAULT_THREADS).argParser(parsePositiveInteger('--threads', 1024));
}

interface JsonOption {
  json?: boolean;
}

/** Opens the sink of `location`, with the S3 flags for S3 locations. */
export type SinkOpener = (location: string) => Promise<Sink>;

function sinkOpener(registry: Registry, flags: S3Flags): SinkOpener {
  return (location) => registry.openSink(location, schemeOf(location) === 's3' ? { ...s3SinkOptions(flags) } : undefined);
}

export interface CliContext {
  readonly registry: Registry;
  readonly streams: OutputStreams;
}

/** Runs `body` with output set up from the command's options; returns the exit status. */
async function execute(context: CliContext, options: JsonOption, what: string, body: (output: Output, signal: AbortSignal) => Promise<number | void>): Promise<number> {
  const output = new Output(options.json === true, context.streams);
  try {
    return (await withInterrupt(what, (text) => output.note(text), (signal) => body(output, signal))) ?? EXIT_OK;
  } catch (error) {
    return output.error(error);
  }
}

export function createProgram(context: CliContext, setExit: (status: number) => void): Command {
  const program = new Command('shmsnap')
    .description(
      'Back up and restore the System V shared-memory segments of an Aerospike Enterprise node (primary index, secondary index, data), so a rebooted host can warm-start. Writes ASMT\'s on-disk format.',
    )
    .version(TOOL_VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => context.streams.stdout.write(text),
      writeErr: (text) => context.streams.stderr.write(text),
    })
    .exitOverride();

  const backup = program
    .command('backup')
    .description(
      "Back up the Aerospike namespaces of one instance from shared memory to a location, in ASMT's layout (one file per segment, named by its key) plus a manifest written last. Refuses attached or not-cleanly-shut-down segments, incomplete segment sets, and locations already holding a backup of these namespaces. On failure or Ctrl-C, everything it wrote is removed.",
    )
    .requiredOption('--to <location>', 'a directory, file:// URL or s3://bucket/prefix; {host}, {instance} and {timestamp} are filled in (e.g. s3://bucket/aerospike/{host}/{instance}/{timestamp})')
    .addOption(new Option('--instance <n>', 'Aerospike instance (0..15)').default(0).argParser(parseInstance))
    .addOption(new Option('--namespace <names>', 'only these namespaces, comma-separated (default: every namespace of the instance)').argParser(parseNamespaces))
    .addOption(codecOption(context.registry))
    .addOption(new Option('--level <n>', "codec level (gzip 1..9, default 1 as ASMT; zstd 1..19, default 1)").argParser(parsePositiveInteger('--level', 22)))
    .addOption(threadsOption())
    .option('--dry-run', 'run every check and print the plan (segments, sizes, files) without reading a segment or writing anything')
    .option('--json', 'print the result as JSON');
  addS3Options(backup, true).action(
    async (options: S3Flags & { to: string; instance: number; namespace?: string[]; codec: string; level?: number; threads: number; dryRun?: boolean; json?: boolean }) => {
      setExit(
        await execute(context, options, 'backup', (output, signal) =>
          runBackupCommand(
            {
              to: options.to,
              instance: options.instance,
              codec: options.codec,
              threads: options.threads,
              dryRun: options.dryRun === true,
              ...(options.namespace ? { namespaces: options.namespace } : {}),
              ...(options.level === undefined ? {} : { level: options.level }),
            },
            output,
            context.registry,
            sinkOpener(context.registry, options),
            signal,
          ),
        ),
      );
    },
  );

  const restore = program
    .command('restore')
    .description(
      'Restore Aerospike namespaces into shared memory from a location: a shmsnap backup (manifest) or an ASMT backup directory (no manifest). Shows the backup\'s age and source host; refuses a backup from another host or older than --max-age unless --force. Every CRC-32 is checked; all or nothing: on failure or Ctrl-C every segment it created is removed.',
    )
    .requiredOption('--from <location>', 'a directory, file:// URL or s3://bucket/prefix')
    .addOption(new Option('--instance <n>', 'Aerospike instance (0..15) (default: the one the location holds)').argParser(parseInstance))
    .addOption(new Option('--namespace <names>', 'only these namespaces, comma-separated (default: every namespace of the instance)').argParser(parseNamespaces))
    .addOption(threadsOption())
    .addOption(new Option('--max-age <duration>', 'refuse a backup older than this (e.g. 30m, 12h, 7d)').argParser(parseDuration))
    .option('--force', 'restore a backup from another host or older than --max-age anyway')
    .option('--dry-run', 'run every check and print the plan without creating a segment')
    .option('--json', 'print the result as JSON');
  addS3Options(restore, false).action(
    async (options: S3Flags & { from: string; instance?: number; namespace?: string[]; threads: number; maxAge?: number; force?: boolean; dryRun?: boolean; json?: boolean }) => {
      setExit(
        await execute(context, options, 'restore', (output, signal) =>
          runRestoreCommand(
            {
              from: options.from,
              threads: options.threads,
              force: options.force === true,
              dryRun: options.dryRun === true,
              ...(options.instance === undefined ? {} : { instance: options.instance }),
              ...(options.namespace ? { namespaces: options.namespace } : {}),
              ...(options.maxAge === undefined ? {} : { maxAgeMs: options.maxAge }),
            },
            output,
            context.registry,
            sinkOpener(context.registry, options),
            signal,
          ),
        ),
      );
    },
  );

  const verify = program
    .command('verify')
    .description('Read every object of every backup at a location and check sizes and CRC-32s against the manifest (or, for ASMT files, their header and gzip trailer). Touches no shared memory. Names each bad object; exit status 4 if there is one.')
    .argument('<location>', 'a directory, file:// URL or s3://bucket/prefix')
    .addOption(threadsOption())
    .option('--json', 'print the result as JSON');
  addS3Options(verify, false).action(async (location: string, options: S3Flags & { threads: number; json?: boolean }) => {
    setExit(await execute(context, options, 'verify', (output, signal) => runVerifyCommand(location, options.threads, output, context.registry, sinkOpener(context.registry, options), signal)));
  });

  const ls = program
    .command('ls')
    .description('List the backups at a location and below it: time, host, instance, namespaces, segments, raw and stored bytes, codec, and whether each is complete (manifest), interrupted, or an ASMT backup.')
    .argument('<location>', 'a directory, file:// URL or s3://bucket/prefix')
    .addOption(new Option('--depth <n>', 'levels below the location to look into (default 1; 3 for s3://, as in <prefix>/<host>/<instance>/<timestamp>)').argParser((v: string) => (/^\d+$/.test(v) && Number(v) <= 8 ? Number(v) : (() => { throw new InvalidArgumentError('--depth must be 0..8.'); })())))
    .option('--json', 'print the result as JSON');
  addS3Options(ls, false).action(async (location: string, options: S3Flags & { depth?: number; json?: boolean }) => {
    const depth = options.depth ?? (schemeOf(location) === 's3' ? 3 : 1);
    setExit(await execute(context, options, 'ls', (output, signal) => runLsCommand(location, depth, output, context.registry, sinkOpener(context.registry, options), signal)));
  });

  program
    .command('inspect')
    .description('List the Aerospike segments in shared memory by instance and namespace: kind, key, size, owner, mode, attachments, and whether a backup is allowed (if not, why).')
    .addOption(new Option('--instance <n>', 'only this instance (0..15)').argParser(parseInstance))
    .addOption(new Option('--namespace <names>', 'only these namespaces, comma-separated').argParser(parseNamespaces))
    .option('--json', 'print the result as JSON')
    .action(async (options: { instance?: number; namespace?: string[]; json?: boolean }) => {
      setExit(
        await execute(context, options, 'inspect', (output) =>
          runInspect({ ...(options.instance === undefined ? {} : { instance: options.instance }), ...(options.namespace ? { namespaces: options.namespace } : {}) }, output),
        ),
      );
    });

  program
    .command('demo')
    .description(
      "Run the main job on an embedded default, in a private IPC namespace: create an Aerospike-shaped index in shared memory, back it up to a local directory, remove the segments, restore them and verify every byte. Needs root (unshare --ipc); the host's shared memory is not touched.",
    )
    .option('--dir <path>', 'back up into this directory and keep it (default: a temporary directory, removed afterwards)')
    .addOption(new Option('--size-mib <n>', 'size of the demo index in MiB').default(1024).argParser(parsePositiveInteger('--size-mib', 64 * 1024)))
    .addOption(new Option('--stages <n>', 'number of primary index stages').default(8).argParser(parsePositiveInteger('--stages', 2048)))
    .addOption(new Option('--codec <name>', 'codec for the backup').default('none'))
    .addOption(new Option('--level <n>', 'codec level (default: the codec\'s)').argParser(parsePositiveInteger('--level', 22)))
    .addOption(new Option('--threads <n>', 'segments transferred at once').default(2).argParser(parsePositiveInteger('--threads', 1024)))
    .option('--keep', 'keep the backup directory and the restored segments (inside the private namespace they vanish on exit)', false)
    .option('--json', 'print the result as JSON')
    .action(async (options: { dir?: string; sizeMib: number; stages: number; codec: string; level?: number; threads: number; keep: boolean; json?: boolean }) => {
      await enterPrivateIpcNamespace();
      setExit(
        await execute(context, options, 'demo', async (output, signal) => {
          await runDemo(
            {
              sizeMib: options.sizeMib,
              stages: options.stages,
              codec: options.codec,
              threads: options.threads,
              keep: options.keep,
              ...(options.level === undefined ? {} : { level: options.level }),
              ...(options.dir === undefined ? {} : { dir: options.dir }),
            },
            output,
            context.registry,
            signal,
          );
        }),
      );
    });

  return program;
}

/** Runs the CLI with `argv` (process.argv form); resolves to the exit status. */
export async function runCli(argv: readonly string[], context: Partial<CliContext> = {}): Promise<number> {
  const full: CliContext = { registry: context.registry ?? createDefaultRegistry(), streams: context.streams ?? process };
  let status = EXIT_OK;
  const program = createProgram(full, (value) => {
    status = value;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    throw error;
  }
  return status;
}
