/**
 * The one place where the CLI chooses its plugins. Nothing registers itself:
 * adding a sink or codec to the CLI is one line here.
 */
import { codecNone, createRegistry, type Registry } from '@shmsnap/core';
import { codecGzip } from '@shmsnap/codec-gzip';
import { codecZstd } from '@shmsnap/codec-zstd';
import { localSinkProvider } from '@shmsnap/sink-local';

export function createDefaultRegistry(): Registry {
  const registry = createRegistry();
  registry.registerSink(localSinkProvider);
  registry.registerCodec(codecNone);
  registry.registerCodec(codecGzip);
  registry.registerCodec(codecZstd);
  return registry;
}
