import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { createCrc32Meter, crc32, crc32Combine, crc32Engine, useCrc32Engine, type Crc32Engine } from './checksum.js';
import { isShmsnapError } from '../errors.js';

async function meter(data: Buffer, options: Parameters<typeof createCrc32Meter>[0]) {
  const m = createCrc32Meter(options);
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += 1000) chunks.push(data.subarray(i, i + 1000));
  await pipeline(Readable.from(chunks, { objectMode: false }), m, new Writable({ write: (_c, _e, cb) => cb() }));
  return m.result;
}

describe('crc32', () => {
  it('is the standard CRC-32 (check value of "123456789")', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  });

  it('continues across chunks', () => {
    const data = randomBytes(100_000);
    assert.equal(crc32(data.subarray(40_000), crc32(data.subarray(0, 40_000))), crc32(data));
  });

  it('combines the CRCs of two pieces into the CRC of their concatenation', () => {
    for (const split of [0, 1, 7, 32_768, 65_535, 99_999, 100_000]) {
      const data = randomBytes(100_000);
      const a = data.subarray(0, split);
      const b = data.subarray(split);
      assert.equal(crc32Combine(crc32(a), crc32(b), b.length), crc32(data), `split at ${split}`);
    }
  });

  it('combines over lengths beyond 4 GiB consistently (associativity)', () => {
    const [a, b, c] = [0x12345678, 0x9abcdef0, 0x0fedcba9];
    const lb = 3 * 2 ** 31 + 5;
    const lc = 2 ** 32 + 17;
    assert.equal(crc32Combine(crc32Combine(a, b, lb), c, lc), crc32Combine(a, crc32Combine(b, c, lc), lb + lc));
  });
});

describe('Crc32Meter', () => {
  const data = randomBytes(10_000);

  it('passes data through and reports its size and CRC', async () => {
    assert.deepEqual(await meter(data, { object: 'x', what: 'raw bytes', expectedBytes: data.length, expectedCrc32: crc32(data) }), {
      bytes: data.length,
      crc32: crc32(data),
    });
  });

  it('fails with CHECKSUM_MISMATCH naming the object when one bit differs', async () => {
    const flipped = Buffer.from(data);
    flipped[5000]! ^= 0x10;
    await assert.rejects(meter(flipped, { object: 'ae001100.dat', what: 'raw bytes', expectedCrc32: crc32(data) }), (error: unknown) => {
      assert.ok(isShmsnapError(error, 'CHECKSUM_MISMATCH'));
      assert.match(error.message, /^ae001100\.dat: CRC-32 of the raw bytes is 0x[0-9a-f]{8}, expected 0x[0-9a-f]{8}$/);
      return true;
    });
  });

  it('fails with SIZE_MISMATCH when bytes are missing or extra', async () => {
    await assert.rejects(meter(data, { object: 'o', what: 'raw bytes', expectedBytes: data.length + 1 }), (e: unknown) => isShmsnapError(e, 'SIZE_MISMATCH'));
    await assert.rejects(meter(data, { object: 'o', what: 'raw bytes', expectedBytes: data.length - 1 }), (e: unknown) => isShmsnapError(e, 'SIZE_MISMATCH'));
  });
});

describe('useCrc32Engine', () => {
  it('takes an engine that agrees with zlib, and every crc32 and meter of this thread then goes through it', async () => {
    const before = crc32Engine();
    let calls = 0;
    const counting: Crc32Engine = { name: 'counting', crc32: (data, previous) => (calls++, zlib.crc32(data, previous)) };
    try {
      useCrc32Engine(counting);
      assert.equal(crc32Engine(), counting);
      calls = 0;
      assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
      assert.equal(calls, 1);
      const data = randomBytes(10_000);
      assert.equal((await meter(data, { object: 'o', what: 'raw bytes' })).crc32, zlib.crc32(data));
      assert.equal(calls, 11, 'the meter checksummed its ten chunks with the engine');
    } finally {
      useCrc32Engine(before);
    }
    assert.equal(crc32Engine(), before);
  });

  it('refuses, with INTERNAL naming it, an engine that differs from zlib at any length it checks, and keeps the one in use', () => {
    const before = crc32Engine();
    // Right for short inputs and wrong from 256 bytes on: a broken fold behind a table for short ones looks like this.
    const broken: Crc32Engine = { name: 'broken fold', crc32: (data, previous) => zlib.crc32(data, previous) ^ (data.length >= 256 ? 1 : 0) };
    assert.throws(
      () => useCrc32Engine(broken),
      (error: unknown) => isShmsnapError(error, 'INTERNAL') && /broken fold/.test(String((error as Error).message)) && /256 bytes/.test(String((error as Error).message)),
    );
    assert.equal(crc32Engine(), before);
    const ignoresPrevious: Crc32Engine = { name: 'no previous', crc32: (data) => zlib.crc32(data) };
    assert.throws(() => useCrc32Engine(ignoresPrevious), (error: unknown) => isShmsnapError(error, 'INTERNAL'));
    assert.equal(crc32Engine(), before);
  });
});
