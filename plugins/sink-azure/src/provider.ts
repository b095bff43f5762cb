/**
 * The Azure sink as a registry provider, light to load: neither this file
 * nor what it imports loads `@azure/storage-blob`, so a host that loads the
 * plugin pays for the SDK only once an `azblob://` location is opened.
 *
 * `create` imports the sink then and composes it with core's `withRetry`
 * (reads, listings, lookups and removals retried, a broken download resumed
 * from the byte it reached); the writer retries its own block and commit
 * requests under the same policy.
 */
import { withRetry, type RetryPolicy, type SinkProvider } from '@shmsnap/core/plugin-kit';
import { AZURE_SCHEME, redactAzureLocation } from './azure-location.js';
import { AZURE_REMOTE_RETRY, AZURE_SINK_OPTIONS, type AzureSinkOptions } from './azure-options.js';

export { AZURE_REMOTE_RETRY };

export interface AzureSinkProviderOptions {
  /** How the sink's calls and its writers' requests are retried. @default AZURE_REMOTE_RETRY */
  readonly retry?: RetryPolicy;
}

export function createAzureSinkProvider(providerOptions: AzureSinkProviderOptions = {}): SinkProvider<AzureSinkOptions> {
  const retry = providerOptions.retry ?? AZURE_REMOTE_RETRY;
  return {
    schemes: [AZURE_SCHEME],
    options: AZURE_SINK_OPTIONS,
    description: 'Azure Blob Storage (azblob://account/container/prefix)',
    async create(location, options = {}) {
      const { createAzureSink } = await import('./azure-sink.js');
      const policy = options.retry ?? retry;
      return withRetry(await createAzureSink(location, { ...options, retry: policy }), policy);
    },
    redact: redactAzureLocation,
  };
}

/** The provider with the default retry policy. */
export const azureSinkProvider: SinkProvider<AzureSinkOptions> = createAzureSinkProvider();
