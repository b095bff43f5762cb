/**
 * Restore and verify: sink → CRC-32 (stored) → codec decoder → CRC-32 (raw)
 * → target (or nowhere, for verify).
 *
 * Restore is all-or-nothing: on any failure or abort the target removes
 * every segment this run created, before the error is reported. Base
 * segments are written last, so an index is only complete when everything
 * else already is.
 */
import { Writable } from 'node:stream';
import type { Codec } from '../contracts/codec.js';
import { createCrc32Meter } from './checksum.js';
import { isShmsnapError, toShmsnapError } from '../errors.js';
import { createProgressTracker, type ProgressListener, type ProgressTracker } from './progress.js';
import type { SegmentDescriptor } from '../contracts/segment.js';
import { abortReason, checkConcurrency, pipelineSettled, runBounded } from './settle.js';
import type { Sink } from '../contracts/sink.js';
import type { SegmentTarget } from '../contracts/target.js';

/** One object to bring back, with whatever check values are known for it. */
export interface RestoreEntry {
  readonly segment: SegmentDescriptor;
  readonly object: string;
  readonly codec: Codec;
  readonly storedBytes?: number;
  readonly storedCrc32?: number;
  readonly rawCrc32?: number;
}

export interface TransferContext {
  readonly sink: Sink;
  /** Codec threads for one object. */
  readonly threads: number;
  readonly progress: ProgressTracker;
}

export async function transfer(context: TransferContext, entry: RestoreEntry, destination: Writable, signal: AbortSignal): Promise<void> {
  const { sink, progress } = context;
  const { segment, object, codec } = entry;
  const reader = await sink.openReader(object, { signal });
  const stored = createCrc32Meter({
    object,
    what: 'stored bytes',
    ...(entry.storedBytes === undefined ? {} : { expectedBytes: entry.storedBytes }),
    ...(entry.storedCrc32 === undefined ? {} : { expectedCrc32: entry.storedCrc32 }),
  });
  const raw = createCrc32Meter({
    object,
    what: 'raw bytes',
    expectedBytes: segment.size,
    ...(entry.rawCrc32 === undefined ? {} : { expectedCrc32: entry.rawCrc32 }),
    onBytes: (bytes) => progress.advance(bytes),
  });
  const streams = codec.identity
    ? [reader, raw, destination]
    : [
        reader,
        stored,
        codec.createDecoder({
          rawSize: segment.size,
          ...(entry.storedBytes === undefined ? {} : { storedSize: entry.storedBytes }),
          ...(entry.rawCrc32 === undefined ? {} : { rawCrc32: entry.rawCrc32 }),
          threads: context.threads,
          objectName: object,
          signal,
        }),
        raw,
        destination,
      ];
  try {
    await pipelineSettled(streams, signal);
  } catch (error) {
    if (signal.aborted && !isShmsnapError(error)) throw abortReason(signal, 'restore');
    throw toShmsnapError(error, 'read', `${sink.location}/${object}`);
  }
}

export function totalsOf(entries: readonly RestoreEntry[]): { bytes: number; segments: number } {
  return { bytes: entries.reduce((sum, e) => sum + e.segment.size, 0), segments: entries.length };
}


export interface RestoreExecution {
  readonly sink: Sink;
  readonly target: SegmentTarget;
  readonly entries: readonly RestoreEntry[];
  /** Segments transferred at once. @default 2 */
  readonly concurrency?: number;
}

export interface RestoreRunOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
}

export interface TransferResult {
  readonly segments: number;
  readonly rawBytes: number;
  readonly elapsedMs: number;
}

/**
 * Restores checked entries into the target, bases last; on any failure or
 * abort the target rolls back every segment this run created. Checks
 * nothing `prepareRestore` checked (the target was checked there).
 */
export async function executeRestore(execution: RestoreExecution, options: RestoreRunOptions = {}): Promise<TransferResult> {
  const { sink, target, entries } = execution;
  const concurrency = execution.concurrency ?? 2;
  checkConcurrency(concurrency);
  const signal = options.signal ?? new AbortController().signal;
  const started = performance.now();
  const totals = totalsOf(entries);
  const progress = createProgressTracker('restore', totals, options.onProgress);
  const context: TransferContext = { sink, threads: concurrency, progress };

  const restoreOne = async (entry: RestoreEntry, entrySignal: AbortSignal): Promise<void> => {
    progress.started(entry.object);
    const writer = await target.create(entry.segment, { signal: entrySignal });
    await transfer(context, entry, writer.stream, entrySignal);
    await writer.commit();
    progress.finished(entry.object);
  };
  const readers = Math.min(concurrency, sink.capabilities.maxConcurrency);
  try {
    const isBase = (entry: RestoreEntry): boolean => entry.segment.kind === 'primary-base';
    await runBounded(entries.filter((e) => !isBase(e)), readers, restoreOne, { signal, what: 'restore' });
    await runBounded(entries.filter(isBase), readers, restoreOne, { signal, what: 'restore' });
    if (signal.aborted) throw abortReason(signal, 'restore');
    await target.complete();
  } catch (error) {
    await target.rollback();
    throw signal.aborted ? abortReason(signal, 'restore') : error;
  }
  progress.end();
  return { segments: totals.segments, rawBytes: totals.bytes, elapsedMs: performance.now() - started };
}

/** Checks the target, then restores: for library users who hold entries already (prepareRestore does both for a location). */
export async function runRestore(options: RestoreExecution & RestoreRunOptions): Promise<TransferResult> {
  await options.target.check(options.entries.map((e) => e.segment), options.signal ? { signal: options.signal } : {});
  return executeRestore(options, options);
}
