/**
 * `shmsnap-sink-azure/testing`: what this plugin's tests, and the CLI's
 * end-to-end tests, need to run against a real Blob service on 127.0.0.1.
 */
export { AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, azuriteConnectionString, startAzurite, type AzuriteOptions, type AzuriteServer } from './azurite.js';
export { startAzureFaultProxy, type AzureFaultKind, type AzureFaultProxy, type AzureFaultRule, type AzureProxiedRequest } from './fault-proxy.js';
