import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { isShmsnapError, type Codec, type ErrorCode } from '@shmsnap/core';
import { crc32 } from '@shmsnap/core/plugin-kit';
import { fillIndexContent } from '@shmsnap/core/testkit';
import {
  ASMT_HEADER_BYTES,
  codecGzip,
  createGzipCodec,
  encodeAsmtHeader,
  parseAsmtHeader,
} from './index.js';
import defaultExport from './index.js';
import { gzipMemberTrailer } from './gzip-header.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const OBJECT = 'ae001100.dat.gz';

function indexLike(size: number, seed = 1): Buffer {
  const data = Buffer.alloc(size);
  fillIndexContent(data, seed);
  return data;
}

/** Views of `data` in pieces of `size` bytes (the last may be shorter). */
function slices(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) out.push(data.subarray(at, at + size));
  return out;
}

async function drain(chunks: readonly Buffer[], stage: Duplex): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), stage, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

/**
 * Writes one chunk at a time, each only after the previous was taken, so the
 * stage sees every chunk boundary (pipeline() would let writes queue up and
 * reach `_writev` in batches).
 */
async function drainSerially(chunks: readonly Buffer[], stage: Duplex): Promise<Buffer> {
  const out: Buffer[] = [];
  stage.on('data', (chunk: Buffer) => out.push(chunk));
  const done = finished(stage);
  try {
    for (const chunk of chunks) {
      await new Promise<void>((resolve, reject) => stage.write(chunk, (error) => (error ? reject(error) : resolve())));
    }
    stage.end();
  } catch {
    // The stage failed: `done` rejects with its error.
  }
  await done;
  return Buffer.concat(out);
}

interface EncodeCase {
  readonly codec?: Codec;
  readonly level?: number;
  readonly threads?: number;
  readonly chunk?: number;
  readonly rawSize?: number;
  readonly rawCrc32?: number;
  readonly serial?: boolean;
}

function encode(data: Buffer, options: EncodeCase = {}): Promise<Buffer> {
  const encoder = (options.codec ?? codecGzip).createEncoder({
    rawSize: options.rawSize ?? data.length,
    rawCrc32: options.rawCrc32 ?? crc32(data),
    objectName: OBJECT,
    ...(options.level === undefined ? {} : { level: options.level }),
    ...(options.threads === undefined ? {} : { threads: options.threads }),
  });
  return (options.serial ? drainSerially : drain)(slices(data, options.chunk ?? 8 * MiB), encoder);
}

interface DecodeCase {
  readonly rawCrc32?: number;
  readonly chunk?: number;
  readonly serial?: boolean;
}

function decode(file: Buffer, rawSize: number, options: DecodeCase = {}): Promise<Buffer> {
  const decoder = codecGzip.createDecoder({
    rawSize,
    objectName: OBJECT,
    ...(options.rawCrc32 === undefined ? {} : { rawCrc32: options.rawCrc32 }),
  });
  return (options.serial ? drainSerially : drain)(slices(file, options.chunk ?? MiB), decoder);
}

/** An ASMT file the way ASMT writes it: header, then zlib's gzip of the whole segment. */
function asmtFile(data: Buffer, body = zlib.gzipSync(data, { level: 1, memLevel: 9 })): Buffer {
  return Buffer.concat([encodeAsmtHeader(data.length, crc32(data)), body]);
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isShmsnapError(error), `expected a coded error, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.ok(error.message.includes(OBJECT), `the error names the object: ${error.message}`);
    if (message) assert.match(error.message, message);
    return true;
  });
}

function flipBit(file: Buffer, offset: number, bit = 0): Buffer {
  const copy = Buffer.from(file);
  copy[offset] = copy[offset]! ^ (1 << bit);
  return copy;
}

describe('codec-gzip: shape', () => {
  it('is a plain codec object with ASMT .dat.gz settings', () => {
    assert.equal(defaultExport, codecGzip);
    assert.equal(codecGzip.name, 'gzip');
    assert.equal(codecGzip.extension, '.dat.gz');
    assert.deepEqual(codecGzip.levels, { min: 1, max: 9, default: 1 });
    assert.equal(codecGzip.needsRawCrc32, true);
    assert.equal(codecGzip.headerBytes, 24);
    assert.equal(ASMT_HEADER_BYTES, 24);
    assert.ok(!codecGzip.identity);
  });

  it('rejects bad options with CONFIG_INVALID', () => {
    const base = { rawSize: 10, rawCrc32: 0, objectName: OBJECT };
    const invalid = (fn: () => unknown): void =>
      assert.throws(fn, (error: unknown) => isShmsnapError(error, 'CONFIG_INVALID'));
    invalid(() => codecGzip.createEncoder({ rawSize: 10, objectName: OBJECT }));
    invalid(() => codecGzip.createEncoder({ ...base, level: 0 }));
    invalid(() => codecGzip.createEncoder({ ...base, level: 10 }));
    invalid(() => codecGzip.createEncoder({ ...base, level: 1.5 }));
    invalid(() => codecGzip.createEncoder({ ...base, threads: 0 }));
    invalid(() => codecGzip.createEncoder({ ...base, rawSize: -1 }));
    invalid(() => codecGzip.createEncoder({ ...base, rawCrc32: 2 ** 32 }));
    invalid(() => codecGzip.createDecoder({ rawSize: 2 ** 53, objectName: OBJECT }));
    invalid(() => createGzipCodec({ pieceBytes: 100 }));
    assert.throws(
      () => codecGzip.createEncoder({ rawSize: 10, objectName: OBJECT }),
      (error: unknown) => isShmsnapError(error) && error.message.includes(OBJECT),
    );
  });
});

describe('codec-gzip: ASMT header', () => {
  it('encodes exactly the bytes ASMT wrote for an 8 MiB stage', () => {
    // docs/asmt-format.md §11, observed header.
    const header = encodeAsmtHeader(8_388_608, 0xe76a036a);
    assert.equal(header.toString('hex'), '41534d5401000000' + '0000800000000000' + '6a036ae700000000');
    assert.deepEqual(parseAsmtHeader(header, OBJECT), { rawSize: 8_388_608, rawCrc32: 0xe76a036a });
  });

  it('keeps sizes of 4 GiB and more exact (u64) and writes ISIZE mod 2^32', () => {
    const size = 4_296_015_872; // the 4097 MiB stage of §12
    const header = encodeAsmtHeader(size, 0xffffffff);
    assert.equal(header.readBigUInt64LE(8), 4_296_015_872n);
    assert.equal(header.readUInt32LE(16), 0xffffffff);
    assert.equal(header.readUInt32LE(20), 0);
    assert.deepEqual(parseAsmtHeader(header, OBJECT), { rawSize: size, rawCrc32: 0xffffffff });
    const trailer = gzipMemberTrailer(0x89abcdef, size);
    assert.equal(trailer.readUInt32LE(0), 0x89abcdef);
    assert.equal(trailer.readUInt32LE(4), size - 2 ** 32);
  });

  it('readHeader accepts both magics and refuses the rest with CORRUPT_OBJECT', () => {
    const header = encodeAsmtHeader(1234, 5678);
    assert.deepEqual(codecGzip.readHeader!(Buffer.concat([header, Buffer.from([1, 2, 3])]), OBJECT), {
      rawSize: 1234,
      rawCrc32: 5678,
    });
    const swapped = Buffer.from(header);
    swapped.writeUInt32LE(0x41534d54, 0);
    assert.equal(codecGzip.readHeader!(swapped, OBJECT).rawSize, 1234);
    const corrupt = (head: Buffer, pattern: RegExp): void =>
      assert.throws(
        () => codecGzip.readHeader!(head, OBJECT),
        (error: unknown) => isShmsnapError(error, 'CORRUPT_OBJECT') && pattern.test(error.message) && error.message.includes(OBJECT),
      );
    corrupt(header.subarray(0, 23), /truncated/);
    corrupt(flipBit(header, 0), /magic/);
    const version2 = Buffer.from(header);
    version2.writeUInt32LE(2, 4);
    corrupt(version2, /version 2/);
    const highCrc = Buffer.from(header);
    highCrc.writeUInt32LE(1, 20);
    corrupt(highCrc, /CRC/);
  });
});

describe('codec-gzip: round trips', () => {
  const small = createGzipCodec({ pieceBytes: 4096 });
  const cases: { name: string; data: () => Buffer; options?: EncodeCase; decodeChunk?: number }[] = [
    { name: 'random data', data: () => randomBytes(3 * MiB + 17) },
    { name: 'index-like data', data: () => indexLike(5 * MiB + 4321) },
    { name: 'zeros', data: () => Buffer.alloc(4 * MiB) },
    { name: 'zero-length', data: () => Buffer.alloc(0) },
    { name: 'one byte', data: () => Buffer.from([0x5a]) },
    { name: 'an exact multiple of the piece size', data: () => indexLike(3 * MiB) },
    { name: 'tiny pieces (4 KiB)', data: () => indexLike(300 * KiB + 5), options: { codec: small } },
    { name: 'tiny pieces, exact multiple', data: () => indexLike(64 * KiB), options: { codec: small } },
    { name: '1-byte input chunks', data: () => indexLike(6 * KiB + 3), options: { codec: small, chunk: 1, serial: true }, decodeChunk: 1 },
    { name: '7-byte input chunks', data: () => indexLike(40 * KiB + 1), options: { codec: small, chunk: 7, serial: true }, decodeChunk: 7 },
    { name: 'batched 1-byte input chunks', data: () => indexLike(50 * KiB + 3), options: { codec: small, chunk: 1 }, decodeChunk: 1 },
    { name: '3 MiB input chunks', data: () => indexLike(10 * MiB + 999), options: { chunk: 3 * MiB }, decodeChunk: 3 * MiB },
    { name: 'level 9', data: () => indexLike(2 * MiB + 1), options: { level: 9 } },
    { name: 'threads 1', data: () => indexLike(3 * MiB + 7), options: { threads: 1 } },
    { name: 'threads 4', data: () => indexLike(3 * MiB + 7), options: { threads: 4, chunk: 100 * KiB + 3 } },
  ];
  for (const testCase of cases) {
    it(`round-trips ${testCase.name}`, async () => {
      const data = testCase.data();
      const file = await encode(data, testCase.options);
      assert.ok(file.length >= ASMT_HEADER_BYTES + 18);
      const back = await decode(file, data.length, {
        rawCrc32: crc32(data),
        ...(testCase.decodeChunk === undefined ? {} : { chunk: testCase.decodeChunk }),
        ...(testCase.options?.serial === undefined ? {} : { serial: testCase.options.serial }),
      });
      assert.equal(back.length, data.length);
      assert.ok(back.equals(data), 'decoded bytes equal the raw bytes');
      // Node's own gunzip must agree: one member, nothing after it.
      assert.ok(zlib.gunzipSync(file.subarray(ASMT_HEADER_BYTES)).equals(data));
    });
  }

  it('hands downstream exact-size chunks, not views pinning a piece-sized zlib buffer', async () => {
    const data = Buffer.alloc(8 * MiB);
    const encoder = codecGzip.createEncoder({ rawSize: data.length, rawCrc32: crc32(data), objectName: OBJECT });
    const chunks: Buffer[] = [];
    // 'data' delivers chunks as pushed; async iteration would join them.
    encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
    encoder.end(data);
    await finished(encoder);
    assert.ok(chunks.length >= 10, `${chunks.length} chunks`);
    for (const chunk of chunks) {
      assert.ok(chunk.buffer.byteLength <= Math.max(2 * chunk.length, 64 * KiB), `${chunk.length} bytes pin ${chunk.buffer.byteLength}`);
    }
  });

  it('writes the same bytes whatever the thread count and input chunking', async () => {
    const data = indexLike(2 * MiB + 333);
    const one = await encode(data, { threads: 1 });
    const four = await encode(data, { threads: 4, chunk: 12345 });
    assert.ok(one.equals(four));
  });

  it('sets the gzip header as zlib does (XFL by level) and the ASMT header fields', async () => {
    const data = indexLike(100 * KiB);
    for (const [level, xfl] of [[1, 4], [6, 0], [9, 2]] as const) {
      const file = await encode(data, { level });
      const header = file.subarray(0, ASMT_HEADER_BYTES);
      assert.equal(header.subarray(0, 4).toString('latin1'), 'ASMT');
      assert.equal(header.readUInt32LE(4), 1);
      assert.equal(header.readBigUInt64LE(8), BigInt(data.length));
      assert.equal(header.readBigUInt64LE(16), BigInt(crc32(data)));
      assert.equal(file.subarray(24, 34).toString('hex'), `1f8b0800${'00000000'}${xfl.toString(16).padStart(2, '0')}03`);
      const trailer = file.subarray(file.length - 8);
      assert.equal(trailer.readUInt32LE(0), crc32(data));
      assert.equal(trailer.readUInt32LE(4), data.length);
    }
  });
});

describe('codec-gzip: the system gzip reads our files', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shmsnap-gzip-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const [name, data, codec] of [
    ['index-like data in 1 MiB pieces', indexLike(3 * MiB + 77), codecGzip],
    ['random data in 4 KiB pieces', randomBytes(200 * KiB + 3), createGzipCodec({ pieceBytes: 4096 })],
    ['zero-length data', Buffer.alloc(0), codecGzip],
  ] as const) {
    it(`gzip -t and gzip -dc accept ${name}`, async () => {
      const file = await encode(data, { codec });
      const path = join(dir, `${name.replace(/\W+/g, '-')}.gz`);
      await writeFile(path, file.subarray(ASMT_HEADER_BYTES));
      execFileSync('gzip', ['-t', path]); // throws on a non-zero exit
      const out = execFileSync('gzip', ['-dc', path], { maxBuffer: 64 * MiB });
      assert.ok(out.equals(data));
    });
  }
});

describe('codec-gzip: reading what ASMT (and others) write', () => {
  const data = indexLike(1 * MiB + 3);

  it('decodes zlib.gzipSync level 1 (memLevel 9) behind an ASMT header', async () => {
    const back = await decode(asmtFile(data), data.length, { rawCrc32: crc32(data), chunk: 4099 });
    assert.ok(back.equals(data));
  });

  it('accepts the byte-swapped magic', async () => {
    const file = asmtFile(data);
    file.writeUInt32LE(0x41534d54, 0);
    assert.ok((await decode(file, data.length)).equals(data));
  });

  it('accepts a zlib-wrapped body, checks its Adler-32, and rejects data after it', async () => {
    const body = zlib.deflateSync(data, { level: 1 });
    const file = asmtFile(data, body);
    assert.ok((await decode(file, data.length, { chunk: 1000 })).equals(data));
    await rejectsWith(decode(flipBit(file, file.length - 1), data.length), 'CORRUPT_OBJECT', /invalid compressed data/);
    await rejectsWith(decode(Buffer.concat([file, Buffer.from('x')]), data.length), 'CORRUPT_OBJECT', /after the compressed stream/);
  });

  it('parses optional gzip header fields (extra, name, comment, header CRC) fed byte by byte', async () => {
    const small = indexLike(5000);
    const fixed = Buffer.from([0x1f, 0x8b, 0x08, 0x02 | 0x04 | 0x08 | 0x10, 1, 2, 3, 4, 0, 3]);
    const extra = Buffer.from([3, 0, 0xaa, 0xbb, 0xcc]);
    const name = Buffer.from('ae001100.dat\0', 'latin1');
    const comment = Buffer.from('a comment\0', 'latin1');
    const before = Buffer.concat([fixed, extra, name, comment]);
    const hcrc = Buffer.alloc(2);
    hcrc.writeUInt16LE(crc32(before) & 0xffff);
    const body = Buffer.concat([before, hcrc, zlib.deflateRawSync(small), gzipMemberTrailer(crc32(small), small.length)]);
    assert.ok(zlib.gunzipSync(body).equals(small), 'the hand-built member is valid gzip');
    const file = asmtFile(small, body);
    assert.ok((await decode(file, small.length, { chunk: 1, serial: true })).equals(small));
    assert.ok((await decode(file, small.length, { chunk: 5, serial: true })).equals(small));
    const badHcrc = flipBit(file, ASMT_HEADER_BYTES + before.length);
    await rejectsWith(decode(badHcrc, small.length), 'CORRUPT_OBJECT', /gzip header CRC/);
    const reserved = flipBit(file, ASMT_HEADER_BYTES + 3, 6);
    await rejectsWith(decode(reserved, small.length), 'CORRUPT_OBJECT', /reserved flags/);
  });
});

describe('codec-gzip: corrupt objects are refused', () => {
  const data = indexLike(512 * KiB + 9);
  const crc = crc32(data);
  let file: Buffer = Buffer.alloc(0);
  before(async () => {
    file = await encode(data, { codec: createGzipCodec({ pieceBytes: 64 * KiB }) });
  });

  it('a bit flip anywhere in the body fails (data error or CRC), never silently', async () => {
    const bodyStart = ASMT_HEADER_BYTES + 10;
    const bodyEnd = file.length - 8;
    for (let i = 0; i < 12; i++) {
      const offset = bodyStart + Math.floor(((bodyEnd - bodyStart) * (i + 0.5)) / 12);
      await assert.rejects(decode(flipBit(file, offset, i % 8), data.length), (error: unknown) => {
        assert.ok(isShmsnapError(error), String(error));
        assert.ok(['CORRUPT_OBJECT', 'CHECKSUM_MISMATCH'].includes(error.code), `${offset}: ${error.code} ${error.message}`);
        assert.ok(error.message.includes(OBJECT));
        return true;
      });
    }
  });

  it('a bit flip in the trailer CRC fails with CHECKSUM_MISMATCH', async () => {
    await rejectsWith(decode(flipBit(file, file.length - 6), data.length), 'CHECKSUM_MISMATCH', /gzip trailer/);
  });

  it('a wrong ISIZE fails with CORRUPT_OBJECT', async () => {
    await rejectsWith(decode(flipBit(file, file.length - 2), data.length), 'CORRUPT_OBJECT', /trailer size/);
  });

  it('a wrong header CRC fails: at once against the recorded CRC, at the end against the data', async () => {
    const bad = flipBit(file, 16);
    let emitted = 0;
    const decoder = codecGzip.createDecoder({ rawSize: data.length, rawCrc32: crc, objectName: OBJECT });
    decoder.on('data', (chunk: Buffer) => (emitted += chunk.length));
    await rejectsWith(drain([bad], decoder), 'CHECKSUM_MISMATCH', /ASMT header/);
    assert.equal(emitted, 0, 'nothing is emitted from an object whose header disagrees with the record');
    await rejectsWith(decode(bad, data.length), 'CHECKSUM_MISMATCH', /per the ASMT header/);
  });

  it('a header size other than the recorded size fails with SIZE_MISMATCH', async () => {
    await rejectsWith(decode(file, data.length + 1), 'SIZE_MISMATCH', /ASMT header/);
    await rejectsWith(decode(flipBit(file, 8), data.length), 'SIZE_MISMATCH', /ASMT header/);
  });

  it('a plain .gz without the ASMT header fails with CORRUPT_OBJECT (magic)', async () => {
    await rejectsWith(decode(zlib.gzipSync(data), data.length), 'CORRUPT_OBJECT', /magic/);
  });

  it('a raw deflate body fails with CORRUPT_OBJECT', async () => {
    const raw = Buffer.concat([encodeAsmtHeader(data.length, crc), zlib.deflateRawSync(data)]);
    await rejectsWith(decode(raw, data.length), 'CORRUPT_OBJECT', /neither gzip nor zlib/);
  });

  it('a truncated file fails with CORRUPT_OBJECT at every cut point', async () => {
    const cuts = [0, 1, 12, 23, 24, 25, 29, 34, 35, 1000, Math.floor(file.length / 2), file.length - 9];
    for (let back = 8; back >= 1; back--) cuts.push(file.length - back);
    for (const cut of cuts) {
      for (const chunk of [1 * MiB, 3]) {
        await rejectsWith(decode(file.subarray(0, cut), data.length, { chunk }), 'CORRUPT_OBJECT', /truncated/);
      }
    }
  });

  it('a truncated or padded file fails the same when fed a few bytes per write', async () => {
    const small = indexLike(4000);
    const smallFile = await encode(small);
    const serially = (bytes: Buffer): Promise<Buffer> => decode(bytes, small.length, { chunk: 5, serial: true });
    for (const cut of [20, 30, smallFile.length - 12, smallFile.length - 8, smallFile.length - 5, smallFile.length - 1]) {
      await rejectsWith(serially(smallFile.subarray(0, cut)), 'CORRUPT_OBJECT', /truncated/);
    }
    for (const extra of [1, 4, 8, 13]) {
      await rejectsWith(serially(Buffer.concat([smallFile, Buffer.alloc(extra, 0xee)])), 'CORRUPT_OBJECT', /after the compressed stream/);
    }
    assert.ok((await serially(smallFile)).equals(small));
  });

  it('a second gzip member after the first fails with CORRUPT_OBJECT', async () => {
    const twice = Buffer.concat([file, zlib.gzipSync(data.subarray(0, 1000))]);
    await rejectsWith(decode(twice, data.length), 'CORRUPT_OBJECT', /second gzip member/);
    await rejectsWith(decode(twice, data.length, { chunk: 5 }), 'CORRUPT_OBJECT', /second gzip member/);
  });

  it('trailing bytes of any length fail with CORRUPT_OBJECT', async () => {
    for (const extra of [1, 3, 8, 9, 100, 70 * KiB]) {
      for (const chunk of [MiB, 7]) {
        const padded = Buffer.concat([file, Buffer.alloc(extra, 0)]);
        await rejectsWith(decode(padded, data.length, { chunk }), 'CORRUPT_OBJECT', /after the compressed stream/);
      }
    }
  });

  it('a body that inflates to more than the segment size fails without emitting more', async () => {
    const big = indexLike(2 * MiB);
    const lying = Buffer.concat([encodeAsmtHeader(MiB, crc32(big.subarray(0, MiB))), zlib.gzipSync(big)]);
    let emitted = 0;
    const decoder = codecGzip.createDecoder({ rawSize: MiB, objectName: OBJECT });
    decoder.on('data', (chunk: Buffer) => (emitted += chunk.length));
    await rejectsWith(drain(slices(lying, 64 * KiB), decoder), 'CORRUPT_OBJECT', new RegExp(`more than ${MiB} bytes`));
    assert.ok(emitted <= MiB, `emitted ${emitted} bytes`);
  });

  it('a body that inflates to less than the segment size fails with CORRUPT_OBJECT', async () => {
    const half = data.subarray(0, 1000);
    const short = Buffer.concat([encodeAsmtHeader(data.length, crc), zlib.gzipSync(half)]);
    await rejectsWith(decode(short, data.length), 'CORRUPT_OBJECT', new RegExp(`inflates to 1000 bytes, expected ${data.length}`));
  });
});

describe('codec-gzip: the encoder checks what it is given', () => {
  const data = indexLike(300 * KiB + 1);

  it('fails with CHECKSUM_MISMATCH when the bytes do not match the given CRC', async () => {
    await rejectsWith(encode(data, { rawCrc32: (crc32(data) ^ 1) >>> 0 }), 'CHECKSUM_MISMATCH', /raw bytes/);
  });

  it('fails with SIZE_MISMATCH on too few bytes, and at once on too many', async () => {
    await rejectsWith(encode(data, { rawSize: data.length + 1 }), 'SIZE_MISMATCH', /got 307201 raw bytes, expected 307202/);
    const encoder = codecGzip.createEncoder({ rawSize: 1000, rawCrc32: 0, objectName: OBJECT });
    const failed = new Promise<unknown>((resolve) => encoder.once('error', resolve));
    encoder.write(data);
    const error = await failed;
    assert.ok(isShmsnapError(error, 'SIZE_MISMATCH') && error.message.includes(OBJECT));
  });
});

describe('codec-gzip: parallelism, backpressure and teardown', () => {
  /** Wraps zlib.deflateRaw (which the encoder looks up at call time) to watch its jobs. */
  function watchDeflate(): { running: () => number; maxRunning: () => number; callbacks: number[]; restore: () => void } {
    const original = zlib.deflateRaw;
    let running = 0;
    let maxRunning = 0;
    const callbacks: number[] = [];
    const patched = (buffer: zlib.InputType, options: zlib.ZlibOptions, callback: zlib.CompressCallback): void => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      original(buffer, options, (error, result) => {
        running -= 1;
        callbacks.push(performance.now());
        callback(error, result);
      });
    };
    (zlib as { deflateRaw: unknown }).deflateRaw = patched;
    return {
      running: () => running,
      maxRunning: () => maxRunning,
      callbacks,
      restore: () => {
        (zlib as { deflateRaw: unknown }).deflateRaw = original;
      },
    };
  }

  it('runs at most `threads` zlib jobs at once, and uses them', async () => {
    const watch = watchDeflate();
    try {
      const data = indexLike(6 * MiB);
      const file = await encode(data, { threads: 3 });
      assert.equal(watch.maxRunning(), 3);
      assert.equal(watch.callbacks.length, 6);
      assert.ok((await decode(file, data.length)).equals(data));
    } finally {
      watch.restore();
    }
  });

  it('stops taking input while its output is not read', async () => {
    const data = indexLike(16 * MiB);
    const encoder = createGzipCodec({ pieceBytes: 256 * KiB }).createEncoder({
      rawSize: data.length,
      rawCrc32: crc32(data),
      threads: 2,
      objectName: OBJECT,
    });
    let accepted = 0;
    const chunks = slices(data, 256 * KiB);
    const writeNext = (): void => {
      const chunk = chunks[accepted];
      if (chunk === undefined) return;
      encoder.write(chunk, () => {
        accepted += 1;
        writeNext();
      });
    };
    writeNext();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(accepted < 12, `accepted ${accepted} of ${chunks.length} chunks with nobody reading`);
    assert.ok(encoder.readableLength < 2 * MiB);
    const closed = new Promise((resolve) => encoder.once('close', resolve));
    encoder.destroy();
    await closed;
  });

  it("emits 'close' only after every zlib job has returned", async () => {
    const watch = watchDeflate();
    try {
      const data = randomBytes(8 * MiB);
      const encoder = createGzipCodec({ pieceBytes: 2 * MiB }).createEncoder({
        rawSize: data.length,
        rawCrc32: crc32(data),
        level: 9,
        threads: 4,
        objectName: OBJECT,
      });
      encoder.resume();
      encoder.write(data);
      let runningAtDestroy = 0;
      let runningAtClose = -1;
      let closedAt = 0;
      const closed = new Promise<void>((resolve) =>
        encoder.once('close', () => {
          runningAtClose = watch.running();
          closedAt = performance.now();
          resolve();
        }),
      );
      await new Promise((resolve) => setImmediate(resolve));
      runningAtDestroy = watch.running();
      encoder.destroy();
      await closed;
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(runningAtDestroy > 0, 'jobs were in flight when the encoder was destroyed');
      assert.equal(runningAtClose, 0);
      assert.ok(watch.callbacks.every((at) => at <= closedAt), 'no zlib callback after close');
    } finally {
      watch.restore();
    }
  });

  it("the decoder emits 'close' after its inflater has closed when destroyed mid-stream", async () => {
    // zlib's factories are read-only; watch the instances through the prototype instead.
    const proto = zlib.InflateRaw.prototype as { write: (...args: unknown[]) => boolean };
    const originalWrite = proto.write;
    const inflaters = new Set<zlib.InflateRaw>();
    proto.write = function (this: zlib.InflateRaw, ...args: unknown[]): boolean {
      inflaters.add(this);
      return originalWrite.apply(this, args);
    };
    try {
      const data = indexLike(4 * MiB);
      const file = await encode(data);
      const decoder = codecGzip.createDecoder({ rawSize: data.length, objectName: OBJECT });
      let emitted = 0;
      decoder.on('data', (chunk: Buffer) => (emitted += chunk.length));
      decoder.write(file.subarray(0, file.length / 2));
      while (emitted === 0) await new Promise((resolve) => setImmediate(resolve));
      let inflaterClosedAtClose: boolean | undefined;
      const closed = new Promise<void>((resolve) =>
        decoder.once('close', () => {
          inflaterClosedAtClose = [...inflaters][0]?.closed;
          resolve();
        }),
      );
      decoder.destroy();
      await closed;
      assert.equal(inflaters.size, 1);
      assert.equal(inflaterClosedAtClose, true);
    } finally {
      proto.write = originalWrite;
    }
  });
});

describe('codec-gzip: compression ratio', () => {
  it('parallel pieces cost under 1% against zlib.gzipSync level 1 on index-like data', async () => {
    const data = indexLike(16 * MiB, 7);
    const ours = (await encode(data)).length - ASMT_HEADER_BYTES;
    const reference = zlib.gzipSync(data, { level: 1 }).length;
    const loss = (ours - reference) / reference;
    assert.ok(Math.abs(loss) < 0.01, `ours ${ours}, zlib ${reference}, ${(loss * 100).toFixed(3)}%`);
  });
});

describe('codec-gzip: segments of 4 GiB and more (ASMT bug §12)', () => {
  it('round-trips 4 GiB + 5 MiB + 123 bytes with a u64 size and ISIZE mod 2^32', async () => {
    const size = 4 * 1024 * MiB + 5 * MiB + 123;
    const block = Buffer.alloc(8 * MiB);
    block[0] = 1;
    const views = (): Buffer[] => {
      const out: Buffer[] = [];
      for (let at = 0; at < size; at += block.length) out.push(block.subarray(0, Math.min(block.length, size - at)));
      return out;
    };
    let crc = 0;
    for (const view of views()) crc = crc32(view, crc);
    const file = await drain(views(), codecGzip.createEncoder({ rawSize: size, rawCrc32: crc, objectName: OBJECT }));
    assert.equal(file.readBigUInt64LE(8), BigInt(size));
    assert.equal(file.readUInt32LE(file.length - 4), size - 2 ** 32);
    let total = 0;
    let back = 0;
    const decoder = codecGzip.createDecoder({ rawSize: size, rawCrc32: crc, objectName: OBJECT });
    await pipeline(Readable.from([file]), decoder, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        total += chunk.length;
        back = crc32(chunk, back);
      }
    });
    assert.equal(total, size);
    assert.equal(back, crc);
  });
});
