/**
 * One part being filled. Chunks are copied in, never kept: a caller's chunk
 * may be a view of shared memory that is detached once the write completes.
 * The buffer grows by doubling up to the part size, so a small object (a
 * manifest) does not cost a whole 16 MiB part, and a large one pays at most
 * one extra copy.
 */
export class PartBuffer {
  #buffer: Buffer;
  #length = 0;

  constructor(
    /** The part's size: the buffer never grows beyond it. */
    readonly limit: number,
    initialCapacity: number,
    /** Memory of an earlier part, reused when it is large enough. */
    spare?: Buffer,
  ) {
    this.#buffer = spare && spare.length >= Math.min(limit, initialCapacity) ? spare : Buffer.allocUnsafe(Math.max(1, Math.min(limit, initialCapacity)));
  }

  /** The memory behind the part, for reuse once its upload is done. */
  get memory(): Buffer {
    return this.#buffer;
  }

  get length(): number {
    return this.#length;
  }

  /** Bytes of memory held. */
  get capacity(): number {
    return this.#buffer.length;
  }

  get full(): boolean {
    return this.#length === this.limit;
  }

  /** Copies from `chunk[offset..]` as much as fits; returns how many bytes it took. */
  append(chunk: Uint8Array, offset: number): number {
    const take = Math.min(chunk.length - offset, this.limit - this.#length);
    if (take <= 0) return 0;
    const needed = this.#length + take;
    if (needed > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.limit, Math.max(needed, this.#buffer.length * 2)));
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    this.#buffer.set(chunk.subarray(offset, offset + take), this.#length);
    this.#length = needed;
    return take;
  }

  /** The bytes filled so far (a view, not a copy). */
  view(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }
}
