// The CLI follows the AWS conventions an operator already uses: a profile's
// region, endpoint_url and ca_bundle (the same through --s3-profile and
// AWS_PROFILE), AWS_CA_BUNDLE and --s3-ca-bundle for a store behind a private
// CA, readable booleans, sizes in the flag's unit, a missing profile named,
// and no S3 setting taken silently for a local location. Against s3rver on
// 127.0.0.1 behind a proxy that records each request (and, for TLS, listens
// for https with a certificate made here with openssl).
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { existsSync } = await import('node:fs');
const { mkdir, writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { after, afterEach, before, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { createTestPki, opensslMissing, startFaultProxy, startS3Server } = await import('@shmsnap/sink-s3/testing');
const { runShmsnap } = await import('./support/cli.js');
const { clearSegments } = await import('./support/shm.js');
const { useScratch } = await import('./support/scratch.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;
type FaultProxy = import('@shmsnap/sink-s3/testing').FaultProxy;
type S3TestServer = import('@shmsnap/sink-s3/testing').S3TestServer;
type TestPki = import('@shmsnap/sink-s3/testing').TestPki;

const BUCKET = 'shmsnap-aws';
const layout: FixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 1, stageBytes: 1024 * 1024 }] };
const scratch = useScratch('s3-aws');
const noOpenssl = await opensslMissing();
if (noOpenssl !== undefined) console.log(`# skipping the TLS tests: ${noOpenssl}`);

let server: S3TestServer;
let proxy: FaultProxy;
let files: { config: string; credentials: string };
before(async () => {
  server = await startS3Server({ buckets: [BUCKET] });
  proxy = await startFaultProxy(server.endpoint);
  const dir = join(scratch.root(), 'aws');
  await mkdir(dir);
  files = { config: join(dir, 'config'), credentials: join(dir, 'credentials') };
  await writeFile(
    files.config,
    [
      // The default profile's endpoint leads nowhere: a run that took it instead of the named profile's fails.
      '[default]',
      'region = ap-south-1',
      'endpoint_url = http://127.0.0.1:9',
      '[profile eu]',
      'region = eu-central-1',
      `endpoint_url = ${proxy.endpoint}`,
      '[profile svc]',
      'region = eu-west-3',
      'services = local-s3',
      '[services local-s3]',
      's3 =',
      `  endpoint_url = ${proxy.endpoint}`,
      '',
    ].join('\n'),
  );
  await writeFile(files.credentials, ['[eu]', 'aws_access_key_id = S3RVER', 'aws_secret_access_key = S3RVER', '[svc]', 'aws_access_key_id = S3RVER', 'aws_secret_access_key = S3RVER', ''].join('\n'));
});
after(async () => {
  await proxy.stop();
  await server.stop();
});
afterEach(clearSegments);

/** Only the files of this test, and no AWS setting of the machine running it. */
function aws(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const blank = Object.fromEntries(Object.keys(process.env).filter((name) => name.startsWith('AWS_') || name.startsWith('SHMSNAP_S3_')).map((name) => [name, '']));
  return { ...blank, AWS_CONFIG_FILE: files.config, AWS_SHARED_CREDENTIALS_FILE: files.credentials, ...extra };
}
const keys = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

/** The regions the requests since `from` were signed for (the credential scope of their Authorization header). */
function signedFor(from: number): string[] {
  return [...new Set(proxy.log.slice(from).map((r) => /Credential=[^/]+\/\d{8}\/([^/]+)\/s3\/aws4_request/.exec(String(r.headers.authorization))?.[1] ?? 'unsigned'))];
}

/** The only line of `stderr`, which must be the one error. */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, stderr);
  return lines[0]!;
}

describe('S3 profiles', () => {
  it("signs for the profile's region and goes to its endpoint_url, path-style: --s3-profile and AWS_PROFILE alike", async () => {
    const fixture = await createFixture(layout);
    let from = proxy.log.length;
    const backup = await runShmsnap(['backup', '--to', `s3://${BUCKET}/by-flag`, '--s3-profile', 'eu', '--json'], { env: aws() });
    assert.equal(backup.status, 0, backup.stderr);
    assert.deepEqual(signedFor(from), ['eu-central-1']);
    assert.ok(
      proxy.log.slice(from).every((r) => r.path.startsWith(`/${BUCKET}/`) || r.path === `/${BUCKET}`),
      'path-style by default: the endpoint came from the profile',
    );

    from = proxy.log.length;
    const verified = await runShmsnap(['verify', `s3://${BUCKET}/by-flag`], { env: aws({ AWS_PROFILE: 'eu' }) });
    assert.equal(verified.status, 0, verified.stderr);
    assert.deepEqual(signedFor(from), ['eu-central-1'], 'AWS_PROFILE reads the same profile the same way');

    from = proxy.log.length;
    const backupByEnv = await runShmsnap(['backup', '--to', `s3://${BUCKET}/by-env`], { env: aws({ AWS_PROFILE: 'eu' }) });
    assert.equal(backupByEnv.status, 0, backupByEnv.stderr);
    assert.deepEqual(signedFor(from), ['eu-central-1']);
    await fixture.remove();

    // The usual ranking above the profile: the flag, then AWS_REGION.
    from = proxy.log.length;
    assert.equal((await runShmsnap(['ls', `s3://${BUCKET}`, '--s3-profile', 'eu', '--s3-region', 'us-west-2'], { env: aws({ AWS_REGION: 'ca-central-1' }) })).status, 0);
    assert.deepEqual(signedFor(from), ['us-west-2']);
    from = proxy.log.length;
    assert.equal((await runShmsnap(['ls', `s3://${BUCKET}`], { env: aws({ AWS_PROFILE: 'eu', AWS_REGION: 'ca-central-1' }) })).status, 0);
    assert.deepEqual(signedFor(from), ['ca-central-1']);
  });

  it("takes the s3 endpoint_url of the profile's services section", async () => {
    const from = proxy.log.length;
    const ls = await runShmsnap(['ls', `s3://${BUCKET}`, '--s3-profile', 'svc', '--json'], { env: aws() });
    assert.equal(ls.status, 0, ls.stderr);
    assert.ok(proxy.log.length > from, 'the requests went to the endpoint of the services section');
    assert.deepEqual(signedFor(from), ['eu-west-3']);
  });

  it('names a profile that is in neither file, before any request', async () => {
    const from = proxy.log.length;
    const byFlag = await runShmsnap(['ls', `s3://${BUCKET}`, '--s3-profile', 'nope'], { env: aws() });
    assert.equal(byFlag.status, 2, byFlag.stderr);
    assert.equal(oneLine(byFlag.stderr), `shmsnap: CONFIG_INVALID: --s3-profile: profile 'nope' not found in ${files.config} or ${files.credentials}`);
    const byEnv = await runShmsnap(['ls', `s3://${BUCKET}`], { env: aws({ AWS_PROFILE: 'nope' }) });
    assert.equal(byEnv.status, 2, byEnv.stderr);
    assert.equal(oneLine(byEnv.stderr), `shmsnap: CONFIG_INVALID: AWS_PROFILE: profile 'nope' not found in ${files.config} or ${files.credentials}`);
    assert.equal(proxy.log.length, from);
  });
});

describe('S3 over https with a private CA', { skip: noOpenssl }, () => {
  let pki: TestPki;
  let tls: FaultProxy;
  let selfSigned: FaultProxy;
  let selfSignedCert: string;
  let wrongName: FaultProxy;
  before(async () => {
    pki = await createTestPki();
    tls = await startFaultProxy(server.endpoint, [], { tls: await pki.issue(['IP:127.0.0.1']) });
    const self = await pki.selfSigned(['IP:127.0.0.1']);
    selfSignedCert = self.certFile;
    selfSigned = await startFaultProxy(server.endpoint, [], { tls: self });
    wrongName = await startFaultProxy(server.endpoint, [], { tls: await pki.issue(['DNS:store.invalid']) });
    await writeFile(files.config, `\n[profile tls]\nendpoint_url = ${tls.endpoint}\nca_bundle = ${pki.caFile}\n`, { flag: 'a' });
    await writeFile(files.credentials, '\n[tls]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n', { flag: 'a' });
  });
  after(async () => {
    await tls.stop();
    await selfSigned.stop();
    await wrongName.stop();
    await pki.remove();
  });

  it('fails in one line with the hint without the CA, and backs up with --s3-ca-bundle, AWS_CA_BUNDLE or the profile ca_bundle', async () => {
    const fixture = await createFixture(layout);
    const untrusted = await runShmsnap(['backup', '--to', `s3://${BUCKET}/tls-none`, '--s3-endpoint', tls.endpoint], { env: aws(keys) });
    assert.equal(untrusted.status, 1, untrusted.stderr);
    assert.match(
      oneLine(untrusted.stderr),
      /^shmsnap: REMOTE_FAILED: s3 \S+ failed for s3:\/\/shmsnap-aws\/tls-none\S*: TLS: the store's certificate is signed by a CA this host does not know \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); if the store is yours, give its CA's certificate \(PEM\) with --s3-ca-bundle or AWS_CA_BUNDLE$/,
    );
    assert.equal(tls.counts.requests, 0, 'nothing got past the handshake');

    const runs = [
      { to: 'tls-flag', args: ['--s3-endpoint', tls.endpoint, '--s3-ca-bundle', pki.caFile], env: aws(keys) },
      { to: 'tls-env', args: ['--s3-endpoint', tls.endpoint], env: aws({ ...keys, AWS_CA_BUNDLE: pki.caFile }) },
      { to: 'tls-profile', args: ['--s3-profile', 'tls'], env: aws() },
    ];
    for (const run of runs) {
      const backup = await runShmsnap(['backup', '--to', `s3://${BUCKET}/${run.to}`, ...run.args], { env: run.env });
      assert.equal(backup.status, 0, `${run.to}: ${backup.stderr}`);
    }
    assert.ok(tls.counts.requests > 0);
    await fixture.remove();
    const restore = await runShmsnap(['restore', '--from', `s3://${BUCKET}/tls-profile`], { env: aws({ AWS_PROFILE: 'tls' }) });
    assert.equal(restore.status, 0, restore.stderr);
    assert.deepEqual(await fixture.compare(), [], 'restored byte-identical through TLS');
  });

  it('says a self-signed certificate is one, a certificate for another name is that, and a CA bundle that is not one is refused', async () => {
    const self = await runShmsnap(['ls', `s3://${BUCKET}`, '--s3-endpoint', selfSigned.endpoint], { env: aws(keys) });
    assert.equal(self.status, 1);
    assert.match(oneLine(self.stderr), /^shmsnap: REMOTE_FAILED: .*TLS: the store's certificate is self-signed \(DEPTH_ZERO_SELF_SIGNED_CERT\); .*--s3-ca-bundle or AWS_CA_BUNDLE$/);
    const trusted = await runShmsnap(['ls', `s3://${BUCKET}`, '--s3-endpoint', selfSigned.endpoint, '--s3-ca-bundle', selfSignedCert], { env: aws(keys) });
    assert.equal(trusted.status, 0, trusted.stderr);

    const mismatch = await runShmsnap(['ls', `s3://${BUCKET}`, '--s3-endpoint', wrongName.endpoint, '--s3-ca-bundle', pki.caFile], { env: aws(keys) });
    assert.equal(mismatch.status, 1);
    assert.match(oneLine(mismatch.stderr), /^shmsnap: REMOTE_FAILED: .*TLS: the store's certificate is not for the endpoint's host name: it is for DNS:store\.invalid, not 127\.0\.0\.1 \(ERR_TLS_CERT_ALTNAME_INVALID\)/);

    const notPem = await runShmsnap(['ls', `s3://${BUCKET}`, '--s3-endpoint', tls.endpoint], { env: aws({ ...keys, AWS_CA_BUNDLE: files.config }) });
    assert.equal(notPem.status, 2);
    assert.equal(oneLine(notPem.stderr), `shmsnap: CONFIG_INVALID: AWS_CA_BUNDLE: ${files.config} holds no PEM certificate`);
  });
});

describe('S3 settings as operators write them', () => {
  it('reads booleans as true/false/1/0/yes/no and names a variable it cannot read', async () => {
    for (const value of ['true', '1', 'yes']) {
      const ls = await runShmsnap(['ls', `s3://${BUCKET}`, '--s3-endpoint', proxy.endpoint], { env: aws({ ...keys, SHMSNAP_S3_PATH_STYLE: value }) });
      assert.equal(ls.status, 0, `${value}: ${ls.stderr}`);
    }
    const bad = await runShmsnap(['ls', `s3://${BUCKET}`, '--s3-endpoint', proxy.endpoint], { env: aws({ ...keys, SHMSNAP_S3_PATH_STYLE: 'maybe' }) });
    assert.equal(bad.status, 2);
    assert.equal(oneLine(bad.stderr), 'shmsnap: CONFIG_INVALID: SHMSNAP_S3_PATH_STYLE: must be true, false, 1, 0, yes or no, got "maybe"');
    assert.match((await runShmsnap(['ls', '--help'])).stdout, /--no-s3-path-style/);
  });

  it('says a part size in MiB, naming the flag or the variable that gave it', async () => {
    await createFixture(layout);
    const byFlag = await runShmsnap(['backup', '--to', `s3://${BUCKET}/small-parts`, '--s3-endpoint', proxy.endpoint, '--s3-part-size-mib', '2'], { env: aws(keys) });
    assert.equal(byFlag.status, 2);
    assert.equal(oneLine(byFlag.stderr), 'shmsnap: CONFIG_INVALID: --s3-part-size-mib: must be from 5 to 5120 MiB, got 2 MiB');
    const byEnv = await runShmsnap(['backup', '--to', `s3://${BUCKET}/small-parts`, '--s3-endpoint', proxy.endpoint], { env: aws({ ...keys, SHMSNAP_S3_PART_SIZE_MIB: '2' }) });
    assert.equal(byEnv.status, 2);
    assert.equal(oneLine(byEnv.stderr), 'shmsnap: CONFIG_INVALID: SHMSNAP_S3_PART_SIZE_MIB: must be from 5 to 5120 MiB, got 2 MiB');
  });

  it('refuses S3-only settings for a local location, before writing anything', async () => {
    const fixture = await createFixture(layout);
    const to = scratch.fresh();
    const sse = await runShmsnap(['backup', '--to', to, '--s3-sse', 'AES256'], { env: aws() });
    assert.equal(sse.status, 2);
    assert.equal(oneLine(sse.stderr), `shmsnap: CONFIG_INVALID: --s3-sse: applies only to s3:// locations, not to ${to}`);
    const storage = await runShmsnap(['backup', '--to', to], { env: aws({ SHMSNAP_S3_STORAGE_CLASS: 'STANDARD_IA' }) });
    assert.equal(storage.status, 2);
    assert.equal(oneLine(storage.stderr), `shmsnap: CONFIG_INVALID: SHMSNAP_S3_STORAGE_CLASS: applies only to s3:// locations, not to ${to}`);
    assert.ok(!existsSync(to), 'nothing was written');

    // The AWS variables are not S3-only settings of shmsnap: a host may set them for every tool.
    const local = await runShmsnap(['backup', '--to', to], { env: aws({ AWS_REGION: 'eu-west-1', AWS_PROFILE: 'nope', AWS_CA_BUNDLE: '/nowhere' }) });
    assert.equal(local.status, 0, local.stderr);
    await fixture.remove();
    for (const args of [
      ['restore', '--from', to, '--s3-region', 'eu-west-1'],
      ['verify', to, '--no-s3-path-style'],
      ['ls', to, '--s3-endpoint', proxy.endpoint],
    ]) {
      const refused = await runShmsnap(args, { env: aws() });
      assert.equal(refused.status, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.match(oneLine(refused.stderr), /^shmsnap: CONFIG_INVALID: --\S+: applies only to s3:\/\/ locations/);
    }
  });
});
