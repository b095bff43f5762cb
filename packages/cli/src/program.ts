/**
 * The command line: parse, call core, render. No backup logic lives here.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Registry } from '@shmsnap/core';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';
import { runDemo } from './commands/demo.js';
import { runInspect } from './commands/inspect.js';
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

interface JsonOption {
  json?: boolean;
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
