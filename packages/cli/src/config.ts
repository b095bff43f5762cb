/**
 * Options from outside the command line, so fifty hosts share one policy:
 * a JSON file (`/etc/shmsnap/config.json`, or the file `SHMSNAP_CONFIG`
 * names) and one environment variable per option, `SHMSNAP_<OPTION>`
 * (`--max-age` → `SHMSNAP_MAX_AGE`). Precedence: flag > environment > file >
 * default. docs/config.md is the reference.
 *
 * Nothing here knows an option: the options are walked from the commander
 * definitions, and each value is parsed by the option's own parser (the one
 * the flag uses: `--threads`' range, `--codec`'s choices, the parsers of
 * the options sink plugins declare, sink-options.ts), so a value is valid in the file or the
 * environment exactly when it is valid as a flag. Options that already read a
 * variable of their own (`AWS_PROFILE`, `SHMSNAP_S3_SSE`... set with
 * commander's `.env()`) keep it; the SHMSNAP_ name comes first when both are
 * set.
 *
 * The file is an object: option keys (the flag without its dashes, `"threads":
 * 4`) apply to every command that has the option; a command's name holds keys
 * for that command only (`"restore": { "max-age": "12h" }`), which win over the
 * top level. An unknown key, a key a command does not have, or a value its
 * option refuses is a one-line CONFIG_INVALID naming the file (or variable)
 * and the key: a typo in a shared policy must not be silently ignored.
 * Two top-level keys are not options: `plugins` and `pluginPaths`, read
 * before the commands exist (plugins.ts). A sink option its plugin marks
 * secret is refused in the file: it belongs in the environment.
 */
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command, type Option } from 'commander';
import { errConfigInvalid, type ShmsnapError } from '@shmsnap/core';
import { parseBooleanSetting, sinkOptionOf } from './sink-options.js';

export const DEFAULT_CONFIG_PATH = '/etc/shmsnap/config.json';
/** Names another file; empty: no file at all. */
export const CONFIG_PATH_ENV = 'SHMSNAP_CONFIG';

export interface ConfigFile {
  /** The file read, or to be read; null when SHMSNAP_CONFIG is empty (no file). */
  readonly path: string | null;
  /** Whether the path came from SHMSNAP_CONFIG. */
  readonly fromEnv: boolean;
  readonly present: boolean;
  /** The top-level object (empty without a file). */
  readonly values: Readonly<Record<string, unknown>>;
}

/** One option as the file and the environment name it (options sharing an attribute, `--x`/`--no-x`, are one). */
export interface ConfigurableOption {
  /** The key in the file: the long flag without `--` (and without `no-`): `max-age`, `progress`. */
  readonly key: string;
  /** commander's attribute (`maxAge`), where the value is stored. */
  readonly attribute: string;
  /** The flag as typed: `--max-age`, `--no-progress`. */
  readonly flag: string;
  /** The variables read, the first one set wins: SHMSNAP_<KEY>, then the option's own (`AWS_PROFILE`). */
  readonly envVars: readonly string[];
  /** The option whose parser reads a value. */
  readonly option: Option;
  readonly takesValue: boolean;
}

export type ValueSource = 'env' | 'file' | 'default';

export interface ResolvedOption extends ConfigurableOption {
  readonly source: ValueSource;
  /** The variable, or `<file>: <key path>`; absent for defaults. */
  readonly origin?: string;
  readonly value: unknown;
  /** The value as written there (env and file), for display. */
  readonly text?: string;
}

export interface LoadedSettings {
  readonly file: ConfigFile;
  /** The command's options with their values from the environment and file (defaults included). */
  readonly options: readonly ResolvedOption[];
  /** Every problem found (the first is reported); values that had one were not applied. */
  readonly problems: readonly ShmsnapError[];
}

/** The long flag's name without dashes, `no-` dropped: the file key, and the variable's name after SHMSNAP_. */
function keyOf(option: Option): string {
  const name = (option.long ?? option.attributeName()).replace(/^--/, '');
  return option.negate ? name.replace(/^no-/, '') : name;
}

export function envNameOf(key: string): string {
  return `SHMSNAP_${key.toUpperCase().replace(/-/g, '_')}`;
}

/** The options of `command` that configuration may set: every option but help and version. */
export function configurableOptions(command: Command): ConfigurableOption[] {
  const byAttribute = new Map<string, Option[]>();
  for (const option of command.options) {
    if (option.long === '--help' || option.long === '--version') continue;
    const group = byAttribute.get(option.attributeName()) ?? [];
    group.push(option);
    byAttribute.set(option.attributeName(), group);
  }
  return [...byAttribute].map(([attribute, options]) => {
    const option = options.find((o) => !o.negate) ?? options[0]!;
    const key = keyOf(option);
    const own = options.map((o) => o.envVar).filter((name): name is string => name !== undefined);
    // A declared sink option's own variables (AZURE_STORAGE_CONNECTION_STRING) after its SHMSNAP_ one.
    own.push(...(sinkOptionOf(option)?.variables.slice(1) ?? []));
    return {
      key,
      attribute,
      flag: option.long ?? option.flags,
      envVars: [...new Set([envNameOf(key), ...own])],
      option,
      takesValue: option.required || option.optional,
    };
  });
}

/** Reads the file SHMSNAP_CONFIG names, or the default one if it exists. */
export function readConfigFile(env: NodeJS.ProcessEnv = process.env): { file: ConfigFile; problem?: ShmsnapError } {
  const named = env[CONFIG_PATH_ENV];
  const fromEnv = named !== undefined;
  if (named === '') return { file: { path: null, fromEnv, present: false, values: {} } };
  const path = named ?? DEFAULT_CONFIG_PATH;
  const absent = { path, fromEnv, present: false, values: {} };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The default file is optional; one named on purpose must be there.
    if (code === 'ENOENT' && !fromEnv) return { file: absent };
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory, not a file' : (error as Error).message;
    return { file: absent, problem: fileProblem(fromEnv ? `${CONFIG_PATH_ENV}=${path}` : path, reason) };
  }
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    return { file: absent, problem: fileProblem(path, `not valid JSON (${(error as Error).message})`) };
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) return { file: absent, problem: fileProblem(path, 'must hold a JSON object of option keys') };
  return { file: { path, fromEnv, present: true, values: values as Record<string, unknown> } };
}

function fileProblem(where: string, reason: string, details: Record<string, unknown> = {}): ShmsnapError {
  return errConfigInvalid(where, reason).withDetails({ source: 'file', ...details });
}

/** Credentials never come from shmsnap's configuration: the AWS SDK's chain provides them. */
const CREDENTIAL_LIKE = /secret|password|passwd|token|credential|access[-_]?key|session/i;

export function isSecretName(name: string): boolean {
  return CREDENTIAL_LIKE.test(name);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Top-level keys that name plugins rather than options (plugins.ts reads and checks them). */
export const PLUGIN_KEYS: ReadonlySet<string> = new Set(['plugins', 'pluginPaths']);

/**
 * Programs built while a plugin named by the environment or the file failed
 * to load (plugins.ts): the file may hold keys for that plugin's options,
 * which no command has now. Unknown keys are then not refused (the failed
 * plugin was already reported), so commands that do not need it still run.
 */
const MISSING_PLUGINS = new WeakSet<Command>();

export function tolerateUnknownKeys(program: Command): void {
  MISSING_PLUGINS.add(program);
}

/** Problems in the file's keys, against every command of `program`. */
export function checkFileKeys(program: Command, file: ConfigFile): ShmsnapError[] {
  const commands = new Map(program.commands.map((c) => [c.name(), new Set(configurableOptions(c).map((o) => o.key))]));
  const everyKey = new Set([...commands.values()].flatMap((keys) => [...keys]));
  const problems: ShmsnapError[] = [];
  const unknown = (key: string, path: string, reason: string): void => {
    if (MISSING_PLUGINS.has(program) && !isSecretName(key)) return;
    const hint = isSecretName(key) ? "credentials are never read from shmsnap's configuration (the AWS SDK's chain provides them: environment, profile, instance role)" : reason;
    problems.push(fileProblem(`${file.path}: ${path}`, hint, { key: path }));
  };
  for (const [key, value] of Object.entries(file.values)) {
    if (PLUGIN_KEYS.has(key)) continue;
    const keys = commands.get(key);
    if (keys !== undefined) {
      if (!isObject(value)) {
        problems.push(fileProblem(`${file.path}: ${key}`, `must be an object of options for shmsnap ${key}`, { key }));
        continue;
      }
      for (const inner of Object.keys(value)) if (!keys.has(inner)) unknown(inner, `${key}.${inner}`, `not an option of shmsnap ${key}`);
    } else if (!everyKey.has(key)) {
      unknown(key, key, 'unknown key: neither an option (as its flag without dashes: "threads", "max-age") nor a command');
    }
  }
  return problems;
}


/** The value of `entry` from `raw` (a variable's text, or a value of the file), parsed as the flag would be. */
function parseValue(entry: ConfigurableOption, raw: unknown, fromEnv: boolean): { value: unknown; text: string } | { reason: string } {
  if (!entry.takesValue) {
    if (typeof raw === 'boolean' && !fromEnv) return { value: raw, text: String(raw) };
    if (typeof raw === 'string' && fromEnv) {
      // One reading of a boolean variable for every option (the S3 ones included): true/false/1/0/yes/no.
      try {
        return { value: parseBooleanSetting(raw), text: raw };
      } catch (error) {
        if (error instanceof InvalidArgumentError) return { reason: error.message };
        throw error;
      }
    }
    return { reason: `expected true or false, got ${JSON.stringify(raw)}` };
  }
  let text: string;
  if (typeof raw === 'string') text = raw;
  else if (typeof raw === 'number' && Number.isFinite(raw)) text = String(raw);
  else if (Array.isArray(raw) && raw.length > 0 && raw.every((v) => typeof v === 'string' || typeof v === 'number')) text = raw.join(',');
  else return { reason: `expected a value as ${entry.flag} takes it (a string or a number), got ${JSON.stringify(raw)}` };
  try {
    return { value: entry.option.parseArg ? entry.option.parseArg(text, undefined) : text, text };
  } catch (error) {
    if (error instanceof InvalidArgumentError) return { reason: error.message };
    throw error;
  }
}

/** The value of each option of `command` from the environment, else the file, else its default. */
export function resolveOptions(command: Command, file: ConfigFile, env: NodeJS.ProcessEnv = process.env): { options: ResolvedOption[]; problems: ShmsnapError[] } {
  const name = command.name();
  const section = isObject(file.values[name]) ? file.values[name] : {};
  const options: ResolvedOption[] = [];
  const problems: ShmsnapError[] = [];
  for (const entry of configurableOptions(command)) {
    // A flag that exists only as --no-x is on unless given (commander stores true for it).
    const fallback: ResolvedOption = { ...entry, source: 'default', value: entry.option.defaultValue ?? (entry.option.negate ? true : undefined) };
    const variable = entry.envVars.find((v) => env[v] !== undefined && env[v] !== '');
    const inFile = Object.hasOwn(section, entry.key) ? { raw: section[entry.key], path: `${name}.${entry.key}` } : Object.hasOwn(file.values, entry.key) ? { raw: file.values[entry.key], path: entry.key } : undefined;
    let resolved = fallback;
    const declared = sinkOptionOf(entry.option);
    if (inFile !== undefined && declared?.spec.secret === true) {
      problems.push(fileProblem(`${file.path}: ${inFile.path}`, `a secret: never in the configuration file; give it in the environment (${declared.variables.join(', ')})`, { key: inFile.path }));
    } else if (inFile !== undefined) {
      const parsed = parseValue(entry, inFile.raw, false);
      const origin = `${file.path}: ${inFile.path}`;
      if ('reason' in parsed) problems.push(fileProblem(origin, parsed.reason, { key: inFile.path }));
      else resolved = { ...entry, source: 'file', origin, ...parsed };
    }
    if (variable !== undefined) {
      const parsed = parseValue(entry, env[variable], true);
      if ('reason' in parsed) problems.push(errConfigInvalid(variable, parsed.reason).withDetails({ source: 'env', variable }));
      else resolved = { ...entry, source: 'env', origin: variable, ...parsed };
    }
    options.push(resolved);
  }
  return { options, problems };
}

/** The file and environment as they apply to `command` (of `program`): its options' values and every problem. */
export function loadSettings(program: Command, command: Command, env: NodeJS.ProcessEnv = process.env): LoadedSettings {
  const { file, problem } = readConfigFile(env);
  const own = resolveOptions(command, file, env);
  const problems: ShmsnapError[] = [...(problem ? [problem] : checkFileKeys(program, file)), ...own.problems];
  // Every command's values in the file are checked, so a broken policy shows on whatever command runs first.
  for (const other of program.commands) if (other !== command) problems.push(...resolveOptions(other, file, {}).problems);
  // A top-level key several commands take is one problem, not one per command.
  const unique = problems.filter((p, i) => problems.findIndex((q) => q.message === p.message) === i);
  return { file, options: own.options, problems: unique };
}

/**
 * Sets the values from the environment and the file on `command`, under the
 * sources commander knows (`env`, `config`), never over a flag: called before
 * the command's flags are parsed (which then win, and so that a required
 * option given by configuration counts as given), and again once they are
 * (over the values commander itself read from an option's own variable, so
 * the SHMSNAP_ name wins and a boolean variable is read as true/false/1/0).
 */
export function applySettings(command: Command, settings: LoadedSettings): void {
  for (const option of settings.options) {
    if (option.source === 'default' || command.getOptionValueSource(option.attribute) === 'cli') continue;
    // A declared sink option's variables are read where the sink's request is made (sink-options.ts), which
    // names the variable in its refusals; set here they would read as flags.
    if (option.source === 'env' && sinkOptionOf(option.option) !== undefined) continue;
    command.setOptionValueWithSource(option.attribute, option.value, option.source === 'env' ? 'env' : 'config');
  }
}

/**
 * A variable commander reads itself (an option's `.env()`) whose value was
 * refused here would be refused again by commander while it parses, in its
 * own words and before the command can answer in the form its flags ask for
 * (`--json`, `--events`). Its option is held at null, marked as given, which
 * commander leaves alone; the command never runs with it: it reports the
 * problem first (context.ts).
 */
function withholdRefusedVariables(command: Command, settings: LoadedSettings): void {
  const refused = new Set(settings.problems.map((p) => p.details.variable).filter((v): v is string => typeof v === 'string'));
  for (const option of command.options) {
    if (option.envVar !== undefined && refused.has(option.envVar)) command.setOptionValueWithSource(option.attributeName(), null, 'cli');
  }
}

/**
 * A flag replaces a configured value, also for an option that accumulates
 * when repeated (`--namespace a --namespace b`): commander hands a parser the
 * value so far, which would otherwise be the configured one. Before the
 * first occurrence of such a flag is parsed, a value from the environment or
 * the file is dropped.
 */
function replaceOnFlag(command: Command): void {
  // A Command is an EventEmitter (its typings declare only on()); ahead of commander's own listener.
  const events = command as unknown as EventEmitter;
  for (const option of command.options) {
    if (!option.required && !option.optional) continue;
    events.prependListener(`option:${option.name()}`, () => {
      const source = command.getOptionValueSource(option.attributeName());
      if (source === 'env' || source === 'config') command.setOptionValueWithSource(option.attributeName(), undefined, 'default');
    });
  }
}

/** Installs the configuration on `program`: the subcommand about to run gets its values, `record` the settings. */
export function installConfiguration(program: Command, record: (settings: LoadedSettings) => void, env: NodeJS.ProcessEnv = process.env): void {
  let current: LoadedSettings | undefined;
  program.hook('preSubcommand', (_program, command) => {
    current = loadSettings(program, command, env);
    applySettings(command, current);
    withholdRefusedVariables(command, current);
    replaceOnFlag(command);
    record(current);
  });
  program.hook('preAction', (_program, command) => {
    if (current) applySettings(command, current);
  });
}

/** `value` fit to print: credential-like names and secret options hidden, a URL's user and password hidden. */
export function redact(name: string, value: string, secret = false): string {
  if (secret || isSecretName(name)) return '<redacted>';
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/i, '$1<redacted>@');
}
