/**
 * The command line: parse, call core, render. This file only composes:
 * each command defines itself (flags → prepare → render → run → render) in
 * commands/, and no backup logic lives in the CLI.
 */
import { Command, CommanderError } from 'commander';
import { defineBackupCommand } from './commands/backup.js';
import { defineCompletionCommand, defineManCommand } from './commands/completion.js';
import { defineConfigCommand } from './commands/config.js';
import { defineDemoCommand } from './commands/demo.js';
import { defineInspectCommand } from './commands/inspect.js';
import { defineLsCommand } from './commands/ls.js';
import { defineRestoreCommand } from './commands/restore.js';
import { defineVerifyCommand } from './commands/verify.js';
import { installConfiguration } from './config.js';
import type { CliContext } from './context.js';
import { createDefaultRegistry } from './default-registry.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { TOOL_VERSION } from './version.js';

export function createProgram(context: CliContext): Command {
  const program = new Command('shmsnap')
    .summary('back up and restore the shared-memory indexes of an Aerospike node')
    .description(
      "Back up and restore the System V shared-memory segments of an Aerospike Enterprise node (primary index, secondary index, data), so a rebooted host can warm-start. Writes ASMT's on-disk format.",
    )
    .version(TOOL_VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => context.streams.stdout.write(text),
      writeErr: (text) => context.streams.stderr.write(text),
    })
    .exitOverride();
  defineBackupCommand(program, context);
  defineRestoreCommand(program, context);
  defineVerifyCommand(program, context);
  defineLsCommand(program, context);
  defineInspectCommand(program, context);
  defineDemoCommand(program, context);
  defineConfigCommand(program, context);
  defineCompletionCommand(program, context);
  defineManCommand(program, context);
  // The configuration file and SHMSNAP_* variables, for whichever command runs (config.ts).
  installConfiguration(program, (settings) => {
    context.settings = settings;
  });
  return program;
}

/** Runs the CLI with `argv` (process.argv form); resolves to the exit status. */
export async function runCli(argv: readonly string[], context: Partial<Omit<CliContext, 'setExit'>> = {}): Promise<number> {
  let status = EXIT_OK;
  const program = createProgram({
    registry: context.registry ?? createDefaultRegistry(),
    streams: context.streams ?? process,
    ...(context.interruptDeadlineMs === undefined ? {} : { interruptDeadlineMs: context.interruptDeadlineMs }),
    setExit: (value) => {
      status = value;
    },
  });
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    throw error;
  }
  return status;
}
