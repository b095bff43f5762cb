/**
 * The S3 sink as a registry provider, light to load: neither this file nor
 * what it imports loads the AWS SDK (about 90 ms), so a program that
 * registers it pays for the SDK only once a location is on S3. This is the
 * `@shmsnap/sink-s3/provider` entry; nothing registers itself.
 *
 * `create` imports the sink then, and composes it with core's `withRetry`:
 * a remote store fails transiently (throttling, 5xx, dropped connections),
 * so reads, listings and removals are retried by the wrapper, and the
 * writer retries its own requests under the same policy.
 */
import { withRetry, type RetryPolicy, type SinkProvider } from '@shmsnap/core/plugin-kit';
import { redactS3Location } from './s3-location.js';
import type { S3SinkOptions } from './s3-options.js';

/** Long enough to ride out throttling and a store restarting, short enough to fail a dead one within a minute. */
export const S3_REMOTE_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 };

export interface S3SinkProviderOptions {
  /**
   * How the sink's calls and its writers' requests are retried. A location's
   * own `retry` option still decides for its writers.
   * @default S3_REMOTE_RETRY
   */
  readonly retry?: RetryPolicy;
}

export function createS3SinkProvider(providerOptions: S3SinkProviderOptions = {}): SinkProvider<S3SinkOptions> {
  const retry = providerOptions.retry ?? S3_REMOTE_RETRY;
  return {
    schemes: ['s3'],
    async create(location, options) {
      const { createS3Sink } = await import('./s3-sink.js');
      return withRetry(await createS3Sink(location, { retry, ...options }), retry);
    },
    redact: redactS3Location,
  };
}

/** The provider with the default retry policy. */
export const s3SinkProvider: SinkProvider<S3SinkOptions> = createS3SinkProvider();
