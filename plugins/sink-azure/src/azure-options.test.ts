import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core/plugin-kit';
import { parseAzureLocation } from './azure-location.js';
import { AZURE_SINK_OPTIONS, parseConnectionString, resolveAzureOptions } from './azure-options.js';

const location = parseAzureLocation('azblob://acct/backups/p');
const KEY = Buffer.from('a key of sixty-four bytes, as Azure account keys are, in base64!!').toString('base64');
const SAS = 'sv=2023-11-03&ss=b&sp=rwdl&sig=c2lnbmF0dXJl%3D';

function refusal(fn: () => unknown): { message: string; details: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(isShmsnapError(error, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(error)}`);
    return { message: error.message, details: JSON.stringify(error.details) };
  }
  return assert.fail('expected a refusal');
}

describe('azblob options', () => {
  it('declares each option once, the three credentials secret with their standard variables', () => {
    const names = AZURE_SINK_OPTIONS.map((o) => o.name);
    assert.deepEqual(names, ['connectionString', 'accountKey', 'sasToken', 'endpoint', 'blockSizeMib', 'uploadConcurrency']);
    assert.deepEqual(
      AZURE_SINK_OPTIONS.filter((o) => o.secret).map((o) => [o.name, o.env]),
      [['connectionString', ['AZURE_STORAGE_CONNECTION_STRING']], ['accountKey', ['AZURE_STORAGE_KEY']], ['sasToken', ['AZURE_STORAGE_SAS_TOKEN']]],
    );
    assert.deepEqual(AZURE_SINK_OPTIONS.filter((o) => o.writes).map((o) => o.name), ['blockSizeMib', 'uploadConcurrency']);
  });

  it('resolves a connection string: shared key, BlobEndpoint, defaults', () => {
    const resolved = resolveAzureOptions(location, { connectionString: `DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=${KEY};BlobEndpoint=http://127.0.0.1:10000/acct/;`, env: {} });
    assert.deepEqual(resolved.credential, { kind: 'shared-key', account: 'acct', key: KEY });
    assert.equal(resolved.endpoint, 'http://127.0.0.1:10000/acct');
    assert.equal(resolved.blockSizeBytes, 8 * 1024 * 1024);
    assert.equal(resolved.uploadConcurrency, 4);
    assert.ok(resolved.secrets.includes(KEY));
    const suffix = resolveAzureOptions(location, { connectionString: `AccountName=acct;AccountKey=${KEY};EndpointSuffix=core.chinacloudapi.cn`, env: {} });
    assert.equal(suffix.endpoint, 'https://acct.blob.core.chinacloudapi.cn');
    const sas = resolveAzureOptions(location, { connectionString: `BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=${SAS}`, env: {} });
    assert.deepEqual(sas.credential, { kind: 'sas', token: SAS });
  });

  it('takes options before variables, and a connection string before a key before a SAS', () => {
    const env = { AZURE_STORAGE_KEY: KEY, AZURE_STORAGE_SAS_TOKEN: `?${SAS}` };
    assert.equal(resolveAzureOptions(location, { env }).credential.kind, 'shared-key');
    assert.equal(resolveAzureOptions(location, { env }).credentialSource, 'AZURE_STORAGE_KEY');
    assert.equal(resolveAzureOptions(location, { env }).endpoint, 'https://acct.blob.core.windows.net');
    assert.deepEqual(resolveAzureOptions(location, { env: { AZURE_STORAGE_SAS_TOKEN: `?${SAS}` } }).credential, { kind: 'sas', token: SAS });
    assert.equal(resolveAzureOptions(location, { sasToken: SAS, env: { AZURE_STORAGE_KEY: '' } }).credentialSource, 'sasToken');
  });

  it('refuses bad credentials and settings without repeating a secret', () => {
    const cases: [() => unknown, RegExp, string?][] = [
      [() => resolveAzureOptions(location, { env: {} }), /no credentials for storage account 'acct': give connectionString, accountKey or sasToken/],
      [() => resolveAzureOptions(location, { connectionString: `AccountName=other;AccountKey=${KEY}`, env: {} }), /is for storage account 'other', the location is in 'acct'/, KEY],
      [() => resolveAzureOptions(location, { connectionString: 'AccountName=acct;AccountKey=not base64!', env: {} }), /AccountKey is not base64/, 'not base64!'],
      [() => resolveAzureOptions(location, { connectionString: 'AccountName=acct;EndpointSuffix=x', env: {} }), /neither AccountKey nor SharedAccessSignature/],
      [() => resolveAzureOptions(location, { accountKey: 'p@ssw0rd!', env: {} }), /accountKey: is not base64/, 'p@ssw0rd!'],
      [() => resolveAzureOptions(location, { sasToken: 'sv=1&sp=r&token=HUSH', env: {} }), /sasToken: is not a shared access signature/, 'HUSH'],
      [() => resolveAzureOptions(location, { accountKey: KEY, endpoint: 'ftp://x', env: {} }), /endpoint: must be an http or https URL/],
      [() => resolveAzureOptions(location, { accountKey: KEY, endpoint: `https://acct.blob.core.windows.net/?${SAS}`, env: {} }), /endpoint: takes no query string/, 'c2lnbmF0dXJl'],
      [() => resolveAzureOptions(location, { accountKey: KEY, blockSizeMib: 0, env: {} }), /blockSizeMib: must be a whole number from 1 to 4000/],
      [() => resolveAzureOptions(location, { accountKey: KEY, uploadConcurrency: 1.5, env: {} }), /uploadConcurrency: must be a whole number from 1 to 64/],
    ];
    for (const [fn, reason, secret] of cases) {
      const { message, details } = refusal(fn);
      assert.match(message, reason);
      if (secret !== undefined) assert.ok(!message.includes(secret) && !details.includes(secret), `${message} must not show the secret`);
    }
  });

  it('parses connection strings whose values hold "="', () => {
    const fields = parseConnectionString('AccountName=a;AccountKey=abc==;SharedAccessSignature=sv=1&sig=x%3D;');
    assert.equal(fields.get('accountkey'), 'abc==');
    assert.equal(fields.get('sharedaccesssignature'), 'sv=1&sig=x%3D');
  });
});
