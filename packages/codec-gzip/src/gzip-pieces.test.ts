// Parallel-decodable gzip: independent pieces, indexed, still one gzip member
// that `gzip -t` / `gzip -d` (and so ASMT's zlib) read; shmsnap decodes the
// groups in parallel and refuses an object that does not fit its index.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { hasPieceIndex, isShmsnapError, type PieceIndex } from '@shmsnap/core';
import { crc32, handOver } from '@shmsnap/core/plugin-kit';
import { fillIndexContent } from '@shmsnap/core/testkit';
import { ASMT_HEADER_BYTES } from './asmt-header.js';
import { createGzipCodec } from './codec-gzip.js';

const PIECE = 64 * 1024;
const codec = createGzipCodec({ pieceBytes: PIECE, threads: 3 });
const sequentialCodec = createGzipCodec({ pieceBytes: PIECE, threads: 3, independentPieces: false });

function indexLike(size: number, seed = 3): Buffer {
  const data = Buffer.alloc(size);
  fillIndexContent(data, seed);
  return data;
}

async function collect(stream: Duplex, input: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(input), stream, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

async function encode(data: Buffer, useCodec = codec): Promise<{ stored: Buffer; pieces: PieceIndex | undefined }> {
  const encoder = useCodec.createEncoder({ rawSize: data.length, rawCrc32: crc32(data), objectName: 'x.dat.gz', threads: 3 });
  const stored = await collect(encoder, [data]);
  return { stored, pieces: hasPieceIndex(encoder) ? encoder.pieceIndex() : undefined };
}

function decode(stored: Buffer, rawSize: number, pieces: PieceIndex | undefined, chunk = 7777): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = 0; at < stored.length; at += chunk) parts.push(stored.subarray(at, at + chunk));
  return collect(codec.createDecoder({ rawSize, objectName: 'x.dat.gz', threads: 3, ...(pieces ? { pieces } : {}) }), parts);
}

describe('gzip with independent pieces', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shmsnap-gzip-pieces-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('indexes its pieces: they start after the headers and end at the trailer', async () => {
    const data = indexLike(5 * PIECE * 2 + 999);
    const { stored, pieces } = await encode(data);
    assert.ok(pieces, 'an index');
    assert.equal(pieces.offset, ASMT_HEADER_BYTES + 10);
    assert.equal(pieces.rawBytes, 2 * PIECE, 'two pieces a group');
    assert.equal(pieces.storedBytes.length, Math.ceil(data.length / pieces.rawBytes));
    assert.equal(pieces.offset + pieces.storedBytes.reduce((sum, n) => sum + n, 0) + 8, stored.length);
    const { pieces: none } = await encode(data, sequentialCodec);
    assert.equal(none, undefined, 'primed pieces have no index');
  });

  it('is one gzip member that gzip -t accepts and gzip -d inflates byte-identical', async () => {
    const data = indexLike(9 * PIECE + 123);
    const { stored } = await encode(data);
    const file = join(dir, 'member.gz');
    await writeFile(file, stored.subarray(ASMT_HEADER_BYTES));
    execFileSync('gzip', ['-t', file]);
    assert.ok(execFileSync('gzip', ['-dc', file], { maxBuffer: 64 << 20 }).equals(data));
  });

  it('decodes in parallel with its index, at odd chunk sizes and for zero bytes', async () => {
    for (const size of [0, 1, PIECE - 1, 2 * PIECE, 7 * PIECE + 5]) {
      const data = indexLike(size, size);
      const { stored, pieces } = await encode(data);
      for (const chunk of [1 + (size % 13), 65_537, stored.length + 1]) {
        assert.ok((await decode(stored, size, pieces, chunk)).equals(data), `size ${size}, chunks of ${chunk}`);
      }
      assert.ok((await decode(stored, size, undefined)).equals(data), 'and sequentially without it');
    }
  });

  it('costs little ratio against primed pieces', async () => {
    const data = indexLike(64 * PIECE);
    const independent = (await encode(data)).stored.length;
    const primed = (await encode(data, sequentialCodec)).stored.length;
    // 64 KiB pieces lose more than the default 1 MiB ones; still within a few percent.
    assert.ok(independent / primed < 1.05, `${independent} vs ${primed}`);
  });

  it('refuses an object that does not fit its index, and every damage the sequential decoder refuses', async () => {
    const data = indexLike(6 * PIECE + 77);
    const { stored, pieces } = await encode(data);
    assert.ok(pieces);
    const refuse = async (bytes: Buffer, index: PieceIndex, code: RegExp, why: string): Promise<void> => {
      await assert.rejects(decode(bytes, data.length, index), (e: unknown) => isShmsnapError(e) && code.test(e.code), why);
    };
    const [first, second, ...rest] = pieces.storedBytes;
    await refuse(stored, { ...pieces, storedBytes: [second!, first!, ...rest] }, /CORRUPT_OBJECT/, 'groups swapped in the index');
    await refuse(stored, { ...pieces, offset: pieces.offset + 1 }, /CORRUPT_OBJECT/, 'an offset inside the data');
    const flipped = Buffer.from(stored);
    flipped[pieces.offset + first! + 100]! ^= 0x10;
    await refuse(flipped, pieces, /CORRUPT_OBJECT|CHECKSUM_MISMATCH/, 'a flipped bit');
    await refuse(stored.subarray(0, stored.length - 3), pieces, /CORRUPT_OBJECT/, 'a truncated trailer');
    await refuse(stored.subarray(0, pieces.offset + first! + 10), pieces, /CORRUPT_OBJECT/, 'truncated in a group');
    await refuse(Buffer.concat([stored, Buffer.from([0])]), pieces, /CORRUPT_OBJECT/, 'a trailing byte');
    const wrongCrc = Buffer.from(stored);
    wrongCrc.writeUInt32LE((wrongCrc.readUInt32LE(stored.length - 8) ^ 1) >>> 0, stored.length - 8);
    await refuse(wrongCrc, pieces, /CHECKSUM_MISMATCH/, 'a wrong trailer CRC');
  });

  it('gives handed-over read chunks back only once the queue has passed them and every group reading them inflated; poisoned memory then cannot reach the output', async () => {
    const data = indexLike(9 * PIECE * 2 + 4321);
    const { stored, pieces } = await encode(data);
    assert.ok(pieces);
    for (const size of [5000, 2 * PIECE + 17, 3 * PIECE]) {
      const given: ArrayBuffer[] = [];
      const returned = new Map<ArrayBuffer, number>();
      const parts: Buffer[] = [];
      for (let at = 0; at < stored.length; at += size) {
        const part = stored.subarray(at, at + size);
        const memory = new ArrayBuffer(part.length);
        new Uint8Array(memory).set(part);
        given.push(memory);
        // A recycler that ruins the memory at once: had the decoder read it after giving it back, the output would differ.
        parts.push(handOver(Buffer.from(memory), (back) => {
          returned.set(back, (returned.get(back) ?? 0) + 1);
          new Uint8Array(back).fill(0xa5);
        }));
      }
      const out = await collect(codec.createDecoder({ rawSize: data.length, objectName: 'x.dat.gz', threads: 3, pieces }), parts);
      assert.ok(out.equals(data), `${size}-byte chunks: the output is the raw bytes`);
      await new Promise((resolve) => setImmediate(resolve));
      const groupChunks: ArrayBuffer[] = given.filter((_, i) => (i + 1) * size > pieces.offset && i * size < stored.length - 8);
      for (const memory of groupChunks) assert.equal(returned.get(memory), 1, `${size}-byte chunks: each read chunk holding group bytes came back once`);
      assert.ok([...returned.values()].every((n) => n === 1), 'none came back twice');
    }
  });
});

