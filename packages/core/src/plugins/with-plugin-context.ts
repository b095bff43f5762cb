/**
 * The one place where a sink's failures get their context. `withSinkContext`
 * wraps every call of a sink — its methods, the streams it returns, and a
 * writer's `commit` and `abort` — so that every failure that leaves the sink
 * is a ShmsnapError carrying `details.plugin`, a fixed `details.stage` and
 * `details.object` (see `withPluginContext`). The registry applies it when it
 * opens a sink; nothing else wraps plugin errors, so nothing can forget to.
 *
 * Guarantees:
 * - The wrapped sink behaves exactly like the sink (same objects, same
 *   streams, same capabilities); only the errors it raises or emits change.
 * - Wrapping twice adds nothing: an error that already names a plugin is
 *   passed through as it is.
 */
import type { Readable, Writable } from 'node:stream';
import type { Sink, SinkWriter } from '../contracts/sink.js';
import { withPluginContext, type PluginStage } from '../errors.js';

const WRAPPED = Symbol.for('shmsnap.sink-context');

type Destroyable = (Readable | Writable) & { _destroy(error: Error | null, callback: (error?: Error | null) => void): void };

/** Maps the error a stream is destroyed with (its `error` event) through the plugin's context. */
function contextStream<S extends Readable | Writable>(stream: S, plugin: string, stage: PluginStage, object: string): S {
  const target = stream as S & Destroyable;
  const destroy = target._destroy.bind(target);
  target._destroy = (error, callback) => destroy(error, (after) => callback(after ? withPluginContext(after, plugin, stage, object) : after));
  return stream;
}

export function withSinkContext(sink: Sink): Sink {
  if ((sink as unknown as Record<symbol, unknown>)[WRAPPED] === true) return sink;
  const plugin = sink.name;
  const call = async <T>(stage: PluginStage, object: string | undefined, body: () => Promise<T>): Promise<T> => {
    try {
      return await body();
    } catch (error) {
      throw withPluginContext(error, plugin, stage, object);
    }
  };
  const wrapped: Sink = {
    name: sink.name,
    location: sink.location,
    capabilities: sink.capabilities,
    async openWriter(name, options) {
      const writer = await call('open-writer', name, () => sink.openWriter(name, options));
      const contextual: SinkWriter = {
        stream: contextStream(writer.stream, plugin, 'write', name),
        commit: () => call('commit', name, () => writer.commit()),
        abort: (reason) => call('abort', name, () => writer.abort(reason)),
      };
      return contextual;
    },
    async openReader(name, options) {
      return contextStream(await call('read', name, () => sink.openReader(name, options)), plugin, 'read', name);
    },
    ...(sink.openRandomReader
      ? {
          async openRandomReader(name: string, options?: { readonly signal?: AbortSignal }) {
            const reader = await call('read', name, () => sink.openRandomReader!(name, options));
            return {
              size: reader.size,
              read: (target: Uint8Array, position: number) => call('read', name, () => reader.read(target, position)),
              close: () => call('read', name, () => reader.close()),
            };
          },
        }
      : {}),
    stat: (name, options) => call('stat', name, () => sink.stat(name, options)),
    list: (prefix, options) => call('list', undefined, () => sink.list(prefix, options)),
    remove: (name, options) => call('remove', name, () => sink.remove(name, options)),
    ...(sink.freeBytes ? { freeBytes: () => call('stat', undefined, () => sink.freeBytes!()) } : {}),
    ...(sink.checkWritable ? { checkWritable: (options?: Parameters<NonNullable<Sink['checkWritable']>>[0]) => call('open-writer', undefined, () => sink.checkWritable!(options)) } : {}),
    ...(sink.checkExists ? { checkExists: (options?: Parameters<NonNullable<Sink['checkExists']>>[0]) => call('stat', undefined, () => sink.checkExists!(options)) } : {}),
    ...(sink.sweep ? { sweep: (options: Parameters<NonNullable<Sink['sweep']>>[0]) => call('remove', undefined, () => sink.sweep!(options)) } : {}),
    ...(sink.close ? { close: () => sink.close!() } : {}),
  };
  Object.defineProperty(wrapped, WRAPPED, { value: true });
  return wrapped;
}
