/**
 * The options sink providers declare (`SinkProvider.options`,
 * contracts/plugin.ts) as flags and variables, for every provider in the
 * registry, built-in or loaded: nothing here knows a sink. Each option
 * becomes `--<scheme>-<kebab name>` (a boolean also `--no-…`) in its
 * scheme's help group, and is read from `SHMSNAP_<SCHEME>_<SNAKE NAME>`,
 * then from the provider's own variables (`env`), when the flag is not
 * given; one parser, from its `type`, for both. Options a provider marks
 * `writes` exist only on commands that write (backup).
 *
 * A flag or SHMSNAP_<SCHEME>_* variable given for a location of another
 * scheme is a usage error: an operator must not believe `--s3-sse`
 * encrypted a local backup. A provider's own variables (AWS_REGION,
 * AZURE_STORAGE_CONNECTION_STRING) are not: a host may set them for
 * everything.
 *
 * A `secret` option's value is never shown: help says "(secret)", refusals
 * do not quote it, `shmsnap config` masks it, and the configuration file may
 * not hold it (config.ts).
 */
import { Option, InvalidArgumentError, type Command } from 'commander';
import { errConfigInvalid, isShmsnapError, schemeOf, type Registry, type SinkOptionSpec } from '@shmsnap/core';

/** One declared option as this CLI offers it. */
export interface SinkOptionFlag {
  readonly scheme: string;
  readonly spec: SinkOptionSpec;
  /** `--s3-part-size-mib` */
  readonly flag: string;
  /** commander's attribute: `s3PartSizeMib` */
  readonly attribute: string;
  /** SHMSNAP_S3_PART_SIZE_MIB, then the provider's own variables, in the order read. */
  readonly variables: readonly string[];
}

/** The values commander parsed, keyed by attribute. */
export type SinkFlags = Readonly<Record<string, unknown>>;

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const snake = (name: string): string => kebab(name).replace(/-/g, '_').toUpperCase();
const camel = (text: string): string => text.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

const BOOLEANS: Readonly<Record<string, boolean>> = { true: true, false: false, 1: true, 0: false, yes: true, no: false };

/** `true/false/1/0/yes/no`, any case: what operators write in environment files. */
export function parseBooleanSetting(value: string): boolean {
  const parsed = BOOLEANS[value.trim().toLowerCase()];
  if (parsed === undefined) throw new InvalidArgumentError(`must be true, false, 1, 0, yes or no, got ${JSON.stringify(value)}`);
  return parsed;
}

/** The text of `value` as the option takes it; throws InvalidArgumentError with the reason (which names neither the option nor, for a secret, the value). */
export function parseSinkOption(spec: SinkOptionSpec, value: string): string | number | boolean {
  const got = spec.secret === true ? '' : `, got ${JSON.stringify(value)}`;
  switch (spec.type) {
    case 'boolean':
      try {
        return parseBooleanSetting(value);
      } catch (error) {
        if (spec.secret === true) throw new InvalidArgumentError('must be true, false, 1, 0, yes or no');
        throw error;
      }
    case 'integer': {
      const number = Number(value);
      const { min, max } = spec;
      const inRange = /^-?\d+$/.test(value) && Number.isSafeInteger(number) && (min === undefined || number >= min) && (max === undefined || number <= max);
      if (inRange) return number;
      if (min === 1 && max === undefined) throw new InvalidArgumentError(`must be a positive integer${got}`);
      const range = min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` of at least ${min}` : max !== undefined ? ` of at most ${max}` : '';
      throw new InvalidArgumentError(`must be an integer${range}${got}`);
    }
    case 'choice': {
      const choices = spec.choices ?? [];
      if (choices.includes(value)) return value;
      throw new InvalidArgumentError(`must be ${choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}` : choices.join('')}${got}`);
    }
    default:
      return value;
  }
}

/** Options made here, so config.ts can tell them apart (their variables are read where the request is made). */
const MADE = new WeakMap<Option, SinkOptionFlag>();

/** The declared option behind a commander option, if it is one. */
export function sinkOptionOf(option: Option): SinkOptionFlag | undefined {
  return MADE.get(option);
}

/** Every option the registry's providers declare, for a command that writes or not, in registration order. */
export function sinkOptionFlags(registry: Registry, writes: boolean): SinkOptionFlag[] {
  return registry.sinkProviders().flatMap(({ provider }) => {
    // A provider of several schemes is named by its first (the one its help group and flags carry).
    const scheme = provider.schemes[0]!;
    return (provider.options ?? [])
      .filter((spec) => writes || spec.writes !== true)
      .map((spec) => {
        const flag = `--${scheme}-${kebab(spec.name)}`;
        return { scheme, spec, flag, attribute: camel(flag.slice(2)), variables: [`SHMSNAP_${snake(scheme)}_${snake(spec.name)}`, ...(spec.env ?? [])] };
      });
  });
}

function helpLine(entry: SinkOptionFlag): string {
  const { spec, variables } = entry;
  const shown = spec.type === 'boolean' ? variables.map((v, i) => (i === 0 ? `${v}=true|false` : v)) : variables;
  const extras = [
    ...(spec.default === undefined ? [] : [`default: ${String(spec.default)}`]),
    `env: ${shown.join(', ')}`,
    ...(spec.secret === true ? ['secret'] : []),
  ];
  return `${spec.description} (${extras.join('; ')})`;
}

function groupOf(registry: Registry, scheme: string): string {
  const provider = registry.sinkProviders().find(({ provider: p }) => p.schemes[0] === scheme)?.provider;
  return `${scheme.toUpperCase()} options (${provider?.description ?? `for ${scheme}:// locations`}):`;
}

export function addSinkOptions(command: Command, registry: Registry, writes: boolean): Command {
  for (const entry of sinkOptionFlags(registry, writes)) {
    const { spec, flag } = entry;
    const group = groupOf(registry, entry.scheme);
    const option = new Option(spec.type === 'boolean' ? flag : `${flag} ${spec.argument ?? '<value>'}`, helpLine(entry));
    if (spec.type !== 'boolean') {
      // Parsed here, so a bad flag is a usage error naming it.
      option.argParser((value: string) => {
        try {
          return parseSinkOption(spec, value);
        } catch (error) {
          throw new InvalidArgumentError(`${flag} ${(error as Error).message}.`);
        }
      });
    }
    MADE.set(option, entry);
    command.addOption(option.helpGroup(group));
    if (spec.type === 'boolean') {
      const negated = new Option(`--no-${flag.slice(2)}`, spec.negation ?? `not: ${spec.description}`).helpGroup(group);
      MADE.set(negated, entry);
      command.addOption(negated);
    }
  }
  return command;
}

export interface SinkRequest {
  /** The options for the location's provider, keyed by declared name: the flags, else the variables. */
  readonly options: Readonly<Record<string, unknown>>;
  /** What was given for the location's scheme, as the user gave it (`--s3-sse`, `SHMSNAP_S3_SSE`). */
  readonly given: readonly string[];
  /** Flags and SHMSNAP_ variables given for other schemes, with the scheme each is for. */
  readonly misplaced: readonly { readonly name: string; readonly scheme: string }[];
  /**
   * The provider's CONFIG_INVALID for a declared option, named as the user
   * gave it (`SHMSNAP_S3_PART_SIZE_MIB: must be from 5 to 5120 MiB, got 2
   * MiB`), the flag when it was not given; the declared options it mentions
   * named as flags.
   */
  readonly nameSource: (error: unknown) => unknown;
}

/** Where commander says an attribute's value came from (`cli`, `env`, `config`, `default`). */
export type ValueSourceOf = (attribute: string) => string | undefined;

/**
 * The declared options of one command for `location`: its flags, else the
 * variables it reads. A value the configuration file set (`valueSourceOf` says
 * `config`) for another scheme's option is left out rather than refused: a
 * policy shared by many hosts may hold S3 settings and still be used for a
 * local backup. Flags and SHMSNAP_ variables for another scheme are refused.
 */
export function sinkRequest(registry: Registry, flags: SinkFlags, env: NodeJS.ProcessEnv, writes: boolean, location: string, valueSourceOf?: ValueSourceOf): SinkRequest {
  const scheme = schemeOf(location);
  const all = sinkOptionFlags(registry, writes);
  const own = all.filter((entry) => registry.sinkProviders().some(({ provider }) => provider.schemes[0] === entry.scheme && provider.schemes.includes(scheme)));
  const options: Record<string, unknown> = {};
  const given: string[] = [];
  const misplaced: { name: string; scheme: string }[] = [];
  const sourceOf = new Map<string, string>();
  for (const entry of all) {
    const mine = own.includes(entry);
    const value = flags[entry.attribute];
    if (value !== undefined && !mine && valueSourceOf?.(entry.attribute) === 'config') continue;
    if (value !== undefined) {
      const typed = entry.spec.type === 'boolean' && value === false ? `--no-${entry.flag.slice(2)}` : entry.flag;
      if (mine) given.push(typed);
      else misplaced.push({ name: typed, scheme: entry.scheme });
      if (mine) {
        options[entry.spec.name] = value;
        sourceOf.set(entry.spec.name, entry.flag);
      }
      continue;
    }
    const variables = mine ? entry.variables : entry.variables.slice(0, 1);
    const variable = variables.find((name) => env[name] !== undefined && env[name] !== '');
    if (variable === undefined) continue;
    if (!mine) {
      misplaced.push({ name: variable, scheme: entry.scheme });
      continue;
    }
    try {
      options[entry.spec.name] = parseSinkOption(entry.spec, env[variable]!);
    } catch (error) {
      throw errConfigInvalid(variable, (error as Error).message);
    }
    given.push(variable);
    sourceOf.set(entry.spec.name, variable);
  }
  const flagOf = new Map(own.map((entry) => [entry.spec.name, entry.flag]));
  return {
    options,
    given,
    misplaced,
    nameSource(error) {
      if (!isShmsnapError(error, 'CONFIG_INVALID')) return error;
      const { option, reason, mentions } = error.details;
      if (typeof option !== 'string' || typeof reason !== 'string' || !flagOf.has(option)) return error;
      let text = reason;
      for (const mentioned of Array.isArray(mentions) ? mentions : []) {
        const flag = typeof mentioned === 'string' ? flagOf.get(mentioned) : undefined;
        if (flag !== undefined) text = text.replace(new RegExp(`\\b${mentioned}\\b`, 'g'), flag);
      }
      return errConfigInvalid(sourceOf.get(option) ?? flagOf.get(option)!, text);
    },
  };
}
