/**
 * The one place where the CLI chooses its plugins and composes their
 * wrappers. Nothing registers itself: adding a sink or codec to the CLI is
 * one line here.
 */
import { codecNone, createRegistry, withRetry, type Registry, type SinkProvider } from '@shmsnap/core';
import { codecGzip } from '@shmsnap/codec-gzip';
import { codecZstd } from '@shmsnap/codec-zstd';
import { localSinkProvider } from '@shmsnap/sink-local';
import type { S3SinkOptions } from '@shmsnap/sink-s3';
import { redactS3Location } from '@shmsnap/sink-s3/location';

/** Remote stores fail transiently (throttling, 5xx, dropped connections): reads and listings are retried. */
const REMOTE_RETRY = { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 } as const;

const s3Provider: SinkProvider<S3SinkOptions> = {
  schemes: ['s3'],
  // The AWS SDK takes ~90 ms to load: only S3 locations pay for it.
  async create(location, options) {
    const { createS3Sink } = await import('@shmsnap/sink-s3');
    return withRetry(createS3Sink(location, { retry: REMOTE_RETRY, ...options }), REMOTE_RETRY);
  },
  redact: redactS3Location,
};

export function createDefaultRegistry(): Registry {
  const registry = createRegistry();
  registry.registerSink(localSinkProvider);
  registry.registerSink(s3Provider);
  registry.registerCodec(codecNone);
  registry.registerCodec(codecGzip);
  registry.registerCodec(codecZstd);
  return registry;
}
