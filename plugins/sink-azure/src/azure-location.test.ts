import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core/plugin-kit';
import { blobNameOf, formatAzureLocation, parseAzureLocation, redactAzureLocation } from './azure-location.js';

describe('azblob locations', () => {
  it('parses account, container and prefix, normalising slashes', () => {
    assert.deepEqual(parseAzureLocation('azblob://acct/backups'), { account: 'acct', container: 'backups', prefix: '' });
    assert.deepEqual(parseAzureLocation('azblob://acct/backups//node1/day/'), { account: 'acct', container: 'backups', prefix: 'node1/day' });
    assert.equal(formatAzureLocation(parseAzureLocation('azblob://acct/backups/node1/')), 'azblob://acct/backups/node1');
    assert.equal(blobNameOf(parseAzureLocation('azblob://acct/backups/node1'), 'ae001100.dat'), 'node1/ae001100.dat');
    assert.equal(blobNameOf(parseAzureLocation('azblob://acct/backups'), 'ae001100.dat'), 'ae001100.dat');
  });

  it('refuses what Azure would refuse, naming the part', () => {
    const cases: [string, RegExp][] = [
      ['s3://acct/c', /starts with 'azblob:\/\/'/],
      ['azblob://Acct/backups', /'Acct' is not a storage account name/],
      ['azblob://ab/backups', /'ab' is not a storage account name/],
      ['azblob://acct', /names no container/],
      ['azblob://acct/Bad_Name', /'Bad_Name' is not a container name/],
      ['azblob://acct/a--b', /'a--b' is not a container name/],
      ['azblob://acct/backups/../x', /'\.' or '\.\.'/],
      ['azblob://acct/backups/a\\b', /control characters or backslashes/],
    ];
    for (const [location, reason] of cases) {
      assert.throws(() => parseAzureLocation(location), (e: unknown) => isShmsnapError(e, 'CONFIG_INVALID') && reason.test(e.message), location);
    }
  });

  it('refuses a SAS or userinfo in the location, and never repeats it', () => {
    for (const location of ['azblob://acct/backups/p?sv=2023&sig=SECRETSIG', 'azblob://SECRETKEY@acct/backups', 'azblob://acct/backups#sig=SECRETSIG']) {
      assert.throws(
        () => parseAzureLocation(location),
        (e: unknown) => isShmsnapError(e, 'CONFIG_INVALID') && /credentials do not belong in the location/.test(e.message) && !JSON.stringify(e).includes('SECRET') && !e.message.includes('SECRET'),
        location,
      );
    }
  });

  it('redacts query strings, fragments and userinfo (a secret may hold slashes)', () => {
    assert.equal(redactAzureLocation('azblob://acct/c/p?sv=1&sig=abc%2F'), 'azblob://acct/c/p');
    assert.equal(redactAzureLocation('azblob://user:pa/ss@acct/c/p'), 'azblob://acct/c/p');
    assert.equal(redactAzureLocation('azblob://acct/c/p#x'), 'azblob://acct/c/p');
    assert.equal(redactAzureLocation('azblob://acct/c/p'), 'azblob://acct/c/p');
  });
});
