import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { createCrc32Meter, crc32, crc32Combine } from './checksum.js';
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
