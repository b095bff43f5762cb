/**
 * Raw segment bytes in, one zstd frame out: the content size in the frame
 * header (so a `.dat.zst` can be restored without a manifest) and zstd's own
 * checksum at the end. libzstd compresses on its own worker threads (as many
 * as `threads`, within large segments too); it copies its input, so no chunk
 * is referenced once a call returns.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { errPluginFailed, errSizeMismatch } from '@shmsnap/core';
import { zstd, type CCtx } from './zstd-binding.js';

export interface ZstdEncoderOptions {
  readonly rawSize: number;
  readonly level: number;
  readonly threads: number;
  readonly objectName: string;
}

const OUTPUT_BYTES = 1024 * 1024;

export class ZstdEncoder extends Transform {
  readonly #options: ZstdEncoderOptions;
  readonly #cctx: CCtx;
  #received = 0;
  #out = Buffer.allocUnsafe(OUTPUT_BYTES);

  constructor(options: ZstdEncoderOptions) {
    super();
    this.#options = options;
    this.#cctx = new zstd.CCtx();
    const { CParameter } = zstd;
    this.#cctx.setParameter(CParameter.compressionLevel, options.level);
    this.#cctx.setParameter(CParameter.checksumFlag, 1);
    this.#cctx.setParameter(CParameter.contentSizeFlag, 1);
    // At least one worker: with none, libzstd compresses on the calling (main)
    // thread, and segments compressed at once would share one core.
    this.#cctx.setParameter(CParameter.nbWorkers, Math.max(1, options.threads));
    this.#cctx.setPledgedSrcSize(options.rawSize);
  }

  #compress(input: Buffer, end: boolean): void {
    const directive = end ? zstd.EndDirective.end : zstd.EndDirective.continue;
    let rest = input;
    for (;;) {
      const [remaining, produced, consumed] = this.#cctx.compressStream2(this.#out, rest, directive);
      rest = rest.subarray(consumed);
      if (produced > 0) {
        // Hand on a full buffer as it is; copy a small output out of it.
        if (produced >= this.#out.length / 2) {
          this.push(this.#out.subarray(0, produced));
          this.#out = Buffer.allocUnsafe(OUTPUT_BYTES);
        } else {
          this.push(Buffer.from(this.#out.subarray(0, produced)));
        }
      }
      if (rest.length === 0 && (!end || remaining === 0)) return;
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const { rawSize, objectName } = this.#options;
    if (this.#received + chunk.length > rawSize) {
      callback(errSizeMismatch(objectName, rawSize, this.#received + chunk.length, 'raw bytes (or more)'));
      return;
    }
    this.#received += chunk.length;
    try {
      this.#compress(chunk, false);
    } catch (error) {
      callback(errPluginFailed('zstd', `compressing ${objectName}`, error));
      return;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const { rawSize, objectName } = this.#options;
    if (this.#received !== rawSize) {
      callback(errSizeMismatch(objectName, rawSize, this.#received, 'raw bytes'));
      return;
    }
    try {
      this.#compress(Buffer.alloc(0), true);
    } catch (error) {
      callback(errPluginFailed('zstd', `compressing ${objectName}`, error));
      return;
    }
    callback();
  }
}
