/**
 * The gzip codec's direct decoder on the real inflate engine (shm-native's
 * addon, as the CLI gives it): the codec conformance kit's round trips,
 * damage and teardown cases into shared memory, without a piece index
 * (ASMT's files: one stream in order) and with one (groups at once, each
 * into its own range).
 */
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { hasPieceIndex, type Codec, type InflateEngine, type PieceIndex } from '@shmsnap/core';
import { createSharedArrayMemory, describeCodecConformance, fillIndexContent, GUARD_FILL } from '@shmsnap/core/testkit';
import { createGzipCodec } from '@shmsnap/codec-gzip';
import { addonInflateEngine } from '@shmsnap/shm-native';

const inflateEngine = addonInflateEngine();
if (!inflateEngine) throw new Error('the addon built for this run offers no inflater');
const codec = createGzipCodec({ inflateEngine });

describeCodecConformance({ codec, name: 'gzip with the addon inflater', maxBufferedBytes: 1024 * 1024 });

/** The codec with every object's piece index remembered by raw size and given back to its decoders, as a restore gets it from the manifest. */
function indexed(base: Codec): Codec {
  const indexes = new Map<number, PieceIndex>();
  const withIndex = <T extends { rawSize: number }>(options: T): T => {
    const pieces = indexes.get(options.rawSize);
    return pieces ? { ...options, pieces } : options;
  };
  return {
    ...base,
    createEncoder(options) {
      const encoder = base.createEncoder(options);
      void finished(encoder, { readable: true, writable: false }).then(
        () => {
          const index = hasPieceIndex(encoder) ? encoder.pieceIndex() : undefined;
          if (index) indexes.set(options.rawSize, index);
        },
        () => undefined,
      );
      return encoder;
    },
    createDecoder: (options) => base.createDecoder(withIndex(options)),
    createDirectDecoder: (options) => base.createDirectDecoder!(withIndex(options)),
  };
}

describeCodecConformance({
  codec: indexed(codec),
  name: 'gzip with the addon inflater (indexed, groups at once)',
  maxBufferedBytes: 8 * 1024 * 1024,
  skip: {
    // The wrapper above finds an index by raw size; this case decodes an object encoded before others of its size. The indexed case is below.
    'direct-destroy-mid-stream': 'the index wrapper cannot tell objects of one size apart: tested below with its own index',
  },
});

const MiB = 1024 * 1024;

/** An engine that counts the bytes its inflaters wrote and how many ran at once. */
function countingEngine(): { engine: InflateEngine; written: () => number; most: () => number } {
  let written = 0;
  let running = 0;
  let most = 0;
  const engine: InflateEngine = {
    name: 'counting',
    createInflater(format) {
      const inner = inflateEngine!.createInflater(format);
      return {
        reset: () => inner.reset(),
        close: () => inner.close(),
        async inflate(input, output, crc) {
          running += 1;
          most = Math.max(most, running);
          try {
            const result = await inner.inflate(input, output, crc);
            written += result.written;
            return result;
          } finally {
            running -= 1;
          }
        },
      };
    },
  };
  return { engine, written: () => written, most: () => most };
}

async function encode(codecUsed: Codec, data: Buffer): Promise<{ stored: Buffer; pieces: PieceIndex }> {
  const encoder = codecUsed.createEncoder({ rawSize: data.length, rawCrc32: zlib.crc32(data), objectName: 'x.dat.gz', threads: 2 });
  const chunks: Buffer[] = [];
  await pipeline(Readable.from([data]), encoder, new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }));
  const pieces = hasPieceIndex(encoder) ? encoder.pieceIndex() : undefined;
  assert.ok(pieces, 'the encoder cut independent pieces');
  return { stored: Buffer.concat(chunks), pieces };
}

describe('the gzip direct decoder with a piece index', () => {
  const data = Buffer.alloc(9 * MiB + 12345);
  fillIndexContent(data, 7);

  it('inflates groups at once on the engine, each into its own range, and checks the combined CRC-32', async () => {
    const counting = countingEngine();
    const counted = createGzipCodec({ inflateEngine: counting.engine });
    const { stored, pieces } = await encode(counted, data);
    assert.ok(pieces.storedBytes.length >= 4, `several groups (${pieces.storedBytes.length})`);
    const memory = createSharedArrayMemory(data.length);
    let reported = 0;
    const decoder = counted.createDirectDecoder!({ rawSize: data.length, rawCrc32: zlib.crc32(data), objectName: 'x.dat.gz', pieces, threads: 4, into: memory.handle, onBytes: (n) => (reported += n) });
    await pipeline(Readable.from([stored.subarray(0, 3 * MiB), stored.subarray(3 * MiB)]), decoder);
    assert.deepEqual(decoder.written(), { bytes: data.length, crc32: zlib.crc32(data) });
    assert.equal(reported, data.length);
    assert.equal(counting.written(), data.length, 'every raw byte came from the engine');
    assert.ok(counting.most() >= 2, `groups ran at once (at most ${counting.most()})`);
    assert.ok(Buffer.from(memory.bytes.subarray(0, data.length)).equals(data));
    assert.ok(memory.bytes.subarray(data.length).every((b) => b === GUARD_FILL), 'nothing written past the end');
    assert.equal(memory.closes(), memory.opens());
  });

  it('refuses groups that do not match the index, and an object cut short, with CORRUPT_OBJECT', async () => {
    const { stored, pieces } = await encode(codec, data);
    const shifted: PieceIndex = { ...pieces, storedBytes: [pieces.storedBytes[0]! + 1, pieces.storedBytes[1]! - 1, ...pieces.storedBytes.slice(2)] };
    for (const [what, index, body] of [
      ['a group boundary moved by a byte', shifted, stored],
      ['the last 100 bytes missing', pieces, stored.subarray(0, stored.length - 100)],
      ['a byte flipped in the third group', pieces, Buffer.from(stored).fill(0x55, pieces.offset + pieces.storedBytes[0]! + pieces.storedBytes[1]! + 1000, pieces.offset + pieces.storedBytes[0]! + pieces.storedBytes[1]! + 1001)],
    ] as const) {
      const memory = createSharedArrayMemory(data.length);
      const decoder = codec.createDirectDecoder!({ rawSize: data.length, objectName: 'x.dat.gz', pieces: index, into: memory.handle });
      await assert.rejects(pipeline(Readable.from([body]), decoder), (error: Error & { code?: string }) => ['CORRUPT_OBJECT', 'CHECKSUM_MISMATCH'].includes(error.code ?? ''), what);
      assert.equal(memory.closes(), memory.opens(), `${what}: the memory is closed again`);
      assert.ok(memory.bytes.subarray(data.length).every((b) => b === GUARD_FILL), `${what}: nothing written past the end`);
    }
  });

  it('destroyed mid-stream, closes the memory only once no inflate runs, and the next decode works', async () => {
    const { stored, pieces } = await encode(codec, data);
    for (let attempt = 0; attempt < 3; attempt++) {
      const memory = createSharedArrayMemory(data.length);
      const decoder = codec.createDirectDecoder!({ rawSize: data.length, objectName: 'x.dat.gz', pieces, threads: 4, into: memory.handle });
      decoder.on('error', () => undefined);
      decoder.write(stored.subarray(0, Math.floor(stored.length / 2)));
      await new Promise((resolve) => setTimeout(resolve, attempt * 3));
      decoder.destroy();
      await finished(decoder).catch(() => undefined);
      await new Promise((resolve) => decoder.closed ? resolve(undefined) : decoder.once('close', resolve));
      assert.equal(memory.closes(), memory.opens(), `attempt ${attempt}: by 'close' the memory is closed again`);
    }
    const memory = createSharedArrayMemory(data.length);
    const decoder = codec.createDirectDecoder!({ rawSize: data.length, objectName: 'x.dat.gz', pieces, into: memory.handle });
    await pipeline(Readable.from([stored]), decoder);
    assert.ok(Buffer.from(memory.bytes.subarray(0, data.length)).equals(data));
  });
});
