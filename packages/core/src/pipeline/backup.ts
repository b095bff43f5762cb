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
 * 4. Write the manifest: the commit point.
 * 5. Remove the marker.
 * Any failure or abort before 4 completes removes every object this run
 * committed (marker included) before the error is reported.
 */
import { Writable } from 'node:stream';
import type { Codec } from '../contracts/codec.js';
import { codecNone } from './codec-none.js';
import { createCrc32Meter } from './checksum.js';
import {
  errBackupExists,
  errConfigInvalid,
  errNothingSelected,
  errSizeMismatch,
  isShmsnapError,
  withPluginContext,
} from '../errors.js';
import {
  MANIFEST_FORMAT_VERSION,
  manifestName,
  parseBackupObjectName,
  pendingName,
  serializeManifest,
  type HostIdentity,
  type Manifest,
  type ManifestSegment,
} from '../format/manifest.js';
import { coversSameNamespace } from '../location/catalog.js';
import { createProgressTracker, type ProgressListener, type ProgressTracker } from './progress.js';
import type { SegmentDescriptor } from '../contracts/segment.js';
import { isUncompressedKind, segmentFileConflicts, segmentObjectName } from '../format/asmt-directory.js';
import { abortReason, pipelineSettled, runBounded } from './settle.js';
import type { ObjectInfo, Sink } from '../contracts/sink.js';
import type { SegmentSource } from '../contracts/source.js';
import { writeObject } from './sink-io.js';

export interface BackupPlanEntry {
  readonly segment: SegmentDescriptor;
  readonly codec: Codec;
  readonly object: string;
}

/** Which codec and object name each segment gets (bases and metas are never compressed, as ASMT). */
export function planBackup(segments: readonly SegmentDescriptor[], codec: Codec): BackupPlanEntry[] {
  return segments.map((segment) => {
    const chosen = isUncompressedKind(segment.kind) ? codecNone : codec;
    return { segment, codec: chosen, object: segmentObjectName(segment, chosen) };
  });
}

export interface BackupOptions {
  readonly source: SegmentSource;
  readonly sink: Sink;
  readonly codec: Codec;
  /** Codec level; the codec's default when omitted. */
  readonly level?: number;
  /** Segments transferred at once. @default 2 */
  readonly threads?: number;
  /** Parallel work inside one segment, for codecs that can split a segment. @default threads ÷ segments in flight */
  readonly codecThreads?: number;
  /** Segments already listed (and checked) by the caller; listed from the source otherwise. */
  readonly segments?: readonly SegmentDescriptor[];
  /**
   * Objects already at the location that would make this backup ambiguous
   * (ASMT refuses files of the same instance and namespace id): returns a
   * reason per offending object.
   */
  readonly conflicts?: (existing: readonly ObjectInfo[], plan: readonly BackupPlanEntry[]) => readonly string[];
  readonly host: HostIdentity;
  readonly tool: { readonly name: string; readonly version: string };
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
  readonly now?: () => Date;
}

export interface BackupResult {
  readonly manifest: Manifest;
  /** The manifest's object name at the location. */
  readonly manifestObject: string;
  readonly elapsedMs: number;
}

function checkLevel(codec: Codec, level: number | undefined): number | null {
  if (!codec.levels) {
    if (level !== undefined) throw errConfigInvalid('--level', `codec '${codec.name}' has no levels`);
    return null;
  }
  const chosen = level ?? codec.levels.default;
  if (!Number.isInteger(chosen) || chosen < codec.levels.min || chosen > codec.levels.max) {
    throw errConfigInvalid('--level', `codec '${codec.name}' takes levels ${codec.levels.min}..${codec.levels.max}, got ${chosen}`);
  }
  return chosen;
}

/**
 * Refuses a location that already holds a backup (complete or interrupted)
 * of one of the planned namespaces, a file of one of the planned segments,
 * or whatever `conflicts` objects to. Changes nothing: `--dry-run` runs it too.
 */
export async function checkBackupLocation(
  sink: Sink,
  plan: readonly BackupPlanEntry[],
  conflicts: BackupOptions['conflicts'],
  signal: AbortSignal | undefined,
): Promise<void> {
  let existing: readonly ObjectInfo[];
  try {
    existing = await sink.list('', signal ? { signal } : {});
  } catch (error) {
    throw withPluginContext(error, sink.name, 'list');
  }
  const ours = { instance: plan[0]!.segment.instance, nsids: [...new Set(plan.map((e) => e.segment.nsid))] };
  for (const info of existing) {
    const other = parseBackupObjectName(info.name);
    if (!other || !coversSameNamespace(ours, other)) continue;
    throw errBackupExists(
      sink.location,
      other.kind === 'manifest'
        ? `it already holds a shmsnap backup of instance ${other.instance}, namespace ids ${other.nsids.join(',')} (${info.name})`
        : `it holds an interrupted shmsnap backup of instance ${other.instance}, namespace ids ${other.nsids.join(',')} (${info.name}); remove that backup's files first`,
    );
  }
  const reasons = [...segmentFileConflicts(existing, plan.map((e) => e.segment)), ...(conflicts?.(existing, plan) ?? [])];
  if (reasons.length > 0) throw errBackupExists(sink.location, reasons.join('; '));
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
  readonly options: BackupOptions;
  /** Parallel work inside one segment. */
  readonly codecThreads: number;
  readonly level: number | null;
  readonly progress: ProgressTracker;
  /** Objects committed so far by this run, for cleanup. */
  readonly committed: string[];
}

async function backupSegment(run: SegmentRun, entry: BackupPlanEntry, signal: AbortSignal): Promise<ManifestSegment> {
  const { source, sink } = run.options;
  const { segment, codec, object } = entry;
  const threads = run.codecThreads;
  const rawCrc32 = codec.needsRawCrc32 ? await checksumSegment(source, segment, object, signal) : undefined;

  run.progress.started(object);
  const reader = await source.open(segment, { signal });
  try {
    let writer;
    try {
      writer = await sink.openWriter(object, {
        ...(codec.identity ? { expectedBytes: segment.size } : {}),
        sizeHint: segment.size + Math.ceil(segment.size / 1000) + 4096,
        attributes: { uid: segment.uid, gid: segment.gid, mode: segment.mode },
        signal,
      });
    } catch (error) {
      throw withPluginContext(error, sink.name, `openWriter ${object}`);
    }
    const raw = createCrc32Meter({
      object,
      what: 'raw bytes',
      expectedBytes: segment.size,
      ...(rawCrc32 === undefined ? {} : { expectedCrc32: rawCrc32 }),
      onBytes: (bytes) => run.progress.advance(bytes),
    });
    const stored = codec.identity ? raw : createCrc32Meter({ object, what: 'stored bytes' });
    try {
      if (codec.identity) {
        await pipelineSettled([reader.stream, raw, writer.stream], signal);
      } else {
        const encoder = codec.createEncoder({
          rawSize: segment.size,
          ...(rawCrc32 === undefined ? {} : { rawCrc32 }),
          ...(run.level === null ? {} : { level: run.level }),
          threads,
          objectName: object,
          signal,
        });
        await pipelineSettled([reader.stream, raw, encoder, stored, writer.stream], signal);
      }
      const info = await writer.commit();
      run.committed.push(object);
      if (info.size !== stored.result.bytes) throw errSizeMismatch(object, stored.result.bytes, info.size, 'bytes stored by the sink');
    } catch (error) {
      await writer.abort(error).catch(() => undefined);
      if (signal.aborted && !isShmsnapError(error)) throw abortReason(signal, 'backup');
      throw withPluginContext(error, sink.name, `write ${object}`);
    }
    run.progress.finished(object);
    return {
      ...segment,
      object,
      codec: codec.name,
      rawBytes: raw.result.bytes,
      rawCrc32: raw.result.crc32,
      storedBytes: stored.result.bytes,
      storedCrc32: stored.result.crc32,
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

export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const { sink, signal } = options;
  const threads = options.threads ?? 2;
  if (!Number.isInteger(threads) || threads < 1) throw errConfigInvalid('--threads', `expected a positive integer, got ${threads}`);
  // Memory is bounded per writer; the sink bounds how many writers there are.
  const writers = Math.min(threads, sink.capabilities.maxConcurrency);
  const level = checkLevel(options.codec, options.level);
  const segments = options.segments ?? (await options.source.list(signal ? { signal } : {}));
  if (segments.length === 0) throw errNothingSelected(options.source.name, 'no segments to back up');
  const instances = new Set(segments.map((s) => s.instance));
  if (instances.size !== 1) throw errConfigInvalid('--instance', `one backup holds one instance; found ${[...instances].join(', ')}`);
  const plan = planBackup(segments, options.codec);
  const started = performance.now();

  await checkBackupLocation(sink, plan, options.conflicts, signal);
  const now = options.now ?? (() => new Date());
  const committed: string[] = [];
  const progress = createProgressTracker(
    'backup',
    { bytes: segments.reduce((sum, s) => sum + s.size, 0), segments: segments.length },
    options.onProgress,
  );
  const outerSignal = signal ?? new AbortController().signal;

  const nsids = [...new Set(segments.map((s) => s.nsid))];
  const pendingObject = pendingName(segments[0]!.instance, nsids);
  try {
    const pending = Buffer.from(`${JSON.stringify({ startedAt: now().toISOString(), host: options.host, tool: options.tool, pid: process.pid })}\n`);
    await writeObject(sink, pendingObject, pending, outerSignal);
    committed.push(pendingObject);

    // The codec's parallelism is shared by the segments in flight: memory and
    // threads stay bounded by --threads, not multiplied by it.
    const codecThreads = options.codecThreads ?? Math.max(1, Math.floor(threads / Math.min(writers, plan.length)));
    const run: SegmentRun = { options, level, codecThreads, progress, committed };
    const isBase = (entry: BackupPlanEntry): boolean => entry.segment.kind === 'primary-base';
    const first = await runBounded(plan.filter((e) => !isBase(e)), writers, (e, s) => backupSegment(run, e, s), { signal: outerSignal, what: 'backup' });
    const last = await runBounded(plan.filter(isBase), writers, (e, s) => backupSegment(run, e, s), { signal: outerSignal, what: 'backup' });
    const bySegmentKey = new Map([...first, ...last].map((s) => [s.key, s]));

    const namespaces = new Map<number, string>();
    for (const s of segments) if (s.kind === 'primary-base' || !namespaces.has(s.nsid)) namespaces.set(s.nsid, s.namespace);
    const manifest: Manifest = {
      formatVersion: MANIFEST_FORMAT_VERSION,
      tool: options.tool,
      createdAt: now().toISOString(),
      host: options.host,
      instance: segments[0]!.instance,
      namespaces: [...namespaces].sort(([a], [b]) => a - b).map(([nsid, name]) => ({ name, nsid })),
      codec: { name: options.codec.name, level },
      segments: plan.map((entry) => bySegmentKey.get(entry.segment.key)!),
    };
    if (outerSignal.aborted) throw abortReason(outerSignal, 'backup');
    const manifestObject = manifestName(manifest.instance, nsids);
    await writeObject(sink, manifestObject, serializeManifest(manifest), outerSignal);
    committed.length = 0; // committed: from here on nothing is removed on failure
    await removeQuietly(sink, [pendingObject]);
    progress.end();
    return { manifest, manifestObject, elapsedMs: performance.now() - started };
  } catch (error) {
    const left = await removeQuietly(sink, [...committed].reverse());
    const reported = outerSignal.aborted ? abortReason(outerSignal, 'backup') : error;
    throw left.length > 0 && isShmsnapError(reported) ? reported.withDetails({ leftBehind: left }) : reported;
  }
}
