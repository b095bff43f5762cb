/**
 * Verify: every object read through its codec and checked against what is
 * recorded (sizes, CRC-32s), written nowhere. Every bad object is reported,
 * not just the first.
 */
import { Writable } from 'node:stream';
import type { Sink } from '../contracts/sink.js';
import { toShmsnapError, type ShmsnapError } from '../errors.js';
import { createProgressTracker, type ProgressListener } from './progress.js';
import { totalsOf, transfer, type RestoreEntry, type TransferContext, type TransferResult } from './restore.js';
import { checkConcurrency, runBounded } from './settle.js';

export interface VerifyOptions {
  readonly sink: Sink;
  readonly entries: readonly RestoreEntry[];
  /** Objects read at once. @default 2 */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
}

export interface VerifyResult extends TransferResult {
  /** One entry per bad object; empty when every object checked out. */
  readonly failures: readonly { readonly object: string; readonly error: ShmsnapError }[];
}

/** Reads every object and checks it against what is recorded; reports every bad object, not just the first. */
export async function runVerify(options: VerifyOptions): Promise<VerifyResult> {
  const { sink, entries } = options;
  const threads = options.concurrency ?? 2;
  checkConcurrency(threads);
  const signal = options.signal ?? new AbortController().signal;
  const started = performance.now();
  const totals = totalsOf(entries);
  const progress = createProgressTracker('verify', totals, options.onProgress);
  const context: TransferContext = { sink, threads, progress };
  const failures: { object: string; error: ShmsnapError }[] = [];

  await runBounded(
    entries,
    Math.min(threads, sink.capabilities.maxConcurrency),
    async (entry, entrySignal) => {
      progress.started(entry.object);
      const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
      try {
        await transfer(context, entry, { stream: discard }, entrySignal);
      } catch (error) {
        if (entrySignal.aborted) throw error;
        failures.push({ object: entry.object, error: toShmsnapError(error, 'verify', entry.object) });
      }
      progress.finished(entry.object);
    },
    { signal, what: 'verify' },
  );
  progress.end();
  failures.sort((a, b) => a.object.localeCompare(b.object));
  return { segments: totals.segments, rawBytes: totals.bytes, elapsedMs: performance.now() - started, failures };
}
