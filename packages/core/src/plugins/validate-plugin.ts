/**
 * The host's check of a plugin before anything of it is registered
 * (contracts/plugin.ts): the shape, then the API version. A plugin is
 * checked whole, so a host never half-loads one; the first problem is the
 * error (PLUGIN_INVALID naming the plugin, and where it came from).
 *
 * The check is structural: a plugin built against another copy of
 * `@shmsnap/core` (installed elsewhere, with its own node_modules) passes as
 * long as its objects have the contract's shape.
 */
import { PLUGIN_API_VERSION, type ShmsnapPlugin } from '../contracts/plugin.js';
import type { SinkOptionSpec } from '../contracts/sink.js';
import { errPluginInvalid } from '../errors.js';

/** A URL scheme as `schemeOf` reads one, lower case (`s3`, `azblob`). */
const SCHEME = /^[a-z][a-z0-9+.-]*$/;
/** camelCase: the host derives `--<scheme>-<kebab>` and `SHMSNAP_<SCHEME>_<SNAKE>` from it. */
const OPTION_NAME = /^[a-z][a-zA-Z0-9]*$/;
const OPTION_TYPES: readonly string[] = ['string', 'integer', 'boolean', 'choice'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionProblem(spec: unknown, seen: Set<string>): string | undefined {
  if (!isObject(spec)) return 'is not an object';
  const { name, type, description, choices, min, max, env } = spec as Partial<SinkOptionSpec> & Record<string, unknown>;
  if (typeof name !== 'string' || !OPTION_NAME.test(name)) return `has name ${JSON.stringify(name)}: must be camelCase letters and digits (partSizeMib)`;
  if (seen.has(name)) return `${name} is declared twice`;
  seen.add(name);
  if (typeof type !== 'string' || !OPTION_TYPES.includes(type)) return `${name} has type ${JSON.stringify(type)}: must be ${OPTION_TYPES.join(', ')}`;
  if (typeof description !== 'string' || description === '') return `${name} has no description`;
  if (type === 'choice' && (!Array.isArray(choices) || choices.length === 0 || !choices.every((c) => typeof c === 'string'))) return `${name} is a choice without choices`;
  if (min !== undefined && !Number.isSafeInteger(min)) return `${name} has min ${JSON.stringify(min)}: must be an integer`;
  if (max !== undefined && !Number.isSafeInteger(max)) return `${name} has max ${JSON.stringify(max)}: must be an integer`;
  if (env !== undefined && (!Array.isArray(env) || !env.every((v) => typeof v === 'string' && /^[A-Z_][A-Z0-9_]*$/.test(v)))) return `${name} has env ${JSON.stringify(env)}: must be variable names`;
  return undefined;
}

function sinkProblem(provider: unknown, index: number): string | undefined {
  const which = `sinks[${index}]`;
  if (!isObject(provider)) return `${which} is not a sink provider object`;
  const { schemes, create, options, redact } = provider;
  if (!Array.isArray(schemes) || schemes.length === 0) return `${which} has no schemes`;
  for (const scheme of schemes) if (typeof scheme !== 'string' || !SCHEME.test(scheme)) return `${which} has scheme ${JSON.stringify(scheme)}: must be lower case, without the colon (azblob)`;
  if (typeof create !== 'function') return `${which} (${schemes.join(', ')}) has no create() function`;
  if (redact !== undefined && typeof redact !== 'function') return `${which} (${schemes.join(', ')}) has a redact that is not a function`;
  if (options !== undefined) {
    if (!Array.isArray(options)) return `${which} (${schemes.join(', ')}) has options that are not an array`;
    const seen = new Set<string>();
    for (const [i, spec] of options.entries()) {
      const problem = optionProblem(spec, seen);
      if (problem) return `${which} (${schemes.join(', ')}) option ${i}: ${problem}`;
    }
  }
  return undefined;
}

function codecProblem(codec: unknown, index: number): string | undefined {
  const which = `codecs[${index}]`;
  if (!isObject(codec)) return `${which} is not a codec object`;
  const { name, extension, createEncoder, createDecoder, needsRawCrc32, headerBytes } = codec;
  if (typeof name !== 'string' || name === '') return `${which} has no name`;
  if (typeof extension !== 'string') return `codec ${name} has no extension`;
  if (typeof createEncoder !== 'function' || typeof createDecoder !== 'function') return `codec ${name} lacks createEncoder() or createDecoder()`;
  if (typeof needsRawCrc32 !== 'boolean' || typeof headerBytes !== 'number') return `codec ${name} lacks needsRawCrc32 or headerBytes`;
  return undefined;
}

/**
 * `value` as a plugin, or PLUGIN_INVALID naming it (`from`: what the user
 * named, a package or a path) and, once its name is known, its name, version
 * and API version beside this core's.
 */
export function validatePlugin(value: unknown, from: string): ShmsnapPlugin {
  const fail = (reason: string, details: Record<string, unknown> = {}): never => {
    throw errPluginInvalid(from, reason, { from, ...details });
  };
  if (!isObject(value)) return fail('its default export is not a plugin object (export default definePlugin({ name, version, apiVersion, sinks, codecs }))');
  const { name, version, apiVersion, sinks, codecs } = value;
  if (typeof name !== 'string' || name === '') return fail('the plugin object has no name');
  const who = name === from ? name : `${name} (from ${from})`;
  if (typeof version !== 'string' || version === '') return fail(`${who} has no version`, { name });
  if (apiVersion !== PLUGIN_API_VERSION) {
    return fail(`${name} ${version} is built for plugin API version ${JSON.stringify(apiVersion)}; this shmsnap speaks version ${PLUGIN_API_VERSION}`, {
      name,
      version,
      apiVersion,
      expectedApiVersion: PLUGIN_API_VERSION,
    });
  }
  if (sinks !== undefined && !Array.isArray(sinks)) return fail(`${who}: sinks is not an array`, { name, version });
  if (codecs !== undefined && !Array.isArray(codecs)) return fail(`${who}: codecs is not an array`, { name, version });
  if ((sinks?.length ?? 0) + (codecs?.length ?? 0) === 0) return fail(`${who} provides neither a sink nor a codec`, { name, version });
  for (const [i, provider] of (sinks ?? []).entries()) {
    const problem = sinkProblem(provider, i);
    if (problem) return fail(`${who}: ${problem}`, { name, version });
  }
  for (const [i, codec] of (codecs ?? []).entries()) {
    const problem = codecProblem(codec, i);
    if (problem) return fail(`${who}: ${problem}`, { name, version });
  }
  return value as unknown as ShmsnapPlugin;
}
