// The pieces of usage errors that are logic: suggestions, and where --json is asked for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closest, editDistance, jsonRequested } from './usage.js';

describe('closest', () => {
  const flags = ['--to', '--from', '--threads', '--instance', '--namespace', '--dry-run', '--json', '--help'];

  it('suggests the flag a typo was meant to be', () => {
    assert.deepEqual(closest('--too', flags), ['--to']);
    assert.deepEqual(closest('--form', flags), ['--from'], 'a transposition is one edit');
    assert.deepEqual(closest('--thread', flags), ['--threads']);
    assert.deepEqual(closest('--namepsace', flags), ['--namespace']);
    assert.deepEqual(closest('--dryrun', flags), ['--dry-run']);
  });

  it('suggests nothing for a different word, and every one of equal distance', () => {
    assert.deepEqual(closest('--frobnicate', flags), []);
    assert.deepEqual(closest('--x', flags), [], 'a short word is not a typo of anything');
    assert.deepEqual(closest('bakup', ['backup', 'restore']), ['backup']);
    assert.deepEqual(closest('--ab', ['--aa', '--bb', '--ac']), []);
    assert.deepEqual(closest('--abcd', ['--abce', '--abcf']), ['--abce', '--abcf']);
  });

  it('measures edits as optimal string alignment', () => {
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('form', 'from'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });
});

describe('jsonRequested', () => {
  it('is --json anywhere before a --', () => {
    assert.equal(jsonRequested(['node', 'shmsnap', 'backup', '--json']), true);
    assert.equal(jsonRequested(['node', 'shmsnap', '--json', 'backup']), true);
    assert.equal(jsonRequested(['node', 'shmsnap', 'backup', '--', '--json']), false);
    assert.equal(jsonRequested(['node', 'shmsnap', 'backup', '--jsonx']), false);
  });
});
