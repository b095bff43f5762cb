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
    ['', /^location: empty \(an unset shell variable\?\)/],
    ['   ', /^location: empty/],
    ['file://host/x', /^location file:\/\/host\/x: a file:\/\/ URL names no host but this one \('host' given\)/],
    ['file://user:secret@/x', /^location file:\/\/\/x: a file:\/\/ URL takes no credentials/],
    ['file://user@localhost/x', /takes no credentials/],
    ['file://[::1/x', /: not a valid URL/],
    ['file:///x?y=1', /takes no query string or fragment/],
    ['file:///x#y', /takes no query string or fragment/],
    ['file:///a%2Fb', /: not a usable file path/],
  ] as const) {
    it(`refuses ${JSON.stringify(location)} as CONFIG_INVALID, with the form that works`, () => {
      assert.throws(() => localPathOf(location), (error: unknown) => {
        assert.ok(isShmsnapError(error, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(error)}`);
        assert.match(error.message, why);
        assert.match(error.message, /file:\/\/\/absolute\/path/);
        assert.doesNotMatch(error.message, /secret/, 'a password is never printed');
        return true;
      });
    });
  }
});
