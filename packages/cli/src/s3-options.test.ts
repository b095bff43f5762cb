// The S3 flags and SHMSNAP_S3_* variables: how they parse, which wins, and
// that none of them is taken silently for a location that is not on S3.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { errConfigInvalid, isShmsnapError } from '@shmsnap/core';
import { sinkOpener } from './context.js';
import { createDefaultRegistry } from './default-registry.js';
import { addS3Options, parseBooleanSetting, s3FlagsFromEnv, s3Request, type S3Flags } from './s3-options.js';

function parse(args: string[], writes = true): S3Flags {
  const command = addS3Options(new Command('t').exitOverride().configureOutput({ writeErr: () => undefined }), writes);
  command.parse(args, { from: 'user' });
  return command.opts<S3Flags>();
}

describe('S3 settings', () => {
  it('parses booleans as true/false/1/0/yes/no, and nothing else', () => {
    for (const [text, value] of [['true', true], ['FALSE', false], ['1', true], ['0', false], ['yes', true], ['No', false]] as const) assert.equal(parseBooleanSetting(text), value, text);
    for (const text of ['', 'maybe', 'on', '2']) assert.throws(() => parseBooleanSetting(text), /must be true, false, 1, 0, yes or no/);
  });

  it('reads SHMSNAP_S3_PATH_STYLE=false as false, and refuses a value it cannot read, naming the variable', () => {
    assert.equal(s3FlagsFromEnv({ SHMSNAP_S3_PATH_STYLE: 'false' }, false).flags.s3PathStyle, false);
    assert.equal(s3Request({}, { SHMSNAP_S3_PATH_STYLE: 'false' }, false).options.forcePathStyle, false);
    assert.equal(s3Request({}, { SHMSNAP_S3_PATH_STYLE: 'yes' }, false).options.forcePathStyle, true);
    assert.equal(s3Request({}, { SHMSNAP_S3_PATH_STYLE: '' }, false).options.forcePathStyle, undefined, 'empty is unset');
    assert.throws(
      () => s3FlagsFromEnv({ SHMSNAP_S3_PATH_STYLE: 'maybe' }, false),
      (error) => isShmsnapError(error, 'CONFIG_INVALID') && error.message === 'SHMSNAP_S3_PATH_STYLE: must be true, false, 1, 0, yes or no, got "maybe"',
    );
    assert.throws(() => s3FlagsFromEnv({ SHMSNAP_S3_PART_SIZE_MIB: 'eight' }, true), (error) => isShmsnapError(error) && /^SHMSNAP_S3_PART_SIZE_MIB: must be a positive integer/.test(error.message));
    assert.throws(() => s3FlagsFromEnv({ SHMSNAP_S3_SSE: 'rot13' }, true), (error) => isShmsnapError(error) && error.message === 'SHMSNAP_S3_SSE: must be AES256 or aws:kms, got "rot13"');
    assert.deepEqual(s3FlagsFromEnv({ SHMSNAP_S3_SSE: 'AES256' }, false).flags, {}, 'a command that does not write reads no writer settings');
  });

  it('has --no-s3-path-style, and a flag wins over its variable', () => {
    assert.equal(parse(['--no-s3-path-style']).s3PathStyle, false);
    assert.equal(parse(['--s3-path-style']).s3PathStyle, true);
    assert.equal(parse([]).s3PathStyle, undefined, 'neither: the sink decides from the endpoint');
    const request = s3Request(parse(['--no-s3-path-style', '--s3-part-size-mib', '16']), { SHMSNAP_S3_PATH_STYLE: 'true', SHMSNAP_S3_PART_SIZE_MIB: '32', SHMSNAP_S3_SSE: 'AES256' }, true);
    assert.deepEqual(request.options, { forcePathStyle: false, partSizeBytes: 16 * 1024 * 1024, serverSideEncryption: 'AES256' });
    assert.deepEqual(request.given, ['--no-s3-path-style', 'SHMSNAP_S3_SSE', '--s3-part-size-mib']);
    assert.equal(parse(['--s3-ca-bundle', '/etc/ca.pem']).s3CaBundle, '/etc/ca.pem');
    assert.throws(() => parse(['--s3-max-parts', '0']), /--s3-max-parts must be a positive integer/);
  });

  it("names the variable in the sink's refusal of a value it set, and the flag otherwise", () => {
    const refusal = errConfigInvalid('partSizeBytes', 'must be from 5 to 5120 MiB, got 2 MiB');
    const fromEnv = s3Request({}, { SHMSNAP_S3_PART_SIZE_MIB: '2' }, true).nameSource(refusal);
    assert.ok(isShmsnapError(fromEnv, 'CONFIG_INVALID'));
    assert.equal(fromEnv.message, 'SHMSNAP_S3_PART_SIZE_MIB: must be from 5 to 5120 MiB, got 2 MiB');
    assert.equal(s3Request(parse(['--s3-part-size-mib', '2']), { SHMSNAP_S3_PART_SIZE_MIB: '2' }, true).nameSource(refusal), refusal);
  });

  it('refuses S3 settings for a local location before opening it, and takes the AWS variables in its stride', async () => {
    const registry = createDefaultRegistry();
    await assert.rejects(sinkOpener(registry, parse(['--s3-sse', 'AES256']), true, {})('/var/backups/x'), (error) => {
      assert.ok(isShmsnapError(error, 'CONFIG_INVALID'));
      assert.equal(error.message, '--s3-sse: applies only to s3:// locations, not to /var/backups/x');
      return true;
    });
    await assert.rejects(
      sinkOpener(registry, parse(['--s3-region', 'eu-west-1', '--no-s3-path-style'], false), false, { SHMSNAP_S3_CHECKSUM: 'when-supported' })('file:///var/backups/x'),
      (error) => isShmsnapError(error, 'CONFIG_INVALID') && error.message === '--s3-region, --no-s3-path-style and SHMSNAP_S3_CHECKSUM: apply only to s3:// locations, not to file:///var/backups/x',
    );
    // Not S3-only: the AWS tools read them too, and a host may set them for everything.
    const sink = await sinkOpener(registry, {}, true, { AWS_REGION: 'eu-west-1', AWS_PROFILE: 'nobody', AWS_CA_BUNDLE: '/nowhere' })('/var/backups/x');
    assert.equal(sink.name, 'local');
    await sink.close?.();
  });
});
