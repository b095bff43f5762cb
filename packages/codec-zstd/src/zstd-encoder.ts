/**
 * Raw segment bytes in, one zstd frame out: the content size in the frame
 * header (so a `.dat.zst` can be restored without a manifest) and zstd's own
 * checksum at the end.
 *
 * Compression runs on a worker thread leased from the pool (with libzstd
 * workers of its own when `threads` > 1, for large segments): the main thread
 * never waits for it. Input chunks may be views of shared memory, which
 * cannot be handed to another thread: each is copied (a memcpy, far cheaper
 * than compressing it) and the copy is transferred, so no chunk is referenced
 * once its write completes.
 */
import { Duplex } from 'node:stream';
import { errPluginFailed, errSizeMismatch, type ShmsnapError } from '@shmsnap/core';
import { zstdWorkers, type FromWorker, type ZstdWorker } from './zstd-worker-pool.js';

export interface ZstdEncoderOptions {
  readonly rawSize: number;
  readonly level: number;
  readonly threads: number;
  readonly objectName: string;
}

type Callback = (error?: Error | null) => void;

/** Compressed outputs (≤ 1 MiB each) the worker may have on the way. */
const CREDITS = 8;
/** Inputs handed to the worker before their write callback is due. */
const QUEUED_INPUTS = 2;

export class ZstdEncoder extends Duplex {
  readonly #options: ZstdEncoderOptions;
  readonly #leasing: Promise<ZstdWorker>;
  #worker: ZstdWorker | undefined;
  #released = false;
  #received = 0;
  #owedCredits = 0;
  #inputsQueued = 0;
  #writeCallback: Callback | null = null;
  #finalCallback: Callback | null = null;

  constructor(options: ZstdEncoderOptions) {
    super({ readableHighWaterMark: 4 * 1024 * 1024 });
    this.#options = options;
    this.#leasing = zstdWorkers(options.threads).lease().then((worker) => {
      this.#worker = worker;
      if (this.destroyed) {
        this.#release(true);
        return worker;
      }
      worker.onMessage((message) => this.#onMessage(message));
      worker.send({ type: 'start', mode: 'encode', rawSize: options.rawSize, credits: CREDITS, level: options.level, workers: options.threads });
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
    this.#release(false);
    if (callback) callback(error);
    else this.destroy(error);
  }

  #onMessage(message: FromWorker): void {
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
        return this.#fail(errPluginFailed('zstd', `compressing ${this.#options.objectName}`, new Error(message.message)));
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    const { rawSize, objectName } = this.#options;
    if (this.#received + chunk.length > rawSize) {
      callback(errSizeMismatch(objectName, rawSize, this.#received + chunk.length, 'raw bytes (or more)'));
      return;
    }
    this.#received += chunk.length;
    if (chunk.length === 0) {
      callback();
      return;
    }
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
    const { rawSize, objectName } = this.#options;
    if (this.#received !== rawSize) {
      callback(errSizeMismatch(objectName, rawSize, this.#received, 'raw bytes'));
      return;
    }
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
    // Nothing the worker holds is ours (inputs are copies): no need to wait for it.
    if (this.#worker) this.#release(false);
    else void this.#leasing.then(() => this.#release(false));
    callback(error);
  }
}
