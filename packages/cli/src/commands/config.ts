/**
 * `shmsnap config [command]`: the value each option of each command gets
 * from the configuration file and the environment (or its default), and
 * where it comes from, as config.ts resolves it for a real run; then the
 * AWS_* variables the S3 client reads. Credential-like values are redacted.
 */
import { Argument, type Command } from 'commander';
import { errConfigInvalid } from '@shmsnap/core';
import { configurableOptions, loadSettings, readConfigFile, redact, resolveOptions, type ConfigFile, type ResolvedOption } from '../config.js';
import { execute, type CliContext } from '../context.js';
import type { Output } from '../render/output.js';
import { formatTable } from '../render/table.js';
import { sinkOptionOf } from '../sink-options.js';

function shown(value: unknown): string {
  if (value === undefined) return '-';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

/** The value as the user wrote it (or the default as --help shows it), redacted where it looks like a credential. */
function display(option: ResolvedOption): { text: string; redacted: boolean } {
  const text = option.text ?? option.option.defaultValueDescription ?? shown(option.value);
  const secret = sinkOptionOf(option.option)?.spec.secret === true && option.source !== 'default';
  const safe = redact(option.key, option.origin === undefined ? text : redact(option.origin, text), secret);
  return { text: safe, redacted: safe !== text };
}

function sourceText(option: ResolvedOption): string {
  return option.source === 'default' ? (option.value === undefined ? '-' : 'default') : `${option.source} ${option.origin}`;
}

function fileLine(file: ConfigFile): string {
  if (file.path === null) return 'configuration file: none (SHMSNAP_CONFIG is empty)';
  const via = file.fromEnv ? ' (from SHMSNAP_CONFIG)' : '';
  return `configuration file: ${file.path}${via}${file.present ? '' : ' (not present)'}`;
}

export interface ConfigCommandOptions {
  /** Only this command's options. */
  readonly command?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export async function runConfigCommand(program: Command, options: ConfigCommandOptions, output: Output): Promise<void> {
  const env = options.env ?? process.env;
  const { file, problem } = readConfigFile(env);
  if (problem) throw problem;
  const commands = program.commands.filter((c) => (options.command === undefined || c.name() === options.command) && configurableOptions(c).length > 0);
  if (options.command !== undefined && commands.length === 0) throw errConfigInvalid('command', `'${options.command}' has no options to configure`);
  const resolved = commands.map((command) => {
    // The problems a run of that command would stop at (file keys included), first of all.
    const { problems } = loadSettings(program, command, env);
    if (problems.length > 0) throw problems[0]!;
    return { name: command.name(), options: resolveOptions(command, file, env).options };
  });
  const aws = Object.keys(env).filter((name) => name.startsWith('AWS_') && env[name] !== undefined).sort();

  output.line(fileLine(file));
  output.line('precedence: flag > environment (SHMSNAP_<OPTION>) > file > default');
  for (const { name, options: rows } of resolved) {
    output.line();
    output.line(`${name}:`);
    const table = rows.map((o) => [o.flag, display(o).text, sourceText(o), o.envVars.join(', ')]);
    for (const line of formatTable(['option', 'value', 'source', 'environment'], table, '  ')) output.line(line);
  }
  if (aws.length > 0) {
    output.line();
    output.line('read by the S3 client (AWS SDK):');
    for (const line of formatTable(['variable', 'value'], aws.map((name) => [name, redact(name, env[name]!)]), '  ')) output.line(line);
  }
  output.result('config', {
    file: { path: file.path, present: file.present, fromEnv: file.fromEnv },
    precedence: ['flag', 'env', 'file', 'default'],
    commands: Object.fromEntries(
      resolved.map(({ name, options: rows }) => [
        name,
        rows.map((o) => ({
          key: o.key,
          flag: o.flag,
          // What the command gets (a duration in ms, a number), unless it had to be hidden.
          value: display(o).redacted ? display(o).text : (o.value ?? null),
          text: display(o).text,
          source: o.source,
          origin: o.origin ?? null,
          env: o.envVars,
        })),
      ]),
    ),
    environment: Object.fromEntries(aws.map((name) => [name, redact(name, env[name]!)])),
  });
}

export function defineConfigCommand(program: Command, context: CliContext): void {
  const names = [...program.commands.map((c) => c.name()), 'config'];
  program
    .command('config')
    .description(
      "Print the configuration each command runs with: every option's value from the environment (SHMSNAP_<OPTION>), the configuration file (/etc/shmsnap/config.json or SHMSNAP_CONFIG) or its default, and where it comes from (a flag on the command line wins over all three), then the AWS_* variables the S3 client reads; credential-like values redacted. A broken configuration is reported as every command would report it.",
    )
    .addArgument(new Argument('[command]', 'only this command\'s options').choices(names))
    .option('--json', 'print the configuration as JSON')
    .action(async (command: string | undefined, flags: { json?: boolean }) => {
      await execute(context, flags, 'config', (output) => runConfigCommand(program, command === undefined ? {} : { command }, output));
    });
}
