/**
 * The explicit registry: sinks by URL scheme, codecs by name. Nothing
 * registers itself on import; the application (the CLI) composes one
 * registry from the packages it chose. A duplicate registration throws.
 *
 * A plain path (`/var/backups/x`, `./x`) and `file:///...` both resolve to
 * the `file` scheme.
 */
import { errCodecUnknown, errConfigInvalid, errRegistryDuplicate, errSchemeUnknown } from '../errors.js';
import type { Codec } from '../contracts/codec.js';
import type { Sink, SinkProvider } from '../contracts/sink.js';
import { withSinkContext } from './with-plugin-context.js';

export interface Registry {
  registerSink(provider: SinkProvider<never>): void;
  registerCodec(codec: Codec): void;
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
    if (!provider) throw errSchemeUnknown(location, [...sinks.keys()]);
    return provider;
  }

  return {
    registerSink(provider) {
      for (const scheme of provider.schemes) {
        if (sinks.has(scheme)) throw errRegistryDuplicate('sink scheme', scheme);
      }
      for (const scheme of provider.schemes) sinks.set(scheme, provider);
    },
    registerCodec(codec) {
      if (codecs.has(codec.name)) throw errRegistryDuplicate('codec', codec.name);
      codecs.set(codec.name, codec);
    },
    async openSink(location, options) {
      return withSinkContext(await (providerFor(location) as SinkProvider<Record<string, unknown> | undefined>).create(location, options));
    },
    codec(name) {
      const codec = codecs.get(name);
      if (!codec) throw errCodecUnknown(name, [...codecs.keys()]);
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
