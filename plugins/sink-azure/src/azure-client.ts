/**
 * The SDK's client for one container, built from resolved options. This is
 * the only module besides `azure-sink.ts` that imports `@azure/storage-blob`,
 * and both are loaded by the provider when a location is first opened.
 *
 * The SDK's own retries are off (`maxTries: 1`): retrying is core's
 * `retryOperation` and `withRetry`, one policy in one place, and a stacked
 * SDK retry would multiply the attempts (4 × 6) and hide each from the
 * policy's `onRetry`.
 */
import { AnonymousCredential, ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import type { ResolvedAzureOptions } from './azure-options.js';

export function createContainerClient(resolved: ResolvedAzureOptions, container: string): ContainerClient {
  const options = { retryOptions: { maxTries: 1 } };
  const url = `${resolved.endpoint}/${encodeURIComponent(container)}`;
  const { credential } = resolved;
  if (credential.kind === 'shared-key') return new ContainerClient(url, new StorageSharedKeyCredential(credential.account, credential.key), options);
  return new ContainerClient(`${url}?${credential.token}`, new AnonymousCredential(), options);
}
