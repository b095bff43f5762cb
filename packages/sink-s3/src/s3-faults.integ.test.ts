import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { isShmsnapError, withRetry, type Sink, type SinkWriter } from '@shmsnap/core';
import { crc32 } from '@shmsnap/core/plugin-kit';
import { createS3Sink } from './s3-sink.js';
import type { S3SinkEvent, S3SinkOptions } from './s3-options.js';
import { s3TestClientOptions, startFaultProxy, startS3Server, startS3TestStores, type FaultProxy, type FaultRule, type S3TestStore } from './testing/index.js';

const MiB = 1024 * 1024;
const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };

// Every store SHMSNAP_TEST_S3 selects (s3rver and Ceph RGW by default), each through the fault proxy.
const { stores, skipped } = await startS3TestStores();
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  for (const store of stores) await store.stop();
});
for (const skip of skipped) describe(`s3 sink through a faulty network on ${skip.kind}`, { skip: skip.reason }, () => {});
const run = `faults-${process.pid}`;

let cases = 0;
/** A sink that reaches `store` through a fault proxy with `rules`. */
async function sinkBehindProxy(store: S3TestStore, rules: FaultRule[], options: S3SinkOptions = {}, bucket = store.bucket): Promise<{ sink: Sink; proxy: FaultProxy }> {
  const proxy = await startFaultProxy(store.endpoint, rules);
  cases += 1;
  const sink = await createS3Sink(`s3://${bucket}/${run}/${cases}`, { ...s3TestClientOptions(proxy.endpoint), partSizeBytes: 5 * MiB, uploadConcurrency: 2, retry: fastRetry, ...options });
  cleanups.push(async () => {
    if (bucket === store.bucket) for (const object of await sink.list('').catch(() => [])) await sink.remove(object.name).catch(() => undefined);
    await sink.close?.();
    await proxy.stop();
  });
  return { sink, proxy };
}

function chunksOf(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) out.push(data.subarray(offset, offset + size));
  return out;
}

async function put(sink: Sink, name: string, data: Buffer): Promise<void> {
  const writer = await sink.openWriter(name, { expectedBytes: data.length });
  await pipeline(Readable.from(chunksOf(data, 512 * 1024)), writer.stream);
  await writer.commit();
}

async function readAll(sink: Sink, name: string, range?: { start: number; end: number }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await sink.openReader(name, range ? { range } : {})) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Resolves once the proxy has seen a request `matches` accepts (polling: the proxy has no events). */
async function seen(proxy: FaultProxy, matches: (request: FaultProxy['log'][number]) => boolean): Promise<void> {
  for (let waited = 0; !proxy.log.some(matches); waited += 5) {
    if (waited > 10_000) assert.fail('the expected request never came');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
const isPartUpload = (request: FaultProxy['log'][number]): boolean => request.method === 'PUT' && request.query.has('partNumber');

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a failure');
}

for (const store of stores) {
  describe(`s3 sink through a faulty network on ${store.kind}`, () => {
    before(() => store.useCredentials());
    it('writes and reads byte-identical objects despite 500s, 503s and dropped connections', async () => {
      const { sink, proxy } = await sinkBehindProxy(store, 
        [
          { method: 'POST', query: ['uploads'], times: 1, fault: 'slow-down' },
          { method: 'PUT', query: ['partNumber'], every: 3, times: 3, fault: 'internal-error' },
          { method: 'PUT', query: ['partNumber'], every: 4, times: 1, fault: 'drop-before' },
          { method: 'PUT', query: ['partNumber'], every: 5, times: 1, fault: 'slow-down' },
          { method: 'PUT', query: ['partNumber'], every: 7, times: 1, fault: 'drop-after' },
          // The answer to CompleteMultipartUpload is lost after s3rver completed it.
          { method: 'POST', query: ['uploadId'], times: 1, fault: 'drop-after' },
          // A small object: a 500, then a lost answer after it was stored.
          { method: 'PUT', withoutQuery: ['partNumber'], times: 1, fault: 'internal-error' },
          { method: 'PUT', withoutQuery: ['partNumber'], every: 2, times: 1, fault: 'drop-after' },
          // Downloads: the first read drops half-way; the resumed one is refused once, then drops again.
          { method: 'GET', path: /\/big\.dat$/, times: 1, fault: 'drop-mid-body' },
          { method: 'GET', header: 'range', times: 1, fault: 'slow-down' },
          { method: 'GET', header: 'range', every: 2, times: 1, fault: 'drop-mid-body' },
          { method: 'HEAD', every: 3, times: 2, fault: 'internal-error' },
        ],
        { retry: { ...fastRetry, maxAttempts: 6 } },
      );
      const big = randomBytes(23 * MiB + 123);
      const small = randomBytes(70_000);
      await put(sink, 'big.dat', big);
      await put(sink, 'small.dat', small);
      const faultsWriting = proxy.counts.faults;

      const reader = withRetry(sink, { ...fastRetry, maxAttempts: 6 });
      const back = await readAll(reader, 'big.dat');
      assert.equal(back.length, big.length);
      assert.equal(crc32(back), crc32(big), 'the object read back differs');
      assert.ok((await readAll(reader, 'small.dat')).equals(small));
      assert.ok((await readAll(reader, 'big.dat', { start: 7 * MiB, end: 17 * MiB + 3 })).equals(big.subarray(7 * MiB, 17 * MiB + 3)));
      assert.deepEqual((await reader.list('')).map((o) => [o.name, o.size]), [['big.dat', big.length], ['small.dat', small.length]]);

      const { byKind } = proxy.counts;
      assert.ok(faultsWriting >= 9, `faults while writing: ${faultsWriting}`);
      assert.ok(byKind['internal-error'] >= 4 && byKind['slow-down'] >= 3 && byKind['drop-before'] >= 1, JSON.stringify(byKind));
      assert.ok(byKind['drop-after'] >= 3 && byKind['drop-mid-body'] >= 2, JSON.stringify(byKind));
      // The resumed downloads asked for the rest, not the whole object again.
      const ranged = proxy.log.filter((r) => r.method === 'GET' && r.path.endsWith('/big.dat') && r.headers.range !== undefined);
      assert.ok(ranged.length >= 3 && ranged.every((r) => !String(r.headers.range).startsWith('bytes=0-')), ranged.map((r) => r.headers.range).join(' '));
    });

    it('removes an object whose commit failed after the store had stored it (lost answer, no retries left)', async () => {
      const { sink, proxy } = await sinkBehindProxy(store, 
        [
          { method: 'POST', query: ['uploadId'], fault: 'drop-after' },
          { method: 'PUT', withoutQuery: ['partNumber'], fault: 'drop-after' },
        ],
        { retry: { maxAttempts: 1 } },
      );
      for (const [name, bytes] of [['multi.dat', 11 * MiB], ['single.dat', 1000]] as const) {
        const writer = await sink.openWriter(name, { expectedBytes: bytes });
        await pipeline(Readable.from(chunksOf(randomBytes(bytes), MiB)), writer.stream);
        const failure = await failureOf(writer.commit());
        assert.ok(isShmsnapError(failure, 'REMOTE_FAILED') && failure.retryable, `got ${inspect(failure)}`);
        await writer.abort();
        assert.equal(await sink.stat(name), undefined, `${name} must vanish after its commit failed`);
      }
      assert.equal(proxy.counts.byKind['drop-after'], 2);
      assert.equal(proxy.log.filter((r) => r.method === 'DELETE' && !r.query.has('uploadId')).length, 2);
    });

    it('fails quickly with a coded error when the server stops mid-upload, and leaves nothing visible', { skip: store.kind === 's3rver' ? false : 'stops and restarts its server: only s3rver runs in this process' }, async () => {
      const own = await startS3Server({ buckets: ['test'] });
      const proxy = await startFaultProxy(own.endpoint);
      const events: S3SinkEvent[] = [];
      const sink = await createS3Sink('s3://test/interrupted', {
        ...s3TestClientOptions(proxy.endpoint),
        partSizeBytes: 5 * MiB,
        uploadConcurrency: 2,
        retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
        onEvent: (event) => events.push(event),
      });
      try {
        const writer = await sink.openWriter('segment.dat', { expectedBytes: 40 * MiB });
        const started = Date.now();
        const source = Readable.from(
          (async function* () {
            for (let i = 0; i < 40; i += 1) {
              if (i === 12) {
                // Once the upload exists on the server, so there is one to abort.
                await seen(proxy, isPartUpload);
                await own.stop({ keepData: true });
              }
              yield randomBytes(MiB);
            }
          })(),
        );
        const failure = await failureOf(pipeline(source, writer.stream));
        assert.ok(isShmsnapError(failure, 'REMOTE_FAILED'), `got ${inspect(failure)}`);
        assert.ok(Date.now() - started < 10_000, 'the write must fail, not hang');
        assert.ok(isShmsnapError(await failureOf(writer.commit()), 'REMOTE_FAILED'));
        await writer.abort();
        assert.ok(events.some((e) => e.type === 'part-started' && e.partNumber >= 2), 'the upload had started parts');
        assert.ok(proxy.log.some((r) => r.method === 'DELETE' && r.query.has('uploadId')), 'AbortMultipartUpload was not attempted');
        const aborted = events.find((e) => e.type === 'upload-aborted');
        assert.ok(aborted && aborted.type === 'upload-aborted' && aborted.error !== undefined, 'the failed abort is reported');

        await own.restart();
        assert.deepEqual(await sink.list(''), []);
        assert.equal(await sink.stat('segment.dat'), undefined);
      } finally {
        await sink.close?.();
        await proxy.stop();
        await own.stop();
      }
    });

    it('aborts the multipart upload of an aborted writer (s3rver refuses with 405: reported, not thrown; RGW takes it)', async () => {
      const events: S3SinkEvent[] = [];
      const { sink, proxy } = await sinkBehindProxy(store, [], { onEvent: (event) => events.push(event) });
      const writer: SinkWriter = await sink.openWriter('dropped.dat', { expectedBytes: 30 * MiB });
      for (let i = 0; i < 12; i += 1) {
        if (!writer.stream.write(randomBytes(MiB))) await new Promise((resolve) => writer.stream.once('drain', resolve));
      }
      // Right away: the upload may still be being created, and must be aborted all the same.
      await writer.abort(new Error('changed my mind'));
      const aborts = proxy.log.filter((r) => r.method === 'DELETE' && r.query.has('uploadId'));
      assert.equal(aborts.length, 1);
      const event = events.find((e) => e.type === 'upload-aborted');
      assert.ok(event && event.type === 'upload-aborted');
      if (store.kind === 's3rver') assert.equal(event.error?.details['httpStatus'], 405);
      if (store.kind === 'rgw') assert.equal(event.error, undefined, 'RGW answers AbortMultipartUpload with 204');
      assert.deepEqual(await sink.list(''), []);
      assert.ok(isShmsnapError(await failureOf(writer.commit()), 'ABORTED'));
    });

    it('answers wrong credentials with PERMISSION_DENIED at once, without the secret', async () => {
      const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
      const previous = process.env['AWS_SECRET_ACCESS_KEY'];
      process.env['AWS_SECRET_ACCESS_KEY'] = secret;
      try {
        const { sink, proxy } = await sinkBehindProxy(store, [{ fault: 'invalid-access-key' }]);
        const retried = withRetry(sink, fastRetry);
        const listed = await failureOf(retried.list(''));
        assert.ok(isShmsnapError(listed, 'PERMISSION_DENIED'), `got ${inspect(listed)}`);
        assert.equal(listed.retryable, false);
        assert.equal(proxy.counts.requests, 1, 'a refusal is not retried');
        const opened = await failureOf(retried.openWriter('ae001100.dat', { expectedBytes: 10 }));
        assert.ok(isShmsnapError(opened, 'PERMISSION_DENIED'));
        assert.match(opened.message, new RegExp(`${store.bucket}/${run}/\\d+/ae001100\\.dat`));
        assert.match(opened.message, /credentials/);
        assert.equal(proxy.counts.requests, 2);
        for (const error of [listed, opened]) {
          for (const text of [error.message, JSON.stringify(error.toJSON()), inspect(error, { depth: 8 })]) {
            assert.ok(!text.includes(secret), 'the secret must never appear in an error');
          }
        }
      } finally {
        process.env['AWS_SECRET_ACCESS_KEY'] = previous;
      }
    });

    it('names a missing bucket in a non-retryable error', async () => {
      const { sink, proxy } = await sinkBehindProxy(store, [], {}, 'no-such-bucket');
      const retried = withRetry(sink, fastRetry);
      const listed = await failureOf(retried.list(''));
      assert.ok(isShmsnapError(listed, 'REMOTE_FAILED'), `got ${inspect(listed)}`);
      assert.equal(listed.retryable, false);
      assert.match(listed.message, /bucket no-such-bucket does not exist/);
      assert.equal(proxy.counts.requests, 1);
      const written = await failureOf(put(sink, 'x.dat', Buffer.from('data')));
      assert.ok(isShmsnapError(written, 'REMOTE_FAILED') && /no-such-bucket does not exist/.test(written.message), `got ${inspect(written)}`);
    });

    it('falls back to the HEAD check when the store does not implement If-None-Match, and still never overwrites', async () => {
      const { sink, proxy } = await sinkBehindProxy(store, [{ header: 'if-none-match', fault: 'not-implemented' }]);
      const small = randomBytes(1000);
      const large = randomBytes(11 * MiB);
      await put(sink, 'small.dat', small);
      await put(sink, 'large.dat', large);
      assert.ok((await readAll(sink, 'small.dat')).equals(small));
      assert.equal(crc32(await readAll(sink, 'large.dat')), crc32(large));
      assert.equal(proxy.counts.byKind['not-implemented'], 1, 'the sink remembers the store does not support it');
      assert.equal(proxy.log.filter((r) => r.headers['if-none-match'] !== undefined).length, 1);

      // An object that appears while a writer is open is not overwritten at commit.
      const late = await sink.openWriter('small2.dat', { expectedBytes: 10 });
      await put(sink, 'small2.dat', small);
      const finished = new Promise((resolve) => late.stream.once('finish', resolve));
      late.stream.end(randomBytes(10));
      await finished;
      const refused = await failureOf(late.commit());
      assert.ok(isShmsnapError(refused, 'OBJECT_EXISTS'), `got ${inspect(refused)}`);
      assert.ok((await readAll(sink, 'small2.dat')).equals(small), 'the existing object was changed');
    });
  });
}
