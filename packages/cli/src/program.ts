/**
 * The command line: parse, call core, render. This file only composes:
 * each command defines itself (flags → prepare → render → run → render) in
 * commands/, and no backup logic lives in the CLI.
 */
import { Command, Option } from 'commander';
import { defineBackupCommand } from './commands/backup.js';
import { defineClearCommand } from './commands/clear.js';
import { defineCompletionCommand, defineManCommand } from './commands/completion.js';
import { defineConfigCommand } from './commands/config.js';
import { defineDemoCommand } from './commands/demo.js';
import { defineInspectCommand } from './commands/inspect.js';
import { defineLsCommand } from './commands/ls.js';
import { definePluginsCommand } from './commands/plugins.js';
import { definePruneCommand } from './commands/prune.js';
import { definePreflightCommand } from './commands/preflight.js';
import { defineRekeyCommand } from './commands/rekey.js';
import { defineRestoreCommand } from './commands/restore.js';
import { defineSystemdCommand } from './commands/systemd.js';
import { defineStatusCommand } from './commands/status.js';
import { defineVerifyCommand } from './commands/verify.js';
import { installConfiguration, readConfigFile, tolerateUnknownKeys } from './config.js';
import type { Registry } from '@shmsnap/core';
import type { CliContext } from './context.js';
import { EXIT_OK } from './exit-codes.js';
import { loadPlugins, pluginRequests, pluginSettingsOf } from './plugins.js';
import { Output } from './render/output.js';
import { commandNamed, isCleanExit, jsonRequested, reportExitsOf, usageError, UsageExit } from './usage.js';
import { TOOL_VERSION } from './version.js';
import { useAddonCrc32 } from './native-engines.js';

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
    })
    // Read before the program is built (runCli, plugins.ts): declared here so commander accepts it, before or after the command.
    .addOption(
      new Option('--plugin <package-or-path>', 'load a sink or codec plugin: an npm package (from the configuration\'s pluginPaths, NODE_PATH or the global prefix) or a path; repeatable (also SHMSNAP_PLUGINS, and "plugins" in the configuration file)').argParser(
        (value: string, previous: string[] = []) => [...previous, value],
      ),
    );
  defineBackupCommand(program, context);
  defineRestoreCommand(program, context);
  defineVerifyCommand(program, context);
  definePreflightCommand(program, context);
  defineRekeyCommand(program, context);
  defineLsCommand(program, context);
  definePruneCommand(program, context);
  defineStatusCommand(program, context);
  defineInspectCommand(program, context);
  defineClearCommand(program, context);
  defineDemoCommand(program, context);
  // Before config, whose [command] choices are the commands defined so far.
  defineSystemdCommand(program, context);
  defineConfigCommand(program, context);
  definePluginsCommand(program, context);
  defineCompletionCommand(program, context);
  defineManCommand(program, context);
  // The configuration file and SHMSNAP_* variables, for whichever command runs (config.ts).
  if (context.registry.plugins().failed.length > 0) tolerateUnknownKeys(program);
  installConfiguration(program, (settings) => {
    context.settings = settings;
  });
  for (const command of [program, ...program.commands]) reportExitsOf(command);
  return program;
}

/**
 * The built-in plugins and the ones named (plugins.ts), loaded before the
 * program is built. A plugin named by `--plugin` that fails ends the run
 * (one line, or the error document); one named by SHMSNAP_PLUGINS or the
 * file is a warning line. `shmsnap plugins` lists either kind as failed
 * instead (its exit status is then PLUGIN_INVALID's).
 */
async function registryFor(argv: readonly string[], streams: CliContext['streams']): Promise<{ registry: Registry; status?: number }> {
  const { file } = readConfigFile(process.env);
  const settings = pluginSettingsOf(file);
  const loaded = await loadPlugins(pluginRequests(argv.slice(2), process.env, file, settings.plugins), {
    pluginPaths: settings.pluginPaths,
    env: process.env,
    execPath: process.execPath,
  });
  const probe = createProgram({ registry: loaded.registry, streams, setExit: () => undefined });
  const command = commandNamed(probe, argv) ?? undefined;
  const [fatal, ...more] = loaded.fatal;
  if (fatal && command !== 'plugins') {
    const error = more.length > 0 ? fatal.withDetails({ more: more.map((e) => e.message) }) : fatal;
    return { registry: loaded.registry, status: new Output(jsonRequested(argv), streams).error(error, { command, listAll: true }) };
  }
  if (command !== 'plugins') {
    for (const warning of [...settings.problems, ...loaded.warnings]) streams.stderr.write(`shmsnap: warning: ${warning.code}: ${warning.message}\n`);
  }
  return { registry: loaded.registry };
}

/** Runs the CLI with `argv` (process.argv form); resolves to the exit status. */
export async function runCli(argv: readonly string[], context: Partial<Omit<CliContext, 'setExit'>> = {}): Promise<number> {
  let status = EXIT_OK;
  const streams = context.streams ?? process;
  useAddonCrc32();
  let registry = context.registry;
  if (registry === undefined) {
    const loaded = await registryFor(argv, streams);
    if (loaded.status !== undefined) return loaded.status;
    registry = loaded.registry;
  }
  const program = createProgram({
    registry,
    streams,
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
