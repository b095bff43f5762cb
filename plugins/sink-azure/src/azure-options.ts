/**
 * The Azure sink's options: what a host may offer as flags and variables
 * (`AZURE_SINK_OPTIONS`, declared as data for `SinkProvider.options`), and
 * how they resolve into one account, one endpoint and one credential. Pure:
 * nothing here loads the SDK or touches the network.
 *
 * Credentials, first found wins: `connectionString`, then `accountKey`, then
 * `sasToken`, each from the option or else its standard variable
 * (AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY,
 * AZURE_STORAGE_SAS_TOKEN). Without any, creating the sink fails with
 * CONFIG_INVALID naming all three; a sink never tries anonymous access (a
 * backup target is never a public container). No message or detail ever
 * holds a secret's value: the checks below say what is wrong, not what was
 * given.
 */
import { errConfigInvalid, type RetryPolicy, type SinkOptionSpec } from '@shmsnap/core/plugin-kit';
import type { AzureLocation } from './azure-location.js';

const MiB = 1024 * 1024;

/** Azure's limits for block blobs (service version 2019-12-12 and later). */
export const AZURE_MAX_BLOCKS = 50_000;
export const AZURE_MAX_BLOCK_MIB = 4000;

/** Long enough to ride out throttling (ServerBusy) and a store restarting, short enough to fail a dead one within a minute. */
export const AZURE_REMOTE_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 };

export const DEFAULT_BLOCK_SIZE_MIB = 8;
export const DEFAULT_UPLOAD_CONCURRENCY = 4;

/** The writers a sink takes at once (capabilities.maxConcurrency): with the defaults, at most 4 blocks in flight plus one filling per writer, 64 MiB. */
export const AZURE_MAX_WRITERS = 4;

export const AZURE_SINK_OPTIONS: readonly SinkOptionSpec[] = [
  {
    name: 'connectionString',
    type: 'string',
    argument: '<string>',
    description: 'storage connection string (AccountName and AccountKey or SharedAccessSignature, optionally BlobEndpoint)',
    env: ['AZURE_STORAGE_CONNECTION_STRING'],
    secret: true,
  },
  {
    name: 'accountKey',
    type: 'string',
    argument: '<key>',
    description: "the storage account's shared key (base64)",
    env: ['AZURE_STORAGE_KEY'],
    secret: true,
  },
  {
    name: 'sasToken',
    type: 'string',
    argument: '<token>',
    description: 'a shared access signature for the account or container (the query string, with or without its leading ?)',
    env: ['AZURE_STORAGE_SAS_TOKEN'],
    secret: true,
  },
  {
    name: 'endpoint',
    type: 'string',
    argument: '<url>',
    description: 'the Blob service URL (default https://<account>.blob.core.windows.net; Azurite: http://127.0.0.1:10000/devstoreaccount1)',
  },
  {
    name: 'blockSizeMib',
    type: 'integer',
    min: 1,
    max: AZURE_MAX_BLOCK_MIB,
    default: DEFAULT_BLOCK_SIZE_MIB,
    argument: '<mib>',
    description: 'size of each staged block in MiB (memory: block size × (upload concurrency + one per object being written))',
    writes: true,
  },
  {
    name: 'uploadConcurrency',
    type: 'integer',
    min: 1,
    max: 64,
    default: DEFAULT_UPLOAD_CONCURRENCY,
    argument: '<n>',
    description: 'blocks uploaded at once, all objects of the location together',
    writes: true,
  },
];

export interface AzureSinkOptions {
  /** A storage connection string. @default AZURE_STORAGE_CONNECTION_STRING */
  readonly connectionString?: string;
  /** The account's shared key. @default AZURE_STORAGE_KEY */
  readonly accountKey?: string;
  /** A SAS token. @default AZURE_STORAGE_SAS_TOKEN */
  readonly sasToken?: string;
  /** The Blob service URL. @default the connection string's BlobEndpoint, else https://<account>.blob.core.windows.net */
  readonly endpoint?: string;
  /** @default 8 */
  readonly blockSizeMib?: number;
  /** @default 4 */
  readonly uploadConcurrency?: number;
  /** How requests are retried (by core's retryOperation and withRetry; the SDK's own retries are off). @default AZURE_REMOTE_RETRY */
  readonly retry?: RetryPolicy;
  /** Blobs asked for per listing page (Azure's maximum is 5,000). For tests of pagination. @default 5000 */
  readonly listPageSize?: number;
  /** Where the standard variables are read. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export type AzureCredential =
  | { readonly kind: 'shared-key'; readonly account: string; readonly key: string }
  | { readonly kind: 'sas'; readonly token: string };

export interface ResolvedAzureOptions {
  /** The service URL, no trailing slash: `https://acct.blob.core.windows.net`, `http://127.0.0.1:10000/devstoreaccount1`. */
  readonly endpoint: string;
  readonly credential: AzureCredential;
  /** Where the credential came from, for messages: `connectionString`, `AZURE_STORAGE_KEY`. */
  readonly credentialSource: string;
  readonly blockSizeBytes: number;
  readonly uploadConcurrency: number;
  readonly listPageSize: number;
  /** Every secret value given: scrubbed from any text an error carries. */
  readonly secrets: readonly string[];
}

const given = (value: string | undefined): string | undefined => (value === undefined || value.trim() === '' ? undefined : value.trim());
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function checkInteger(option: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw errConfigInvalid(option, `must be a whole number from ${min} to ${max}, got ${String(value)}`);
  return value;
}

function checkEndpoint(option: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw errConfigInvalid(option, 'is not a URL (https://<account>.blob.core.windows.net)');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw errConfigInvalid(option, `must be an http or https URL, not ${url.protocol}`);
  // A SAS pasted into the endpoint would be printed wherever the endpoint is: refuse it, saying where it belongs.
  if (url.search !== '' || url.username !== '' || url.password !== '') throw errConfigInvalid(option, 'takes no query string or credentials (give a SAS as sasToken)');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** `AccountName=…;AccountKey=…` → its fields (values may hold '='). Keys compare case-insensitively, as Azure's tools do. */
export function parseConnectionString(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const cut = part.indexOf('=');
    if (cut <= 0) continue;
    fields.set(part.slice(0, cut).trim().toLowerCase(), part.slice(cut + 1).trim());
  }
  return fields;
}

function checkSas(option: string, token: string): string {
  const bare = token.replace(/^\?/, '');
  if (!new URLSearchParams(bare).has('sig')) throw errConfigInvalid(option, 'is not a shared access signature (it has no sig parameter)');
  return bare;
}

export function resolveAzureOptions(location: AzureLocation, options: AzureSinkOptions = {}): ResolvedAzureOptions {
  const env = options.env ?? process.env;
  const connectionString = given(options.connectionString) ?? given(env['AZURE_STORAGE_CONNECTION_STRING']);
  const accountKey = given(options.accountKey) ?? given(env['AZURE_STORAGE_KEY']);
  const sasToken = given(options.sasToken) ?? given(env['AZURE_STORAGE_SAS_TOKEN']);
  const source = (name: 'connectionString' | 'accountKey' | 'sasToken', variable: string): string => (given(options[name]) !== undefined ? name : variable);
  const secrets = [connectionString, accountKey, sasToken].filter((s): s is string => s !== undefined);
  const defaultEndpoint = `https://${location.account}.blob.core.windows.net`;
  let endpoint = given(options.endpoint) === undefined ? undefined : checkEndpoint('endpoint', given(options.endpoint)!);
  let credential: AzureCredential;
  let credentialSource: string;

  if (connectionString !== undefined) {
    credentialSource = source('connectionString', 'AZURE_STORAGE_CONNECTION_STRING');
    const fields = parseConnectionString(connectionString);
    const name = fields.get('accountname');
    if (name !== undefined && name !== location.account) {
      throw errConfigInvalid(credentialSource, `is for storage account '${name}', the location is in '${location.account}'`);
    }
    const key = fields.get('accountkey');
    const sas = fields.get('sharedaccesssignature');
    if (key !== undefined && key !== '') {
      if (!BASE64.test(key)) throw errConfigInvalid(credentialSource, 'its AccountKey is not base64');
      credential = { kind: 'shared-key', account: location.account, key };
      secrets.push(key);
    } else if (sas !== undefined && sas !== '') {
      credential = { kind: 'sas', token: checkSas(credentialSource, sas) };
      secrets.push(credential.token);
    } else {
      throw errConfigInvalid(credentialSource, 'holds neither AccountKey nor SharedAccessSignature');
    }
    const blobEndpoint = fields.get('blobendpoint');
    if (endpoint === undefined && blobEndpoint !== undefined && blobEndpoint !== '') endpoint = checkEndpoint(`${credentialSource} BlobEndpoint`, blobEndpoint);
    const suffix = fields.get('endpointsuffix');
    if (endpoint === undefined && suffix !== undefined && suffix !== '') {
      const protocol = fields.get('defaultendpointsprotocol') === 'http' ? 'http' : 'https';
      endpoint = checkEndpoint(`${credentialSource} EndpointSuffix`, `${protocol}://${location.account}.blob.${suffix}`);
    }
  } else if (accountKey !== undefined) {
    credentialSource = source('accountKey', 'AZURE_STORAGE_KEY');
    if (!BASE64.test(accountKey)) throw errConfigInvalid(credentialSource, 'is not base64 (an account key is the base64 text the portal shows)');
    credential = { kind: 'shared-key', account: location.account, key: accountKey };
  } else if (sasToken !== undefined) {
    credentialSource = source('sasToken', 'AZURE_STORAGE_SAS_TOKEN');
    credential = { kind: 'sas', token: checkSas(credentialSource, sasToken) };
    secrets.push(credential.token);
  } else {
    throw errConfigInvalid(
      'connectionString',
      `no credentials for storage account '${location.account}': give connectionString, accountKey or sasToken (or AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN)`,
    ).withDetails({ mentions: ['connectionString', 'accountKey', 'sasToken'] });
  }

  const blockSizeMib = checkInteger('blockSizeMib', options.blockSizeMib, DEFAULT_BLOCK_SIZE_MIB, 1, AZURE_MAX_BLOCK_MIB);
  return {
    endpoint: endpoint ?? defaultEndpoint,
    credential,
    credentialSource,
    blockSizeBytes: blockSizeMib * MiB,
    uploadConcurrency: checkInteger('uploadConcurrency', options.uploadConcurrency, DEFAULT_UPLOAD_CONCURRENCY, 1, 64),
    listPageSize: checkInteger('listPageSize', options.listPageSize, 5000, 1, 5000),
    // Longest first, so a secret that holds another is scrubbed whole.
    secrets: [...new Set(secrets)].sort((a, b) => b.length - a.length),
  };
}
