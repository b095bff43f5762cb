/**
 * Restore and verify: sink → CRC-32 (stored) → codec decoder → CRC-32 (raw)
 * → target (or nowhere, for verify).
 *
 * Restore is all-or-nothing: on any failure or abort the target removes
 * every segment this run created, before the error is reported. Base
 * segments are written last, so an index is only complete when everything
 * else already is.
 */
import { availableParallelism } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { Codec, PieceIndex } from '../contracts/codec.js';
import { createCrc32Meter } from './checksum.js';
import { createObjectDecryptor, type ObjectCipher } from '../crypto/backup-cipher.js';
import { Sha256Meter } from './hash.js';
import { errChecksumMismatch, errSizeMismatch, isShmsnapError, toShmsnapError } from '../errors.js';
import { copyDirect, rangedRandomReader } from './direct-copy.js';
import type { ZeroRanges } from './zero-ranges.js';
import { createProgressTracker, type ProgressListener, type ProgressTracker } from './progress.js';
import type { SegmentDescriptor } from '../contracts/segment.js';
import { abortReason, checkConcurrency, pipelineSettled, runBounded } from './settle.js';
import type { RandomReader, Sink } from '../contracts/sink.js';
import type { DirectWindows, SegmentTarget } from '../contracts/target.js';

/** One object to bring back, with whatever check values are known for it. */
export interface RestoreEntry {
  readonly segment: SegmentDescriptor;
  readonly object: string;
  readonly codec: Codec;
  readonly storedBytes?: number;
  readonly storedCrc32?: number;
  readonly rawCrc32?: number;
  /** The encoder's piece index, from the manifest. */
  readonly pieces?: PieceIndex;
  /** Runs of zeros the backup found (raw objects): a direct restore skips them. */
  readonly zeroRanges?: ZeroRanges;
  /** The object is encrypted (its backup opened with its key): deciphered, frame by frame, after the stored CRC-32. */
  readonly cipher?: ObjectCipher;
  /** SHA-256 of the stored bytes, when the backup recorded one: checked with the stored CRC-32. */
  readonly sha256?: string;
}

export interface TransferContext {
  readonly sink: Sink;
  /** Codec threads for one object. */
  readonly threads: number;
  readonly progress: ProgressTracker;
}

/**
 * Streams one object into `destination`'s stream, checked; `opened` is its reader when the caller opened it
 * already. When the destination shares the segment's memory (`direct.shared`) and the codec decodes into it
 * (`createDirectDecoder`), the codec writes the raw bytes in place instead, and reports their count and
 * CRC-32, checked here as the raw meter would.
 */
export async function transfer(
  context: TransferContext,
  entry: RestoreEntry,
  destination: { readonly stream: Writable; readonly direct?: DirectWindows },
  signal: AbortSignal,
  opened?: Readable,
): Promise<void> {
  const { sink, progress } = context;
  const { segment, object, codec } = entry;
  const into = destination.direct?.shared && codec.createDirectDecoder ? destination.direct : undefined;
  const decodeOptions = {
    rawSize: segment.size,
    ...(entry.storedBytes === undefined ? {} : { storedSize: entry.storedBytes }),
    ...(entry.rawCrc32 === undefined ? {} : { rawCrc32: entry.rawCrc32 }),
    ...(entry.pieces === undefined ? {} : { pieces: entry.pieces }),
    threads: context.threads,
    objectName: object,
    signal,
  };
  // Before the reader: a codec that cannot start (its addon did not load) leaves nothing open.
  const direct = into
    ? codec.createDirectDecoder!({
        ...decodeOptions,
        into: into.shared!,
        onBytes: (bytes) => {
          into.wrote(bytes);
          progress.advance(bytes);
        },
      })
    : undefined;
  const decoder = direct ?? (codec.identity ? undefined : codec.createDecoder(decodeOptions));
  // Until the pipeline below listens, an abort (its signal) or a failure must not be an unhandled 'error' event; the pipeline still sees it.
  decoder?.on('error', () => undefined);
  // Holds one frame and lets its bytes go only once its tag checked: nothing unauthenticated reaches the decoder or a segment.
  const decipher = entry.cipher ? createObjectDecryptor(entry.cipher, object) : undefined;
  const reader = opened ?? (await sink.openReader(object, { signal }).catch((error: unknown) => {
    decoder?.destroy();
    throw error;
  }));
  const stored = createCrc32Meter({
    object,
    what: 'stored bytes',
    ...(entry.storedBytes === undefined ? {} : { expectedBytes: entry.storedBytes }),
    // An encrypted object's every byte is authenticated by its frame's tag, a check the CRC-32 cannot add
    // to: it is counted only (measured: the CRC was 0.5 s of the main thread's 4.6 s in a 2.2 GB restore).
    ...(entry.cipher ? { crc32: false } : entry.storedCrc32 === undefined ? {} : { expectedCrc32: entry.storedCrc32 }),
  });
  const raw = direct ? undefined : createCrc32Meter({
    object,
    what: 'raw bytes',
    expectedBytes: segment.size,
    ...(entry.rawCrc32 === undefined ? {} : { expectedCrc32: entry.rawCrc32 }),
    onBytes: (bytes) => progress.advance(bytes),
  });
  const sha256 = entry.sha256 === undefined ? undefined : new Sha256Meter({ object, expected: entry.sha256 });
  // sink → stored CRC (→ SHA-256) → decipher → codec decoder → raw CRC → target; a raw, plain object has one meter.
  const plain = !decoder && !decipher;
  const streams = [reader, plain ? undefined : stored, sha256, decipher, decoder, raw, direct ? undefined : destination.stream].filter((s) => s !== undefined);
  try {
    await pipelineSettled(streams, signal);
    if (direct) {
      const written = direct.written();
      if (written.bytes !== segment.size) throw errSizeMismatch(object, segment.size, written.bytes, 'raw bytes');
      if (entry.rawCrc32 !== undefined && written.crc32 >>> 0 !== entry.rawCrc32 >>> 0) throw errChecksumMismatch(object, 'raw bytes', entry.rawCrc32, written.crc32);
    }
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
  /**
   * Raw objects go straight into the segment when the sink reads at positions
   * and the target offers its memory (`copyDirect`); false forces the stream
   * path (for measurements). @default true
   */
  readonly directCopy?: boolean;
}

/** A raw object read in ranges straight into the segment's memory. */
async function transferDirect(sink: Sink, entry: RestoreEntry, reader: RandomReader, windows: DirectWindows, progress: ProgressTracker, signal: AbortSignal): Promise<void> {
  const { segment, object } = entry;
  try {
    if (entry.storedBytes !== undefined && entry.storedBytes !== segment.size) throw errSizeMismatch(object, segment.size, entry.storedBytes, 'stored bytes recorded');
    await copyDirect(reader, windows, {
      object,
      // Ranged reads copy on the main thread; pread faults in the kernel on the pool already.
      prefault: sink.openRandomReader === undefined,
      size: segment.size,
      ...(entry.rawCrc32 === undefined ? {} : { expectedCrc32: entry.rawCrc32 }),
      ...(entry.zeroRanges ? { zeroRanges: entry.zeroRanges } : {}),
      signal,
      onBytes: (bytes) => progress.advance(bytes),
    });
  } catch (error) {
    if (signal.aborted && !isShmsnapError(error)) throw abortReason(signal, 'restore');
    throw toShmsnapError(error, 'read', `${sink.location}/${object}`);
  } finally {
    await reader.close().catch(() => undefined);
  }
}

export interface RestoreRunOptions {
  /** Aborts the restore, which removes every segment it created; once every segment is written and checked it is ignored. */
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
  /** Called once every segment is written and checked (the commit point): from then on the restore completes whatever the signal. */
  readonly onCommitted?: () => void;
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
  // Decoders take the whole concurrency: zstd's worker pool is process-wide and sized by it; gzip's piece decoder bounds its own jobs.
  const context: TransferContext = { sink, threads: concurrency, progress };

  // Raw objects straight into the segment: through the sink's positional reads, or its ranged reads (S3).
  const direct = execution.directCopy !== false && (sink.openRandomReader !== undefined || sink.capabilities.rangedReads);
  // The commit point: every segment written and checked. An abort after it has nothing left to stop, so the
  // restore completes (rolling back then would throw away a whole, verified restore).
  let restored = 0;
  let committed = false;
  const commit = (): void => {
    if (committed) return;
    committed = true;
    options.onCommitted?.();
  };
  const restoreOne = async (entry: RestoreEntry, entrySignal: AbortSignal): Promise<void> => {
    progress.started(entry.object);
    // The object is opened before its segment is created: one that cannot be read (missing, not a
    // regular file) creates nothing. A target that offers no `direct` for this segment (the shm
    // base, whose shutdown status it withholds) gets the stream instead.
    const { object } = entry;
    // Encrypted objects never go straight into memory: each frame is checked before its bytes may reach the segment.
    const positional = direct && entry.codec.identity && !entry.cipher && entry.sha256 === undefined;
    let random: RandomReader | undefined = positional
      ? sink.openRandomReader ? await sink.openRandomReader(object, { signal: entrySignal }) : await rangedRandomReader(sink, object, entrySignal)
      : undefined;
    let stream: Readable | undefined = positional ? undefined : await sink.openReader(object, { signal: entrySignal });
    // Until the pipeline takes it, an error it emits (a dropped connection) must not be an uncaught one; the pipeline still sees it.
    stream?.on('error', () => undefined);
    try {
      const writer = await target.create(entry.segment, { signal: entrySignal });
      if (random && writer.direct) await transferDirect(sink, entry, random, writer.direct, progress, entrySignal);
      else {
        await random?.close();
        random = undefined;
        stream ??= await sink.openReader(object, { signal: entrySignal });
        await transfer(context, entry, writer, entrySignal, stream);
        stream = undefined; // the pipeline owns it
      }
      await writer.commit();
      restored += 1;
      if (restored === entries.length) commit();
    } finally {
      await random?.close().catch(() => undefined);
      stream?.destroy();
    }
    progress.finished(entry.object);
  };
  /** An abort that came after every segment was restored is no failure (runBounded reports the signal regardless). */
  const unlessCommitted = (error: unknown): void => {
    if (!committed) throw error;
  };
  const readers = Math.min(concurrency, sink.capabilities.maxConcurrency);
  // Decoding is CPU work: more compressed objects in flight than cores only hold more decoder memory
  // (measured at --threads 8 on 2 vCPUs: gzip 402 MiB peak RSS). Raw objects are I/O: all of them.
  const decoding = Math.max(1, Math.min(readers, Math.max(2, availableParallelism())));
  try {
    const isBase = (entry: RestoreEntry): boolean => entry.segment.kind === 'primary-base';
    const limitFor = (group: readonly RestoreEntry[]): number => (group.every((e) => e.codec.identity) ? readers : decoding);
    const rest = entries.filter((e) => !isBase(e));
    const bases = entries.filter(isBase);
    await runBounded(rest, limitFor(rest), restoreOne, { signal, what: 'restore' }).catch(unlessCommitted);
    await runBounded(bases, limitFor(bases), restoreOne, { signal, what: 'restore' }).catch(unlessCommitted);
    if (signal.aborted && !committed) throw abortReason(signal, 'restore');
    commit();
    await target.complete();
  } catch (error) {
    await target.rollback();
    throw signal.aborted && !committed ? abortReason(signal, 'restore') : error;
  }
  progress.end();
  return { segments: totals.segments, rawBytes: totals.bytes, elapsedMs: performance.now() - started };
}

/** Checks the target, then restores: for library users who hold entries already (prepareRestore does both for a location). */
export async function runRestore(options: RestoreExecution & RestoreRunOptions): Promise<TransferResult> {
  await options.target.check(options.entries.map((e) => e.segment), options.signal ? { signal: options.signal } : {});
  return executeRestore(options, options);
}
