/**
 * Backup: source → CRC-32 (raw) → codec → CRC-32 (stored) → sink, per
 * segment, a bounded number of segments at a time.
 *
 * Commit protocol (what makes "no partial backup" true):
 * 1. Refuse a location that already holds a manifest, a pending marker, or
 *    any object a planned one would collide with.
 * 2. Write the pending marker: from here on, the location is recognisably
 *    "a shmsnap backup that was started", even after SIGKILL.
 * 3. Write every segment object, base segments last (so that even ASMT sees
 *    no namespace in an interrupted backup).
 * 4. Write the manifest: the commit point, only once the source confirmed
 *    (`checkUnchanged`, after each segment and again here) that no segment
 *    was attached or changed since it was listed.
 * 5. Remove the marker.
 * Any failure or abort before 4 completes removes every object this run
 * committed (marker included) before the error is reported.
 */
import { Writable } from 'node:stream';
import { hasPieceIndex, type Codec } from '../contracts/codec.js';
import { codecNone } from './codec-none.js';
import { createCrc32Meter } from './checksum.js';
import type { FrameCipher } from '../contracts/frame-cipher.js';
import type { KeyProvider } from '../contracts/key-provider.js';
import { createObjectEncryptor, newBackupEncryption, type NewBackupEncryption } from '../crypto/backup-cipher.js';
import { encryptedSize } from '../crypto/frames.js';
import { Sha256Meter, type HashAlgorithm } from './hash.js';
import { errBackupExists, errSizeMismatch, isShmsnapError, toShmsnapError } from '../errors.js';
import {
  ENCRYPTED_SUFFIX,
  MANIFEST_FORMAT_VERSION,
  manifestName,
  parseBackupObjectName,
  coversSameNamespace,
  pendingName,
  serializeManifest,
  serializePendingMarker,
  type HostIdentity,
  type Manifest,
  type ManifestAerospike,
  type ManifestSegment,
} from '../format/manifest.js';
import { createProgressTracker, type ProgressListener, type ProgressTracker } from './progress.js';
import type { SegmentDescriptor } from '../contracts/segment.js';
import { isUncompressedKind, segmentFileConflicts, segmentObjectName } from '../format/asmt-directory.js';
import { abortReason, pipelineSettled, runBounded } from './settle.js';
import type { Sink } from '../contracts/sink.js';
import type { SegmentSource } from '../contracts/source.js';
import { writeObject } from './sink-io.js';
import { ZeroRangeFinder } from './zero-ranges.js';

export interface BackupPlanEntry {
  readonly segment: SegmentDescriptor;
  readonly codec: Codec;
  readonly object: string;
}

/**
 * Which codec and object name each segment gets (bases and metas are never
 * compressed, as ASMT). An encrypted backup's objects, every one, end in
 * `.enc` (`ae001100.dat.zst.enc`): a name ASMT does not read.
 */
export function backupEntries(segments: readonly SegmentDescriptor[], codec: Codec, encrypted = false): BackupPlanEntry[] {
  return segments.map((segment) => {
    const chosen = isUncompressedKind(segment.kind) ? codecNone : codec;
    return { segment, codec: chosen, object: `${segmentObjectName(segment, chosen)}${encrypted ? ENCRYPTED_SUFFIX : ''}` };
  });
}

/**
 * Refuses a location that already holds a backup (complete or interrupted)
 * of one of the planned namespaces, or a segment file of one of them
 * (ASMT's rule). Changes nothing.
 */
export async function checkBackupLocation(sink: Sink, plan: readonly BackupPlanEntry[], signal: AbortSignal | undefined): Promise<void> {
  const existing = await sink.list('', signal ? { signal } : {});
  const ours = { instance: plan[0]!.segment.instance, nsids: [...new Set(plan.map((e) => e.segment.nsid))] };
  for (const info of existing) {
    const other = parseBackupObjectName(info.name);
    // A consumed marker left without its manifest says nothing about a new backup (its record names the manifest it was for).
    if (!other || other.kind === 'consumed' || !coversSameNamespace(ours, other)) continue;
    throw errBackupExists(
      sink.location,
      other.kind === 'manifest'
        ? `it already holds a shmsnap backup of instance ${other.instance}, namespace ids ${other.nsids.join(',')} (${info.name})`
        : `it holds an interrupted shmsnap backup of instance ${other.instance}, namespace ids ${other.nsids.join(',')} (${info.name}); remove that backup's files first`,
    );
  }
  const reasons = segmentFileConflicts(existing, plan.map((e) => e.segment));
  if (reasons.length > 0) throw errBackupExists(sink.location, reasons.join('; '));
}

/** What `executeBackup` needs: a plan that passed every check of `prepareBackup`. */
export interface BackupExecution {
  readonly source: SegmentSource;
  readonly sink: Sink;
  readonly codec: Codec;
  readonly level: number | null;
  readonly entries: readonly BackupPlanEntry[];
  readonly namespaces: readonly { readonly name: string; readonly nsid: number }[];
  readonly concurrency: number;
  readonly codecThreads?: number;
  readonly host: HostIdentity;
  readonly tool: { readonly name: string; readonly version: string };
  readonly now: () => Date;
  /** The manifest's `aerospike` record (location/preflight.ts), when the frontend read the host's. */
  readonly aerospike?: ManifestAerospike;
  /** Encrypt every object and authenticate the manifest, with a fresh data key this provider wraps. */
  readonly encryption?: KeyProvider;
  /** Seals the frames of encrypted objects. @default node:crypto's AES-256-GCM */
  readonly frameCipher?: FrameCipher;
  /** Also record a SHA-256 of each object's stored bytes. */
  readonly hash?: HashAlgorithm;
}

export interface BackupRunOptions {
  /** Aborts the backup, which removes what it wrote; once the manifest is written (the commit point) it is ignored. */
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
  /** Called once the manifest is written: the backup stands, and from then on nothing aborts or removes it. */
  readonly onCommitted?: () => void;
}

export interface BackupResult {
  readonly manifest: Manifest;
  /** The manifest's object name at the location. */
  readonly manifestObject: string;
  readonly elapsedMs: number;
}

async function checksumSegment(source: SegmentSource, segment: SegmentDescriptor, object: string, signal: AbortSignal): Promise<number> {
  const reader = await source.open(segment, { signal });
  const meter = createCrc32Meter({ object, what: 'raw bytes', expectedBytes: segment.size });
  const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  try {
    await pipelineSettled([reader.stream, meter, discard], signal);
  } finally {
    await reader.close();
  }
  return meter.result.crc32;
}

interface SegmentRun {
  readonly options: BackupExecution;
  /** Parallel work inside one segment. */
  readonly codecThreads: number;
  readonly level: number | null;
  readonly progress: ProgressTracker;
  /** Objects committed so far by this run, for cleanup. */
  readonly committed: string[];
  readonly encryption: NewBackupEncryption | undefined;
}

async function backupSegment(run: SegmentRun, entry: BackupPlanEntry, signal: AbortSignal): Promise<ManifestSegment> {
  const { source, sink } = run.options;
  const { segment, codec, object } = entry;
  const threads = run.codecThreads;
  const rawCrc32 = codec.needsRawCrc32 ? await checksumSegment(source, segment, object, signal) : undefined;

  run.progress.started(object);
  const reader = await source.open(segment, { signal });
  try {
    // Before the writer: a codec that cannot start (its addon did not load)
    // fails here, with no stream of ours left open to destroy.
    const encoder = codec.identity
      ? undefined
      : codec.createEncoder({
          rawSize: segment.size,
          ...(rawCrc32 === undefined ? {} : { rawCrc32 }),
          ...(run.level === null ? {} : { level: run.level }),
          threads,
          objectName: object,
          signal,
        });
    // Until the pipeline below listens, an abort (its signal) or a failure must not be an unhandled 'error' event; the pipeline still sees it.
    encoder?.on('error', () => undefined);
    const cipher = run.encryption ? createObjectEncryptor(run.encryption.cipher, object) : undefined;
    const frameBytes = run.encryption?.cipher.frameBytes;
    const writer = await sink
      .openWriter(object, {
        ...(codec.identity ? { expectedBytes: frameBytes ? encryptedSize(segment.size, frameBytes) : segment.size } : {}),
        sizeHint: (frameBytes ? encryptedSize(segment.size, frameBytes) : segment.size) + Math.ceil(segment.size / 1000) + 4096,
        attributes: { uid: segment.uid, gid: segment.gid, mode: segment.mode },
        signal,
      })
      .catch((error: unknown) => {
        encoder?.destroy();
        throw error;
      });
    // Zero runs serve the direct restore of raw objects, which encrypted ones never take.
    const zeros = codec.identity && !cipher ? new ZeroRangeFinder(segment.size) : undefined;
    // A codec given the CRC-32 in advance checks the bytes against it itself
    // (contracts/codec.ts): a second pass here cost ~0.5 CPU-s per 2 GiB.
    const raw = createCrc32Meter({
      object,
      what: 'raw bytes',
      expectedBytes: segment.size,
      ...(rawCrc32 === undefined ? {} : { crc32: false }),
      onBytes: (bytes) => run.progress.advance(bytes),
      // Raw objects only: their restore reads straight into the segment and can skip zero runs.
      ...(zeros ? { observe: (chunk: Buffer) => zeros.add(chunk) } : {}),
    });
    const stored = codec.identity && !cipher ? raw : createCrc32Meter({ object, what: 'stored bytes' });
    const sha256 = run.options.hash === 'sha256' ? new Sha256Meter({ object }) : undefined;
    // source → raw CRC → codec → cipher → stored CRC (→ SHA-256) → sink; each optional stage only when it does something.
    const streams = [reader.stream, raw, encoder, cipher, stored === raw ? undefined : stored, sha256, writer.stream].filter((s) => s !== undefined);
    try {
      await pipelineSettled(streams, signal);
      const info = await writer.commit();
      run.committed.push(object);
      if (info.size !== stored.result.bytes) throw errSizeMismatch(object, stored.result.bytes, info.size, 'bytes stored by the sink');
    } catch (error) {
      await writer.abort(error).catch(() => undefined);
      if (signal.aborted && !isShmsnapError(error)) throw abortReason(signal, 'backup');
      throw toShmsnapError(error, 'backup', object);
    }
    run.progress.finished(object);
    const pieces = encoder && hasPieceIndex(encoder) ? encoder.pieceIndex() : undefined;
    const zeroRanges = zeros?.ranges() ?? [];
    return {
      ...segment,
      object,
      codec: codec.name,
      rawBytes: raw.result.bytes,
      rawCrc32: rawCrc32 ?? raw.result.crc32,
      storedBytes: stored.result.bytes,
      storedCrc32: stored.result.crc32,
      ...(pieces ? { pieces } : {}),
      ...(zeroRanges.length > 0 ? { zeroRanges } : {}),
      ...(sha256 ? { sha256: sha256.digest } : {}),
    };
  } finally {
    await reader.close();
  }
}

async function removeQuietly(sink: Sink, names: readonly string[]): Promise<string[]> {
  const left: string[] = [];
  for (const name of names) {
    try {
      await sink.remove(name);
    } catch {
      left.push(name);
    }
  }
  return left;
}

/**
 * Runs a checked plan: pending marker, every segment object (bases last),
 * the manifest, then the marker's removal. Checks nothing that
 * `prepareBackup` checked, except the location, again, just before the
 * marker: another run may have written there since.
 */
export async function executeBackup(plan: BackupExecution, options: BackupRunOptions = {}): Promise<BackupResult> {
  const { sink, entries, concurrency } = plan;
  const { signal } = options;
  const started = performance.now();
  // Memory is bounded per writer; the sink bounds how many writers there are.
  const writers = Math.min(concurrency, sink.capabilities.maxConcurrency);
  await checkBackupLocation(sink, entries, signal);
  const segments = entries.map((e) => e.segment);
  const committed: string[] = [];
  const progress = createProgressTracker('backup', { bytes: segments.reduce((sum, s) => sum + s.size, 0), segments: segments.length }, options.onProgress);
  const outerSignal = signal ?? new AbortController().signal;

  const nsids = plan.namespaces.map((n) => n.nsid);
  const instance = segments[0]!.instance;
  const pendingObject = pendingName(instance, nsids);
  try {
    await writeObject(sink, pendingObject, serializePendingMarker({ startedAt: plan.now().toISOString(), host: plan.host, tool: plan.tool, pid: process.pid }), outerSignal);
    committed.push(pendingObject);

    // The codec's parallelism is shared by the segments in flight: memory and
    // threads stay bounded by the concurrency, not multiplied by it.
    const codecThreads = plan.codecThreads ?? Math.max(1, Math.floor(concurrency / Math.min(writers, entries.length)));
    const encryption = plan.encryption ? await newBackupEncryption(plan.encryption, { frameCipher: plan.frameCipher }) : undefined;
    const run: SegmentRun = { options: plan, level: plan.level, codecThreads, progress, committed, encryption };
    const isBase = (entry: BackupPlanEntry): boolean => entry.segment.kind === 'primary-base';
    // After each segment, every segment is checked again (attached, written,
    // a base no longer clean since the listing): a torn copy fails the run
    // as soon as the source can tell.
    const oneSegment = async (entry: BackupPlanEntry, segmentSignal: AbortSignal): Promise<ManifestSegment> => {
      const stored = await backupSegment(run, entry, segmentSignal);
      await plan.source.checkUnchanged?.({ signal: segmentSignal });
      return stored;
    };
    const first = await runBounded(entries.filter((e) => !isBase(e)), writers, oneSegment, { signal: outerSignal, what: 'backup' });
    const last = await runBounded(entries.filter(isBase), writers, oneSegment, { signal: outerSignal, what: 'backup' });
    const bySegmentKey = new Map([...first, ...last].map((s) => [s.key, s]));

    const manifest: Manifest = {
      formatVersion: MANIFEST_FORMAT_VERSION,
      tool: plan.tool,
      createdAt: plan.now().toISOString(),
      host: plan.host,
      instance,
      namespaces: plan.namespaces,
      codec: { name: plan.codec.name, level: plan.level },
      segments: entries.map((entry) => bySegmentKey.get(entry.segment.key)!),
      ...(plan.aerospike ? { aerospike: plan.aerospike } : {}),
      ...(encryption ? { encryption: encryption.record } : {}),
    };
    if (outerSignal.aborted) throw abortReason(outerSignal, 'backup');
    // The last word before the commit point: nothing of what was read may have changed since.
    await plan.source.checkUnchanged?.({ signal: outerSignal });
    const manifestObject = manifestName(manifest.instance, nsids);
    const manifestBytes = serializeManifest(manifest, encryption ? { macKey: encryption.keys.macKey } : {});
    await writeObject(sink, manifestObject, manifestBytes, outerSignal);
    committed.length = 0; // committed: from here on nothing is removed on failure
    options.onCommitted?.();
    await removeQuietly(sink, [pendingObject]);
    progress.end();
    return { manifest, manifestObject, elapsedMs: performance.now() - started };
  } catch (error) {
    const left = await removeQuietly(sink, [...committed].reverse());
    const reported = outerSignal.aborted ? abortReason(outerSignal, 'backup') : error;
    throw left.length > 0 && isShmsnapError(reported) ? reported.withDetails({ leftBehind: left }) : reported;
  }
}
