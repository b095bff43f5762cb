/**
 * What a restore from a location will do: which objects become which
 * segments, with which check values, after every check on the set.
 *
 * Sources, per namespace:
 * - a shmsnap manifest: segments, sizes, owners, modes and CRC-32s as
 *   recorded (owner and mode from the manifest, not the files: a copy that
 *   lost ownership, or S3, restores right);
 * - otherwise ASMT's files (no manifest), inferred as ASMT does: names give
 *   the keys, the base file gives the namespace, `.dat.gz` headers give sizes
 *   and CRC-32s, file owner and mode give the segments' (§17, §18).
 * Either way the set goes through the same analysis as live segments: base
 * version and shutdown status, treex, stage counts and contiguity, metas,
 * data names. A namespace whose backup was interrupted is refused.
 */
import { Writable } from 'node:stream';
import {
  errBackupIncomplete,
  errBackupNotFound,
  errConfigInvalid,
  errCorruptObject,
  errNamespaceNotFound,
  errSegmentInvalid,
  isShmsnapError,
  pipelineSettled,
  readLocation,
  type Codec,
  type LocationBackup,
  type LocationState,
  type ManifestSegment,
  type ObjectInfo,
  type RestoreEntry,
  type SegmentDescriptor,
  type Sink,
} from '@shmsnap/core';
import { analyzeLayout, requireNamespaces, type LayoutEntry, type NamespaceAnalysis } from './layout/analysis.js';
import { BASE_MIN_BYTES, DATA_MIN_BYTES, DATA_NAME_OFFSET, META_MIN_BYTES, parseBase, readMetaStageCount, readName } from './layout/fields.js';
import { decodeKey, parseSegmentFileName } from './layout/key.js';

export interface CodecLookup {
  codec(name: string): Codec;
  codecForObject(objectName: string): Codec | undefined;
}

/** Stored bytes [start, end) of an object. */
export async function readRange(sink: Sink, object: string, start: number, end: number, signal?: AbortSignal): Promise<Buffer> {
  const stream = await sink.openReader(object, { range: { start, end }, ...(signal ? { signal } : {}) });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).subarray(0, end - start);
}

/** Raw bytes from the start of an object, through its codec. */
export async function readRawHead(sink: Sink, object: string, codec: Codec, rawSize: number, bytes: number, signal?: AbortSignal): Promise<Buffer> {
  const wanted = Math.min(bytes, rawSize);
  if (codec.identity) return readRange(sink, object, 0, wanted, signal);
  // Decode only as far as needed, then stop the transfer.
  const stop = new AbortController();
  const chunks: Buffer[] = [];
  let got = 0;
  const collect = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk.subarray(0, wanted - got)));
      got += Math.min(chunk.length, wanted - got);
      callback();
      if (got >= wanted) stop.abort();
    },
  });
  const reader = await sink.openReader(object, signal ? { signal } : {});
  const decoder = codec.createDecoder({ rawSize, objectName: object, signal: stop.signal });
  try {
    await pipelineSettled([reader, decoder, collect], signal ? AbortSignal.any([signal, stop.signal]) : stop.signal);
  } catch (error) {
    if (got < wanted) throw error;
  }
  return Buffer.concat(chunks);
}

async function fieldsOf(
  sink: Sink,
  entry: { object: string; key: number; codec: Codec; rawSize: number },
  signal: AbortSignal | undefined,
): Promise<Pick<LayoutEntry, 'base' | 'metaStageCount' | 'dataName'>> {
  const kind = decodeKey(entry.key)?.kind;
  const head = async (bytes: number): Promise<Buffer> => readRawHead(sink, entry.object, entry.codec, entry.rawSize, bytes, signal);
  try {
    if (kind === 'primary-base') {
      if (!entry.codec.identity) return { base: errSegmentInvalid(entry.object, 'a base segment file must be uncompressed (.dat), as ASMT writes it') };
      return { base: parseBase(await head(BASE_MIN_BYTES), entry.object) };
    }
    if (kind === 'secondary-meta') {
      if (!entry.codec.identity) return { base: errSegmentInvalid(entry.object, 'a secondary meta file must be uncompressed (.dat), as ASMT writes it') };
      return entry.rawSize >= META_MIN_BYTES ? { metaStageCount: readMetaStageCount(await head(META_MIN_BYTES)) } : {};
    }
    if (kind === 'data-stage') return entry.rawSize >= DATA_MIN_BYTES ? { dataName: readName(await head(DATA_MIN_BYTES), DATA_NAME_OFFSET) } : {};
  } catch (error) {
    if (isShmsnapError(error) && kind === 'primary-base') return { base: error };
    throw error;
  }
  return {};
}

/** One object of the plan before analysis: where it comes from and what it becomes. */
interface Candidate {
  readonly entry: LayoutEntry;
  readonly restore: RestoreEntry | ((analysis: NamespaceAnalysis) => RestoreEntry);
}

async function manifestCandidates(sink: Sink, backup: LocationBackup, codecs: CodecLookup, signal?: AbortSignal): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const s of backup.manifest.segments) {
    const codec = codecs.codec(s.codec);
    const fields = s.kind === 'data-stage' ? { dataName: s.namespace } : await fieldsOf(sink, { object: s.object, key: s.key, codec, rawSize: s.size }, signal);
    const { object, codec: _codec, rawBytes: _raw, rawCrc32, storedBytes, storedCrc32, ...segment }: ManifestSegment = s;
    out.push({
      entry: { key: s.key, size: s.size, label: object, ...fields },
      restore: { segment, object, codec, storedBytes, storedCrc32, rawCrc32 },
    });
  }
  return out;
}

export interface AsmtFile {
  readonly info: ObjectInfo;
  readonly key: number;
  readonly codec: Codec;
}

/** Objects that are ASMT segment files of `instance` (or of any instance). */
export function asmtFiles(objects: readonly ObjectInfo[], codecs: CodecLookup, instance?: number): AsmtFile[] {
  const out: AsmtFile[] = [];
  for (const info of objects) {
    const parsed = parseSegmentFileName(info.name);
    if (!parsed || (instance !== undefined && parsed.decoded.instance !== instance)) continue;
    const codec = codecs.codecForObject(parsed.extension);
    if (codec) out.push({ info, key: parsed.key, codec });
  }
  return out;
}

/**
 * The raw size and CRC-32 an ASMT file states: its own size for `.dat`, its
 * header for compressed files (`object` is the file's path at the sink). A
 * compressed file whose codec cannot state them is CORRUPT_OBJECT.
 */
export async function readFileHeader(sink: Sink, object: string, file: AsmtFile, signal?: AbortSignal): Promise<{ rawSize: number; rawCrc32?: number }> {
  if (file.codec.identity) return { rawSize: file.info.size };
  if (!file.codec.readHeader || file.codec.headerBytes === 0) {
    throw errCorruptObject(object, `codec '${file.codec.name}' objects cannot be restored without a shmsnap manifest`);
  }
  return file.codec.readHeader(await readRange(sink, object, 0, Math.min(file.codec.headerBytes, file.info.size), signal), object);
}

/** The latest modification time among `files`, when the sink tells. */
export function newestModified(files: readonly AsmtFile[]): Date | undefined {
  return files.reduce<Date | undefined>((latest, f) => (f.info.modified && (!latest || f.info.modified > latest) ? f.info.modified : latest), undefined);
}

async function asmtCandidates(sink: Sink, files: readonly AsmtFile[], instance: number, signal?: AbortSignal): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const file of files) {
    const object = file.info.name;
    const { rawSize, rawCrc32 } = await readFileHeader(sink, object, file, signal);
    const fields = await fieldsOf(sink, { object, key: file.key, codec: file.codec, rawSize }, signal);
    const decoded = decodeKey(file.key)!;
    // ASMT keeps owner and mode in the files (§17); where the sink has none, Aerospike's defaults.
    const attributes = file.info.attributes ?? { uid: 0, gid: 0, mode: 0o666 };
    out.push({
      entry: { key: file.key, size: rawSize, label: object, ...fields },
      restore: (ns) => ({
        segment: {
          key: file.key,
          kind: decoded.kind!,
          instance,
          nsid: decoded.nsid,
          namespace: ns.namespace,
          stage: decoded.stage,
          size: rawSize,
          uid: attributes.uid,
          gid: attributes.gid,
          mode: attributes.mode & 0o777,
        } satisfies SegmentDescriptor,
        object,
        codec: file.codec,
        storedBytes: file.info.size,
        ...(rawCrc32 === undefined ? {} : { rawCrc32 }),
      }),
    });
  }
  return out;
}

export type PlanSource =
  | { readonly kind: 'manifest'; readonly name: string; readonly backup: LocationBackup }
  | { readonly kind: 'asmt'; readonly newest: Date | undefined };

export interface RestorePlan {
  readonly location: string;
  readonly instance: number;
  readonly namespaces: readonly { readonly name: string; readonly nsid: number; readonly source: PlanSource }[];
  /** In restore order as planned (the pipeline writes bases last). */
  readonly entries: readonly RestoreEntry[];
}

export interface PlanRestoreOptions {
  readonly sink: Sink;
  readonly codecs: CodecLookup;
  /** Default: the one instance the location holds backups of. */
  readonly instance?: number;
  /** Default: every namespace of the instance. */
  readonly namespaces?: readonly string[];
  readonly signal?: AbortSignal;
  /** An already read location. */
  readonly state?: LocationState;
}

function instancesIn(state: LocationState, codecs: CodecLookup): number[] {
  const claimed = new Set(state.backups.flatMap((b) => b.manifest.segments.map((s) => s.object)));
  const found = new Set<number>([
    ...state.backups.map((b) => b.manifest.instance),
    ...state.interrupted.map((i) => i.instance),
    ...asmtFiles(state.objects.filter((o) => !claimed.has(o.name)), codecs).map((f) => decodeKey(f.key)!.instance),
  ]);
  return [...found].sort((a, b) => a - b);
}

export async function planRestore(options: PlanRestoreOptions): Promise<RestorePlan> {
  const { sink, codecs, signal } = options;
  const state = options.state ?? (await readLocation(sink, signal));
  const instances = instancesIn(state, codecs);
  if (instances.length === 0) throw errBackupNotFound(sink.location, 'no shmsnap manifest and no ASMT segment files');
  let instance = options.instance;
  if (instance === undefined) {
    if (instances.length > 1) throw errConfigInvalid('--instance', `${sink.location} holds backups of instances ${instances.join(', ')}; choose one`);
    instance = instances[0]!;
  }
  const backups = state.backups.filter((b) => b.manifest.instance === instance);
  const interrupted = state.interrupted.filter((i) => i.instance === instance);
  const claimed = new Set(state.backups.flatMap((b) => b.manifest.segments.map((s) => s.object)));
  const interruptedNsids = new Set(interrupted.flatMap((i) => i.nsids));
  const files = asmtFiles(state.objects.filter((o) => !claimed.has(o.name)), codecs, instance).filter(
    (f) => !interruptedNsids.has(decodeKey(f.key)!.nsid),
  );
  if (backups.length === 0 && files.length === 0) {
    if (interrupted.length > 0) throw errBackupIncomplete(sink.location, `${interrupted.map((i) => i.name).join(', ')} without a manifest: the backup was interrupted`);
    throw errBackupNotFound(sink.location, `nothing of instance ${instance}`);
  }
  if (interrupted.length > 0 && options.namespaces === undefined) {
    throw errBackupIncomplete(sink.location, `${interrupted.map((i) => i.name).join(', ')} without a manifest: a backup of instance ${instance} was interrupted (name the namespaces to restore the others)`);
  }

  const candidates: { candidate: Candidate; source: PlanSource }[] = [];
  for (const backup of backups) {
    const source: PlanSource = { kind: 'manifest', name: backup.name, backup };
    for (const candidate of await manifestCandidates(sink, backup, codecs, signal)) candidates.push({ candidate, source });
  }
  const asmtSource: PlanSource = { kind: 'asmt', newest: newestModified(files) };
  for (const candidate of await asmtCandidates(sink, files, instance, signal)) candidates.push({ candidate, source: asmtSource });

  const analysis = analyzeLayout(candidates.map((c) => c.candidate.entry), { requireClean: true, requireDetached: false, noun: 'segment file' });
  let selected: NamespaceAnalysis[];
  try {
    selected = requireNamespaces(analysis, { instance, ...(options.namespaces ? { namespaces: options.namespaces } : {}) }, sink.location);
  } catch (error) {
    if (isShmsnapError(error, 'NAMESPACE_NOT_FOUND') && interrupted.length > 0) {
      throw errBackupIncomplete(sink.location, `${String(error.details.namespace)} is not among the complete backups, and ${interrupted.map((i) => i.name).join(', ')} shows an interrupted one`);
    }
    throw error;
  }

  const byKey = new Map(candidates.map((c) => [c.candidate.entry.key, c]));
  const entries: RestoreEntry[] = [];
  const namespaces: RestorePlan['namespaces'][number][] = [];
  for (const ns of selected) {
    let source: PlanSource | undefined;
    for (const member of ns.members) {
      const found = byKey.get(member.entry.key)!;
      source ??= found.source;
      entries.push(typeof found.candidate.restore === 'function' ? found.candidate.restore(ns) : found.candidate.restore);
    }
    if (!source) throw errNamespaceNotFound(ns.namespace, instance, sink.location);
    namespaces.push({ name: ns.namespace, nsid: ns.nsid, source });
  }
  return { location: sink.location, instance, namespaces, entries };
}
