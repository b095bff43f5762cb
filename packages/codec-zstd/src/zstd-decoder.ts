/**
 * One zstd frame in, raw segment bytes out, strict and bounded:
 * - the frame header's content size, when present, must be the recorded size;
 * - output never exceeds the recorded size, and must reach it;
 * - zstd verifies the frame's checksum; a truncated frame, a second frame
 *   or any byte after the frame is an error naming the object;
 * - output is produced only while downstream wants it: a block of zeros can
 *   expand a thousandfold, so nothing is decompressed ahead of demand.
 */
import { Duplex } from 'node:stream';
import { errCorruptObject, errSizeMismatch, type ShmsnapError } from '@shmsnap/core';
import { zstd, type DCtx } from './zstd-binding.js';

/** ZSTD_FRAMEHEADERSIZE_MAX: enough bytes to read any frame header. */
export const ZSTD_FRAME_HEADER_MAX_BYTES = 18;
const OUTPUT_BYTES = 1024 * 1024;

export interface ZstdDecoderOptions {
  readonly rawSize: number;
  readonly objectName: string;
}

type Callback = (error?: Error | null) => void;

/** Maps libzstd's messages to what they mean for the operator. */
function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/checksum/i.test(message)) return 'the zstd frame checksum does not match the data';
  if (/unknown frame descriptor|prefix/i.test(message)) return `not a zstd frame (${message})`;
  return `invalid zstd data (${message})`;
}

export class ZstdDecoder extends Duplex {
  readonly #options: ZstdDecoderOptions;
  readonly #dctx: DCtx = new zstd.DCtx();
  #out = Buffer.allocUnsafe(OUTPUT_BYTES);
  #produced = 0;
  #seenBytes = 0;
  #frameDone = false;
  #blocked = false;
  #input: Buffer | null = null;
  #callback: Callback | null = null;

  constructor(options: ZstdDecoderOptions) {
    super({ readableHighWaterMark: OUTPUT_BYTES });
    this.#options = options;
  }

  #fail(error: ShmsnapError): void {
    const callback = this.#callback;
    this.#input = null;
    this.#callback = null;
    if (callback) callback(error);
    else this.destroy(error);
  }

  #checkHeader(first: Buffer): ShmsnapError | undefined {
    if (first.length < ZSTD_FRAME_HEADER_MAX_BYTES) return undefined; // the byte count at the end still bounds it
    let size: number | null;
    try {
      size = zstd.getFrameContentSize(first);
    } catch (error) {
      return errCorruptObject(this.#options.objectName, describe(error), error);
    }
    if (size !== null && size !== this.#options.rawSize) {
      return errSizeMismatch(this.#options.objectName, this.#options.rawSize, size, 'bytes according to the zstd frame header');
    }
    return undefined;
  }

  #drain(): void {
    const { rawSize, objectName } = this.#options;
    while (this.#input !== null && !this.#blocked) {
      const input = this.#input;
      if (this.#frameDone) {
        if (input.length > 0) return this.#fail(errCorruptObject(objectName, 'unexpected data after the end of the zstd frame (a second frame or trailing bytes)'));
        const callback = this.#callback!;
        this.#input = null;
        this.#callback = null;
        callback();
        return;
      }
      let result;
      try {
        result = this.#dctx.decompressStream(this.#out, input);
      } catch (error) {
        return this.#fail(errCorruptObject(objectName, describe(error), error));
      }
      const [remaining, produced, consumed] = result;
      this.#input = input.subarray(consumed);
      if (remaining === 0) this.#frameDone = true;
      const full = produced === this.#out.length;
      if (produced > 0) {
        this.#produced += produced;
        if (this.#produced > rawSize) return this.#fail(errCorruptObject(objectName, `decompresses to more than the recorded ${rawSize} bytes`));
        let chunk: Buffer;
        if (produced >= this.#out.length / 2) {
          chunk = this.#out.subarray(0, produced);
          this.#out = Buffer.allocUnsafe(OUTPUT_BYTES);
        } else {
          chunk = Buffer.from(this.#out.subarray(0, produced));
        }
        if (!this.push(chunk)) this.#blocked = true;
      }
      // Input used up and nothing left inside zstd for this call: take the next write.
      if (this.#input.length === 0 && !full && !this.#frameDone) {
        const callback = this.#callback!;
        this.#input = null;
        this.#callback = null;
        callback();
      }
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    if (this.#seenBytes === 0) {
      const problem = this.#checkHeader(chunk);
      if (problem) {
        callback(problem);
        return;
      }
    }
    this.#seenBytes += chunk.length;
    this.#input = chunk;
    this.#callback = callback;
    this.#drain();
  }

  override _final(callback: Callback): void {
    const { rawSize, objectName } = this.#options;
    if (!this.#frameDone) callback(errCorruptObject(objectName, this.#seenBytes === 0 ? 'empty file' : 'truncated zstd frame'));
    else if (this.#produced !== rawSize) callback(errCorruptObject(objectName, `decompresses to ${this.#produced} bytes, the recorded size is ${rawSize}`));
    else {
      this.push(null);
      callback();
    }
  }

  override _read(): void {
    this.#blocked = false;
    this.#drain();
  }
}
