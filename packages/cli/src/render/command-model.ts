/**
 * The command line as data, read from the commander definitions themselves
 * (the commands, their arguments and options as `--help` shows them), for
 * what is generated from it: shell completion (render/completion.ts) and the
 * man page (render/man-page.ts). Nothing is listed by hand, so a new command
 * or flag appears in both without another edit.
 */
import type { Argument, Command, Option } from 'commander';
import { configurableOptions } from '../config.js';

export interface OptionModel {
  /** As written in the definition: `-q, --quiet`, `--to <location>`. */
  readonly flags: string;
  /** Every name it is typed as: `-q`, `--quiet`. */
  readonly names: readonly string[];
  /** The value's name (`location`), if it takes one. */
  readonly value?: string;
  readonly choices?: readonly string[];
  readonly description: string;
  /** The default as --help shows it, if any. */
  readonly default?: string;
  /** The key in the configuration file, and the variables it is read from (config.ts). */
  readonly key?: string;
  readonly envVars: readonly string[];
}

export interface ArgumentModel {
  readonly name: string;
  readonly required: boolean;
  readonly description: string;
  readonly choices?: readonly string[];
}

export interface CommandModel {
  readonly name: string;
  /** The first sentence of the description (or the summary). */
  readonly summary: string;
  readonly description: string;
  readonly usage: string;
  readonly arguments: readonly ArgumentModel[];
  readonly options: readonly OptionModel[];
}

export interface ProgramModel extends Omit<CommandModel, 'arguments'> {
  readonly version?: string;
  readonly commands: readonly CommandModel[];
}

/** The first sentence: up to the first period, colon or semicolon that ends a clause. */
export function firstSentence(text: string): string {
  const match = /^(.+?)[.:;](\s|$)/.exec(text);
  return (match ? match[1]! : text).trim();
}

function defaultOf(option: Option): string | undefined {
  if (option.defaultValueDescription !== undefined) return option.defaultValueDescription;
  const value: unknown = option.defaultValue;
  if (value === undefined || typeof value === 'boolean' || option.negate) return undefined;
  return Array.isArray(value) ? value.join(',') : String(value);
}

function optionModel(option: Option, config: Map<string, { key: string; envVars: readonly string[] }>): OptionModel {
  const names = [option.short, option.long].filter((n): n is string => n !== undefined);
  const value = /<([^>]+)>|\[([^\]]+)\]/.exec(option.flags);
  const settable = config.get(option.attributeName());
  const fallback = defaultOf(option);
  return {
    flags: option.flags,
    names,
    ...(value ? { value: (value[1] ?? value[2])! } : {}),
    ...(option.argChoices ? { choices: option.argChoices } : {}),
    description: option.description,
    ...(fallback === undefined ? {} : { default: fallback }),
    ...(settable ? { key: settable.key } : {}),
    envVars: settable?.envVars ?? [],
  };
}

function argumentModel(argument: Argument): ArgumentModel {
  return {
    name: argument.name(),
    required: argument.required,
    description: argument.description,
    ...(argument.argChoices ? { choices: argument.argChoices } : {}),
  };
}

function commandModel(command: Command): CommandModel {
  const help = command.createHelp();
  const config = new Map(configurableOptions(command).map((c) => [c.attribute, c]));
  const description = command.description();
  return {
    name: command.name(),
    summary: command.summary() || firstSentence(description),
    description,
    usage: command.usage(),
    arguments: help.visibleArguments(command).map(argumentModel),
    options: help.visibleOptions(command).map((o) => optionModel(o, config)),
  };
}

export function describeProgram(program: Command): ProgramModel {
  const help = program.createHelp();
  const root = commandModel(program);
  const version = program.version();
  return {
    name: root.name,
    summary: root.summary,
    description: root.description,
    usage: root.usage,
    options: root.options,
    ...(version === undefined ? {} : { version }),
    commands: help.visibleCommands(program).map(commandModel),
  };
}
