/**
 * Chunks whose memory passes to the consumer. A stream stage that produced a
 * chunk in memory of its own (a decrypted frame, say) MAY mark it with
 * `handOver` before passing it on. A producer MUST mark only memory it
 * allocated itself as an ordinary ArrayBuffer (`Buffer.alloc*`,
 * `new Uint8Array`): never a view of shared memory or an addon's external
 * buffer, which cannot be transferred. `handOver` refuses what it can see
 * (a slice, a pooled Buffer, a SharedArrayBuffer); an external buffer looks
 * like an ordinary one, so that part is the producer's promise. The mark
 * guarantees:
 * - the chunk spans its whole ArrayBuffer (byteOffset 0, byteLength that of
 *   the buffer);
 * - no one but the consumer holds or will touch that memory again, so the
 *   consumer MAY keep it, write it, or transfer it to a worker thread
 *   (detaching it) instead of copying it.
 * An unmarked chunk makes no such promise: a consumer copies what it keeps.
 * Stages in between (meters) pass a marked chunk on as it is, or not at all.
 * The mark is per object, so a chunk re-sliced or copied is unmarked.
 */

/** Handed-over chunks, each with the producer's recycler (null when it gave none). */
const handedOver = new WeakMap<Uint8Array, ((memory: ArrayBuffer) => void) | null>();

/**
 * Marks `chunk` as the consumer's (see above); RangeError unless it spans its
 * whole, unshared ArrayBuffer. With `recycle`, the producer asks for the
 * memory back: a consumer done with it MAY call `recycle` once with the
 * chunk's ArrayBuffer (or the one a worker transferred back, the same
 * memory), and MUST NOT touch that memory afterwards; the producer MAY then
 * write it again. A consumer that does not call it loses nothing: the memory
 * is collected as any other.
 */
export function handOver<T extends Uint8Array>(chunk: T, recycle?: (memory: ArrayBuffer) => void): T {
  if (chunk.byteOffset !== 0 || chunk.byteLength !== chunk.buffer.byteLength || !(chunk.buffer instanceof ArrayBuffer)) {
    throw new RangeError('only a chunk spanning its whole, unshared ArrayBuffer can be handed over');
  }
  handedOver.set(chunk, recycle ?? null);
  return chunk;
}

/** True when the producer of `chunk` gave up its memory to the consumer (`handOver`). */
export function isHandedOver(chunk: Uint8Array): boolean {
  return handedOver.has(chunk);
}

/** The recycler `chunk` was handed over with, if any (see `handOver`). */
export function recyclerOf(chunk: Uint8Array): ((memory: ArrayBuffer) => void) | undefined {
  return handedOver.get(chunk) ?? undefined;
}

/**
 * A producer's bounded stock of memory given back by its consumers: `take`
 * returns a Buffer of `bytes` over given-back memory of that size when there
 * is one (its content is stale: the producer overwrites all of it), else a
 * fresh one; `recycle` (for `handOver`) keeps at most `capacity` of them.
 * Reused memory costs no allocation, no page faults and no collection
 * (measured: 700 fresh 2 MiB buffers written cost 0.16 CPU-s, reused 0.03).
 */
export class MemoryStock {
  readonly #idle: ArrayBuffer[] = [];
  readonly #capacity: number;
  readonly recycle = (memory: ArrayBuffer): void => {
    if (this.#idle.length < this.#capacity && memory.byteLength > 0) this.#idle.push(memory);
  };

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  take(bytes: number): Buffer {
    const at = this.#idle.findIndex((memory) => memory.byteLength === bytes);
    if (at < 0) return Buffer.allocUnsafeSlow(bytes);
    return Buffer.from(this.#idle.splice(at, 1)[0]!);
  }
}
