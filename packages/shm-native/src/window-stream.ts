/**
 * Streams over an attached segment through bounded windows, so a segment of
 * any size (16 GiB stages included) moves without being copied whole and
 * without a Buffer longer than Node allows.
 *
 * - Reading yields zero-copy views of the mapping; whoever consumes them must
 *   be done with them before the segment is detached (the pipeline waits for
 *   every stage to close first).
 * - Writing copies each chunk into the mapping and never past its end.
 *
 * They take an attachment, not a binding: whichever binding made it (the
 * System V addon, or the in-memory fake in unit tests) is the one they use.
 */
import { Readable, Writable } from 'node:stream';
import { errSizeMismatch } from '@shmsnap/core';
import type { NativeAttachment } from './binding.js';

/** 8 MiB: measured as the best slice size for shm → file with fsync (toolchain.md). */
export const DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024;

/** Faults an attachment in window by window ahead of a position, on the thread pool; best effort. */
class PopulateAhead {
  readonly #attachment: NativeAttachment;
  readonly #size: number;
  readonly #windowBytes: number;
  /** Windows populated from the one holding the position on (0: none). */
  readonly #windows: number;
  /** Window start → its populate, while it may still be running. */
  readonly #running = new Map<number, Promise<unknown>>();
  #upTo = 0;

  constructor(attachment: NativeAttachment, size: number, windowBytes: number, windows: number) {
    this.#attachment = attachment;
    this.#size = size;
    this.#windowBytes = windowBytes;
    this.#windows = windows;
  }

  /** Starts what lies within the horizon; resolves once the windows over [position, position + length) are done (undefined: nothing to wait for). */
  prepare(position: number, length: number): Promise<unknown> | undefined {
    if (this.#windows === 0) return undefined;
    const first = Math.floor(position / this.#windowBytes) * this.#windowBytes;
    const horizon = Math.min(this.#size, first + this.#windows * this.#windowBytes);
    while (this.#upTo < horizon) {
      const start = this.#upTo;
      const bytes = Math.min(this.#windowBytes, this.#size - start);
      const done = this.#attachment.populate(start, bytes).catch(() => false); // a failed populate only costs speed
      this.#running.set(start, done);
      void done.then(() => this.#running.delete(start));
      this.#upTo = start + bytes;
    }
    const waits: Promise<unknown>[] = [];
    for (let start = first; start < position + length; start += this.#windowBytes) {
      const pending = this.#running.get(start);
      if (pending) waits.push(pending);
    }
    return waits.length > 0 ? Promise.all(waits) : undefined;
  }

  /** Settles when no populate is still running (before detaching). */
  settled(): Promise<unknown> {
    return Promise.all([...this.#running.values()]);
  }
}

export interface WindowReaderOptions {
  readonly windowBytes?: number;
  /**
   * Windows to fault in ahead of the reader, on the thread pool (0: none):
   * the first touch of each page of a new mapping is otherwise a fault taken
   * by whoever reads it first (the CRC-32 pass, on the main thread). C on
   * this machine, 256 MiB read once: 0.10 s page by page, 0.025 s populated
   * + 0.013 s read (2026-12-03).
   * @default 2
   */
  readonly populateAhead?: number;
}

/** Zero-copy views of an attached segment, window by window; `settled()` before detaching. */
export class WindowReader extends Readable {
  readonly #attachment: NativeAttachment;
  readonly #size: number;
  readonly #windowBytes: number;
  readonly #populate: PopulateAhead;
  #offset = 0;

  constructor(attachment: NativeAttachment, size: number, options: WindowReaderOptions = {}) {
    super({ highWaterMark: 1 });
    this.#attachment = attachment;
    this.#size = size;
    this.#windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
    // A read-write attachment is not a backup's: nothing to populate for reading.
    const ahead = attachment.readOnly ? (options.populateAhead ?? 2) : 0;
    this.#populate = new PopulateAhead(attachment, size, this.#windowBytes, ahead === 0 ? 0 : ahead + 1);
  }

  /** Settles when no populate is still running (before detaching). */
  settled(): Promise<unknown> {
    return this.#populate.settled();
  }

  override _read(): void {
    if (this.#offset >= this.#size) {
      this.push(null);
      return;
    }
    const start = this.#offset;
    const length = Math.min(this.#windowBytes, this.#size - start);
    this.#offset += length;
    const ready = this.#populate.prepare(start, length);
    if (!ready) this.push(this.#attachment.view(start, length));
    else {
      void ready.then(() => {
        if (!this.destroyed) this.push(this.#attachment.view(start, length));
      });
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.settled().then(() => callback(error));
  }
}

export function createWindowReader(attachment: NativeAttachment, size: number, windowBytes = DEFAULT_WINDOW_BYTES, options: Omit<WindowReaderOptions, 'windowBytes'> = {}): WindowReader {
  return new WindowReader(attachment, size, { ...options, windowBytes });
}

export interface WindowWriterOptions {
  readonly label: string;
  readonly windowBytes?: number;
  /**
   * Windows to fault in ahead of the copy, on the thread pool (0: none).
   * Copying into pages never touched makes the CPU fault them in one by one,
   * the slowest part of a restore; the kernel does it much faster in bulk
   * (measured 0.56–0.95 → 1.4–1.5 GB/s per GiB on this project's machines).
   * @default 8
   */
  readonly populateAhead?: number;
  /**
   * Byte ranges written as zeros instead of the incoming bytes, which are kept
   * in `held` for the caller to write later (the base's shutdown status: a
   * half-restored index must never look cleanly shut down).
   */
  readonly hold?: { readonly offset: number; readonly length: number };
}

export class WindowWriter extends Writable {
  written = 0;
  readonly held: Buffer;
  readonly #attachment: NativeAttachment;
  readonly #size: number;
  readonly #options: WindowWriterOptions;
  readonly #windowBytes: number;
  #windowStart = -1;
  #window: Buffer | undefined;
  readonly #populate: PopulateAhead;

  constructor(attachment: NativeAttachment, size: number, options: WindowWriterOptions) {
    super({ highWaterMark: 1 });
    this.#attachment = attachment;
    this.#size = size;
    this.#options = options;
    this.#windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
    this.#populate = new PopulateAhead(attachment, size, this.#windowBytes, options.populateAhead ?? 8);
    this.held = Buffer.alloc(options.hold?.length ?? 0);
  }

  /** Settles when no populate is still running (before detaching). */
  settled(): Promise<unknown> {
    return this.#populate.settled();
  }

  #copy(source: Buffer, position: number): void {
    let done = 0;
    while (done < source.length) {
      const at = position + done;
      const start = Math.floor(at / this.#windowBytes) * this.#windowBytes;
      if (start !== this.#windowStart) {
        this.#window = this.#attachment.view(start, Math.min(this.#windowBytes, this.#size - start));
        this.#windowStart = start;
      }
      const window = this.#window!;
      done += source.copy(window, at - start, done, Math.min(source.length, done + window.length - (at - start)));
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const position = this.written;
    if (position + chunk.length > this.#size) {
      callback(errSizeMismatch(this.#options.label, this.#size, position + chunk.length, 'bytes (or more)'));
      return;
    }
    const ready = this.#populate.prepare(position, chunk.length);
    if (ready) void ready.then(() => this.#store(chunk, position, callback));
    else this.#store(chunk, position, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.settled().then(() => callback(error));
  }

  #store(chunk: Buffer, position: number, callback: (error?: Error | null) => void): void {
    if (this.destroyed) {
      callback();
      return;
    }
    const hold = this.#options.hold;
    if (hold && position < hold.offset + hold.length && position + chunk.length > hold.offset) {
      // Copy around the held range; zeros land in it, the real bytes are kept.
      const from = Math.max(hold.offset, position);
      const to = Math.min(hold.offset + hold.length, position + chunk.length);
      chunk.copy(this.held, from - hold.offset, from - position, to - position);
      const masked = Buffer.from(chunk);
      masked.fill(0, from - position, to - position);
      this.#copy(masked, position);
    } else {
      this.#copy(chunk, position);
    }
    this.written = position + chunk.length;
    callback();
  }
}
