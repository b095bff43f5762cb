/**
 * One zstd frame in, raw segment bytes out, strict and bounded:
 * - the frame header's content size, when present, must be the recorded size;
 * - output never exceeds the recorded size, and must reach it;
 * - zstd verifies the frame's checksum; a truncated frame, a second frame
 *   or any byte after the frame is an error naming the object;
 * - output is produced only while downstream wants it (credits, see
 *   zstd-worker-pool.ts): a block of zeros can expand a thousandfold.
 * The decompression itself runs on a worker thread (zstd-worker-pool.ts).
 */
import { Duplex } from 'node:stream';
import { errCorruptObject, errSizeMismatch, type ShmsnapError } from '@shmsnap/core';
import { zstdWorkers, type FromWorker, type ZstdWorker } from './zstd-worker-pool.js';
import { zstd } from './zstd-binding.js';

/** ZSTD_FRAMEHEADERSIZE_MAX: enough bytes to read any frame header. */
export const ZSTD_FRAME_HEADER_MAX_BYTES = 18;
const OUTPUT_BYTES = 1024 * 1024;
/** Outputs (1 MiB each) the worker may have on the way: the memory bound of a decode. */
const CREDITS = 8;
/** Inputs handed to the worker before their write callback is due. */
const QUEUED_INPUTS = 2;

export interface ZstdDecoderOptions {
  readonly rawSize: number;
  readonly objectName: string;
  /** Size of the decoding thread pool (first use fixes it). @default 2 */
  readonly threads?: number;
}

type Callback = (error?: Error | null) => void;

/** Maps libzstd's messages to what they mean for the operator. */
function describe(message: string): string {
  if (/checksum/i.test(message)) return 'the zstd frame checksum does not match the data';
  if (/unknown frame descriptor|prefix/i.test(message)) return `not a zstd frame (${message})`;
  return `invalid zstd data (${message})`;
}

export class ZstdDecoder extends Duplex {
  readonly #options: ZstdDecoderOptions;
  readonly #leasing: Promise<ZstdWorker>;
  #worker: ZstdWorker | undefined;
  #released = false;
  #seenBytes = 0;
  #owedCredits = 0;
  #inputsQueued = 0;
  #writeCallback: Callback | null = null;
  #finalCallback: Callback | null = null;

  constructor(options: ZstdDecoderOptions) {
    super({ readableHighWaterMark: OUTPUT_BYTES * 4 });
    this.#options = options;
    this.#leasing = zstdWorkers(options.threads ?? 2)
      .lease()
      .then((worker) => {
        this.#worker = worker;
        if (this.destroyed) {
          this.#release(true);
          return worker;
        }
        worker.onMessage((message) => this.#onMessage(message));
        worker.send({ type: 'start', mode: 'decode', rawSize: options.rawSize, credits: CREDITS });
        return worker;
      });
  }

  #release(healthy: boolean): void {
    if (this.#released || !this.#worker) return;
    this.#released = true;
    this.#worker.release(healthy);
  }

  #fail(error: ShmsnapError): void {
    const callback = this.#writeCallback ?? this.#finalCallback;
    this.#writeCallback = null;
    this.#finalCallback = null;
    // The worker reported and stopped; its next lease starts afresh.
    this.#release(true);
    if (callback) callback(error);
    else this.destroy(error);
  }

  #onMessage(message: FromWorker): void {
    const { objectName, rawSize } = this.#options;
    switch (message.type) {
      case 'output': {
        const bytes = Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.length);
        if (this.push(bytes)) this.#worker!.send({ type: 'credit' });
        else this.#owedCredits += 1;
        return;
      }
      case 'consumed': {
        this.#inputsQueued -= 1;
        const callback = this.#writeCallback;
        this.#writeCallback = null;
        callback?.();
        return;
      }
      case 'ended': {
        const callback = this.#finalCallback;
        this.#finalCallback = null;
        this.#release(true);
        this.push(null);
        callback?.();
        return;
      }
      case 'failure':
        switch (message.kind) {
          case 'corrupt':
            return this.#fail(errCorruptObject(objectName, describe(message.message)));
          case 'truncated':
            return this.#fail(errCorruptObject(objectName, this.#seenBytes === 0 ? 'empty file' : message.message));
          case 'too-much':
          case 'trailing':
          case 'short':
          case 'compress':
            return this.#fail(errCorruptObject(objectName, message.message));
        }
        return this.#fail(errCorruptObject(objectName, `${message.message} (${rawSize} bytes recorded)`));
    }
  }

  #checkHeader(first: Buffer): ShmsnapError | undefined {
    if (first.length < ZSTD_FRAME_HEADER_MAX_BYTES) return undefined; // the byte count at the end still bounds it
    let size: number | null;
    try {
      size = zstd.getFrameContentSize(first);
    } catch (error) {
      return errCorruptObject(this.#options.objectName, describe(error instanceof Error ? error.message : String(error)), error);
    }
    if (size !== null && size !== this.#options.rawSize) {
      return errSizeMismatch(this.#options.objectName, this.#options.rawSize, size, 'bytes according to the zstd frame header');
    }
    return undefined;
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
    // A copy the worker can own: the chunk's memory may be shared with others.
    const bytes = new Uint8Array(chunk.length);
    bytes.set(chunk);
    void this.#leasing.then((worker) => {
      worker.send({ type: 'input', bytes }, [bytes.buffer]);
      this.#inputsQueued += 1;
      if (this.#inputsQueued < QUEUED_INPUTS) callback();
      else this.#writeCallback = callback;
    });
  }

  override _final(callback: Callback): void {
    // Every queued input has been handed over by now (writes complete in order).
    void this.#leasing.then((worker) => {
      this.#finalCallback = callback;
      worker.send({ type: 'end' });
    });
  }

  override _read(): void {
    while (this.#owedCredits > 0 && this.#worker && !this.#released) {
      this.#owedCredits -= 1;
      this.#worker.send({ type: 'credit' });
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Mid-frame, the worker may still send this stream's output: it must not
    // serve another stream, so it is ended rather than returned.
    if (this.#worker) this.#release(false);
    else void this.#leasing.then(() => this.#release(false));
    callback(error);
  }
}
