/**
 * zstd on worker threads. libzstd works synchronously: on the main thread,
 * segments compressed or decompressed at once would share one core with every
 * CRC, copy and I/O callback, and libzstd's own compression workers block the
 * calling thread whenever their queue is full (measured: two segments with one
 * libzstd worker each ran at 243 MB/s, the main thread waiting on one while
 * the other starved). Each encoder or decoder stream leases one worker from a
 * small pool for its lifetime.
 *
 * Protocol (per lease), main → worker: start {job, mode, rawSize, credits,
 * level, workers, into}; input {bytes} (queued in order); credit (one more
 * output may be sent); end; abort (direct decoding: stop and close the
 * memory). Worker → main, each message tagged with the job it belongs to:
 * output {bytes} (never more than the credits granted: memory stays
 * bounded); wrote {bytes} (direct decoding: raw bytes now in place);
 * consumed (one input was used up); ended {produced, crc32}; aborted;
 * failure {kind, message}. Buffers move by transfer, not copy. Several
 * credits and two queued inputs keep both threads busy: with one of each,
 * measured, the worker sat idle 63% of a restore waiting for round trips.
 *
 * Direct decoding (`into`, a SharedWindowsHandle of core's target contract):
 * the worker opens the segment's memory itself and decompresses into it, 4
 * MiB at a time, computing the CRC-32 as it goes; nothing but the stored
 * bytes crosses threads. Measured on a 2.2 GB zstd restore, the main thread
 * had spent 1.7 s on the raw CRC-32, 1.4 s collecting the 1 MiB output
 * buffers and 0.8 s posting and copying them into the segment. The worker
 * closes the memory before it reports ended, aborted or a failure, so the
 * target may remove the segment as soon as it hears.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { crc32Engine } from '@shmsnap/core/plugin-kit';
import { zstdBindingPath } from './zstd-binding.js';

export type WorkerFailureKind = 'corrupt' | 'too-much' | 'trailing' | 'truncated' | 'short' | 'compress' | 'memory';

/** `job` is the start message's; a failure the pool reports for a lost worker has none. */
export type FromWorker = { readonly job?: number } & (
  | { readonly type: 'output'; readonly bytes: Uint8Array }
  | { readonly type: 'wrote'; readonly bytes: number }
  /** One input was used up; `bytes` is that input given back (transferred) when it was sent with `giveBack`. */
  | { readonly type: 'consumed'; readonly bytes?: Uint8Array }
  | { readonly type: 'ended'; readonly produced: number; readonly crc32: number }
  | { readonly type: 'aborted' }
  | { readonly type: 'failure'; readonly kind: WorkerFailureKind; readonly message: string; readonly produced: number }
);

export type ToWorker =
  | {
      readonly type: 'start';
      readonly job: number;
      readonly mode: 'decode' | 'encode';
      readonly rawSize: number;
      readonly credits: number;
      readonly level?: number;
      readonly workers?: number;
      /** Decode straight into this memory (SharedWindowsHandle): no output messages. */
      readonly into?: { readonly module: string; readonly args: unknown; readonly size: number };
    }
  /** `giveBack`: transfer the input back in its `consumed` message (the producer reuses its memory). */
  | { readonly type: 'input'; readonly bytes: Uint8Array; readonly giveBack?: boolean }
  | { readonly type: 'credit' }
  | { readonly type: 'end' }
  | { readonly type: 'abort' };

/**
 * The worker's whole program, as plain JavaScript run with `eval: true`: a
 * source string needs no file beside the compiled code and survives any
 * transpiler. The binding's path comes in `workerData`, and the module of
 * the main thread's CRC-32 engine when it has one (core's checksum.ts; the
 * result is zlib's either way).
 */
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
// The same results either way: an engine that does not load here costs speed, not the restore.
const crc32 = (() => {
  try {
    const engine = workerData.crc32Module ? require(workerData.crc32Module).crc32 : undefined;
    if (typeof engine === 'function') return engine;
  } catch {}
  return require('node:zlib').crc32;
})();
const zstd = require(workerData.bindingPath);
const OUTPUT = 1024 * 1024;
/** Direct decoding writes this much of the segment per call (a view, not a buffer). */
const WINDOW = 4 * 1024 * 1024;
let job = 0, mode = 'decode', dctx, cctx, rawSize = 0, produced = 0, credits = 0, pending = null, queue = [], frameDone = false, failed = false, ending = false;
// The queued input pending is (a part of): given back whole once used up, when it was sent with giveBack.
let pendingWhole = null;
// Direct decoding: the memory (once open), the promise of it, its closing, the raw CRC-32 so far, a scratch buffer past the end.
let into = null, opening = null, closing = null, crc = 0, scratch = null, windowView = null, windowAt = 0;

function post(message, transfer) {
  message.job = job;
  parentPort.postMessage(message, transfer || []);
}

/** Closes the memory (once); resolves when no view of it is left in use. */
function closeInto() {
  if (opening === null) return Promise.resolve();
  closing = closing || opening.then((windows) => windows.close()).then(() => undefined, () => undefined);
  into = null;
  windowView = null;
  return closing;
}

/** The input in hand (pending) is used up: the main thread hears it, and the next one is taken. */
function nextInput() {
  const whole = pendingWhole;
  // zstd keeps no reference to an input it has used up: its memory can go back.
  if (whole !== null && whole.giveBack === true) post({ type: 'consumed', bytes: whole }, [whole.buffer]);
  else post({ type: 'consumed' });
  pending = queue.length > 0 ? queue.shift() : null;
  pendingWhole = pending;
}

/** Takes the first queued input when none is in hand. */
function takeInput() {
  if (pending === null && queue.length > 0) {
    pending = queue.shift();
    pendingWhole = pending;
  }
}

function fail(kind, message) {
  failed = true;
  pending = null;
  queue = [];
  closeInto().then(() => post({ type: 'failure', kind, message, produced }));
}

function send(out, made) {
  // A small output is copied out so that a mostly empty 1 MiB buffer is not held downstream.
  const bytes = made >= OUTPUT / 2 ? out.subarray(0, made) : new Uint8Array(out.subarray(0, made));
  credits -= 1;
  post({ type: 'output', bytes }, [bytes.buffer]);
}

// Encoding: feed every queued input with "continue", then finish the frame.
function encode() {
  takeInput();
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
        post({ type: 'ended', produced, crc32: 0 });
        return;
      }
      continue;
    }
    produced += consumed;
    pending = pending.subarray(consumed);
    if (pending.length === 0) nextInput();
  }
}

/** Where the next output goes: a 1 MiB buffer (within the credits), or the segment's next window. */
function nextOutput() {
  if (into === null) return credits > 0 ? Buffer.allocUnsafeSlow(OUTPUT) : null;
  if (produced < rawSize) {
    // One view per window, not per call: a view is an external buffer (measured: 0.65 s of a worker's 9 s
    // making them, and more collecting them, when each call wrote a few hundred KiB).
    if (windowView === null || produced >= windowAt + windowView.length) {
      windowAt = produced;
      windowView = into.view(produced, Math.min(WINDOW, into.maxViewBytes, rawSize - produced));
    }
    return produced === windowAt ? windowView : windowView.subarray(produced - windowAt);
  }
  // Past the recorded size: any byte written here is one too many.
  scratch = scratch || Buffer.allocUnsafeSlow(64 * 1024);
  return scratch;
}

function run() {
  if (mode === 'encode') return encode();
  // Direct decoding waits for its memory.
  if (opening !== null && into === null) return;
  takeInput();
  let wrote = 0;
  while (!failed && pending !== null) {
    const input = pending;
    if (frameDone) {
      if (input.length > 0) return fail('trailing', 'unexpected data after the end of the zstd frame (a second frame or trailing bytes)');
      nextInput();
      continue;
    }
    const out = nextOutput();
    if (out === null) break;
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
      if (produced + made > rawSize || out === scratch) return fail('too-much', 'decompresses to more than the recorded ' + rawSize + ' bytes');
      produced += made;
      if (into === null) send(out, made);
      else {
        crc = crc32(out.subarray(0, made), crc);
        wrote += made;
      }
    }
    if (pending.length === 0 && made < out.length && !frameDone) nextInput();
  }
  if (wrote > 0) post({ type: 'wrote', bytes: wrote });
  if (!failed && ending && pending === null) {
    ending = false;
    if (!frameDone) fail('truncated', produced === 0 ? 'empty or truncated zstd frame' : 'truncated zstd frame');
    else if (produced !== rawSize) fail('short', 'decompresses to ' + produced + ' bytes, the recorded size is ' + rawSize);
    else closeInto().then(() => post({ type: 'ended', produced, crc32: crc }));
  }
}

parentPort.on('message', (message) => {
  switch (message.type) {
    case 'start':
      job = message.job;
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
      pendingWhole = null;
      queue = [];
      frameDone = false;
      failed = false;
      ending = false;
      into = null;
      opening = null;
      closing = null;
      crc = 0;
      windowView = null;
      windowAt = 0;
      if (message.into) {
        const started = job;
        const target = message.into;
        opening = import(target.module).then((module) => module.openSharedWindows(target.args));
        opening.then(
          (windows) => {
            if (job !== started || closing !== null) return;
            if (windows.maxViewBytes < 1) return fail('memory', 'the shared memory offers no views');
            into = windows;
            run();
          },
          (error) => {
            if (job === started) fail('memory', 'cannot open the shared memory: ' + (error && error.message ? error.message : String(error)));
          },
        );
      }
      return;
    case 'input':
      if (message.giveBack === true) message.bytes.giveBack = true;
      queue.push(message.bytes);
      return run();
    case 'credit':
      credits += 1;
      return run();
    case 'end':
      ending = true;
      return run();
    case 'abort':
      failed = true;
      pending = null;
      queue = [];
      closeInto().then(() => post({ type: 'aborted' }));
      return;
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
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bindingPath: zstdBindingPath(), crc32Module: crc32Engine().module } });
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
