/**
 * The plugin contract: how a package outside shmsnap adds sinks and codecs.
 *
 * A plugin is an npm package (or a file) whose default export is a plain
 * object `{ name, version, apiVersion, sinks?, codecs? }`, built with
 * `definePlugin` from `@shmsnap/core/plugin-kit`. The built-in sinks and
 * codecs are plugins of exactly this shape and are registered the same way.
 *
 * Guarantees a plugin gives
 * - Importing it has no effect beyond building that object: it registers
 *   nothing, opens nothing, reads no environment and starts no timers.
 *   Heavy dependencies (an SDK) are loaded when a location of its scheme is
 *   first opened, so loading the plugin costs a command that does not use it
 *   nothing measurable.
 * - `apiVersion` is the `PLUGIN_API_VERSION` of the `@shmsnap/core` it was
 *   built against. A host refuses a plugin whose `apiVersion` differs from its
 *   own with PLUGIN_INVALID naming the plugin, its version and both API
 *   versions; it never half-loads one.
 * - Every sink provider in `sinks` implements `contracts/sink.ts` and passes
 *   `describeSinkConformance`; every codec implements `contracts/codec.ts` and
 *   passes `describeCodecConformance`.
 * - The options a provider declares (`SinkProvider.options`) are the only
 *   options its `create()` reads from the host. The host turns each into a
 *   flag `--<scheme>-<option-in-kebab-case>` and an environment variable
 *   `SHMSNAP_<SCHEME>_<OPTION_IN_SNAKE_CASE>` (plus the provider's own
 *   standard variables, `env`), parses the value by `type` before calling
 *   `create()`, and passes only what the user gave, keyed by `name`. Defaults
 *   are applied by the provider; `default` is what help shows.
 * - A `secret` option's value is never printed by the host (help, `config`,
 *   errors, JSON, events) and a provider MUST NOT put it in an error's
 *   message or details. Secrets are not accepted from a config file's
 *   option values in clear unless the provider says so (they belong in the
 *   environment or a file readable only by the operator).
 */
import type { Codec } from './codec.js';
import type { SinkProvider } from './sink.js';

/** The version of this contract. A change a plugin could notice raises it. */
export const PLUGIN_API_VERSION = 1;

export interface ShmsnapPlugin {
  /** The npm package name (`shmsnap-sink-azure`, `@shmsnap/sink-s3`). */
  readonly name: string;
  /** The package's version, shown by `shmsnap plugins`. */
  readonly version: string;
  /** `PLUGIN_API_VERSION` of the core it was built against. */
  readonly apiVersion: number;
  readonly sinks?: readonly SinkProvider<never>[];
  readonly codecs?: readonly Codec[];
}

/** Typing help for a plugin's default export; returns its argument unchanged. */
export function definePlugin(plugin: ShmsnapPlugin): ShmsnapPlugin {
  return plugin;
}
