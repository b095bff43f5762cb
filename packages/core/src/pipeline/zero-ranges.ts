/**
 * Zeros are free: ranges of a segment that hold only zeros (an arena's tail
 * past its allocation point was never written; data stripes have unused
 * space) are found while the backup reads the segment, recorded in the
 * manifest, and skipped by a raw restore, which neither reads nor faults
 * them in: a new segment is zero-filled. Their CRC-32 is combined in without
 * reading a byte (`crc32OfZeros`).
 *
 * Blocks are `blockBytes` long and aligned to the segment's start; only runs
 * of at least `minRangeBytes` are kept, and at most `maxRanges` of them, so
 * the manifest stays small whatever the segment.
 */
import { crc32, crc32Combine } from './checksum.js';

export const ZERO_BLOCK_BYTES = 64 * 1024;
/** Shorter runs save too little to be worth a manifest entry. */
export const MIN_ZERO_RANGE_BYTES = 1024 * 1024;
export const MAX_ZERO_RANGES = 4096;

const ZEROS = new Uint8Array(ZERO_BLOCK_BYTES);

/** [offset, length] pairs, sorted, not touching. */
export type ZeroRanges = readonly (readonly [number, number])[];

export class ZeroRangeFinder {
  readonly #size: number;
  readonly #ranges: [number, number][] = [];
  #blockStart = 0;
  #blockZero = true;
  #position = 0;

  constructor(size: number) {
    this.#size = size;
  }

  /** Feeds the next bytes of the segment, in order. */
  add(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length && this.#position < this.#size) {
      const blockEnd = Math.min(this.#blockStart + ZERO_BLOCK_BYTES, this.#size);
      const take = Math.min(chunk.length - at, blockEnd - this.#position);
      if (this.#blockZero && Buffer.compare(chunk.subarray(at, at + take), ZEROS.subarray(0, take)) !== 0) this.#blockZero = false;
      at += take;
      this.#position += take;
      if (this.#position === blockEnd) {
        if (this.#blockZero) this.#extend(this.#blockStart, blockEnd - this.#blockStart);
        this.#blockStart = blockEnd;
        this.#blockZero = true;
      }
    }
  }

  #extend(offset: number, length: number): void {
    const last = this.#ranges[this.#ranges.length - 1];
    if (last && last[0] + last[1] === offset) last[1] += length;
    else this.#ranges.push([offset, length]);
  }

  /** The runs found, once every byte was fed. */
  ranges(): ZeroRanges {
    return this.#ranges.filter(([, length]) => length >= MIN_ZERO_RANGE_BYTES).slice(0, MAX_ZERO_RANGES);
  }
}

const ZERO_BLOCK_CRC = crc32(ZEROS);

/** CRC-32 of `length` zero bytes, by combining (O(log length)), without reading any. */
export function crc32OfZeros(length: number): number {
  if (length === 0) return 0;
  let crc = 0;
  let have = 0;
  // Whole blocks by doubling, then the rest directly.
  let blockCrc = ZERO_BLOCK_CRC;
  let blockLength = ZERO_BLOCK_BYTES;
  let blocks = Math.floor(length / ZERO_BLOCK_BYTES);
  while (blocks > 0) {
    if (blocks % 2 === 1) {
      crc = have === 0 ? blockCrc : crc32Combine(crc, blockCrc, blockLength);
      have += blockLength;
    }
    blocks = Math.floor(blocks / 2);
    if (blocks > 0) {
      blockCrc = crc32Combine(blockCrc, blockCrc, blockLength);
      blockLength *= 2;
    }
  }
  const rest = length - have;
  if (rest > 0) {
    const tail = crc32(ZEROS.subarray(0, rest));
    crc = have === 0 ? tail : crc32Combine(crc, tail, rest);
  }
  return crc;
}
