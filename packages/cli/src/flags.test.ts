// Core names options; each frontend renders them as its own flags.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errBackupStale, errConfigInvalid } from '@shmsnap/core';
import { ASMT_FLAGS, namerOf, renderMessage, SHMSNAP_FLAGS } from './flags.js';

describe('renderMessage', () => {
  it('names an invalid option as each frontend\'s flag', () => {
    const error = errConfigInvalid('concurrency', 'expected a positive integer, got 0');
    assert.equal(renderMessage(error, namerOf(SHMSNAP_FLAGS)), '--threads: expected a positive integer, got 0');
    assert.equal(renderMessage(error, namerOf(ASMT_FLAGS)), '-t: expected a positive integer, got 0');
  });

  it('appends the override a refusal can be lifted with', () => {
    const error = errBackupStale('/b', "'test': backup was made on host 'x'").withDetails({ override: 'force' });
    assert.equal(renderMessage(error, namerOf(SHMSNAP_FLAGS)), "/b: 'test': backup was made on host 'x'; pass --force to restore it anyway");
  });

  it('leaves other messages as they are', () => {
    const error = errConfigInvalid('somethingElse', 'no');
    assert.equal(renderMessage(error, namerOf(SHMSNAP_FLAGS)), 'somethingElse: no');
  });
});
