import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core';
import { localPathOf } from './local-sink.js';

describe('localPathOf', () => {
  it('takes a plain path, a relative one, and file:// URLs of this host', () => {
    assert.equal(localPathOf('/var/backups/x'), '/var/backups/x');
    assert.equal(localPathOf('x'), `${process.cwd()}/x`);
    assert.equal(localPathOf('file:///var/backups/x'), '/var/backups/x');
    assert.equal(localPathOf('file://localhost/var/backups/x'), '/var/backups/x');
    assert.equal(localPathOf('file:///var/backups/with%20space'), '/var/backups/with space');
  });

  for (const [location, why] of [
    ['', /location: is empty/],
    ['   ', /location: is empty/],
    ['file://host/x', /names host 'host'/],
    ['file://user:pw@/x', /carries credentials/],
    ['file://user@localhost/x', /carries credentials/],
    ['file://[::1/x', /is not a valid URL/],
    ['file:///x?y=1', /has a query or fragment/],
    ['file:///x#y', /has a query or fragment/],
    ['file:///a%2Fb', /is not a usable file path/],
  ] as const) {
    it(`refuses ${JSON.stringify(location)} as CONFIG_INVALID, with the form that works`, () => {
      assert.throws(() => localPathOf(location), (error: unknown) => {
        assert.ok(isShmsnapError(error, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(error)}`);
        assert.match(error.message, why);
        if (location.trim() !== '') assert.match(error.message, /file:\/\/\/absolute\/path/);
        return true;
      });
    });
  }
});
