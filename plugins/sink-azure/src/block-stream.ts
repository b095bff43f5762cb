/**
 * The Writable of an Azure writer: bytes are cut into blocks and each full
 * block is staged (Put Block) while the next one fills. A staged block is
 * uncommitted: no listing, lookup or read sees it until the writer's one
 * Put Block List, so nothing here can make a partial object visible.
 *
 * Memory is bounded by design: a writer holds the block it is filling
 * (grown by doubling from 64 KiB, so a manifest does not cost a whole block)
 * and the blocks it has in flight, and blocks in flight are counted by the
 * sink's shared slots (`block-slots.ts`). A sink therefore holds at most
 * (uploadConcurrency + writers) × block size, whatever the objects' sizes.
 * Chunks are copied in, never kept: a caller's chunk may be a view of shared
 * memory that is detached once its write completes.
 *
 * A failed block (after its retries) fails the stream at the next write or
 * at the end; destroying the stream cancels the blocks in flight and delays
 * 'close' until every one has settled, so no request still reads a buffer
 * after the writer is gone.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { errObjectTooLarge, errSizeMismatch } from '@shmsnap/core/plugin-kit';
import type { BlockSlots } from './block-slots.js';

const FIRST_CAPACITY = 64 * 1024;

export interface BlockStreamOptions {
  /** Bytes per block (the last may be shorter). */
  readonly blockBytes: number;
  /** Blocks an object may have (Azure: 50,000). */
  readonly maxBlocks: number;
  readonly slots: BlockSlots;
  readonly expectedBytes?: number | undefined;
  /** The object as messages name it. */
  readonly object: string;
  /** Where the object is, for OBJECT_TOO_LARGE. */
  readonly location: string;
  /** Stages one block; resolves once it is stored (uncommitted). Retries are its own. */
  stage(index: number, blockId: string, body: Buffer, signal: AbortSignal): Promise<void>;
}

/** Block IDs must be base64 of the same length within a blob; the nonce keeps two writers of one name apart. */
export function blockIdOf(nonce: string, index: number): string {
  return Buffer.from(`${nonce}-${index.toString().padStart(6, '0')}`).toString('base64');
}

export class BlockStream extends Writable {
  readonly #options: BlockStreamOptions;
  readonly #nonce = randomBytes(8).toString('hex');
  readonly #cancel = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #ids: string[] = [];
  #fill: Buffer | undefined;
  #filled = 0;
  #bytes = 0;
  #held = 0;
  #peakHeld = 0;
  #failure: Error | undefined;

  constructor(options: BlockStreamOptions) {
    // A small queue: the bound on memory is the block being filled, not chunks queued before it.
    super({ highWaterMark: 64 * 1024 });
    this.#options = options;
  }

  /** Bytes accepted so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The staged blocks' IDs, in order: the block list to commit. */
  get blockIds(): readonly string[] {
    return this.#ids;
  }

  /** The most block memory this writer held at once, in bytes (filling and in flight). */
  get peakHeldBytes(): number {
    return this.#peakHeld;
  }

  #hold(delta: number): void {
    this.#held += delta;
    this.#peakHeld = Math.max(this.#peakHeld, this.#held);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#take(chunk).then(() => callback(), callback);
  }

  async #take(chunk: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    const { expectedBytes, blockBytes, object } = this.#options;
    if (expectedBytes !== undefined && this.#bytes + chunk.length > expectedBytes) throw errSizeMismatch(object, expectedBytes, this.#bytes + chunk.length);
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#fill === undefined) {
        this.#fill = Buffer.allocUnsafe(Math.min(blockBytes, FIRST_CAPACITY));
        this.#hold(this.#fill.length);
      }
      const take = Math.min(chunk.length - offset, blockBytes - this.#filled);
      if (this.#filled + take > this.#fill.length) {
        const grown = Buffer.allocUnsafe(Math.min(blockBytes, Math.max(this.#filled + take, this.#fill.length * 2)));
        this.#fill.copy(grown, 0, 0, this.#filled);
        this.#hold(grown.length - this.#fill.length);
        this.#fill = grown;
      }
      this.#fill.set(chunk.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      this.#bytes += take;
      offset += take;
      if (this.#filled === blockBytes) await this.#send();
    }
  }

  /** Sends the block being filled once a slot is free; does not wait for it to be stored. */
  async #send(): Promise<void> {
    const fill = this.#fill!;
    const body = fill.subarray(0, this.#filled);
    this.#fill = undefined;
    this.#filled = 0;
    const index = this.#ids.length;
    const { maxBlocks, blockBytes, object, location, slots } = this.#options;
    if (index >= maxBlocks) {
      this.#hold(-fill.length);
      throw errObjectTooLarge(object, this.#bytes, maxBlocks * blockBytes, `${location} (${maxBlocks} blocks of ${blockBytes} bytes)`);
    }
    const id = blockIdOf(this.#nonce, index);
    this.#ids.push(id);
    try {
      await slots.take(this.#cancel.signal);
    } catch (error) {
      this.#hold(-fill.length);
      throw this.#failure ?? error;
    }
    const staged = this.#options
      .stage(index, id, body, this.#cancel.signal)
      .catch((error: unknown) => {
        // The first failure is the stream's; the blocks still in flight are cancelled, their errors are its echoes.
        if (!this.#failure) {
          this.#failure = error instanceof Error ? error : new Error(String(error));
          this.#cancel.abort(this.#failure);
        }
      })
      .finally(() => {
        slots.give();
        this.#hold(-fill.length);
        this.#inFlight.delete(staged);
      });
    this.#inFlight.add(staged);
  }

  async #settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  override _final(callback: (error?: Error | null) => void): void {
    (async () => {
      if (this.#failure) throw this.#failure;
      if (this.#filled > 0) await this.#send();
      await this.#settle();
      if (this.#failure) throw this.#failure;
      if (this.#fill) {
        this.#hold(-this.#fill.length);
        this.#fill = undefined;
      }
    })().then(
      () => callback(),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#cancel.signal.aborted) this.#cancel.abort(error ?? new Error('the writer was destroyed'));
    this.#settle().then(
      () => {
        if (this.#fill) this.#hold(-this.#fill.length);
        this.#fill = undefined;
        callback(error);
      },
      () => callback(error),
    );
  }
}
