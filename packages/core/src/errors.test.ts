// Structural assertions on representative failures: the whole toJSON(), as
// scripts reading `--json` see it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combineErrors, errConfigInvalid, listSome, errObjectMissing, errSizeMismatch, PLUGIN_STAGES, toShmsnapError, withPluginContext, errObjectNotFound } from './errors.js';

const systemError = (code: string, message = code): Error => Object.assign(new Error(message), { code });

describe('toShmsnapError', () => {
  it('names the object and what holds it, and keeps the step out of the message', () => {
    assert.deepEqual(toShmsnapError(systemError('ENOENT'), 'open', '/backups/n1/ae001100.dat').toJSON(), {
      code: 'OBJECT_NOT_FOUND',
      message: 'ae001100.dat not found in /backups/n1',
      retryable: false,
      fault: 'user',
      details: { object: 'ae001100.dat', where: '/backups/n1', operation: 'open' },
    });
    assert.equal(toShmsnapError(systemError('EEXIST'), 'commit', '/backups/n1/ae001100.dat').message, 'ae001100.dat already exists in /backups/n1; refusing to overwrite it');
  });

  it('maps full disks, permissions and aborts by kind', () => {
    assert.equal(toShmsnapError(systemError('ENOSPC'), 'write', '/b/x.dat').code, 'NO_SPACE');
    assert.equal(toShmsnapError(systemError('EROFS'), 'write', '/b/x.dat').code, 'PERMISSION_DENIED');
    assert.equal(toShmsnapError(systemError('EROFS'), 'write', '/b/x.dat').message, 'permission denied: writing /b/x.dat (read-only file system)', 'a read-only mount is not a matter of modes');
    assert.equal(toShmsnapError(systemError('ABORT_ERR'), 'write', '/b/x.dat').code, 'ABORTED');
    assert.equal(toShmsnapError(systemError('EIO'), 'write', '/b/x.dat').code, 'IO_FAILED');
  });

  it('says what was being done in words, never the name of the step', () => {
    // The steps the sinks and pipelines pass; "already exists in create directory" and "not found in open" were real messages once.
    const steps = ['open', 'open-writer', 'create', 'create directory', 'stat', 'list', 'read', 'write', 'remove', 'commit', 'abort', 'verify', 'backup'];
    for (const step of steps) {
      for (const code of ['ENOENT', 'EEXIST', 'EACCES', 'EPERM', 'EROFS', 'EIO', 'ENOTDIR', 'ABORT_ERR', 'ENOSPC']) {
        const { message, details } = toShmsnapError(systemError(code, 'boom'), step, '/backups/n1/ae001100.dat');
        assert.doesNotMatch(message.replace(' (read-only file system)', ''), new RegExp(`\\b${step}\\b`), `${step} / ${code}: ${message}`);
        assert.equal(details.operation, step, 'the step is kept for scripts');
      }
    }
    assert.equal(toShmsnapError(systemError('ENOTDIR', '/b is not a directory'), 'create directory', '/b/n1').message, 'creating directory /b/n1 failed: /b is not a directory');
    for (const stage of PLUGIN_STAGES) assert.match(withPluginContext(systemError('ECONNRESET'), 'azblob', stage, 'x.dat').message, /^azblob failed during the [a-z]+ of x\.dat: ECONNRESET$/);
  });

  it('passes our own errors through unchanged', () => {
    const ours = errObjectNotFound('x', 'y');
    assert.equal(toShmsnapError(ours, 'open', 'z'), ours);
  });
});

describe('listSome', () => {
  it('lists a few items whole, and the first three of many with a count', () => {
    assert.equal(listSome([]), '');
    assert.equal(listSome(['a', 'b', 'c', 'd']), 'a, b, c, d', 'never "and 1 more"');
    assert.equal(listSome(['a', 'b', 'c', 'd', 'e']), 'a, b, c and 2 more');
    assert.equal(listSome(Array.from({ length: 22 }, (_, i) => String(i)), 2), '0, 1 and 20 more');
  });
});

describe('withPluginContext', () => {
  it('turns a foreign error into PLUGIN_FAILED with plugin, stage, object and the plugin\'s own code', () => {
    const error = withPluginContext(systemError('ECONNRESET', 'socket hang up'), 'azblob', 'write', 'ae001100.dat');
    assert.deepEqual(error.toJSON(), {
      code: 'PLUGIN_FAILED',
      message: 'azblob failed during the write of ae001100.dat: socket hang up',
      retryable: false,
      fault: 'system',
      details: { plugin: 'azblob', step: 'the write of ae001100.dat', stage: 'write', object: 'ae001100.dat', pluginCode: 'ECONNRESET' },
    });
  });

  it('adds the context to a coded error without changing its code or message, once', () => {
    const coded = errObjectNotFound('ae001100.dat', 's3://b/p');
    const wrapped = withPluginContext(coded, 's3', 'read', 'ae001100.dat');
    assert.equal(wrapped.code, 'OBJECT_NOT_FOUND');
    assert.equal(wrapped.message, coded.message);
    assert.equal(wrapped.details.plugin, 's3');
    assert.equal(wrapped.details.stage, 'read');
    assert.equal(withPluginContext(wrapped, 'other', 'list'), wrapped, 'an error that names a plugin is not relabelled');
  });

  it('keeps NO_SPACE and ABORTED what they are, whoever raised them', () => {
    assert.equal(withPluginContext(systemError('ENOSPC'), 'local', 'commit', 'x.dat').code, 'NO_SPACE');
    assert.equal(withPluginContext(systemError('ABORT_ERR'), 'local', 'write', 'x.dat').code, 'ABORTED');
  });
});

describe('combineErrors', () => {
  it('keeps the first error\'s code and message and lists every other message in details.more, flattened', () => {
    const level = errConfigInvalid('level', 'out of range');
    const missing = errObjectMissing('ae001101.dat', '/b', 'the manifest records it');
    const short = errSizeMismatch('ae001102.dat', 10, 5).withDetails({ more: ['and another'] });
    const combined = combineErrors([level, missing, short]);
    assert.equal(combined.code, 'CONFIG_INVALID');
    assert.equal(combined.message, level.message);
    assert.deepEqual(combined.details.more, [missing.message, short.message, 'and another']);
    assert.equal(combineErrors([missing]), missing, 'one error is itself');
  });
});
