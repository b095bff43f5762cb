/**
 * Streams over an attached segment through bounded windows, so a segment of
 * any size (16 GiB stages included) moves without being copied whole and
 * without a Buffer longer than Node allows.
 *
 * - Reading yields zero-copy views of the mapping; whoever consumes them must
 *   be done with them before the segment is detached (the pipeline waits for
 *   every stage to close first).
 * - Writing copies each chunk into the mapping and never past its end.
 */
import { Readable, Writable } from 'node:stream';
import { errSizeMismatch } from '@shmsnap/core';
import type { NativeAttachment } from './binding.js';

/** 8 MiB: measured as the best slice size for shm → file with fsync (toolchain.md). */
export const DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024;

export function createWindowReader(attachment: NativeAttachment, size: number, windowBytes = DEFAULT_WINDOW_BYTES): Readable {
  let offset = 0;
  return new Readable({
    highWaterMark: 1,
    read() {
      if (offset >= size) {
        this.push(null);
        return;
      }
      const length = Math.min(windowBytes, size - offset);
      const view = attachment.view(offset, length);
      offset += length;
      this.push(view);
    },
  });
}

export interface WindowWriterOptions {
  readonly label: string;
  readonly windowBytes?: number;
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

  constructor(attachment: NativeAttachment, size: number, options: WindowWriterOptions) {
    super({ highWaterMark: 1 });
    this.#attachment = attachment;
    this.#size = size;
    this.#options = options;
    this.#windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
    this.held = Buffer.alloc(options.hold?.length ?? 0);
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
