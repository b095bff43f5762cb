import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core';
import provider, { createS3Sink, parseS3Location, redactS3Location, s3SinkProvider } from './index.js';
import { keyOf } from './s3-location.js';

describe('S3 locations', () => {
  it('parses bucket and prefix, normalising slashes', () => {
    assert.deepEqual(parseS3Location('s3://backups'), { bucket: 'backups', prefix: '' });
    assert.deepEqual(parseS3Location('s3://backups/'), { bucket: 'backups', prefix: '' });
    assert.deepEqual(parseS3Location('s3://backups/node1'), { bucket: 'backups', prefix: 'node1' });
    assert.deepEqual(parseS3Location('S3://backups//node1///2026-11-21//'), { bucket: 'backups', prefix: 'node1/2026-11-21' });
    assert.deepEqual(parseS3Location('s3://my.bucket-1/a b/c'), { bucket: 'my.bucket-1', prefix: 'a b/c' });
  });

  it('keys objects below the prefix', () => {
    assert.equal(keyOf(parseS3Location('s3://bkt/p/q'), 'ae001100.dat'), 'p/q/ae001100.dat');
    assert.equal(keyOf(parseS3Location('s3://bkt'), 'ae001100.dat'), 'ae001100.dat');
  });

  it('refuses malformed locations with CONFIG_INVALID', () => {
    for (const location of ['backups', 'file:///x', 's3://', 's3://ab', 's3:///prefix', 's3://bad_bucket!/x', 's3://b..b/x', 's3://bucket/a/../b', 's3://bucket/./x']) {
      assert.throws(() => parseS3Location(location), (error) => isShmsnapError(error, 'CONFIG_INVALID'), location);
    }
  });

  it('refuses credentials and query strings in the location without echoing them', () => {
    for (const location of ['s3://AKIAEXAMPLE:wJalr/XUtnFEMI@bucket/prefix', 's3://bucket/prefix?X-Amz-Signature=deadbeefsecret', 's3://user@bucket']) {
      assert.throws(
        () => parseS3Location(location),
        (error) => isShmsnapError(error, 'CONFIG_INVALID') && !/wJalr|deadbeefsecret|AKIAEXAMPLE|user@/.test(error.message),
        location,
      );
    }
  });

  it('redacts userinfo and query strings, even when the secret holds a slash', () => {
    assert.equal(redactS3Location('s3://AKIAEXAMPLE:wJalr/XUtn+FEMI@bucket/prefix?versionId=3#x'), 's3://bucket/prefix');
    assert.equal(redactS3Location('s3://bucket/prefix?X-Amz-Credential=AKIA&X-Amz-Signature=abc'), 's3://bucket/prefix');
    assert.equal(redactS3Location('s3://bucket/prefix'), 's3://bucket/prefix');
    assert.equal(redactS3Location('no scheme at all'), 'no scheme at all');
  });

  it('is provided for the s3 scheme, with redact, as the default export', async () => {
    assert.equal(provider, s3SinkProvider);
    assert.deepEqual(s3SinkProvider.schemes, ['s3']);
    assert.equal(s3SinkProvider.redact?.('s3://k:s@bucket/p?q=1'), 's3://bucket/p');
    const sink = await createS3Sink('s3://bucket//p/', { endpoint: 'http://127.0.0.1:9', region: 'us-east-1' });
    assert.equal(sink.location, 's3://bucket/p');
    assert.deepEqual(sink.capabilities, {
      rangedReads: true,
      maxConcurrency: 4,
      maxObjectSize: 5 * 1024 ** 4,
      posixAttributes: false,
    });
  });
});
