// Zero runs: found across any chunk boundaries, only long ones kept, and
// their CRC-32 computed without reading a byte.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { crc32 } from './checksum.js';
import { crc32OfZeros, MIN_ZERO_RANGE_BYTES, ZERO_BLOCK_BYTES, ZeroRangeFinder } from './zero-ranges.js';

const MiB = 1024 * 1024;

function find(data: Buffer, chunk: number): readonly (readonly [number, number])[] {
  const finder = new ZeroRangeFinder(data.length);
  for (let at = 0; at < data.length; at += chunk) finder.add(data.subarray(at, at + chunk));
  return finder.ranges();
}

describe('ZeroRangeFinder', () => {
  it('finds block-aligned zero runs whatever the chunk sizes, and keeps only long ones', () => {
    const data = randomBytes(8 * MiB);
    data.fill(0, MiB, 3 * MiB + 100); // a run of 2 MiB (+100 bytes that do not fill a block)
    data.fill(0, 5 * MiB, 5 * MiB + ZERO_BLOCK_BYTES * 4); // too short to keep
    data.fill(0, 7 * MiB); // the tail
    for (const chunk of [1000, ZERO_BLOCK_BYTES, 3 * MiB + 7, data.length]) {
      assert.deepEqual(find(data, chunk), [[MiB, 2 * MiB], [7 * MiB, MiB]], `chunks of ${chunk}`);
    }
  });

  it('handles a segment of only zeros, one with none, and a size that is not a multiple of the block', () => {
    assert.deepEqual(find(Buffer.alloc(3 * MiB + 5), 777_777), [[0, 3 * MiB + 5]]);
    assert.deepEqual(find(randomBytes(2 * MiB), MiB), []);
    assert.ok(MIN_ZERO_RANGE_BYTES <= MiB);
  });
});

describe('crc32OfZeros', () => {
  it('equals the CRC-32 of that many zero bytes', () => {
    for (const length of [0, 1, ZERO_BLOCK_BYTES - 1, ZERO_BLOCK_BYTES, ZERO_BLOCK_BYTES + 1, 3 * MiB + 5, 17 * MiB]) {
      assert.equal(crc32OfZeros(length), crc32(Buffer.alloc(length)), `${length} bytes`);
    }
  });
});
