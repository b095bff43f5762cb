/**
 * Which plugins the CLI loads, where it finds them, and loading them: before
 * commander builds the commands, because the options their sinks declare
 * become flags (sink-options.ts).
 *
 * Named by (all of them, in this order, each once): `--plugin <x>` on the
 * command line (repeatable, before or after the command), SHMSNAP_PLUGINS
 * (comma-separated), and the configuration file's `plugins` (a list).
 * Nothing loads implicitly; the built-in plugins are registered first, the
 * same way.
 *
 * A name is resolved as Node users expect:
 * - a path (`/…`, `./…`, `../…`; relative to the working directory, or to
 *   the configuration file for its own entries): a file is imported, a
 *   directory is a package (its package.json `exports`, else `main`, else
 *   index.js);
 * - a package name: from each of the file's `pluginPaths` (a node_modules
 *   directory, or one that holds a node_modules), then each NODE_PATH entry,
 *   then the global prefix where `npm i -g` puts packages (npm_config_prefix,
 *   else the prefix of this Node: `<execPath>/../../lib/node_modules`),
 *   computed without running npm.
 *
 * A plugin's default export (or its `plugin` export) is checked by core's
 * `validatePlugin`. A plugin that cannot be used (not found, throwing on
 * import, of the wrong shape or plugin API version, or offering a scheme or
 * codec another plugin has) is PLUGIN_INVALID (REGISTRY_DUPLICATE for the
 * last), one line. Named by `--plugin`, it is fatal: the command line asked
 * for it for this command. Named by the environment or the file, it is a
 * warning line on stderr and the command runs without it; a command that
 * asks for a scheme or codec nothing provides then gets that error (the
 * registry's `registerFailure`), and `shmsnap plugins` lists it as failed.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRegistry, errConfigInvalid, errPluginInvalid, isShmsnapError, validatePlugin, type Registry, type ShmsnapError, type ShmsnapPlugin } from '@shmsnap/core';
import type { ConfigFile } from './config.js';
import { BUILTIN_PLUGINS } from './default-registry.js';

export const PLUGINS_ENV = 'SHMSNAP_PLUGINS';

export type PluginSource = 'flag' | 'env' | 'file';

export interface PluginRequest {
  /** As the user wrote it. */
  readonly name: string;
  readonly source: PluginSource;
  /** What relative paths are relative to. */
  readonly base: string;
}

export interface PluginSearch {
  /** The configuration file's `pluginPaths`, absolute. */
  readonly pluginPaths: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly execPath: string;
}

/** `--plugin x`, `--plugin=x`, anywhere before a `--` that ends the options. */
export function pluginFlags(argv: readonly string[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg === '--plugin' && i + 1 < argv.length) names.push(argv[++i]!);
    else if (arg.startsWith('--plugin=')) names.push(arg.slice('--plugin='.length));
  }
  return names;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The file's `plugins` and `pluginPaths`, checked: a list of non-empty strings each. */
export function pluginSettingsOf(file: ConfigFile): { plugins: string[]; pluginPaths: string[]; problems: ShmsnapError[] } {
  const problems: ShmsnapError[] = [];
  const list = (key: string): string[] => {
    const value = file.values[key];
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
      problems.push(errConfigInvalid(`${file.path}: ${key}`, `must be a list of ${key === 'plugins' ? 'package names or paths' : 'directories'}, got ${JSON.stringify(value)}`).withDetails({ source: 'file', key }));
      return [];
    }
    return value as string[];
  };
  const base = file.path === null ? process.cwd() : dirname(resolve(file.path));
  return { plugins: list('plugins'), pluginPaths: list('pluginPaths').map((dir) => resolve(base, dir)), problems };
}

/** Every plugin named, in order (flag, environment, file's `plugins`), each once by name. */
export function pluginRequests(argv: readonly string[], env: NodeJS.ProcessEnv, file: ConfigFile, filePlugins: readonly string[], cwd = process.cwd()): PluginRequest[] {
  const fileBase = file.path === null ? cwd : dirname(resolve(cwd, file.path));
  const all: PluginRequest[] = [
    ...pluginFlags(argv).map((name) => ({ name, source: 'flag' as const, base: cwd })),
    ...(env[PLUGINS_ENV] ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '')
      .map((name) => ({ name, source: 'env' as const, base: cwd })),
    ...filePlugins.map((name) => ({ name, source: 'file' as const, base: fileBase })),
  ];
  const key = (r: PluginRequest): string => (isPath(r.name) ? resolve(r.base, r.name) : r.name);
  return all.filter((request, i) => all.findIndex((other) => key(other) === key(request)) === i);
}

function isPath(name: string): boolean {
  return isAbsolute(name) || name.startsWith('./') || name.startsWith('../') || name === '.' || name === '..';
}

/** The global node_modules directories, in the order searched: NODE_PATH's, then npm's global prefix. */
export function globalRoots(env: NodeJS.ProcessEnv, execPath: string): string[] {
  const fromNodePath = (env.NODE_PATH ?? '').split(':').filter((dir) => dir !== '');
  const prefix = env.npm_config_prefix || env.NPM_CONFIG_PREFIX || resolve(dirname(execPath), '..');
  return [...fromNodePath, join(prefix, 'lib', 'node_modules')];
}

/** The import target of an export map's entry for `import` in Node (string, conditions, or `.`). */
function exportTarget(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(exportTarget).find((v) => v !== undefined);
  if (!isObject(value)) return undefined;
  if ('.' in value) return exportTarget(value['.']);
  for (const condition of ['import', 'node', 'default']) if (condition in value) return exportTarget(value[condition]);
  return undefined;
}

/** The file a package directory's main entry is (exports, else main, else index.js). */
export function packageEntry(dir: string): string {
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) return join(dir, 'index.js');
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${manifest} is not valid JSON (${(error as Error).message})`);
  }
  const target = pkg.exports === undefined ? undefined : exportTarget(pkg.exports);
  if (pkg.exports !== undefined && target === undefined) throw new Error(`${manifest} exports no "." entry for import`);
  return join(dir, target ?? (typeof pkg.main === 'string' ? pkg.main : 'index.js'));
}

/** Where a name was found (the file to import), or the places looked in. */
export function resolvePlugin(request: PluginRequest, search: PluginSearch): { file: string } | { lookedIn: string[] } {
  if (isPath(request.name)) {
    const path = resolve(request.base, request.name);
    if (!existsSync(path)) return { lookedIn: [path] };
    return { file: statSync(path).isDirectory() ? packageEntry(path) : path };
  }
  const roots = [...search.pluginPaths.flatMap((dir) => [join(dir, 'node_modules'), dir]), ...globalRoots(search.env, search.execPath)];
  for (const root of roots) {
    const dir = join(root, request.name);
    if (existsSync(join(dir, 'package.json'))) return { file: packageEntry(dir) };
  }
  return { lookedIn: roots };
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  return text.split('\n')[0]!.trim();
}

/** Imports `request` and checks it; PLUGIN_INVALID for any reason it cannot be used. */
export async function importPlugin(request: PluginRequest, search: PluginSearch): Promise<{ plugin: ShmsnapPlugin; file: string }> {
  let found: ReturnType<typeof resolvePlugin>;
  try {
    found = resolvePlugin(request, search);
  } catch (error) {
    throw errPluginInvalid(request.name, `cannot read its package: ${oneLine(error)}`, { source: request.source });
  }
  if ('lookedIn' in found) throw errPluginInvalid(request.name, `not found (looked in ${found.lookedIn.join(', ')})`, { source: request.source, lookedIn: found.lookedIn });
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(found.file).href)) as Record<string, unknown>;
  } catch (error) {
    throw errPluginInvalid(request.name, `importing ${found.file} failed: ${oneLine(error)}`, { source: request.source, file: found.file }, error);
  }
  const value = module.default ?? module.plugin;
  try {
    return { plugin: validatePlugin(value, request.name), file: found.file };
  } catch (error) {
    throw isShmsnapError(error) ? error.withDetails({ source: request.source, file: found.file }) : error;
  }
}

export interface LoadedPlugins {
  readonly registry: Registry;
  /** Plugins named by `--plugin` that failed: the command does not run. */
  readonly fatal: readonly ShmsnapError[];
  /** The others that failed: one warning line each; the command runs without them. */
  readonly warnings: readonly ShmsnapError[];
}

/** A registry of the built-in plugins, then every plugin requested that loads. */
export async function loadPlugins(requests: readonly PluginRequest[], search: PluginSearch): Promise<LoadedPlugins> {
  const registry = createRegistry();
  for (const plugin of BUILTIN_PLUGINS) registry.registerPlugin(plugin);
  const fatal: ShmsnapError[] = [];
  const warnings: ShmsnapError[] = [];
  // Imported one after another: a plugin's import must not race another's, and the order of registration is the order named.
  for (const request of requests) {
    try {
      const { plugin, file } = await importPlugin(request, search);
      registry.registerPlugin(plugin, { requested: request.name, from: file });
    } catch (error) {
      const failure = isShmsnapError(error) ? error.withDetails({ source: request.source }) : errPluginInvalid(request.name, oneLine(error), { source: request.source }, error);
      registry.registerFailure({ requested: request.name, from: typeof failure.details.file === 'string' ? failure.details.file : '', error: failure });
      (request.source === 'flag' ? fatal : warnings).push(failure);
    }
  }
  return { registry, fatal, warnings };
}
