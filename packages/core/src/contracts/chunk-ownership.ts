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

const handedOver = new WeakSet<Uint8Array>();

/** Marks `chunk` as the consumer's (see above); RangeError unless it spans its whole, unshared ArrayBuffer. */
export function handOver<T extends Uint8Array>(chunk: T): T {
  if (chunk.byteOffset !== 0 || chunk.byteLength !== chunk.buffer.byteLength || !(chunk.buffer instanceof ArrayBuffer)) {
    throw new RangeError('only a chunk spanning its whole, unshared ArrayBuffer can be handed over');
  }
  handedOver.add(chunk);
  return chunk;
}

/** True when the producer of `chunk` gave up its memory to the consumer (`handOver`). */
export function isHandedOver(chunk: Uint8Array): boolean {
  return handedOver.has(chunk);
}
