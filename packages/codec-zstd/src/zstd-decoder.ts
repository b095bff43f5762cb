/**
 * One zstd frame in, raw segment bytes out, strict and bounded:
 * - the frame header's content size, when present, must be the recorded size;
 * - output never exceeds the recorded size, and must reach it;
 * - zstd verifies the frame's checksum; a truncated frame, a second frame
 *   or any byte after the frame is an error naming the object;
 * - output is produced only while downstream wants it (credits, see
 *   zstd-worker-pool.ts): a block of zeros can expand a thousandfold.
 * The decompression itself runs on a worker thread (zstd-worker-stream.ts).
 */
import { errCorruptObject, errInternal, errSizeMismatch, type DirectDecoder, type SharedWindowsHandle, type ShmsnapError } from '@shmsnap/core/plugin-kit';
import { ZstdWorkerStream, type WorkerFailure } from './zstd-worker-stream.js';
import { zstd } from './zstd-binding.js';

/** ZSTD_FRAMEHEADERSIZE_MAX: enough bytes to read any frame header. */
export const ZSTD_FRAME_HEADER_MAX_BYTES = 18;
/** A zstd frame's magic number (RFC 8878 §3.1.1), read little-endian. */
const ZSTD_FRAME_MAGIC = 0xfd2fb528;
/** Frame_Header_Descriptor's Content_Checksum_flag (RFC 8878 §3.1.1.1.1). */
const CONTENT_CHECKSUM_FLAG = 0x04;

export interface ZstdDecoderOptions {
  readonly rawSize: number;
  readonly objectName: string;
  /** Size of the decoding thread pool (first use fixes it). @default 2 */
  readonly threads?: number;
  /** Decode straight into this memory (the codec contract's direct decoder): the stream is then writable only. */
  readonly into?: SharedWindowsHandle;
  /** With `into`: raw bytes written since the last call. */
  readonly onBytes?: (bytes: number) => void;
}

type Callback = (error?: Error | null) => void;

/** Maps libzstd's messages to what they mean for the operator. */
function describe(message: string): string {
  if (/checksum/i.test(message)) return 'the zstd frame checksum does not match the data';
  if (/unknown frame descriptor|prefix/i.test(message)) return `not a zstd frame (${message})`;
  return `invalid zstd data (${message})`;
}

export class ZstdDecoder extends ZstdWorkerStream implements DirectDecoder {
  readonly #options: ZstdDecoderOptions;
  #seenBytes = 0;
  /** The frame's first 5 bytes (magic, descriptor), gathered across chunks however small. */
  #head = Buffer.alloc(0);

  constructor(options: ZstdDecoderOptions) {
    if (options.into && options.into.size !== options.rawSize) throw errSizeMismatch(options.objectName, options.rawSize, options.into.size, 'bytes of shared memory to decode into');
    super(options.threads ?? 2, {
      mode: 'decode',
      rawSize: options.rawSize,
      // Only the fields the worker reads: the target contract promises `args` is cloneable, not the whole handle.
      ...(options.into ? { into: { module: options.into.module, args: options.into.args, size: options.into.size } } : {}),
    });
    this.#options = options;
  }

  protected override onWrote(bytes: number): void {
    this.#options.onBytes?.(bytes);
  }

  written(): { readonly bytes: number; readonly crc32: number } {
    const ended = this.endedWith();
    if (!ended || !this.#options.into) throw errInternal(`written() of ${this.#options.objectName} before a direct decode finished`);
    return { bytes: ended.produced, crc32: ended.crc32 };
  }

  protected describeFailure(failure: WorkerFailure): ShmsnapError {
    const { objectName } = this.#options;
    if (failure.kind === 'corrupt') return errCorruptObject(objectName, describe(failure.message));
    if (failure.kind === 'truncated' && this.#seenBytes === 0) return errCorruptObject(objectName, 'empty file');
    return errCorruptObject(objectName, failure.message);
  }

  #checkHeader(first: Buffer): ShmsnapError | undefined {
    if (first.length < ZSTD_FRAME_HEADER_MAX_BYTES) return undefined; // the byte count at the end still bounds it
    let size: number | null;
    try {
      size = zstd().getFrameContentSize(first);
    } catch (error) {
      return errCorruptObject(this.#options.objectName, describe(error instanceof Error ? error.message : String(error)), error);
    }
    if (size !== null && size !== this.#options.rawSize) {
      return errSizeMismatch(this.#options.objectName, this.#options.rawSize, size, 'bytes according to the zstd frame header');
    }
    return undefined;
  }

  /**
   * A frame without a checksum is refused: shmsnap's encoder and the zstd CLI
   * always write one, and without it a damaged frame whose flag was cleared
   * decodes to wrong bytes without an error (test/fuzz/codecs.test.ts, seed 99:
   * a flipped flag bit, 4 bytes cut and a changed literal decoded "cleanly").
   */
  #checkChecksumFlag(chunk: Buffer): ShmsnapError | undefined {
    if (this.#head.length >= 5) return undefined;
    this.#head = Buffer.concat([this.#head, chunk.subarray(0, 5 - this.#head.length)]);
    if (this.#head.length < 5 || this.#head.readUInt32LE(0) !== ZSTD_FRAME_MAGIC) return undefined; // libzstd names other damage
    if ((this.#head[4]! & CONTENT_CHECKSUM_FLAG) !== 0) return undefined;
    return errCorruptObject(this.#options.objectName, 'the zstd frame carries no checksum (shmsnap and the zstd CLI always write one), so its bytes cannot be checked');
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.#accept([chunk], callback);
  }

  /** Chunks that queued up while the worker was busy: checked in order, sent as one input. */
  override _writev(entries: { chunk: Buffer }[], callback: Callback): void {
    this.#accept(
      entries.map((entry) => entry.chunk),
      callback,
    );
  }

  #accept(chunks: Buffer[], callback: Callback): void {
    for (const chunk of chunks) {
      const unchecked = this.#checkChecksumFlag(chunk);
      if (unchecked) {
        callback(unchecked);
        return;
      }
    }
    if (this.#seenBytes === 0) {
      const first = chunks.length === 1 || chunks[0]!.length >= ZSTD_FRAME_HEADER_MAX_BYTES ? chunks[0]! : Buffer.concat(chunks).subarray(0, ZSTD_FRAME_HEADER_MAX_BYTES);
      const problem = this.#checkHeader(first);
      if (problem) {
        callback(problem);
        return;
      }
    }
    for (const chunk of chunks) this.#seenBytes += chunk.length;
    this.sendInput(chunks, callback);
  }

  override _final(callback: Callback): void {
    this.finish(callback);
  }
}
