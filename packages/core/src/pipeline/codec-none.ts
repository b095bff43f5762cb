/**
 * The identity codec: stored bytes are the segment's bytes (ASMT's `.dat`).
 * The pipeline never runs its streams (`identity`), but a caller may: both
 * still hold to the contract, bounding the bytes to the segment size and
 * ending on the abort signal.
 */
import { addAbortSignal, Transform, type TransformCallback } from 'node:stream';
import type { Codec } from '../contracts/codec.js';
import { errSizeMismatch } from '../errors.js';

class BoundedPassThrough extends Transform {
  #bytes = 0;
  constructor(private readonly options: { readonly rawSize: number; readonly objectName: string }) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.options.rawSize) {
      callback(errSizeMismatch(this.options.objectName, this.options.rawSize, this.#bytes, 'bytes (or more)'));
      return;
    }
    callback(null, chunk);
  }
  override _flush(callback: TransformCallback): void {
    callback(this.#bytes === this.options.rawSize ? null : errSizeMismatch(this.options.objectName, this.options.rawSize, this.#bytes));
  }
}

function withSignal(stream: Transform, signal: AbortSignal | undefined): Transform {
  return signal ? addAbortSignal(signal, stream) : stream;
}

export const codecNone: Codec = {
  name: 'none',
  extension: '.dat',
  levels: null,
  identity: true,
  needsRawCrc32: false,
  headerBytes: 0,
  createEncoder: (options) => withSignal(new BoundedPassThrough(options), options.signal),
  createDecoder: (options) => withSignal(new BoundedPassThrough(options), options.signal),
};
