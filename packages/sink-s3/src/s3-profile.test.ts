// The profile's settings, read from real files in a temporary directory, and
// how they rank against options and the environment.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core';
import { resolveS3SinkOptions } from './s3-options.js';
import { loadS3Profile, type S3Profile } from './s3-profile.js';

let dir = '';
let env: NodeJS.ProcessEnv = {};
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shmsnap-s3-profile-'));
  env = { AWS_CONFIG_FILE: join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials') };
  await writeFile(
    env['AWS_CONFIG_FILE']!,
    [
      '[default]',
      'region = ap-south-1',
      '[profile eu]',
      'region = eu-central-1',
      'endpoint_url = http://eu.store:9000',
      'ca_bundle = ~/eu-ca.pem',
      '[profile svc]',
      'endpoint_url = http://everything.store',
      'services = local',
      's3 =',
      '  addressing_style = virtual',
      '[services local]',
      's3 =',
      '  endpoint_url = http://s3.store:9000',
      '[profile broken]',
      'services = nowhere',
      '[profile ignoring]',
      'endpoint_url = http://ignored.store',
      'ignore_configured_endpoint_urls = true',
      '[profile odd]',
      'region = not a region',
      '',
    ].join('\n'),
  );
  await writeFile(env['AWS_SHARED_CREDENTIALS_FILE']!, ['[eu]', 'aws_access_key_id = AK', 'aws_secret_access_key = SK', 'region = eu-west-3', '[only-keys]', 'aws_access_key_id = AK2', ''].join('\n'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadS3Profile', () => {
  it('reads the profile the option names, else AWS_PROFILE, else default; the credentials file wins where both set a value', async () => {
    const byOption = await loadS3Profile('eu', { ...env, AWS_PROFILE: 'svc' });
    assert.deepEqual(
      { ...byOption },
      { name: 'eu', chosenBy: 'profile', found: true, region: 'eu-west-3', endpointUrl: 'http://eu.store:9000', endpointUrlFrom: "endpoint_url of profile 'eu'", caBundle: '~/eu-ca.pem', ignoreConfiguredEndpointUrls: false },
    );
    const byEnv = await loadS3Profile(undefined, { ...env, AWS_PROFILE: 'eu' });
    assert.deepEqual({ ...byEnv, chosenBy: 'profile' }, { ...byOption }, 'AWS_PROFILE reads the very same settings');
    assert.equal(byEnv.chosenBy, 'AWS_PROFILE');
    const fallback = await loadS3Profile(undefined, env);
    assert.equal(fallback.name, 'default');
    assert.equal(fallback.chosenBy, 'default');
    assert.equal(fallback.region, 'ap-south-1');
    assert.equal((await loadS3Profile('only-keys', env)).found, true, 'a profile only in the credentials file exists');
  });

  it("prefers the services section's s3 endpoint_url and reads the s3 addressing_style", async () => {
    const svc = await loadS3Profile('svc', env);
    assert.equal(svc.endpointUrl, 'http://s3.store:9000');
    assert.equal(svc.endpointUrlFrom, 's3 endpoint_url of [services local]');
    assert.equal(svc.addressingStyle, 'virtual');
    assert.equal((await loadS3Profile('ignoring', env)).ignoreConfiguredEndpointUrls, true);
  });

  it('names a profile that is in neither file, and a services section that is not there', async () => {
    await assert.rejects(loadS3Profile('nope', env), (error) => {
      assert.ok(isShmsnapError(error, 'CONFIG_INVALID'));
      assert.equal(error.details['option'], 'profile');
      assert.equal(error.details['reason'], `profile 'nope' not found in ${env['AWS_CONFIG_FILE']} or ${env['AWS_SHARED_CREDENTIALS_FILE']}`);
      return true;
    });
    await assert.rejects(loadS3Profile(undefined, { ...env, AWS_PROFILE: 'nope' }), (error) => isShmsnapError(error, 'CONFIG_INVALID') && error.details['option'] === 'AWS_PROFILE');
    await assert.rejects(loadS3Profile('broken', env), (error) => isShmsnapError(error, 'CONFIG_INVALID') && /\[services nowhere\] not found/.test(error.message));
    // Without the files, as on a host that uses an instance role: nothing to refuse.
    const bare = await loadS3Profile(undefined, { AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') });
    assert.equal(bare.found, false);
    assert.equal(bare.region, undefined);
    assert.equal((await loadS3Profile('default', { AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') })).found, false, 'default even when named, as the AWS CLI allows');
    // The default files are named as the AWS documentation names them.
    await assert.rejects(loadS3Profile('nope', { AWS_CONFIG_FILE: join(homedir(), '.aws', 'no-such-config') }), (error) => isShmsnapError(error) && /not found in ~\/\.aws\/no-such-config or ~\/\.aws\/credentials$/.test(error.message));
  });
});

describe('resolveS3SinkOptions with a profile', () => {
  const profile = (settings: Partial<S3Profile>): S3Profile => ({ name: 'p', chosenBy: 'profile', found: true, ignoreConfiguredEndpointUrls: false, ...settings });

  it("ranks the region: option, AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1", () => {
    const p = profile({ region: 'eu-central-1' });
    assert.equal(resolveS3SinkOptions({}, {}, p).region, 'eu-central-1');
    assert.equal(resolveS3SinkOptions({}, {}, p).regionGiven, true);
    assert.equal(resolveS3SinkOptions({}, { AWS_DEFAULT_REGION: 'us-west-1' }, p).region, 'us-west-1');
    assert.equal(resolveS3SinkOptions({}, { AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'us-west-1' }, p).region, 'us-west-2');
    assert.equal(resolveS3SinkOptions({ region: 'sa-east-1' }, { AWS_REGION: 'us-west-2' }, p).region, 'sa-east-1');
    const guessed = resolveS3SinkOptions({}, {}, profile({}));
    assert.equal(guessed.region, 'us-east-1');
    assert.equal(guessed.regionGiven, false);
    assert.throws(
      () => resolveS3SinkOptions({}, {}, profile({ name: 'odd', region: 'not a region' })),
      (error) => isShmsnapError(error, 'CONFIG_INVALID') && error.details['option'] === "region of profile 'odd'",
    );
  });

  it("ranks the endpoint: option, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's; a custom endpoint from any source is path-style", () => {
    const p = profile({ endpointUrl: 'http://profile.store', endpointUrlFrom: "endpoint_url of profile 'p'" });
    const fromProfile = resolveS3SinkOptions({}, {}, p);
    assert.equal(fromProfile.endpoint, 'http://profile.store');
    assert.equal(fromProfile.forcePathStyle, true);
    assert.equal(resolveS3SinkOptions({}, { AWS_ENDPOINT_URL: 'http://global.store' }, p).endpoint, 'http://global.store');
    assert.equal(resolveS3SinkOptions({}, { AWS_ENDPOINT_URL: 'http://global.store', AWS_ENDPOINT_URL_S3: 'http://s3.store' }, p).endpoint, 'http://s3.store');
    assert.equal(resolveS3SinkOptions({ endpoint: 'http://option.store' }, { AWS_ENDPOINT_URL_S3: 'http://s3.store' }, p).endpoint, 'http://option.store');
    for (const fromEnv of [{ AWS_ENDPOINT_URL: 'http://global.store' }, { AWS_ENDPOINT_URL_S3: 'http://s3.store' }]) {
      assert.equal(resolveS3SinkOptions({}, fromEnv).forcePathStyle, true, JSON.stringify(fromEnv));
    }
    assert.equal(resolveS3SinkOptions({ forcePathStyle: false }, {}, p).forcePathStyle, false, 'an explicit false wins');
    assert.equal(resolveS3SinkOptions({}, {}, { ...p, addressingStyle: 'virtual' }).forcePathStyle, false);
    assert.equal(resolveS3SinkOptions({}, {}, profile({ addressingStyle: 'path' })).forcePathStyle, true);
    // Ignoring configured endpoints leaves only the option.
    assert.equal(resolveS3SinkOptions({}, { AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true', AWS_ENDPOINT_URL_S3: 'http://s3.store' }, p).endpoint, undefined);
    assert.equal(resolveS3SinkOptions({}, { AWS_ENDPOINT_URL_S3: 'http://s3.store' }, { ...p, ignoreConfiguredEndpointUrls: true }).endpoint, undefined);
    assert.equal(resolveS3SinkOptions({ endpoint: 'http://option.store' }, {}, { ...p, ignoreConfiguredEndpointUrls: true }).endpoint, 'http://option.store');
    assert.throws(
      () => resolveS3SinkOptions({}, {}, profile({ endpointUrl: 'minio:9000', endpointUrlFrom: "endpoint_url of profile 'p'" })),
      (error) => isShmsnapError(error, 'CONFIG_INVALID') && error.details['option'] === "endpoint_url of profile 'p'",
    );
    assert.throws(() => resolveS3SinkOptions({}, { AWS_ENDPOINT_URL: 'minio' }), (error) => isShmsnapError(error, 'CONFIG_INVALID') && error.details['option'] === 'AWS_ENDPOINT_URL');
  });

  it('ranks the CA bundle: option, AWS_CA_BUNDLE, the profile\'s ca_bundle, each named', () => {
    const p = profile({ caBundle: '~/ca.pem' });
    assert.deepEqual(resolveS3SinkOptions({}, {}, p).caBundle, { path: join(homedir(), 'ca.pem'), from: "ca_bundle of profile 'p'" });
    assert.deepEqual(resolveS3SinkOptions({}, { AWS_CA_BUNDLE: '/etc/env.pem' }, p).caBundle, { path: '/etc/env.pem', from: 'AWS_CA_BUNDLE' });
    assert.deepEqual(resolveS3SinkOptions({ caBundle: '/etc/option.pem' }, { AWS_CA_BUNDLE: '/etc/env.pem' }, p).caBundle, { path: '/etc/option.pem', from: 'caBundle' });
    assert.equal(resolveS3SinkOptions({}, {}).caBundle, undefined);
  });

  it('gives the client the profile the option or AWS_PROFILE chose, and none for the default (the SDK then tries the environment first)', () => {
    assert.equal(resolveS3SinkOptions({ profile: 'x' }, {}, profile({ name: 'x' })).profile, 'x');
    assert.equal(resolveS3SinkOptions({}, {}, profile({ name: 'y', chosenBy: 'AWS_PROFILE' })).profile, 'y');
    assert.equal(resolveS3SinkOptions({}, {}, profile({ name: 'default', chosenBy: 'default' })).profile, undefined);
  });

  it('says part sizes in MiB', () => {
    assert.throws(
      () => resolveS3SinkOptions({ partSizeBytes: 2 * 1024 * 1024 }, {}),
      (error) => isShmsnapError(error, 'CONFIG_INVALID') && error.message === 'partSizeBytes: must be from 5 to 5120 MiB, got 2 MiB',
    );
    assert.throws(() => resolveS3SinkOptions({ partSizeBytes: 6 * 1024 * 1024 * 1024 }, {}), (error) => isShmsnapError(error) && /got 6144 MiB$/.test(error.message));
  });
});
