// Core names options; each frontend renders them as its own flags.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assessRestore, errConfigInvalid, errRemoteFailed, errRestoreRefused, errSegmentExists } from '@shmsnap/core';
import { ASMT_CLEAR, ASMT_FLAGS, namerOf, renderMessage, SHMSNAP_FLAGS } from './flags.js';

describe('renderMessage', () => {
  it('names an invalid option as each frontend\'s flag', () => {
    const error = errConfigInvalid('concurrency', 'expected a positive integer, got 0');
    assert.equal(renderMessage(error, namerOf(SHMSNAP_FLAGS)), '--threads: expected a positive integer, got 0');
    assert.equal(renderMessage(error, namerOf(ASMT_FLAGS)), '-t: expected a positive integer, got 0');
  });

  it('names both options of a conflict as flags', () => {
    const error = errConfigInvalid('allowOlder', 'it lifts only the default age limit', 'maxAge');
    assert.equal(error.message, 'allowOlder: cannot be given with maxAge: it lifts only the default age limit');
    assert.equal(renderMessage(error, namerOf(SHMSNAP_FLAGS)), '--allow-older: cannot be given with --max-age: it lifts only the default age limit');
  });

  it('words a restore refusal with the flag that lifts each finding, or none', () => {
    const now = new Date('2026-11-21T12:00:00.000Z');
    const here = { hostname: 'node1', machineId: null, bootId: null };
    const { findings } = assessRestore(
      [{ namespaces: ['test'], what: 'm.json', createdAt: new Date(now.getTime() - 38 * 3_600_000), host: { ...here, hostname: 'x' } }],
      here,
      now,
    );
    const message = renderMessage(errRestoreRefused('/b', findings, namerOf(SHMSNAP_FLAGS)), namerOf(SHMSNAP_FLAGS));
    assert.equal(
      message,
      "/b: 'test': backup was made on host 'x', this is 'node1' (--allow-other-host restores it anyway); 'test': the backup is 38 hours old, older than the default limit of 24 hours (--allow-older restores it anyway, --max-age sets another limit)",
    );
  });

  it('names the options another message says it mentions, and the S3 options as their flags', () => {
    const tls = errRemoteFailed('s3 list', 's3://b/p', false, new Error('TLS: self-signed; give its CA with caBundle or AWS_CA_BUNDLE')).withDetails({ mentions: ['caBundle'] });
    assert.equal(renderMessage(tls, namerOf(SHMSNAP_FLAGS)), 's3 list failed for s3://b/p: TLS: self-signed; give its CA with --s3-ca-bundle or AWS_CA_BUNDLE');
    assert.equal(renderMessage(errConfigInvalid('partSizeBytes', 'must be from 5 to 5120 MiB, got 2 MiB'), namerOf(SHMSNAP_FLAGS)), '--s3-part-size-mib: must be from 5 to 5120 MiB, got 2 MiB');
    const kms = errConfigInvalid('sseKmsKeyId', "only applies with serverSideEncryption 'aws:kms'").withDetails({ mentions: ['serverSideEncryption'] });
    assert.equal(renderMessage(kms, namerOf(SHMSNAP_FLAGS)), "--s3-sse-kms-key-id: only applies with --s3-sse 'aws:kms'");
  });

  it('ends SEGMENT_EXISTS with the command that clears each leftover set: by name with its base, by id without', () => {
    const error = errSegmentExists('0xae001000', 'shared memory already holds 22 segments (...)').withDetails({
      sets: [{ instance: 0, nsid: 1, namespace: 'test', base: true }, { instance: 0, nsid: 2, namespace: 'bar', base: false }],
    });
    assert.equal(
      renderMessage(error, namerOf(SHMSNAP_FLAGS)),
      'segment 0xae001000 already exists: shared memory already holds 22 segments (...); if they are left from an interrupted restore, remove them with: shmsnap clear --instance 0 --namespace test; shmsnap clear --instance 0 --nsid 2',
    );
    assert.match(renderMessage(error, namerOf(ASMT_FLAGS), ASMT_CLEAR), /remove them with: ipcrm -M <key> for each of them$/, 'asmt has no clear command');
    assert.equal(renderMessage(errSegmentExists('0xae001000', 'x'), namerOf(SHMSNAP_FLAGS)), 'segment 0xae001000 already exists: x', 'no sets, no command');
  });

  it('leaves other messages as they are', () => {
    const error = errConfigInvalid('somethingElse', 'no');
    assert.equal(renderMessage(error, namerOf(SHMSNAP_FLAGS)), 'somethingElse: no');
  });
});
