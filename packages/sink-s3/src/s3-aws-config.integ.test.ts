// The sink as AWS tools behave, against s3rver behind a recording proxy: the
// profile's region signs the requests and its endpoint_url is where they go,
// path-style; an https store is reached with the CA bundle it is given, and
// without one the TLS failure says so.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { isShmsnapError, type Sink } from '@shmsnap/core';
import { createS3Sink } from './s3-sink.js';
import { createTestPki, opensslMissing, s3TestClientOptions, startFaultProxy, startS3Server, useS3rverCredentials, type FaultProxy, type S3TestServer } from './testing/index.js';

useS3rverCredentials();
const noOpenssl = await opensslMissing();
if (noOpenssl !== undefined) console.log(`# skipping the TLS tests: ${noOpenssl}`);

let server: S3TestServer;
let dir = '';
before(async () => {
  server = await startS3Server({ buckets: ['test'] });
  dir = await mkdtemp(join(tmpdir(), 'shmsnap-s3-aws-'));
  process.env['AWS_CONFIG_FILE'] = join(dir, 'config');
  process.env['AWS_SHARED_CREDENTIALS_FILE'] = join(dir, 'credentials');
});
after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

async function roundTrip(sink: Sink, name: string): Promise<void> {
  const data = Buffer.from(`the bytes of ${name}`);
  const writer = await sink.openWriter(name, { expectedBytes: data.length });
  await pipeline(Readable.from([data]), writer.stream);
  await writer.commit();
  const chunks: Buffer[] = [];
  for await (const chunk of await sink.openReader(name)) chunks.push(chunk as Buffer);
  assert.ok(Buffer.concat(chunks).equals(data));
}

const scopeOf = (authorization: unknown): string | undefined => /Credential=[^/]+\/\d{8}\/([^/]+)\/s3\/aws4_request/.exec(String(authorization))?.[1];

describe('s3 sink: the shared AWS files', () => {
  it("signs for the profile's region, sends to its endpoint_url path-style, with its credentials", async () => {
    const proxy = await startFaultProxy(server.endpoint);
    // Only the profile has credentials here.
    delete process.env['AWS_ACCESS_KEY_ID'];
    delete process.env['AWS_SECRET_ACCESS_KEY'];
    try {
      // The default profile's endpoint leads nowhere: taking it instead of the named profile's would fail.
      await writeFile(process.env['AWS_CONFIG_FILE']!, `[default]\nregion = ap-south-1\nendpoint_url = http://127.0.0.1:9\n[profile north]\nregion = eu-north-1\nendpoint_url = ${proxy.endpoint}\n`);
      await writeFile(process.env['AWS_SHARED_CREDENTIALS_FILE']!, '[north]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n');
      const sink = await createS3Sink('s3://test/north', { profile: 'north', retry: { maxAttempts: 1 } });
      try {
        await roundTrip(sink, 'a.dat');
        assert.deepEqual((await sink.list('')).map((o) => o.name), ['a.dat']);
      } finally {
        await sink.close?.();
      }
      assert.ok(proxy.log.length >= 3, `${proxy.log.length} requests`);
      assert.deepEqual([...new Set(proxy.log.map((r) => scopeOf(r.headers.authorization)))], ['eu-north-1']);
      assert.ok(proxy.log.every((r) => r.path.startsWith('/test/') || r.path === '/test'), proxy.log.map((r) => r.path).join(' '));
      assert.ok(proxy.log.every((r) => String(r.headers.authorization).includes('Credential=S3RVER/')), "the profile's access key signed them");
    } finally {
      useS3rverCredentials();
      await proxy.stop();
    }
  });
});

describe('s3 sink: https with a CA bundle', { skip: noOpenssl }, () => {
  it('fails the first request with a TLS REMOTE_FAILED without the CA, and works with it', async () => {
    const pki = await createTestPki();
    let proxy: FaultProxy | undefined;
    try {
      proxy = await startFaultProxy(server.endpoint, [], { tls: await pki.issue(['IP:127.0.0.1']) });
      const untrusted = await createS3Sink('s3://test/tls', { ...s3TestClientOptions(proxy.endpoint), retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
      try {
        await assert.rejects(untrusted.list(''), (error) => {
          assert.ok(isShmsnapError(error, 'REMOTE_FAILED'), String(error));
          assert.equal(error.retryable, false);
          assert.equal(error.details['tls'], 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
          assert.match(error.message, /caBundle or AWS_CA_BUNDLE/);
          return true;
        });
      } finally {
        await untrusted.close?.();
      }
      assert.equal(proxy.counts.requests, 0, 'the handshake failed before any request');

      const trusting = await createS3Sink('s3://test/tls', { ...s3TestClientOptions(proxy.endpoint), caBundle: pki.caFile });
      try {
        await roundTrip(trusting, 'b.dat');
      } finally {
        await trusting.close?.();
      }
      assert.ok(proxy.counts.requests >= 3);
      await assert.rejects(createS3Sink('s3://test/tls', { ...s3TestClientOptions(proxy.endpoint), caBundle: join(dir, 'missing.pem') }), (error) => isShmsnapError(error, 'CONFIG_INVALID') && error.details['option'] === 'caBundle');
    } finally {
      await proxy?.stop();
      await pki.remove();
    }
  });
});
