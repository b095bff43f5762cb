/**
 * Raw segment bytes in, one zstd frame out: the content size in the frame
 * header (so a `.dat.zst` can be restored without a manifest) and zstd's own
 * checksum at the end.
 *
 * Compression runs on a worker thread leased from the pool (with libzstd
 * workers of its own when `threads` > 1, for large segments): the main thread
 * never waits for it (see zstd-worker-stream.ts).
 */
import { errPluginFailed, errSizeMismatch, type ShmsnapError } from '@shmsnap/core/plugin-kit';
import { ZstdWorkerStream, type WorkerFailure } from './zstd-worker-stream.js';

export interface ZstdEncoderOptions {
  readonly rawSize: number;
  readonly level: number;
  readonly threads: number;
  readonly objectName: string;
}

type Callback = (error?: Error | null) => void;

export class ZstdEncoder extends ZstdWorkerStream {
  readonly #options: ZstdEncoderOptions;
  #received = 0;

  constructor(options: ZstdEncoderOptions) {
    super(options.threads, { mode: 'encode', rawSize: options.rawSize, level: options.level, workers: options.threads });
    this.#options = options;
  }

  protected describeFailure(failure: WorkerFailure): ShmsnapError {
    return errPluginFailed('zstd', `compressing ${this.#options.objectName}`, new Error(failure.message));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    const { rawSize, objectName } = this.#options;
    if (this.#received + chunk.length > rawSize) {
      callback(errSizeMismatch(objectName, rawSize, this.#received + chunk.length, 'raw bytes (or more)'));
      return;
    }
    this.#received += chunk.length;
    this.sendInput([chunk], callback);
  }

  override _final(callback: Callback): void {
    const { rawSize, objectName } = this.#options;
    if (this.#received !== rawSize) {
      callback(errSizeMismatch(objectName, rawSize, this.#received, 'raw bytes'));
      return;
    }
    this.finish(callback);
  }
}
