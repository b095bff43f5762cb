/**
 * The command line: parse, call core, render. This file only composes:
 * each command defines itself (flags → prepare → render → run → render) in
 * commands/, and no backup logic lives in the CLI.
 */
import { Command } from 'commander';
import { defineBackupCommand } from './commands/backup.js';
import { defineClearCommand } from './commands/clear.js';
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
import { EXIT_OK } from './exit-codes.js';
import { Output } from './render/output.js';
import { commandNamed, isCleanExit, jsonRequested, reportExitsOf, usageError, UsageExit } from './usage.js';
import { TOOL_VERSION } from './version.js';

export function createProgram(context: CliContext): Command {
  const program = new Command('shmsnap')
    .summary('back up and restore the shared-memory indexes of an Aerospike node')
    .description(
      "Back up and restore the System V shared-memory segments of an Aerospike Enterprise node (primary index, secondary index, data), so a rebooted host can warm-start. Writes ASMT's on-disk format.",
    )
    .version(TOOL_VERSION, '-V, --version')
    .configureOutput({
      writeOut: (text) => context.streams.stdout.write(text),
      writeErr: (text) => context.streams.stderr.write(text),
      // Commander's error lines are not printed as they are: runCli reports them as USAGE_INVALID (usage.ts).
      outputError: () => undefined,
    });
  defineBackupCommand(program, context);
  defineRestoreCommand(program, context);
  defineVerifyCommand(program, context);
  defineLsCommand(program, context);
  defineInspectCommand(program, context);
  defineClearCommand(program, context);
  defineDemoCommand(program, context);
  defineConfigCommand(program, context);
  defineCompletionCommand(program, context);
  defineManCommand(program, context);
  // The configuration file and SHMSNAP_* variables, for whichever command runs (config.ts).
  installConfiguration(program, (settings) => {
    context.settings = settings;
  });
  for (const command of [program, ...program.commands]) reportExitsOf(command);
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
    if (error instanceof UsageExit && isCleanExit(error)) return EXIT_OK;
    // A wrong command line, or a failure outside a command's own handling: one line (or the error document), never a stack trace.
    const output = new Output(jsonRequested(argv), context.streams ?? process);
    return output.error(error instanceof UsageExit ? usageError(error) : error, { command: commandNamed(program, argv) ?? undefined });
  }
  return status;
}
