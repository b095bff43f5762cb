import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import { isShmsnapError, type Sink } from '@shmsnap/core';
import { crc32 } from '@shmsnap/core/plugin-kit';
import { describeSinkConformance } from '@shmsnap/core/testkit';
import { createS3Sink } from './s3-sink.js';
import type { S3SinkEvent, S3SinkOptions } from './s3-options.js';
import { s3TestClientOptions, startS3Server, useS3rverCredentials, type S3TestServer } from './testing/index.js';

const MiB = 1024 * 1024;
const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };

useS3rverCredentials();
let server: Promise<S3TestServer> | undefined;
const serverOnce = (): Promise<S3TestServer> => (server ??= startS3Server({ buckets: ['test'] }));
after(async () => {
  await (await server)?.stop();
});

let cases = 0;
async function freshSink(options: S3SinkOptions = {}, subPrefix = ''): Promise<{ sink: Sink; prefix: string; cleanup(): Promise<void> }> {
  const { endpoint } = await serverOnce();
  cases += 1;
  const prefix = `case-${cases}${subPrefix}`;
  const sink = await createS3Sink(`s3://test/${prefix}`, { ...s3TestClientOptions(endpoint), partSizeBytes: 5 * MiB, uploadConcurrency: 2, retry: fastRetry, ...options });
  return {
    sink,
    prefix,
    async cleanup() {
      for (const object of await sink.list('')) await sink.remove(object.name);
      await sink.close?.();
    },
  };
}

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

describeSinkConformance({
  name: 's3',
  setup: () => freshSink(),
  // Larger than part size × upload concurrency: a multipart upload with parts in flight together.
  largeObjectBytes: 11 * MiB + 7,
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
    const sink = await createS3Sink('s3://test/x', { ...s3TestClientOptions('http://127.0.0.1:9'), retry: { maxAttempts: 1 } });
    await assert.rejects(sink.openWriter('huge.dat', { expectedBytes: 5 * 1024 * 1024 * MiB + 1 }), (error) => isShmsnapError(error, 'SIZE_MISMATCH'));
    const few = await createS3Sink('s3://test/x', { ...s3TestClientOptions('http://127.0.0.1:9'), maxParts: 2 });
    await assert.rejects(few.openWriter('big.dat', { expectedBytes: 11 * 1024 * MiB }), (error) => isShmsnapError(error, 'CONFIG_INVALID'));
    await assert.rejects(sink.openWriter('bad/name.dat'), (error) => isShmsnapError(error, 'NAME_INVALID'));
    await sink.close?.();
    await few.close?.();
  });

  it('runs with checksumMode when-supported', async () => {
    const { sink, cleanup } = await freshSink({ checksumMode: 'when-supported' });
    try {
      const data = randomBytes(11 * MiB + 5);
      const writer = await sink.openWriter('checked.dat', { expectedBytes: data.length });
      await pipeline(Readable.from(chunksOf(data, 1024 * 1024)), writer.stream);
      await writer.commit();
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
});

describe('s3 sink: locations and listing', () => {
  it('normalises the location and keys objects below the prefix', async () => {
    const { endpoint } = await serverOnce();
    const sink = await createS3Sink('s3://test//nested//deeper/', s3TestClientOptions(endpoint));
    assert.equal(sink.location, 's3://test/nested/deeper');
    assert.equal(sink.name, 's3');
    const root = await createS3Sink('s3://test', s3TestClientOptions(endpoint));
    try {
      const writer = await sink.openWriter('x.dat', { expectedBytes: 3 });
      writer.stream.end(Buffer.from('abc'));
      await new Promise((resolve) => writer.stream.once('finish', resolve));
      await writer.commit();
      assert.deepEqual((await root.list('nested', { depth: 2 })).map((o) => o.name), ['nested/deeper/x.dat']);
      assert.equal((await root.stat('nested/deeper/x.dat'))?.size, 3);
    } finally {
      await sink.remove('x.dat');
      await sink.close?.();
      await root.close?.();
    }
  });

  it('lists direct objects at depth 0 and deeper ones as a/b/name, sorted', async () => {
    const { sink, prefix, cleanup } = await freshSink();
    const { endpoint } = await serverOnce();
    const sub = await createS3Sink(`s3://test/${prefix}/node1/0`, s3TestClientOptions(endpoint));
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
});
