/**
 * The gzip codec's encoder on the real deflate engine (shm-native's addon,
 * as the CLI gives it): the codec conformance kit, the file read by
 * `gzip -t` / `gzip -d` and by node:zlib as one member, the piece index
 * decoded group by group, the CRC-32 check moved to the end of the stream,
 * and an engine failing mid-object.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { hasPieceIndex, isShmsnapError, type Codec, type DeflateEngine, type PieceIndex } from '@shmsnap/core';
import { describeCodecConformance, fillIndexContent } from '@shmsnap/core/testkit';
import { ASMT_HEADER_BYTES, createGzipCodec, parseAsmtHeader } from '@shmsnap/codec-gzip';
import { addonDeflateEngine } from '@shmsnap/shm-native';

const deflateEngine = addonDeflateEngine();
if (!deflateEngine) throw new Error('the addon built for this run offers no deflater');
const codec = createGzipCodec({ deflateEngine });

describeCodecConformance({ codec, name: 'gzip with the addon deflater', maxBufferedBytes: 1024 * 1024 });

const MiB = 1024 * 1024;

async function encode(codecUsed: Codec, data: Buffer, rawCrc32 = zlib.crc32(data)): Promise<{ stored: Buffer; pieces: PieceIndex | undefined }> {
  const encoder = codecUsed.createEncoder({ rawSize: data.length, rawCrc32, objectName: 'x.dat.gz', threads: 3 });
  const chunks: Buffer[] = [];
  // Chunks that do not line up with pieces, as the shm source's windows do not.
  const input = Array.from({ length: Math.ceil(data.length / (3 * MiB + 7)) }, (_, i) => data.subarray(i * (3 * MiB + 7), (i + 1) * (3 * MiB + 7)));
  await pipeline(Readable.from(input), encoder, new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }));
  return { stored: Buffer.concat(chunks), pieces: hasPieceIndex(encoder) ? encoder.pieceIndex() : undefined };
}

describe('the gzip encoder on the addon deflater', () => {
  const data = Buffer.alloc(9 * MiB + 12345);
  fillIndexContent(data, 11);

  it('writes one gzip member behind ASMT\'s header that gzip -t, gzip -d and zlib read, and an index whose groups inflate alone', async () => {
    const { stored, pieces } = await encode(codec, data);
    const header = parseAsmtHeader(stored.subarray(0, ASMT_HEADER_BYTES), 'x.dat.gz');
    assert.equal(header.rawSize, data.length);
    assert.equal(header.rawCrc32, zlib.crc32(data));
    const member = stored.subarray(ASMT_HEADER_BYTES);
    assert.ok(zlib.gunzipSync(member).equals(data), 'zlib reads the member');
    const dir = mkdtempSync(join(tmpdir(), 'shmsnap-deflate-'));
    try {
      writeFileSync(join(dir, 'x.gz'), member);
      execFileSync('gzip', ['-t', join(dir, 'x.gz')]);
      assert.ok(execFileSync('gzip', ['-dc', join(dir, 'x.gz')], { maxBuffer: 64 * MiB }).equals(data), 'gzip -d gives the bytes');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(pieces, 'independent pieces are indexed');
    let at = pieces.offset;
    for (const [i, size] of pieces.storedBytes.entries()) {
      const raw = data.subarray(i * pieces.rawBytes, (i + 1) * pieces.rawBytes);
      const group = stored.subarray(at, at + size);
      assert.ok(zlib.inflateRawSync(group, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).equals(raw), `group ${i} inflates on its own`);
      at += size;
    }
    // The rest is the gzip trailer (CRC-32, size).
    assert.equal(stored.length - at, 8);
  });

  it('the same object with and without the engine: same format, sizes within 0.5%', async () => {
    const plain = await encode(createGzipCodec(), data);
    const engined = await encode(codec, data);
    assert.ok(zlib.gunzipSync(plain.stored.subarray(ASMT_HEADER_BYTES)).equals(zlib.gunzipSync(engined.stored.subarray(ASMT_HEADER_BYTES))));
    assert.ok(Math.abs(plain.stored.length - engined.stored.length) / plain.stored.length < 0.005, `${plain.stored.length} vs ${engined.stored.length} bytes`);
    assert.equal(engined.pieces?.storedBytes.length, plain.pieces?.storedBytes.length);
  });

  it('fails with CHECKSUM_MISMATCH, and writes no trailer, when the bytes are not those the CRC-32 was taken of', async () => {
    const changed = Buffer.from(data);
    changed.writeUInt8(changed.readUInt8(5 * MiB + 3) ^ 0x40, 5 * MiB + 3); // a byte written after the caller's CRC pass
    const chunks: Buffer[] = [];
    const encoder = codec.createEncoder({ rawSize: data.length, rawCrc32: zlib.crc32(data), objectName: 'x.dat.gz', threads: 2 });
    const error = await pipeline(Readable.from([changed]), encoder, new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) })).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isShmsnapError(error, 'CHECKSUM_MISMATCH'), String(error));
    assert.match((error as Error).message, /x\.dat\.gz/);
    assert.throws(() => zlib.gunzipSync(Buffer.concat(chunks).subarray(ASMT_HEADER_BYTES)), 'what left the encoder is no complete gzip member');
  });

  it('an engine failing mid-object fails the encoder with PLUGIN_FAILED and closes every deflater it made', async () => {
    let calls = 0;
    const made: { closed: boolean }[] = [];
    const failing: DeflateEngine = {
      name: 'failing on the fourth piece',
      createDeflater(level) {
        const inner = deflateEngine.createDeflater(level);
        const record = { closed: false };
        made.push(record);
        return {
          reset: () => inner.reset(),
          close: () => {
            record.closed = true;
            inner.close();
          },
          deflate: (input, last, crc) => (++calls === 4 ? Promise.reject(Object.assign(new Error('out of memory for the deflate output'), { code: 'Z_MEM_ERROR' })) : inner.deflate(input, last, crc)),
        };
      },
    };
    const error = await encode(createGzipCodec({ deflateEngine: failing }), data).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isShmsnapError(error, 'PLUGIN_FAILED'), String(error));
    assert.match((error as Error).message, /x\.dat\.gz/);
    assert.ok(made.length >= 1 && made.length <= 4, `deflaters made: ${made.length} (at most one per thread, 3, and one queued)`);
    assert.ok(made.every((d) => d.closed), 'every deflater closed');
  });
});
