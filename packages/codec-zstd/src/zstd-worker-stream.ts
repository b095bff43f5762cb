/**
 * A Duplex whose work runs on a leased zstd worker (zstd-worker-pool.ts):
 * inputs are copied into transferable buffers and queued to the worker
 * (QUEUED_INPUTS before a write waits), outputs come back by transfer within
 * the credits granted (CREDITS, given back as downstream takes them), and
 * the stream ends when the worker reports the frame done. The encoder and
 * decoder add only their own checks and how a failure reads.
 */
import { Duplex } from 'node:stream';
import type { ShmsnapError } from '@shmsnap/core/plugin-kit';
import { zstdWorkers, type FromWorker, type ToWorker, type ZstdWorker } from './zstd-worker-pool.js';
import { zstdBindingPath } from './zstd-binding.js';

type Callback = (error?: Error | null) => void;
type StartMessage = Extract<ToWorker, { type: 'start' }>;
export type WorkerFailure = Extract<FromWorker, { type: 'failure' }>;

/** Outputs (≤ 1 MiB each) the worker may have on the way: the memory bound. */
const CREDITS = 8;
/** Inputs handed to the worker before their write callback is due. */
const QUEUED_INPUTS = 2;

export abstract class ZstdWorkerStream extends Duplex {
  readonly #leasing: Promise<ZstdWorker>;
  #worker: ZstdWorker | undefined;
  #released = false;
  #owedCredits = 0;
  #inputsQueued = 0;
  #writeCallback: Callback | null = null;
  #finalCallback: Callback | null = null;

  protected constructor(threads: number, start: Omit<StartMessage, 'type' | 'credits'>) {
    super({ readableHighWaterMark: 4 * 1024 * 1024 });
    // A missing addon throws here, to whoever creates the stream, not later
    // from the lease (where nobody may be waiting for it).
    zstdBindingPath();
    this.#leasing = zstdWorkers(threads)
      .lease()
      .then((worker) => {
        this.#worker = worker;
        if (this.destroyed) {
          this.#release(true);
          return worker;
        }
        worker.onMessage((message) => this.#onMessage(message));
        worker.send({ type: 'start', credits: CREDITS, ...start });
        return worker;
      });
  }

  /** How the worker's failure reads for this stream, as a coded error. */
  protected abstract describeFailure(failure: WorkerFailure): ShmsnapError;

  /** Hands a copy of `chunk` to the worker; `callback` once the queue has room. */
  protected sendInput(chunk: Buffer, callback: Callback): void {
    if (chunk.length === 0) {
      callback();
      return;
    }
    // A copy the worker can own: the chunk may be a view of shared memory, or share its memory with others.
    const bytes = new Uint8Array(chunk.length);
    bytes.set(chunk);
    void this.#leasing.then((worker) => {
      worker.send({ type: 'input', bytes }, [bytes.buffer]);
      this.#inputsQueued += 1;
      if (this.#inputsQueued < QUEUED_INPUTS) callback();
      else this.#writeCallback = callback;
    });
  }

  /** Tells the worker the input is complete; `callback` when it reports the frame done. */
  protected finish(callback: Callback): void {
    // Every queued input has been handed over by now: writes complete in order.
    void this.#leasing.then((worker) => {
      this.#finalCallback = callback;
      worker.send({ type: 'end' });
    });
  }

  #release(healthy: boolean): void {
    if (this.#released || !this.#worker) return;
    this.#released = true;
    this.#worker.release(healthy);
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
      case 'failure': {
        const callback = this.#writeCallback ?? this.#finalCallback;
        this.#writeCallback = null;
        this.#finalCallback = null;
        // The worker reported and stopped; its next lease starts afresh.
        this.#release(true);
        const error = this.describeFailure(message);
        if (callback) callback(error);
        else this.destroy(error);
        return;
      }
    }
  }

  override _read(): void {
    while (this.#owedCredits > 0 && this.#worker && !this.#released) {
      this.#owedCredits -= 1;
      this.#worker.send({ type: 'credit' });
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Mid-frame, the worker may still send this stream's output: it must not
    // serve another stream, so it is ended rather than returned. Nothing it
    // holds is ours (inputs are copies), so there is nothing to wait for.
    if (this.#worker) this.#release(false);
    else void this.#leasing.then(() => this.#release(false));
    callback(error);
  }
}
