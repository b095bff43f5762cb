/**
 * Read chunks handed over with a recycler (contracts/chunk-ownership.ts) and
 * who still reads them: the queue until it has passed a chunk, and each
 * group of pieces started on it. The queue's reference goes a microtask
 * late: a group being taken counts itself right after its views, and a view
 * just taken (a prefix, a trailer) is read in that same step. The last
 * reference gives the memory back to its producer.
 */
import { recyclerOf } from '@shmsnap/core/plugin-kit';

export class ChunkReaders {
  readonly #counts = new Map<Buffer, number>();

  /** A chunk was written to the queue: counted when its producer wants it back. */
  written(chunk: Buffer): void {
    if (chunk.length > 0 && recyclerOf(chunk)) this.#counts.set(chunk, 1);
  }

  /** A group starts reading views of `sources`. */
  acquire(sources: readonly Buffer[]): void {
    for (const source of sources) {
      const n = this.#counts.get(source);
      if (n !== undefined) this.#counts.set(source, n + 1);
    }
  }

  /** A group that read `sources` read every byte of them. */
  release(sources: readonly Buffer[]): void {
    for (const source of sources) if (this.#counts.has(source)) this.#drop(source);
  }

  /** The queue has passed `chunk` (ByteQueue's onSpent). */
  spent(chunk: Buffer): void {
    if (this.#counts.has(chunk)) queueMicrotask(() => this.#drop(chunk));
  }

  #drop(chunk: Buffer): void {
    const n = this.#counts.get(chunk)!;
    if (n > 1) this.#counts.set(chunk, n - 1);
    else {
      this.#counts.delete(chunk);
      recyclerOf(chunk)!(chunk.buffer as ArrayBuffer);
    }
  }
}
