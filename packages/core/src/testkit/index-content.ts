/**
 * Bytes that look like an Aerospike primary index to a compressor: 64-byte
 * entries with a random 20-byte digest and small, clustered fields
 * (refcount, tree handles, generation, void time, last-update time, record
 * block id...). Compression ratios on it are close to a real index's (gzip -1
 * about 1.5:1), so benchmarks and demos are honest.
 *
 * Deterministic and position-addressable: every 64 KiB block is generated
 * from (seed, block number) alone, so any window of a segment can be filled
 * or re-generated for comparison independently of the others.
 */

export const INDEX_ENTRY_BYTES = 64;
const BLOCK_BYTES = 64 * 1024;
const WORDS_PER_ENTRY = INDEX_ENTRY_BYTES / 4;

function splitmix32(value: number): number {
  let z = (value + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return z === 0 ? 0x6d2b79f5 : z;
}

function fillBlock(words: Uint32Array, seed: number, block: number): void {
  let s = splitmix32(seed ^ Math.imul(block + 1, 0x9e3779b9));
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  const voidBase = 0x1a2b0000 + (next() & 0xffff);
  const updateBase = 0x9c000000 + (next() & 0xffffff);
  let rblock = Math.imul(block, 1024) >>> 0;
  for (let w = 0; w + WORDS_PER_ENTRY <= words.length; w += WORDS_PER_ENTRY) {
    const r = next();
    words[w] = 1; // refcount
    words[w + 1] = next() & 0x3fffff; // left child handle
    words[w + 2] = next() & 0x3fffff; // right child handle
    words[w + 3] = ((r & 0xf) << 8) | ((r >>> 4) & 0x3); // set id, colour/flags
    words[w + 4] = next(); // 20-byte digest
    words[w + 5] = next();
    words[w + 6] = next();
    words[w + 7] = next();
    words[w + 8] = next();
    words[w + 9] = 1 + ((r >>> 8) & 0xf); // generation
    words[w + 10] = voidBase + ((r >>> 12) & 0xfff); // void time
    words[w + 11] = updateBase + (next() & 0xfffff); // last-update time
    rblock += 1 + ((r >>> 24) & 0x7);
    words[w + 12] = rblock >>> 0; // record block id
    words[w + 13] = 1 + ((r >>> 28) & 0x3); // blocks per record
    words[w + 14] = 0;
    words[w + 15] = 0;
  }
}

const scratch = new Uint32Array(BLOCK_BYTES / 4);
const scratchBytes = new Uint8Array(scratch.buffer);

/**
 * Fills `target` with the content that belongs at `offset` (bytes from the
 * start of the segment) for `seed`.
 */
export function fillIndexContent(target: Uint8Array, seed: number, offset = 0): void {
  let written = 0;
  while (written < target.length) {
    const position = offset + written;
    const block = Math.floor(position / BLOCK_BYTES);
    const within = position - block * BLOCK_BYTES;
    const length = Math.min(BLOCK_BYTES - within, target.length - written);
    const aligned = within === 0 && length === BLOCK_BYTES && (target.byteOffset + written) % 4 === 0;
    if (aligned) {
      fillBlock(new Uint32Array(target.buffer, target.byteOffset + written, BLOCK_BYTES / 4), seed, block);
    } else {
      fillBlock(scratch, seed, block);
      target.set(scratchBytes.subarray(within, within + length), written);
    }
    written += length;
  }
}
