/**
 * SHA-256 of the stored bytes, in-stream (`hash: 'sha256'`): for users who
 * need more than CRC-32's error detection. Added to a pipeline only when
 * asked for, so other backups pay nothing.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { errChecksumMismatch } from '../errors.js';

export type HashAlgorithm = 'sha256';

export class Sha256Meter extends Transform {
  readonly #hash: Hash = createHash('sha256');
  #digest: string | undefined;

  constructor(private readonly options: { readonly object: string; readonly expected?: string }) {
    super();
  }

  /** Hex digest, once the stream ended. */
  get digest(): string {
    return this.#digest!;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = this.#hash.digest('hex');
    const { expected, object } = this.options;
    if (expected !== undefined && expected !== this.#digest) {
      callback(errChecksumMismatch(object, 'stored bytes', expected, this.#digest));
      return;
    }
    callback();
  }
}
