// The S3 provider's declared options (what a host offers as --s3-* and SHMSNAP_S3_*): each maps to the sink's own
// option, and the sink's refusal of one the host gave is told in the declared name, so the host can name the flag
// or variable it came from.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errConfigInvalid, isShmsnapError, validatePlugin } from '@shmsnap/core';
import { inDeclaredNames, plugin, S3_HOST_OPTIONS, s3SinkOptionsOf } from './provider.js';

describe('S3 provider options', () => {
  it('is a valid plugin declaring the options the CLI always had', () => {
    assert.equal(validatePlugin(plugin, '@shmsnap/sink-s3'), plugin);
    assert.deepEqual(
      S3_HOST_OPTIONS.map((o) => o.name),
      ['endpoint', 'region', 'pathStyle', 'profile', 'caBundle', 'checksum', 'storageClass', 'sse', 'sseKmsKeyId', 'partSizeMib', 'maxParts', 'uploadConcurrency'],
    );
    assert.ok(S3_HOST_OPTIONS.every((o) => o.secret !== true), 'credentials never come from an option');
  });

  it("maps declared names to the sink's, and leaves a caller's own sink options as they are", () => {
    assert.deepEqual(s3SinkOptionsOf({ pathStyle: false, checksum: 'when-supported', sse: 'aws:kms', partSizeMib: 16, region: 'eu-west-1', storageClass: 'STANDARD_IA' }), {
      region: 'eu-west-1',
      storageClass: 'STANDARD_IA',
      forcePathStyle: false,
      checksumMode: 'when-supported',
      serverSideEncryption: 'aws:kms',
      partSizeBytes: 16 * 1024 * 1024,
    });
    assert.deepEqual(s3SinkOptionsOf({ partSizeBytes: 5 * 1024 * 1024, forcePathStyle: true }), { partSizeBytes: 5 * 1024 * 1024, forcePathStyle: true });
  });

  it('names a refusal of a declared option by its declared name, its reason and mentions too; others are left alone', () => {
    const part = inDeclaredNames(errConfigInvalid('partSizeBytes', 'must be from 5 to 5120 MiB, got 2 MiB'), new Set(['partSizeMib']));
    assert.ok(isShmsnapError(part, 'CONFIG_INVALID'));
    assert.deepEqual([part.details.option, part.details.reason], ['partSizeMib', 'must be from 5 to 5120 MiB, got 2 MiB']);
    const kms = inDeclaredNames(errConfigInvalid('sseKmsKeyId', "only applies with serverSideEncryption 'aws:kms'").withDetails({ mentions: ['serverSideEncryption'] }), new Set(['sseKmsKeyId', 'sse']));
    assert.ok(isShmsnapError(kms));
    assert.deepEqual([kms.details.option, kms.details.reason, kms.details.mentions], ['sseKmsKeyId', "only applies with sse 'aws:kms'", ['sse']]);
    const untouched = errConfigInvalid('partSizeBytes', 'x');
    assert.equal(inDeclaredNames(untouched, new Set()), untouched, 'not given by the host: the sink\'s own name stays');
  });
});
