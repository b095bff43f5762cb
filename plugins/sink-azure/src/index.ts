/**
 * `shmsnap-sink-azure`: the plugin. Its default export is the plain object a
 * host loads (`--plugin shmsnap-sink-azure`, or `plugins` in the config);
 * importing it registers nothing and does not load the Azure SDK (that
 * happens when an `azblob://` location is first opened).
 */
import { definePlugin, PLUGIN_API_VERSION } from '@shmsnap/core/plugin-kit';
import { azureSinkProvider } from './provider.js';
import { VERSION } from './version.js';

export { createAzureSinkProvider, azureSinkProvider, AZURE_REMOTE_RETRY, type AzureSinkProviderOptions } from './provider.js';
export { AZURE_SCHEME, blobNameOf, formatAzureLocation, parseAzureLocation, redactAzureLocation, type AzureLocation } from './azure-location.js';
export { AZURE_SINK_OPTIONS, type AzureSinkOptions } from './azure-options.js';
export { VERSION } from './version.js';

/** Loads the SDK: for programs that build the sink themselves, without a registry. */
export async function createAzureSink(...args: Parameters<typeof import('./azure-sink.js').createAzureSink>): ReturnType<typeof import('./azure-sink.js').createAzureSink> {
  const { createAzureSink: create } = await import('./azure-sink.js');
  return create(...args);
}

export default definePlugin({
  name: 'shmsnap-sink-azure',
  version: VERSION,
  apiVersion: PLUGIN_API_VERSION,
  sinks: [azureSinkProvider],
});
