/**
 * zstd on worker threads. libzstd works synchronously: on the main thread,
 * segments compressed or decompressed at once would share one core with every
 * CRC, copy and I/O callback, and libzstd's own compression workers block the
 * calling thread whenever their queue is full (measured: two segments with one
 * libzstd worker each ran at 243 MB/s, the main thread waiting on one while
 * the other starved). Each encoder or decoder stream leases one worker from a
 * small pool for its lifetime.
 *
 * Protocol (per lease), main → worker: start {mode, rawSize, credits, level,
 * workers}; input
 * {bytes} (queued in order); credit (one more output may be sent); end.
 * Worker → main: output {bytes} (never more than the credits granted:
 * memory stays bounded); consumed (one input was used up); ended; failure
 * {kind, message}. Buffers move by transfer, not copy. Several credits and
 * two queued inputs keep both threads busy: with one of each, measured, the
 * worker sat idle 63% of a restore waiting for round trips.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { zstdBindingPath } from './zstd-binding.js';

export type WorkerFailureKind = 'corrupt' | 'too-much' | 'trailing' | 'truncated' | 'short' | 'compress';

export type FromWorker =
  | { readonly type: 'output'; readonly bytes: Uint8Array }
  | { readonly type: 'consumed' }
  | { readonly type: 'ended'; readonly produced: number }
  | { readonly type: 'failure'; readonly kind: WorkerFailureKind; readonly message: string; readonly produced: number };

export type ToWorker =
  | { readonly type: 'start'; readonly mode: 'decode' | 'encode'; readonly rawSize: number; readonly credits: number; readonly level?: number; readonly workers?: number }
  | { readonly type: 'input'; readonly bytes: Uint8Array }
  | { readonly type: 'credit' }
  | { readonly type: 'end' };

/**
 * The worker's whole program, as plain JavaScript run with `eval: true`: a
 * source string needs no file beside the compiled code and survives any
 * transpiler. The binding's path comes in `workerData`.
 */
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const zstd = require(workerData.bindingPath);
const OUTPUT = 1024 * 1024;
let mode = 'decode', dctx, cctx, rawSize = 0, produced = 0, credits = 0, pending = null, queue = [], frameDone = false, failed = false, ending = false;

function fail(kind, message) {
  failed = true;
  pending = null;
  queue = [];
  parentPort.postMessage({ type: 'failure', kind, message, produced });
}

function send(out, made) {
  // A small output is copied out so that a mostly empty 1 MiB buffer is not held downstream.
  const bytes = made >= OUTPUT / 2 ? out.subarray(0, made) : new Uint8Array(out.subarray(0, made));
  credits -= 1;
  parentPort.postMessage({ type: 'output', bytes }, [bytes.buffer]);
}

// Encoding: feed every queued input with "continue", then finish the frame.
function encode() {
  if (pending === null && queue.length > 0) pending = queue.shift();
  while (!failed && credits > 0) {
    const finishing = pending === null && ending;
    if (pending === null && !finishing) return;
    const out = Buffer.allocUnsafeSlow(OUTPUT);
    let result;
    try {
      result = cctx.compressStream2(out, finishing ? new Uint8Array(0) : pending, finishing ? zstd.EndDirective.end : zstd.EndDirective.continue);
    } catch (error) {
      return fail('compress', error && error.message ? error.message : String(error));
    }
    const [remaining, made, consumed] = result;
    if (made > 0) send(out, made);
    if (finishing) {
      if (remaining === 0) {
        ending = false;
        parentPort.postMessage({ type: 'ended', produced });
        return;
      }
      continue;
    }
    produced += consumed;
    pending = pending.subarray(consumed);
    if (pending.length === 0) {
      pending = queue.length > 0 ? queue.shift() : null;
      parentPort.postMessage({ type: 'consumed' });
    }
  }
}

function run() {
  if (mode === 'encode') return encode();
  if (pending === null && queue.length > 0) pending = queue.shift();
  while (!failed && pending !== null && credits > 0) {
    const input = pending;
    if (frameDone) {
      if (input.length > 0) return fail('trailing', 'unexpected data after the end of the zstd frame (a second frame or trailing bytes)');
      pending = queue.length > 0 ? queue.shift() : null;
      parentPort.postMessage({ type: 'consumed' });
      continue;
    }
    const out = Buffer.allocUnsafeSlow(OUTPUT);
    let result;
    try {
      result = dctx.decompressStream(out, input);
    } catch (error) {
      return fail('corrupt', error && error.message ? error.message : String(error));
    }
    const [remaining, made, consumed] = result;
    pending = input.subarray(consumed);
    if (remaining === 0) frameDone = true;
    if (made > 0) {
      produced += made;
      if (produced > rawSize) return fail('too-much', 'decompresses to more than the recorded ' + rawSize + ' bytes');
      send(out, made);
    }
    if (pending.length === 0 && made < OUTPUT && !frameDone) {
      pending = queue.length > 0 ? queue.shift() : null;
      parentPort.postMessage({ type: 'consumed' });
    }
  }
  if (!failed && ending && pending === null) {
    ending = false;
    if (!frameDone) fail('truncated', produced === 0 ? 'empty or truncated zstd frame' : 'truncated zstd frame');
    else if (produced !== rawSize) fail('short', 'decompresses to ' + produced + ' bytes, the recorded size is ' + rawSize);
    else parentPort.postMessage({ type: 'ended', produced });
  }
}

parentPort.on('message', (message) => {
  switch (message.type) {
    case 'start':
      mode = message.mode;
      rawSize = message.rawSize;
      if (mode === 'encode') {
        cctx = new zstd.CCtx();
        cctx.setParameter(zstd.CParameter.compressionLevel, message.level);
        cctx.setParameter(zstd.CParameter.checksumFlag, 1);
        cctx.setParameter(zstd.CParameter.contentSizeFlag, 1);
        if (message.workers > 1) cctx.setParameter(zstd.CParameter.nbWorkers, message.workers);
        cctx.setPledgedSrcSize(rawSize);
      } else {
        dctx = new zstd.DCtx();
      }
      produced = 0;
      credits = message.credits;
      pending = null;
      queue = [];
      frameDone = false;
      failed = false;
      ending = false;
      return;
    case 'input':
      queue.push(message.bytes);
      return run();
    case 'credit':
      credits += 1;
      return run();
    case 'end':
      ending = true;
      return run();
  }
});
`;

/** A worker leased to one encoder or decoder until `release()`. */
export interface ZstdWorker {
  send(message: ToWorker, transfer?: ArrayBuffer[]): void;
  onMessage(listener: (message: FromWorker) => void): void;
  /** Returns the worker to the pool (or ends it, after a failure). */
  release(healthy: boolean): void;
}

interface PoolEntry {
  readonly worker: Worker;
  listener: ((message: FromWorker) => void) | undefined;
  alive: boolean;
}

class WorkerPool {
  readonly #idle: PoolEntry[] = [];
  readonly #waiting: ((entry: PoolEntry) => void)[] = [];
  #size = 0;

  constructor(readonly limit: number) {}

  #spawn(): PoolEntry {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bindingPath: zstdBindingPath() } });
    const entry: PoolEntry = { worker, listener: undefined, alive: true };
    worker.on('message', (message: FromWorker) => entry.listener?.(message));
    const lost = (reason: string): void => {
      if (!entry.alive) return;
      // A dead worker is never handed out again; whoever holds it hears why.
      entry.alive = false;
      this.#size -= 1;
      const idle = this.#idle.indexOf(entry);
      if (idle >= 0) this.#idle.splice(idle, 1);
      entry.listener?.({ type: 'failure', kind: 'corrupt', message: `zstd thread failed: ${reason}`, produced: 0 });
    };
    worker.on('error', (error) => lost(error.message));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    this.#size += 1;
    return entry;
  }

  async lease(): Promise<ZstdWorker> {
    const entry = this.#idle.pop() ?? (this.#size < this.limit ? this.#spawn() : await new Promise<PoolEntry>((resolve) => this.#waiting.push(resolve)));
    // Leased, the worker keeps the process alive (a decode in flight must finish); idle, it does not.
    entry.worker.ref();
    return {
      send: (message, transfer) => entry.worker.postMessage(message, transfer ?? []),
      onMessage: (listener) => {
        entry.listener = listener;
      },
      release: (healthy) => {
        entry.listener = undefined;
        if (!healthy || !entry.alive) {
          if (entry.alive) {
            entry.alive = false;
            this.#size -= 1;
            void entry.worker.terminate();
          }
          const next = this.#waiting.shift();
          if (next) next(this.#spawn());
          return;
        }
        const next = this.#waiting.shift();
        if (next) next(entry);
        else {
          entry.worker.unref();
          this.#idle.push(entry);
        }
      },
    };
  }
}

let pool: WorkerPool | undefined;

/**
 * The process-wide pool; its size is fixed by the first caller (the CLI's
 * --threads), and never more than the CPUs: each worker is a V8 isolate of
 * its own (~15 MiB) with its credits' output buffers, and more workers than
 * cores only add memory (measured: a restore at --threads 8 on 2 vCPUs
 * peaked at 585 MiB RSS).
 */
export function zstdWorkers(threads: number): { lease(): Promise<ZstdWorker> } {
  pool ??= new WorkerPool(Math.max(1, Math.min(threads, availableParallelism())));
  return pool;
}
