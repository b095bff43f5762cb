import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { isShmsnapError, type Sink } from '@shmsnap/core';
import { crc32 } from '@shmsnap/core/plugin-kit';
import { describeSinkConformance } from '@shmsnap/core/testkit';
import { createS3Sink } from './s3-sink.js';
import type { S3SinkEvent, S3SinkOptions } from './s3-options.js';
import { s3TestClientOptions, startS3TestStores, type S3TestStore } from './testing/index.js';

const MiB = 1024 * 1024;
const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };

// Every store SHMSNAP_TEST_S3 selects (s3rver and Ceph RGW by default), each running the whole file.
const { stores, skipped } = await startS3TestStores();
after(async () => {
  for (const store of stores) await store.stop();
});
for (const skip of skipped) describe(`s3 sink on ${skip.kind}`, { skip: skip.reason }, () => {});
// Below a prefix of this process: a shared store (the run's RGW, a given endpoint) holds other files' objects too.
const run = `sink-${process.pid}`;

function chunksOf(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) out.push(data.subarray(offset, offset + size));
  return out;
}

async function readAll(sink: Sink, name: string, range?: { start: number; end: number }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await sink.openReader(name, range ? { range } : {})) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

for (const store of stores) {
  const { bucket } = store;
  let cases = 0;
  async function freshSink(options: S3SinkOptions = {}, subPrefix = ''): Promise<{ sink: Sink; prefix: string; cleanup(): Promise<void> }> {
    cases += 1;
    const prefix = `${run}/case-${cases}${subPrefix}`;
    const sink = await createS3Sink(`s3://${bucket}/${prefix}`, { ...s3TestClientOptions(store.endpoint), partSizeBytes: 5 * MiB, uploadConcurrency: 2, retry: fastRetry, ...options });
    return {
      sink,
      prefix,
      async cleanup() {
        for (const object of await sink.list('')) await sink.remove(object.name);
        await sink.close?.();
      },
    };
  }

  describe(`s3 sink on ${store.kind}`, () => {
    before(() => store.useCredentials());
    describeSinkConformance({
      name: `s3 (${store.kind})`,
      setup: () => freshSink(),
      // Larger than part size × upload concurrency: a multipart upload with parts in flight together.
      largeObjectBytes: 11 * MiB + 7,
      // More than one part (5 MiB here): the multipart upload begins, so there is one to sweep.
      sweepWriteBytes: 6 * MiB,
    });

    describe('s3 sink: multipart uploads', () => {
      it('uploads a large object in parts, never more than uploadConcurrency at once, and reads it back whole and ranged', async () => {
        const events: S3SinkEvent[] = [];
        const { sink, cleanup } = await freshSink({ onEvent: (event) => events.push(event) });
        try {
          const data = randomBytes(23 * MiB + 123);
          const writer = await sink.openWriter('big.dat', { expectedBytes: data.length });
          await pipeline(Readable.from(chunksOf(data, 256 * 1024)), writer.stream);
          assert.equal((await writer.commit()).size, data.length);

          const parts = events.filter((e) => e.type === 'part-started');
          assert.deepEqual(parts.map((p) => p.partNumber), [1, 2, 3, 4, 5]);
          assert.deepEqual(parts.map((p) => p.bytes), [5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB, 3 * MiB + 123]);
          assert.ok(parts.every((p) => p.inFlight <= 2), `in flight: ${parts.map((p) => p.inFlight).join(',')}`);
          const completed = events.find((e) => e.type === 'upload-completed');
          assert.ok(completed && completed.type === 'upload-completed');
          assert.equal(completed.parts, 5);
          assert.ok(completed.peakBufferedBytes <= 3 * 5 * MiB, `peak buffered ${completed.peakBufferedBytes}`);

          const back = await readAll(sink, 'big.dat');
          assert.equal(crc32(back), crc32(data), 'the object read back differs');
          for (const [start, end] of [[5 * MiB - 10, 5 * MiB + 10], [0, 1], [data.length - 5, data.length], [7 * MiB, 17 * MiB + 3]] as const) {
            assert.ok((await readAll(sink, 'big.dat', { start, end })).equals(data.subarray(start, end)), `range ${start}..${end}`);
          }
          assert.equal((await readAll(sink, 'big.dat', { start: data.length, end: data.length + 10 })).length, 0);
        } finally {
          await cleanup();
        }
      });

      it('grows the part size when the size is unknown, so maxParts is never exceeded', async () => {
        const events: S3SinkEvent[] = [];
        const { sink, cleanup } = await freshSink({ maxParts: 4, uploadConcurrency: 2, onEvent: (event) => events.push(event) });
        try {
          const data = randomBytes(50 * MiB);
          const writer = await sink.openWriter('unknown.dat');
          await pipeline(Readable.from(chunksOf(data, 1024 * 1024)), writer.stream);
          await writer.commit();
          const parts = events.filter((e) => e.type === 'part-started');
          assert.ok(parts.length <= 4, `${parts.length} parts`);
          assert.deepEqual(parts.map((p) => p.bytes / MiB), [5, 10, 20, 15]);
          assert.equal(crc32(await readAll(sink, 'unknown.dat')), crc32(data));
        } finally {
          await cleanup();
        }
      });

      it('sends an object of exactly one part as a single PutObject', async () => {
        const events: S3SinkEvent[] = [];
        const { sink, cleanup } = await freshSink({ onEvent: (event) => events.push(event) });
        try {
          const data = randomBytes(5 * MiB);
          const writer = await sink.openWriter('one-part.dat', { sizeHint: data.length * 2 });
          await pipeline(Readable.from(chunksOf(data, 300_000)), writer.stream);
          await writer.commit();
          assert.equal(events.filter((e) => e.type === 'part-started').length, 0);
          assert.ok((await readAll(sink, 'one-part.dat')).equals(data));
        } finally {
          await cleanup();
        }
      });

      it('refuses objects S3 cannot hold before any request', async () => {
        // An endpoint nothing listens on: a request would fail differently.
        const sink = await createS3Sink(`s3://${bucket}/x`, { ...s3TestClientOptions('http://127.0.0.1:9'), retry: { maxAttempts: 1 } });
        await assert.rejects(sink.openWriter('huge.dat', { expectedBytes: 5 * 1024 * 1024 * MiB + 1 }), (error) => isShmsnapError(error, 'SIZE_MISMATCH'));
        const few = await createS3Sink(`s3://${bucket}/x`, { ...s3TestClientOptions('http://127.0.0.1:9'), maxParts: 2 });
        await assert.rejects(few.openWriter('big.dat', { expectedBytes: 11 * 1024 * MiB }), (error) => isShmsnapError(error, 'CONFIG_INVALID'));
        await assert.rejects(sink.openWriter('bad/name.dat'), (error) => isShmsnapError(error, 'NAME_INVALID'));
        await sink.close?.();
        await few.close?.();
      });

      it('runs with checksumMode when-supported (bodies with a length), or fails in one line that says to use when-required', async () => {
        const { sink, cleanup } = await freshSink({ checksumMode: 'when-supported', retry: { maxAttempts: 1 } });
        try {
          const data = randomBytes(11 * MiB + 5);
          const writer = await sink.openWriter('checked.dat', { expectedBytes: data.length });
          let failure: unknown;
          try {
            await pipeline(Readable.from(chunksOf(data, 1024 * 1024)), writer.stream);
            await writer.commit();
          } catch (error) {
            failure = error;
            await writer.abort();
          }
          // The sink sends each part and small object as a buffer with its length, never aws-chunked, so
          // even RGW (411 for streamed bodies under when-supported, toolchain.md) takes it.
          if (store.kind !== 'endpoint') assert.equal(failure, undefined, inspect(failure));
          if (failure !== undefined) {
            // The store does not take streamed bodies with trailing checksums: the error says what to change, in one line.
            assert.ok(isShmsnapError(failure, 'REMOTE_FAILED') && !failure.retryable, inspect(failure));
            assert.match(failure.message, /HTTP 411\).*use checksumMode when-required$/);
            assert.ok(!failure.message.includes('\n') && !failure.message.includes('UnknownError'), failure.message);
            assert.deepEqual(await sink.list(''), [], 'nothing is left visible');
            return;
          }
          const small = await sink.openWriter('small.dat', { expectedBytes: 1000 });
          small.stream.end(data.subarray(0, 1000));
          await new Promise((resolve) => small.stream.once('finish', resolve));
          await small.commit();
          assert.equal(crc32(await readAll(sink, 'checked.dat')), crc32(data));
          assert.ok((await readAll(sink, 'small.dat')).equals(data.subarray(0, 1000)));
        } finally {
          await cleanup();
        }
      });

      it('works with the default checksum mode (when-required) on every store, one part and many', async () => {
        const { sink, cleanup } = await freshSink();
        try {
          const data = randomBytes(11 * MiB + 5);
          const writer = await sink.openWriter('default.dat', { expectedBytes: data.length });
          await pipeline(Readable.from(chunksOf(data, 1024 * 1024)), writer.stream);
          await writer.commit();
          const small = await sink.openWriter('small.dat');
          await pipeline(Readable.from([data.subarray(0, 4000)]), small.stream);
          await small.commit();
          assert.equal(crc32(await readAll(sink, 'default.dat')), crc32(data));
          assert.ok((await readAll(sink, 'small.dat')).equals(data.subarray(0, 4000)));
        } finally {
          await cleanup();
        }
      });

      it('never overwrites at commit, for one part or many, even where CompleteMultipartUpload ignores If-None-Match', async () => {
        const { sink, prefix, cleanup } = await freshSink();
        const client = new S3Client({ ...s3TestClientOptions(store.endpoint), credentials: { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey } });
        try {
          const first = randomBytes(11 * MiB);
          const second = randomBytes(11 * MiB);
          // Two writers of the same name open together: the later commit is refused (the HEAD before publishing).
          const a = await sink.openWriter('twice.dat', { expectedBytes: first.length });
          const b = await sink.openWriter('twice.dat', { expectedBytes: second.length });
          await pipeline(Readable.from(chunksOf(first, MiB)), a.stream);
          await pipeline(Readable.from(chunksOf(second, MiB)), b.stream);
          await a.commit();
          const refused = await b.commit().then(() => undefined, (error: unknown) => error);
          assert.ok(isShmsnapError(refused, 'OBJECT_EXISTS'), `got ${inspect(refused)}`);
          await b.abort();
          assert.equal(crc32(await readAll(sink, 'twice.dat')), crc32(first), 'the first object stands');

          // What the store itself does with If-None-Match on CompleteMultipartUpload: Ceph RGW 16.2 ignores
          // it and overwrites (toolchain.md), so the HEAD narrows the race and the manifest closes it.
          const key = `${prefix}/twice.dat`;
          const upload = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
          const part = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId, PartNumber: 1, Body: second.subarray(0, 1000) }));
          const completed = await client
            .send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId, IfNoneMatch: '*', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }))
            .then(() => 'overwrote', (error: { $metadata?: { httpStatusCode?: number } }) => error.$metadata?.httpStatusCode);
          if (store.kind === 'rgw') assert.equal(completed, 'overwrote', 'RGW now honours If-None-Match on Complete: the README paragraph can say so');
          if (completed === 'overwrote') assert.equal((await sink.stat('twice.dat'))?.size, 1000);
          else assert.equal(crc32(await readAll(sink, 'twice.dat')), crc32(first));
        } finally {
          client.destroy();
          await cleanup();
        }
      });

      it('refuses a part whose Content-MD5 does not match its bytes (RGW checks it; s3rver does not)', async () => {
        const { prefix, cleanup } = await freshSink();
        const client = new S3Client({ ...s3TestClientOptions(store.endpoint), credentials: { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey } });
        try {
          const key = `${prefix}/md5.dat`;
          const upload = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
          const body = randomBytes(1000);
          const wrongMd5 = Buffer.alloc(16, 7).toString('base64');
          const answer = await client
            .send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId, PartNumber: 1, Body: body, ContentMD5: wrongMd5 }))
            .then(() => 'stored', (error: { name?: string; $metadata?: { httpStatusCode?: number } }) => `${error.name} ${error.$metadata?.httpStatusCode}`);
          if (store.kind === 'rgw') assert.equal(answer, 'BadDigest 400');
          else assert.ok(answer === 'stored' || /BadDigest|InvalidDigest/.test(answer), answer);
        } finally {
          client.destroy();
          await cleanup();
        }
      });
    });

    describe('s3 sink: locations and listing', () => {
      it('normalises the location and keys objects below the prefix', async () => {
        const { endpoint } = store;
        const sink = await createS3Sink(`s3://${bucket}/${run}//nested//deeper/`, s3TestClientOptions(endpoint));
        assert.equal(sink.location, `s3://${bucket}/${run}/nested/deeper`);
        assert.equal(sink.name, 's3');
        const root = await createS3Sink(`s3://${bucket}`, s3TestClientOptions(endpoint));
        try {
          const writer = await sink.openWriter('x.dat', { expectedBytes: 3 });
          writer.stream.end(Buffer.from('abc'));
          await new Promise((resolve) => writer.stream.once('finish', resolve));
          await writer.commit();
          assert.deepEqual((await root.list(`${run}/nested`, { depth: 3 })).map((o) => o.name), [`${run}/nested/deeper/x.dat`]);
          assert.equal((await root.stat(`${run}/nested/deeper/x.dat`))?.size, 3);
        } finally {
          await sink.remove('x.dat');
          await sink.close?.();
          await root.close?.();
        }
      });

      it('lists direct objects at depth 0 and deeper ones as a/b/name, sorted', async () => {
        const { sink, prefix, cleanup } = await freshSink();
        const { endpoint } = store;
        const sub = await createS3Sink(`s3://${bucket}/${prefix}/node1/0`, s3TestClientOptions(endpoint));
        try {
          for (const [target, name] of [[sink, 'b.dat'], [sink, 'a.dat'], [sub, 'ae001100.dat']] as const) {
            const writer = await target.openWriter(name, { expectedBytes: 1 });
            writer.stream.end(Buffer.from('z'));
            await new Promise((resolve) => writer.stream.once('finish', resolve));
            await writer.commit();
          }
          assert.deepEqual((await sink.list('')).map((o) => o.name), ['a.dat', 'b.dat']);
          assert.deepEqual((await sink.list('', { depth: 1 })).map((o) => o.name), ['a.dat', 'b.dat']);
          assert.deepEqual((await sink.list('', { depth: 2 })).map((o) => o.name), ['a.dat', 'b.dat', 'node1/0/ae001100.dat']);
          assert.deepEqual((await sink.list('node1/', { depth: 2 })).map((o) => o.name), ['node1/0/ae001100.dat']);
          assert.ok((await readAll(sink, 'node1/0/ae001100.dat')).equals(Buffer.from('z')));
          const info = await sink.stat('a.dat');
          assert.ok(info?.modified instanceof Date);
        } finally {
          await sub.remove('ae001100.dat');
          await sub.close?.();
          await cleanup();
        }
      });

      it('lists more than 1,000 objects, page after page', { skip: store.kind === 's3rver' ? "s3rver 3.7.1's continuation tokens fail on Node 20" : false }, async () => {
        const { sink, cleanup } = await freshSink();
        try {
          const names = Array.from({ length: 1234 }, (_, i) => `o${String(i).padStart(5, '0')}.dat`);
          // Small bodies, 32 at a time: the listing is under test, not the upload.
          for (let at = 0; at < names.length; at += 32) {
            await Promise.all(
              names.slice(at, at + 32).map(async (name) => {
                const writer = await sink.openWriter(name, { expectedBytes: 2 });
                writer.stream.end(Buffer.from('ok'));
                await new Promise((resolve) => writer.stream.once('finish', resolve));
                await writer.commit();
              }),
            );
          }
          const listed = await sink.list('');
          assert.equal(listed.length, names.length);
          assert.deepEqual(listed.map((o) => o.name), names);
          assert.ok(listed.every((o) => o.size === 2));
        } finally {
          const left = await sink.list('');
          for (let at = 0; at < left.length; at += 64) await Promise.all(left.slice(at, at + 64).map((o) => sink.remove(o.name)));
          await cleanup();
        }
      });
    });
  });
}
