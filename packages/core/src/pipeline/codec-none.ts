/**
 * The identity codec: stored bytes are the segment's bytes (ASMT's `.dat`).
 * Its decoder still bounds the output to the segment size.
 */
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import type { Codec, DecodeOptions } from '../contracts/codec.js';
import { errSizeMismatch } from '../errors.js';

class BoundedPassThrough extends Transform {
  #bytes = 0;
  constructor(private readonly options: DecodeOptions) {
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

export const codecNone: Codec = {
  name: 'none',
  extension: '.dat',
  levels: null,
  identity: true,
  needsRawCrc32: false,
  headerBytes: 0,
  createEncoder: () => new PassThrough(),
  createDecoder: (options) => new BoundedPassThrough(options),
};
