/**
 * The explicit registry: sinks by URL scheme, codecs by name. Nothing
 * registers itself on import; the application (the CLI) composes one
 * registry from the plugins it chose (`registerPlugin`), and remembers which
 * plugin gave which scheme and codec (for `shmsnap plugins`, and to name
 * both plugins when two offer the same one). A duplicate registration throws.
 *
 * A plugin the host could not load is recorded (`registerFailure`) rather
 * than fatal: a command that never asks for an unknown scheme or codec runs
 * as if it were not named; one that does gets the plugin's own error
 * (PLUGIN_INVALID: the plugin might have provided it) instead of
 * SCHEME_UNKNOWN or CODEC_UNKNOWN.
 *
 * A plain path (`/var/backups/x`, `./x`) and `file:///...` both resolve to
 * the `file` scheme.
 */
import { errCodecUnknown, errConfigInvalid, errRegistryDuplicate, errSchemeUnknown, type ShmsnapError } from '../errors.js';
import type { Codec } from '../contracts/codec.js';
import type { ShmsnapPlugin } from '../contracts/plugin.js';
import type { Sink, SinkProvider } from '../contracts/sink.js';
import { withSinkContext } from './with-plugin-context.js';

/** Where a plugin came from: `builtin`, or the file it was imported from. */
export interface PluginOrigin {
  /** What the user named (`shmsnap-sink-azure`, `./my-sink.js`); the package name for built-in plugins. */
  readonly requested: string;
  /** `builtin`, or the resolved file imported. */
  readonly from: string;
}

export interface RegisteredPlugin extends PluginOrigin {
  readonly plugin: ShmsnapPlugin;
  readonly schemes: readonly string[];
  readonly codecs: readonly string[];
}

export interface FailedPlugin extends PluginOrigin {
  readonly error: ShmsnapError;
}

/** One sink provider and the plugin that gave it. */
export interface RegisteredSinkProvider {
  readonly provider: SinkProvider<never>;
  /** The plugin's name; undefined for a provider registered on its own (`registerSink`). */
  readonly plugin: string | undefined;
}

export interface Registry {
  registerSink(provider: SinkProvider<never>): void;
  registerCodec(codec: Codec): void;
  /**
   * Every sink and codec of `plugin` (already checked by `validatePlugin`),
   * or none: a scheme or codec name another plugin has is REGISTRY_DUPLICATE
   * naming both plugins, and nothing of this one is registered.
   */
  registerPlugin(plugin: ShmsnapPlugin, origin?: PluginOrigin): void;
  /** A plugin the host could not load (see the top of this file). */
  registerFailure(failure: FailedPlugin): void;
  /** The plugins registered, in order, then the ones that failed. */
  plugins(): { readonly loaded: readonly RegisteredPlugin[]; readonly failed: readonly FailedPlugin[] };
  /** Every sink provider, in registration order, each once. */
  sinkProviders(): readonly RegisteredSinkProvider[];
  /** The sink for `location`, created with `options` for its provider. */
  openSink(location: string, options?: Record<string, unknown>): Promise<Sink>;
  codec(name: string): Codec;
  codecs(): readonly Codec[];
  /** The codec whose extension ends `objectName` (longest match), if any. */
  codecForObject(objectName: string): Codec | undefined;
  schemes(): readonly string[];
  /** `location` with secrets removed by its provider, for logs. */
  redact(location: string): string;
}

/** `s3://b/p` → `s3`; `/x`, `./x`, `x` → `file`; `C:`-like one-letter schemes are not a concern on Linux. */
export function schemeOf(location: string): string {
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(location);
  return match ? match[1]!.toLowerCase() : 'file';
}

export function createRegistry(): Registry {
  const sinks = new Map<string, SinkProvider<never>>();
  const codecs = new Map<string, Codec>();
  /** Which plugin gave each scheme and codec (absent: registered on its own). */
  const schemeOwner = new Map<string, string>();
  const codecOwner = new Map<string, string>();
  const providerOwner = new Map<SinkProvider<never>, string | undefined>();
  const loaded: RegisteredPlugin[] = [];
  const failed: FailedPlugin[] = [];

  /** A plugin that failed to load may have been the one to provide `what`: its error says more than "unknown". */
  function failureInstead(what: Record<string, unknown>): ShmsnapError | undefined {
    const first = failed[0];
    return first?.error.withDetails({ wanted: what, ...(failed.length > 1 ? { more: failed.slice(1).map((f) => f.error.message) } : {}) });
  }

  function duplicate(kind: string, name: string, owner: string | undefined, by: string | undefined): ShmsnapError {
    return errRegistryDuplicate(kind, name, owner !== undefined && by !== undefined ? [owner, by] : undefined);
  }

  function providerFor(location: string): SinkProvider<never> {
    // Refused here, for every sink: an empty location (an unset shell variable) would be the
    // current directory, and `s3:/bucket` (one slash) a local directory named `s3:`.
    if (location.trim() === '') throw errConfigInvalid('location', 'empty (an unset shell variable?): give a directory, file:///absolute/path or s3://bucket/prefix');
    const bare = /^([a-zA-Z][a-zA-Z0-9+.-]*):(?!\/\/)/.exec(location);
    const scheme = bare?.[1]!.toLowerCase();
    if (scheme !== undefined && sinks.has(scheme)) {
      const shown = location.includes('@') ? `${scheme}:…` : location; // may hold a password
      throw errConfigInvalid(`location ${shown}`, `${scheme} locations are written ${scheme}://… (two slashes after the colon)`);
    }
    const provider = sinks.get(schemeOf(location));
    if (!provider) throw failureInstead({ scheme: schemeOf(location) }) ?? errSchemeUnknown(location, [...sinks.keys()]);
    return provider;
  }

  function checkSink(provider: SinkProvider<never>, by: string | undefined): void {
    for (const scheme of provider.schemes) {
      if (sinks.has(scheme)) throw duplicate('sink scheme', scheme, schemeOwner.get(scheme), by);
    }
  }

  function addSink(provider: SinkProvider<never>, by: string | undefined): void {
    for (const scheme of provider.schemes) {
      sinks.set(scheme, provider);
      if (by !== undefined) schemeOwner.set(scheme, by);
    }
    providerOwner.set(provider, by);
  }

  function checkCodec(codec: Codec, by: string | undefined): void {
    if (codecs.has(codec.name)) throw duplicate('codec', codec.name, codecOwner.get(codec.name), by);
  }

  function addCodec(codec: Codec, by: string | undefined): void {
    codecs.set(codec.name, codec);
    if (by !== undefined) codecOwner.set(codec.name, by);
  }

  return {
    registerSink(provider) {
      checkSink(provider, undefined);
      addSink(provider, undefined);
    },
    registerCodec(codec) {
      checkCodec(codec, undefined);
      addCodec(codec, undefined);
    },
    registerPlugin(plugin, origin = { requested: plugin.name, from: 'builtin' }) {
      const own = plugin.sinks ?? [];
      const ownCodecs = plugin.codecs ?? [];
      // All checked before any is added: a plugin is registered whole or not at all (its own duplicates included).
      const schemes = own.flatMap((p) => [...p.schemes]);
      const repeated = schemes.find((scheme, i) => schemes.indexOf(scheme) !== i);
      if (repeated !== undefined) throw duplicate('sink scheme', repeated, plugin.name, plugin.name);
      const names = ownCodecs.map((c) => c.name);
      const repeatedCodec = names.find((name, i) => names.indexOf(name) !== i);
      if (repeatedCodec !== undefined) throw duplicate('codec', repeatedCodec, plugin.name, plugin.name);
      for (const provider of own) checkSink(provider, plugin.name);
      for (const codec of ownCodecs) checkCodec(codec, plugin.name);
      for (const provider of own) addSink(provider, plugin.name);
      for (const codec of ownCodecs) addCodec(codec, plugin.name);
      loaded.push({ ...origin, plugin, schemes, codecs: names });
    },
    registerFailure(failure) {
      failed.push(failure);
    },
    plugins() {
      return { loaded: [...loaded], failed: [...failed] };
    },
    sinkProviders() {
      return [...providerOwner].map(([provider, plugin]) => ({ provider, plugin }));
    },
    async openSink(location, options) {
      return withSinkContext(await (providerFor(location) as SinkProvider<Record<string, unknown> | undefined>).create(location, options));
    },
    codec(name) {
      const codec = codecs.get(name);
      if (!codec) throw failureInstead({ codec: name }) ?? errCodecUnknown(name, [...codecs.keys()]);
      return codec;
    },
    codecs() {
      return [...codecs.values()];
    },
    codecForObject(objectName) {
      let best: Codec | undefined;
      for (const codec of codecs.values()) {
        if (objectName.endsWith(codec.extension) && (!best || codec.extension.length > best.extension.length)) best = codec;
      }
      return best;
    },
    schemes() {
      return [...sinks.keys()];
    },
    redact(location) {
      const provider = sinks.get(schemeOf(location));
      return provider?.redact ? provider.redact(location) : location;
    },
  };
}
