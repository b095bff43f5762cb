/**
 * A Duplex whose work runs on a leased zstd worker (zstd-worker-pool.ts):
 * inputs are copied into transferable buffers (or, handed over, transferred
 * as they are: sendInput) and queued to the worker
 * (QUEUED_INPUTS before a write waits), outputs come back by transfer within
 * the credits granted (CREDITS, given back as downstream takes them), and
 * the stream ends when the worker reports the frame done. The encoder and
 * decoder add only their own checks and how a failure reads.
 *
 * Decoding straight into shared memory (`into`), the stream is writable
 * only: the worker reports the bytes it wrote (`onWrote`), and destroying the
 * stream waits until the worker has closed the memory (it is told to abort,
 * and answers once no view is in use), so whoever owns the memory may remove
 * it as soon as the stream has closed.
 */
import { Duplex, type DuplexOptions } from 'node:stream';
import { isHandedOver, recyclerOf, type ShmsnapError } from '@shmsnap/core/plugin-kit';
import { zstdWorkers, type FromWorker, type ToWorker, type ZstdWorker } from './zstd-worker-pool.js';
import { zstdBindingPath } from './zstd-binding.js';

type Callback = (error?: Error | null) => void;
type StartMessage = Extract<ToWorker, { type: 'start' }>;
/** Tags each lease's messages: a message of an earlier lease of the same worker is never taken for this one's. */
let nextJob = 1;
export type WorkerFailure = Extract<FromWorker, { type: 'failure' }>;

/** Outputs (≤ 1 MiB each) the worker may have on the way: the memory bound. */
const CREDITS = 8;
/** Inputs handed to the worker before their write callback is due. */
const QUEUED_INPUTS = 2;
/** Bytes gathered from small writes into one input (see sendInput). */
const INPUT_BATCH = 1024 * 1024;
/**
 * A handed-over chunk is transferred as it is when it is of an input's size:
 * a smaller one would cost a round trip of its own, a larger one would hold
 * more than QUEUED_INPUTS inputs' worth of memory in the queue.
 */
const TRANSFER_MIN = INPUT_BATCH / 2;
const TRANSFER_MAX = 4 * INPUT_BATCH;

export abstract class ZstdWorkerStream extends Duplex {
  readonly #leasing: Promise<ZstdWorker>;
  #worker: ZstdWorker | undefined;
  #released = false;
  #owedCredits = 0;
  #inputsQueued = 0;
  #writeCallback: Callback | null = null;
  #batch: Uint8Array | undefined;
  #batchFill = 0;
  #finalCallback: Callback | null = null;
  readonly #job = nextJob++;
  readonly #direct: boolean;
  readonly #decoding: boolean;
  /**
   * Batch memory the worker gave back (decoding), for the next batches
   * instead of fresh pages (a fault each to fill). Measured on a zstd
   * restore from s3rver (small HTTP chunks, all batched): 488 against 478
   * MB/s, 5.8 against 5.9 CPU-s, 4 runs each: within the noise, kept for
   * the allocations it saves.
   */
  readonly #spareBatches: ArrayBuffer[] = [];
  readonly #keepBatch = (memory: ArrayBuffer): void => {
    if (memory.byteLength === INPUT_BATCH && this.#spareBatches.length < QUEUED_INPUTS + 1) this.#spareBatches.push(memory);
  };
  /** Recyclers of the inputs sent with giveBack, in order: the worker gives them back in that order. */
  readonly #recyclers: ((memory: ArrayBuffer) => void)[] = [];
  /** Direct decoding, destroyed mid-job: called once the worker answers that it let go of the memory. */
  #aborted: (() => void) | null = null;
  #ended: { produced: number; crc32: number } | undefined;

  protected constructor(threads: number, start: Omit<StartMessage, 'type' | 'credits' | 'job'>) {
    // Writable only when decoding into memory: Node's `readable: false` (not in @types/node 20's DuplexOptions)
    // ends the readable side at once, so the stream closes once it finished, as a Writable does.
    super(start.into ? ({ readable: false } as DuplexOptions) : { readableHighWaterMark: 4 * 1024 * 1024 });
    this.#direct = start.into !== undefined;
    this.#decoding = start.mode === 'decode';
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
        worker.send({ type: 'start', job: this.#job, credits: CREDITS, ...start });
        return worker;
      });
  }

  /** How the worker's failure reads for this stream, as a coded error. */
  protected abstract describeFailure(failure: WorkerFailure): ShmsnapError;

  /** Direct decoding: `bytes` more raw bytes are in place. */
  protected onWrote(_bytes: number): void {}

  /** What the worker reported at the end: raw bytes it produced and (direct decoding) their CRC-32. */
  protected endedWith(): { produced: number; crc32: number } | undefined {
    return this.#ended;
  }

  /**
   * Hands a copy of `chunks`, in order, to the worker; `callback` once the queue has room. Small chunks
   * are gathered into inputs of INPUT_BATCH bytes (the copy is needed anyway: a chunk may be a view of
   * shared memory, or share its memory with others): sent alone, a decrypted frame's 128 KiB slices or
   * an HTTP body's pieces made the worker pay a round trip and a window per piece (measured: an
   * encrypted zstd restore at 240 MB/s, 545 unencrypted, when frames were opened in 128 KiB
   * slices). A chunk handed over (a decrypted frame, contracts/chunk-ownership.ts) of an input's
   * size is transferred as it is: no copy, no fresh pages to fault in.
   */
  protected sendInput(chunks: readonly Buffer[], callback: Callback): void {
    const inputs: { bytes: Uint8Array; recycle?: (memory: ArrayBuffer) => void }[] = [];
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      if (this.#batchFill === 0 && chunk.length >= TRANSFER_MIN && chunk.length <= TRANSFER_MAX && isHandedOver(chunk)) {
        // Decoding, a producer that asked for its memory back gets it once the worker has used it up.
        const recycle = this.#decoding ? recyclerOf(chunk) : undefined;
        inputs.push({ bytes: new Uint8Array(chunk.buffer, 0, chunk.byteLength), ...(recycle ? { recycle } : {}) });
        continue;
      }
      if (this.#batchFill === 0 && chunk.length >= INPUT_BATCH) {
        inputs.push({ bytes: new Uint8Array(chunk) });
        continue;
      }
      let offset = 0;
      while (offset < chunk.length) {
        this.#batch ??= new Uint8Array(this.#spareBatches.pop() ?? new ArrayBuffer(INPUT_BATCH));
        const n = Math.min(chunk.length - offset, INPUT_BATCH - this.#batchFill);
        this.#batch.set(chunk.subarray(offset, offset + n), this.#batchFill);
        this.#batchFill += n;
        offset += n;
        if (this.#batchFill === INPUT_BATCH) inputs.push(this.#takeBatch());
      }
    }
    this.#send(inputs, callback);
  }

  /** The gathered input; decoding, the worker gives its memory back for a later batch. */
  #takeBatch(): { bytes: Uint8Array; recycle?: (memory: ArrayBuffer) => void } {
    const batch = this.#batchFill === INPUT_BATCH ? this.#batch! : this.#batch!.subarray(0, this.#batchFill);
    this.#batch = undefined;
    this.#batchFill = 0;
    return this.#decoding ? { bytes: batch, recycle: this.#keepBatch } : { bytes: batch };
  }

  #send(inputs: readonly { bytes: Uint8Array; recycle?: (memory: ArrayBuffer) => void }[], callback: Callback): void {
    if (inputs.length === 0) {
      callback();
      return;
    }
    this.#leasing.then(
      (worker) => {
        try {
          for (const { bytes, recycle } of inputs) {
            worker.send({ type: 'input', bytes, ...(recycle ? { giveBack: true } : {}) }, [bytes.buffer as ArrayBuffer]);
            if (recycle) this.#recyclers.push(recycle);
          }
        } catch (error) {
          // A buffer that cannot be transferred (DataCloneError): the write fails rather than waiting for ever.
          callback(error as Error);
          return;
        }
        this.#inputsQueued += inputs.length;
        if (this.#inputsQueued < QUEUED_INPUTS) callback();
        else this.#writeCallback = callback;
      },
      (error: unknown) => callback(error as Error),
    );
  }

  /** Tells the worker the input is complete; `callback` when it reports the frame done. */
  protected finish(callback: Callback): void {
    // What is still gathered goes first; every queued input has been handed over by then (writes complete in order).
    if (this.#batchFill > 0) {
      this.#send([this.#takeBatch()], (error) => (error ? callback(error) : this.finish(callback)));
      return;
    }
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
    if (message.job !== undefined && message.job !== this.#job) return;
    if (this.#aborted && (message.type === 'aborted' || message.type === 'failure' || message.type === 'ended')) {
      // Destroyed mid-job: the worker has let go of the memory; nothing else it says matters now.
      const done = this.#aborted;
      this.#aborted = null;
      this.#release(message.type !== 'failure' || message.job !== undefined);
      done();
      return;
    }
    switch (message.type) {
      case 'wrote':
        this.onWrote(message.bytes);
        return;
      case 'aborted':
        return;
      case 'output': {
        const bytes = Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.length);
        if (this.push(bytes)) this.#worker!.send({ type: 'credit' });
        else this.#owedCredits += 1;
        return;
      }
      case 'consumed': {
        this.#inputsQueued -= 1;
        if (message.bytes) this.#recyclers.shift()?.(message.bytes.buffer as ArrayBuffer);
        const callback = this.#writeCallback;
        this.#writeCallback = null;
        callback?.();
        return;
      }
      case 'ended': {
        const callback = this.#finalCallback;
        this.#finalCallback = null;
        this.#ended = { produced: message.produced, crc32: message.crc32 };
        this.#release(true);
        if (!this.#direct) this.push(null);
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
    if (this.#direct) {
      // The worker may be writing into the memory: ask it to stop, and close only once it has let go.
      void this.#leasing.then((worker) => {
        if (this.#released) return callback(error);
        this.#aborted = () => callback(error);
        worker.send({ type: 'abort' });
      });
      return;
    }
    // Mid-frame, the worker may still send this stream's output: it must not
    // serve another stream, so it is ended rather than returned. Nothing it
    // holds is ours (inputs are copies, or transferred to it), so there is
    // nothing to wait for.
    if (this.#worker) this.#release(false);
    else void this.#leasing.then(() => this.#release(false));
    callback(error);
  }
}
