/**
 * The one place where the CLI chooses its plugins. Nothing registers itself:
 * adding a sink or codec to the CLI is one line here. Each provider composes
 * its own wrappers (S3: retries) and loads its heavy dependencies only when a
 * location needs them (S3: the AWS SDK, ~90 ms); the registry adds the
 * plugin context to every sink it opens.
 */
import { codecNone, createRegistry, type Registry } from '@shmsnap/core';
import { codecGzip } from '@shmsnap/codec-gzip';
import { codecZstd } from '@shmsnap/codec-zstd';
import { localSinkProvider } from '@shmsnap/sink-local';
import { s3SinkProvider } from '@shmsnap/sink-s3/provider';

export function createDefaultRegistry(): Registry {
  const registry = createRegistry();
  registry.registerSink(localSinkProvider);
  registry.registerSink(s3SinkProvider);
  registry.registerCodec(codecNone);
  registry.registerCodec(codecGzip);
  registry.registerCodec(codecZstd);
  return registry;
}
