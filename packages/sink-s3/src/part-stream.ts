/**
 * The Writable of an S3 writer: it cuts the bytes into parts and hands each
 * full part to `sendPart`, holding at most (concurrency + 1) parts, and with
 * `slots` shared by a sink's writers, at most the part it fills and one kept
 * for reuse beyond the sink's parts in flight (`upload-slots.ts`).
 *
 * - Chunks are copied into a part buffer, never kept: a caller's chunk may
 *   be a view of shared memory that is detached once its write completes.
 * - A full part is sent only once more bytes arrive, so an object that fits
 *   in one part never becomes a multipart upload: it stays here
 *   (`singlePart()`) for one PutObject at commit.
 * - The write callback waits while `concurrency` parts are in flight. That
 *   is the backpressure, and with the part being filled, the memory bound.
 *   The memory of a sent part is reused for a later one rather than left to
 *   the GC; it is part of the bound, since every part buffer is in flight,
 *   being filled or kept for reuse, and one is only allocated when none is
 *   kept (so there are never more than concurrency + 1).
 * - The first part that fails fails the stream: the other parts in flight
 *   are cancelled, and the next write or `end()` reports it.
 * - 'close' comes only once no write still reads a caller's chunk and no
 *   part is in flight, so the upload can be aborted after it with nothing
 *   landing behind the abort.
 */
import { Writable } from 'node:stream';
import { errAborted, errConfigInvalid, errPluginFailed, errSizeMismatch, isShmsnapError, type ShmsnapError } from '@shmsnap/core/plugin-kit';
import { PartBuffer } from './part-buffer.js';
import type { UploadSlots } from './upload-slots.js';
import { partBytesAt, type PartPlan } from './part-plan.js';
import { S3_MAX_OBJECT_BYTES } from './s3-options.js';

export interface PartStarted {
  readonly partNumber: number;
  readonly bytes: number;
  /** Parts in flight, this one included. */
  readonly inFlight: number;
  /** Part memory held now (see `PartStream.heldBytes`). */
  readonly heldBytes: number;
}

export interface PartStreamOptions {
  readonly plan: PartPlan;
  /** Parts sent at once. */
  readonly concurrency: number;
  /** Parts the sink sends at once, all its writers together; each sent part holds one until it settles. */
  readonly slots?: UploadSlots | undefined;
  /** The exact size, when known: more bytes fail the write at once. */
  readonly expectedBytes?: number | undefined;
  /** An upper-bound estimate: how big the first part starts. */
  readonly sizeHint?: number | undefined;
  /** `s3://bucket/key`, for messages. */
  readonly object: string;
  /** Sends one part. Its memory is reused only once this resolves; `signal` aborts when the stream fails. */
  sendPart(partNumber: number, body: Buffer, signal: AbortSignal): Promise<void>;
  /** Told as each part starts: for events. */
  onPartStarted?(part: PartStarted): void;
}

/** What the Writable queues before `write()` says wait; chunks are only referenced there. */
const WRITABLE_HIGH_WATER_MARK = 1024 * 1024;
/** First allocation of a part whose final size is not known: grows by doubling. */
const FIRST_CAPACITY = 256 * 1024;

export class PartStream extends Writable {
  #bytes = 0;
  #current: PartBuffer | undefined;
  #partsStarted = 0;
  readonly #inFlight = new Set<Promise<void>>();
  #inFlightBytes = 0;
  /** Memory of sent parts, for the next ones. */
  readonly #spare: Buffer[] = [];
  #spareBytes = 0;
  #peakHeldBytes = 0;
  #failure: ShmsnapError | undefined;
  /** Cancels the parts in flight: the first failure ends them all. */
  readonly #cancel = new AbortController();
  /** The write or final step in progress; the stream does not close before it settles. */
  #pending: Promise<void> = Promise.resolve();

  constructor(private readonly options: PartStreamOptions) {
    super({ highWaterMark: WRITABLE_HIGH_WATER_MARK });
  }

  /** Bytes accepted so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Parts handed to `sendPart`; 0 while the object fits in its first part. */
  get partsStarted(): number {
    return this.#partsStarted;
  }

  /** Part memory held now: parts in flight, the one being filled, memory kept for reuse. */
  get heldBytes(): number {
    return this.#inFlightBytes + this.#spareBytes + (this.#current?.capacity ?? 0);
  }

  get peakHeldBytes(): number {
    return this.#peakHeldBytes;
  }

  /** The whole object when no part was started (it fits in one): for a single PutObject. */
  singlePart(): Buffer | undefined {
    if (this.#partsStarted > 0) return undefined;
    return this.#current?.view() ?? Buffer.alloc(0);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#track(this.#accept(chunk), callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.#track(
      (async () => {
        for (const { chunk } of chunks) await this.#accept(chunk);
      })(),
      callback,
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#track(this.#finish(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Destroyed before it finished, by whoever: the parts in flight are doomed.
    if (!this.writableFinished) this.#fail(isShmsnapError(error) ? error : errAborted(`write of ${this.options.object}`, error ?? undefined));
    void this.#pending.then(() => this.#drain()).then(() => callback(error));
  }

  #track(work: Promise<void>, callback: (error?: Error | null) => void): void {
    this.#pending = work.then(
      () => callback(),
      (error: unknown) => callback(this.#fail(error)),
    );
  }

  /** Records the first failure and cancels the parts in flight; returns that first failure. */
  #fail(error: unknown): ShmsnapError {
    if (!this.#failure) {
      this.#failure = isShmsnapError(error) ? error : errPluginFailed('s3', `write of ${this.options.object}`, error);
      this.#cancel.abort(this.#failure);
    }
    return this.#failure;
  }

  async #accept(chunk: Buffer): Promise<void> {
    if (this.#failure) throw this.#failure;
    const total = this.#bytes + chunk.length;
    const { expectedBytes, object } = this.options;
    if (expectedBytes !== undefined && total > expectedBytes) throw errSizeMismatch(object, expectedBytes, total, 'bytes (or more)');
    if (total > S3_MAX_OBJECT_BYTES) {
      throw errSizeMismatch(object, S3_MAX_OBJECT_BYTES, total, 'bytes (or more; an S3 object holds at most 5 TiB)');
    }
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#current?.full) await this.#startPart(false);
      this.#current ??= this.#newPart();
      const taken = this.#current.append(chunk, offset);
      offset += taken;
      this.#bytes += taken;
      this.#peakHeldBytes = Math.max(this.#peakHeldBytes, this.heldBytes);
    }
  }

  #newPart(): PartBuffer {
    const limit = partBytesAt(this.options.plan, this.#partsStarted + 1);
    const { expectedBytes, sizeHint } = this.options;
    // Growing a part by doubling costs a copy and garbage per step: only the
    // first part of an object that may be small starts small.
    let initial: number;
    if (this.#partsStarted > 0) initial = limit;
    else if (expectedBytes !== undefined) initial = expectedBytes - this.#bytes;
    else initial = Math.max(FIRST_CAPACITY, sizeHint ?? 0);
    const spare = this.#spare.pop();
    this.#spareBytes -= spare?.length ?? 0;
    return new PartBuffer(limit, initial, spare);
  }

  async #finish(): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#partsStarted === 0) return; // one PutObject, at commit
    if (this.#current && this.#current.length > 0) await this.#startPart(true);
    await this.#drain();
    if (this.#failure) throw this.#failure;
  }

  /** Waits until fewer than `concurrency` parts are in flight, then for one of the sink's slots. */
  async #slot(): Promise<void> {
    while (this.#inFlight.size >= this.options.concurrency) {
      if (this.#failure) throw this.#failure;
      await Promise.race(this.#inFlight);
    }
    if (this.#failure) throw this.#failure;
    // The first failure aborts #cancel with itself: the wait then rejects with it.
    await this.options.slots?.acquire(this.#cancel.signal);
  }

  async #drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  async #startPart(last: boolean): Promise<void> {
    const { maxParts } = this.options.plan;
    if (!last && this.#partsStarted + 1 >= maxParts) {
      throw errConfigInvalid('maxParts', `${this.options.object} needs more than ${maxParts} parts: raise maxParts or partSizeBytes, or give a sizeHint`).withDetails({ mentions: ['maxParts', 'partSizeBytes'] });
    }
    await this.#slot();
    const part = this.#current;
    if (!part) {
      this.options.slots?.release();
      return;
    }
    this.#current = undefined;
    const partNumber = ++this.#partsStarted;
    const body = part.view();
    this.#inFlightBytes += part.capacity;
    this.options.onPartStarted?.({ partNumber, bytes: body.length, inFlight: this.#inFlight.size + 1, heldBytes: this.heldBytes });
    const task: Promise<void> = this.options.sendPart(partNumber, body, this.#cancel.signal).then(
      () => this.#settle(task, part, true),
      (error: unknown) => {
        this.#fail(error);
        this.#settle(task, part, false);
      },
    );
    this.#inFlight.add(task);
  }

  #settle(task: Promise<void>, part: PartBuffer, sent: boolean): void {
    this.#inFlight.delete(task);
    this.#inFlightBytes -= part.capacity;
    this.options.slots?.release();
    // Only after success: a failed request may still hold the body. Sharing
    // slots, a writer keeps one part for reuse: more would be memory the
    // sink's bound does not count.
    const keep = this.options.slots ? 1 : this.options.concurrency;
    if (sent && this.#spare.length < keep) {
      this.#spare.push(part.memory);
      this.#spareBytes += part.capacity;
    }
  }
}
