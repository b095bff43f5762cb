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
import { errConfigInvalid, errManifestInvalid, isShmsnapError, toShmsnapError, withPluginContext, type ShmsnapError } from '../errors.js';
import type { Manifest } from '../format/manifest.js';
import { createProgressTracker, type ProgressListener, type ProgressTracker } from './progress.js';
import type { SegmentDescriptor } from '../contracts/segment.js';
import { abortReason, pipelineSettled, runBounded } from './settle.js';
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

/** Restore entries from a manifest, resolving codecs by name. */
export function planFromManifest(manifest: Manifest, codecByName: (name: string) => Codec, where: string): RestoreEntry[] {
  return manifest.segments.map((s) => {
    const codec = codecByName(s.codec);
    if (!s.object.endsWith(codec.extension) || s.object.length !== 8 + codec.extension.length) {
      throw errManifestInvalid(where, `${s.object} does not carry codec '${s.codec}' extension ${codec.extension}`);
    }
    if (codec.identity && (s.storedBytes !== s.rawBytes || s.storedCrc32 !== s.rawCrc32)) {
      throw errManifestInvalid(where, `${s.object}: stored and raw values differ for codec '${s.codec}'`);
    }
    const { object, codec: _name, rawBytes: _raw, rawCrc32, storedBytes, storedCrc32, ...segment } = s;
    return { segment, object, codec, storedBytes, storedCrc32, rawCrc32 };
  });
}

interface TransferContext {
  readonly sink: Sink;
  readonly threads: number;
  readonly progress: ProgressTracker;
}

async function transfer(context: TransferContext, entry: RestoreEntry, destination: Writable, signal: AbortSignal): Promise<void> {
  const { sink, progress } = context;
  const { segment, object, codec } = entry;
  let reader;
  try {
    reader = await sink.openReader(object, { signal });
  } catch (error) {
    throw withPluginContext(error, sink.name, `read ${object}`);
  }
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

function totalsOf(entries: readonly RestoreEntry[]): { bytes: number; segments: number } {
  return { bytes: entries.reduce((sum, e) => sum + e.segment.size, 0), segments: entries.length };
}

function checkThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw errConfigInvalid('--threads', `expected a positive integer, got ${threads}`);
}

export interface RestoreOptions {
  readonly sink: Sink;
  readonly target: SegmentTarget;
  readonly entries: readonly RestoreEntry[];
  /** Segments transferred at once. @default 2 */
  readonly threads?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
}

export interface TransferResult {
  readonly segments: number;
  readonly rawBytes: number;
  readonly elapsedMs: number;
}

export async function runRestore(options: RestoreOptions): Promise<TransferResult> {
  const { sink, target, entries } = options;
  const threads = options.threads ?? 2;
  checkThreads(threads);
  const signal = options.signal ?? new AbortController().signal;
  const started = performance.now();
  await target.check(entries.map((e) => e.segment), { signal });
  const totals = totalsOf(entries);
  const progress = createProgressTracker('restore', totals, options.onProgress);
  const context: TransferContext = { sink, threads, progress };

  const restoreOne = async (entry: RestoreEntry, entrySignal: AbortSignal): Promise<void> => {
    progress.started(entry.object);
    const writer = await target.create(entry.segment, { signal: entrySignal });
    await transfer(context, entry, writer.stream, entrySignal);
    await writer.commit();
    progress.finished(entry.object);
  };
  const readers = Math.min(threads, sink.capabilities.maxConcurrency);
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

export interface VerifyOptions {
  readonly sink: Sink;
  readonly entries: readonly RestoreEntry[];
  readonly threads?: number;
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
  const threads = options.threads ?? 2;
  checkThreads(threads);
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
        await transfer(context, entry, discard, entrySignal);
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
