/**
 * The restore set of a location, per instance: every object a restore would
 * use, read as far as planning reads (listing, headers, base fields), and the
 * layout analysis over them. `prepareRestore`, `prepareVerify` and
 * `listBackups` all assess a location here, so the three cannot disagree: a
 * backup restore refuses is one verify fails and ls marks invalid, for the
 * same reason.
 *
 * Sources, per namespace:
 * - a shmsnap manifest: segments, sizes, owners, modes and CRC-32s as
 *   recorded. A manifest is the whole truth about the namespaces it covers:
 *   each object it lists must be at the location, a regular file of the
 *   recorded size; any other segment file of those namespaces is a conflict,
 *   never an extra ASMT file merged in.
 * - otherwise ASMT's files (no manifest), inferred as ASMT does: names give
 *   the keys, the base file gives the namespace, `.dat.gz` headers give sizes
 *   and CRC-32s, file owner and mode give the segments' (§17, §18).
 * - a `shmsnap-manifest-*` name that cannot be read as a manifest (not a
 *   regular file, unreadable, unparsable, its name disagreeing with its
 *   content) covers the namespaces its name gives: they are refused, never
 *   restored from the files beside it as if there were no manifest.
 *
 * A file that cannot be used (missing, not a regular file, an unreadable
 * header) stays in the analysis as an entry with its `problem`, so the
 * problem lands on the namespace it belongs to.
 */
import type { Codec } from '../contracts/codec.js';
import type { ObjectCipher } from '../crypto/backup-cipher.js';
import type { ObjectInfo, Sink } from '../contracts/sink.js';
import {
  errCorruptObject,
  errKeyRequired,
  errManifestInvalid,
  errObjectMissing,
  errSegmentInvalid,
  errSizeMismatch,
  isShmsnapError,
  toShmsnapError,
  type ShmsnapError,
} from '../errors.js';
import { decodeKey } from '../format/aerospike-key.js';
import { asmtFiles, asmtFileSegment, newestModified, readFileHeader, segmentObjectName, type AsmtFile, type CodecLookup } from '../format/asmt-directory.js';
import { analyzeLayout, type InstanceAnalysis, type LayoutEntry, type NamespaceAnalysis } from '../format/layout-analysis.js';
import { ENCRYPTED_SUFFIX, type Manifest, type ManifestSegment } from '../format/manifest.js';
import { readLayoutFields, type LayoutFields } from '../format/segment-fields.js';
import type { RestoreEntry } from '../pipeline/restore.js';
import { readRawHead } from '../pipeline/sink-io.js';
import type { InterruptedBackup, InvalidManifest, LocationBackup, LocationState } from './catalog.js';

export type PlanSource =
  | { readonly kind: 'manifest'; readonly name: string; readonly backup: LocationBackup }
  | { readonly kind: 'asmt'; readonly newest: Date | undefined };

/** One object of the set: what the analysis sees, where it comes from, and what it becomes. */
export interface SetCandidate {
  readonly entry: LayoutEntry;
  readonly source: PlanSource;
  /** The restore entry for a namespace named `namespace`; absent for an object that cannot be used (`entry.problem`). */
  readonly restore?: (namespace: string) => RestoreEntry;
}

export interface InstanceSet {
  readonly instance: number;
  /** Every candidate of the instance, analysed: namespaces and orphans, each with all its problems. */
  readonly analysis: InstanceAnalysis;
  /** By the entry the analysis holds (keys can repeat: two files for one segment). */
  readonly candidates: ReadonlyMap<LayoutEntry, SetCandidate>;
  readonly backups: readonly LocationBackup[];
  /** The ASMT files (no manifest covers them) in the set. */
  readonly files: readonly AsmtFile[];
  readonly interrupted: readonly InterruptedBackup[];
  readonly invalid: readonly InvalidManifest[];
  /** The source of each manifest's candidates (conflicting files included), by manifest name. */
  readonly manifestSources: ReadonlyMap<string, PlanSource>;
  /** The source of the ASMT files' candidates. */
  readonly asmtSource: PlanSource;
}

/** The header fields of one object, read through its codec; bases and metas must be uncompressed (as ASMT writes them). */
async function fieldsOf(sink: Sink, entry: { object: string; key: number; codec: Codec; rawSize: number; cipher?: ObjectCipher }, signal: AbortSignal | undefined): Promise<LayoutFields> {
  const kind = decodeKey(entry.key)?.kind ?? null;
  if ((kind === 'primary-base' || kind === 'secondary-meta') && !entry.codec.identity) {
    return { base: errSegmentInvalid(entry.object, `a ${kind === 'primary-base' ? 'base segment' : 'secondary meta'} file must be uncompressed (.dat), as ASMT writes it`) };
  }
  try {
    return await readLayoutFields(kind, entry.rawSize, entry.object, (bytes) => readRawHead(sink, entry.object, entry.codec, entry.rawSize, bytes, signal, entry.cipher));
  } catch (error) {
    if (isShmsnapError(error) && kind === 'primary-base') return { base: error };
    throw error;
  }
}

/** A failure while reading a candidate is its problem; an interrupt is not. */
function problemOf(error: unknown, signal: AbortSignal | undefined, where: string): ShmsnapError {
  if (signal?.aborted || isShmsnapError(error, 'ABORTED')) throw error;
  return toShmsnapError(error, 'read', where);
}

/** Why a manifest's segment cannot be restored as recorded, before reading any of it; undefined when it can. */
function manifestSegmentProblem(s: ManifestSegment, codec: Codec, where: string, encrypted: boolean): ShmsnapError | undefined {
  const suffix = encrypted ? ENCRYPTED_SUFFIX : '';
  if (s.object !== `${segmentObjectName(s, codec)}${suffix}`) return errManifestInvalid(where, `${s.object} does not carry codec '${s.codec}' extension ${codec.extension}${suffix}`);
  if (codec.identity && !encrypted && (s.storedBytes !== s.rawBytes || s.storedCrc32 !== s.rawCrc32)) {
    return errManifestInvalid(where, `${s.object}: stored and raw values differ for codec '${s.codec}'`);
  }
  return undefined;
}

function manifestRestoreEntry(s: ManifestSegment, codec: Codec, cipher?: ObjectCipher): RestoreEntry {
  const { object, codec: _name, rawBytes: _raw, rawCrc32, storedBytes, storedCrc32, pieces, zeroRanges, sha256, ...segment } = s;
  return {
    segment, object, codec, storedBytes, storedCrc32, rawCrc32,
    ...(pieces ? { pieces } : {}), ...(zeroRanges && !cipher ? { zeroRanges } : {}), ...(cipher ? { cipher } : {}), ...(sha256 ? { sha256 } : {}),
  };
}

/**
 * Restore entries from a manifest, resolving codecs by name; a codec whose
 * extension the object does not carry is MANIFEST_INVALID. An encrypted
 * manifest needs its `cipher` (openBackupEncryption: key unwrapped, MAC checked).
 */
export function planFromManifest(manifest: Manifest, codecByName: (name: string) => Codec, where: string, cipher?: ObjectCipher): RestoreEntry[] {
  if (manifest.encryption && !cipher) throw errKeyRequired(where);
  return manifest.segments.map((s) => {
    const codec = codecByName(s.codec);
    const problem = manifestSegmentProblem(s, codec, where, manifest.encryption !== undefined);
    if (problem) throw problem;
    return manifestRestoreEntry(s, codec, cipher);
  });
}

/**
 * The opened encryption of each encrypted backup, by manifest name: its
 * cipher, or why it could not be opened (KEY_REQUIRED, KEY_MISMATCH,
 * AUTH_FAILED). A backup absent from the map has no key given (ls).
 */
export type BackupCiphers = ReadonlyMap<string, ObjectCipher | ShmsnapError>;

async function manifestCandidates(sink: Sink, backup: LocationBackup, source: PlanSource, objects: ReadonlyMap<string, ObjectInfo>, codecs: CodecLookup, ciphers: BackupCiphers | undefined, signal?: AbortSignal): Promise<SetCandidate[]> {
  const where = `${sink.location}/${backup.name}`;
  const out: SetCandidate[] = [];
  const encrypted = backup.manifest.encryption !== undefined;
  const opened = encrypted ? (ciphers?.get(backup.name) ?? errKeyRequired(where)) : undefined;
  const cipher = opened && !isShmsnapError(opened) ? opened : undefined;
  for (const s of backup.manifest.segments) {
    const base = { key: s.key, size: s.size, label: s.object, recordedNamespace: s.namespace };
    const info = objects.get(s.object);
    let codec: Codec | undefined;
    let problem: ShmsnapError | undefined;
    if (!info) problem = errObjectMissing(s.object, sink.location, `${backup.name} records it`);
    else if (info.unusable) problem = errObjectMissing(s.object, sink.location, `${backup.name} records it; the name is ${info.unusable}, not a regular file`);
    else {
      try {
        codec = codecs.codec(s.codec);
      } catch (error) {
        problem = problemOf(error, signal, where);
      }
      problem ??= codec && manifestSegmentProblem(s, codec, where, encrypted);
      if (!problem && info.size !== s.storedBytes) problem = errSizeMismatch(s.object, s.storedBytes, info.size, 'stored bytes', `as ${backup.name} records`);
    }
    if (problem || !codec) {
      out.push({ entry: { ...base, problem: problem ?? errManifestInvalid(where, `no codec for ${s.object}`) }, source });
      continue;
    }
    const found = codec;
    let fields: LayoutFields;
    try {
      // An encrypted base or meta is read only through its authenticated frames; without the key it cannot be read at all.
      if (s.kind !== 'data-stage' && isShmsnapError(opened)) throw opened;
      fields = s.kind === 'data-stage' ? { dataName: s.namespace } : await fieldsOf(sink, { object: s.object, key: s.key, codec: found, rawSize: s.size, ...(cipher ? { cipher } : {}) }, signal);
    } catch (error) {
      out.push({ entry: { ...base, problem: problemOf(error, signal, `${sink.location}/${s.object}`) }, source });
      continue;
    }
    out.push({ entry: { ...base, ...fields }, source, ...(encrypted && !cipher ? {} : { restore: () => manifestRestoreEntry(s, found, cipher) }) });
  }
  return out;
}

async function asmtCandidate(sink: Sink, file: AsmtFile, source: PlanSource, signal?: AbortSignal): Promise<SetCandidate> {
  const object = file.info.name;
  const label = { key: file.key, label: object };
  if (file.info.unusable) {
    return { entry: { ...label, size: 0, problem: errCorruptObject(`${sink.location}/${object}`, `is ${file.info.unusable}, not a regular file; a segment file must be one (objects are read only from regular files, never through a link)`) }, source };
  }
  try {
    const { rawSize, rawCrc32 } = await readFileHeader(sink, object, file, signal);
    const fields = await fieldsOf(sink, { object, key: file.key, codec: file.codec, rawSize }, signal);
    return {
      entry: { ...label, size: rawSize, ...fields },
      source,
      restore: (namespace) => ({
        segment: asmtFileSegment(file, rawSize, namespace),
        object,
        codec: file.codec,
        storedBytes: file.info.size,
        ...(rawCrc32 === undefined ? {} : { rawCrc32 }),
      }),
    };
  } catch (error) {
    return { entry: { ...label, size: file.info.size, problem: problemOf(error, signal, `${sink.location}/${object}`) }, source };
  }
}

/** Objects any readable manifest of the location lists. */
function claimedObjects(state: LocationState): Set<string> {
  return new Set(state.backups.flatMap((b) => b.manifest.segments.map((s) => s.object)));
}

/** The instances a location holds anything of: manifests (readable or not), interrupted backups, ASMT files. */
export function instancesIn(state: LocationState, codecs: Pick<CodecLookup, 'codecForObject'>): number[] {
  const claimed = claimedObjects(state);
  const found = new Set<number>([
    ...state.backups.map((b) => b.manifest.instance),
    ...state.interrupted.map((i) => i.instance),
    ...state.invalid.map((i) => i.instance),
    ...asmtFiles(state.objects.filter((o) => !claimed.has(o.name)), codecs).map((f) => f.decoded.instance),
  ]);
  return [...found].sort((a, b) => a - b);
}

/**
 * Assesses what a restore of `instance` from the location would use, reading
 * headers as planning does; never throws for a problem of the set (those are
 * in the analysis), only for an interrupt.
 */
export async function assessInstance(sink: Sink, codecs: CodecLookup, state: LocationState, instance: number, signal?: AbortSignal, ciphers?: BackupCiphers): Promise<InstanceSet> {
  const objects = new Map(state.objects.map((o) => [o.name, o]));
  const backups = state.backups.filter((b) => b.manifest.instance === instance);
  const interrupted = state.interrupted.filter((i) => i.instance === instance);
  const invalid = state.invalid.filter((i) => i.instance === instance);
  // The namespaces a manifest covers: their segment files are its objects or conflicts, never ASMT files.
  const coveredNsids = new Map<number, { name: string; backup?: LocationBackup }>();
  const coveredNames = new Map<string, LocationBackup>();
  for (const backup of backups) {
    for (const nsid of [...backup.manifest.namespaces.map((n) => n.nsid), ...backup.manifest.segments.map((s) => s.nsid)]) coveredNsids.set(nsid, { name: backup.name, backup });
    for (const ns of backup.manifest.namespaces) coveredNames.set(ns.name, backup);
  }
  for (const bad of invalid) for (const nsid of bad.nsids) if (!coveredNsids.has(nsid)) coveredNsids.set(nsid, { name: bad.name });
  const interruptedNsids = new Set(interrupted.flatMap((i) => i.nsids));
  const claimed = claimedObjects(state);
  const unclaimed = asmtFiles(state.objects.filter((o) => !claimed.has(o.name)), codecs, instance).filter((f) => !interruptedNsids.has(f.decoded.nsid));

  const candidates: SetCandidate[] = [];
  const manifestSources = new Map<string, PlanSource>(backups.map((b) => [b.name, { kind: 'manifest', name: b.name, backup: b }]));
  for (const backup of backups) candidates.push(...(await manifestCandidates(sink, backup, manifestSources.get(backup.name)!, objects, codecs, ciphers, signal)));
  const free = unclaimed.filter((f) => !coveredNsids.has(f.decoded.nsid));
  const asmtSource: PlanSource = { kind: 'asmt', newest: newestModified(free) };
  const conflict = (candidate: SetCandidate, owner: LocationBackup, why: string): SetCandidate => ({
    entry: {
      ...candidate.entry,
      problem: errManifestInvalid(`${sink.location}/${owner.name}`, `the location also holds ${candidate.entry.label}, ${why} that this manifest covers but does not list; remove the file, or restore from a copy that matches its manifest`),
    },
    source: manifestSources.get(owner.name)!,
  });
  const files: AsmtFile[] = [];
  for (const file of unclaimed) {
    const owner = coveredNsids.get(file.decoded.nsid);
    // An unreadable manifest's namespaces are refused as a whole; its files are not looked at.
    if (owner && !owner.backup) continue;
    const candidate = await asmtCandidate(sink, file, asmtSource, signal);
    if (owner?.backup) {
      candidates.push(conflict(candidate, owner.backup, `a segment file of instance ${instance}, namespace id ${file.decoded.nsid}`));
      continue;
    }
    const dataOwner = file.decoded.kind === 'data-stage' && candidate.entry.dataName ? coveredNames.get(candidate.entry.dataName) : undefined;
    if (dataOwner) {
      candidates.push(conflict(candidate, dataOwner, `a data segment file of namespace '${candidate.entry.dataName}'`));
      continue;
    }
    candidates.push(candidate);
    files.push(file);
  }

  const analysis = analyzeLayout(
    candidates.map((c) => c.entry),
    { requireClean: true, requireDetached: false, noun: 'segment file' },
  ).find((a) => a.instance === instance) ?? { instance, namespaces: [], orphans: [] };
  return { instance, analysis, candidates: new Map(candidates.map((c) => [c.entry, c])), backups, files, interrupted, invalid, manifestSources, asmtSource };
}

/** Every entry of a namespace or orphan group, members and entries of no known kind alike. */
export function groupEntries(group: NamespaceAnalysis): LayoutEntry[] {
  return [...group.members.map((m) => m.entry), ...group.unexpected];
}

/** What a problem names: the object or segment when it names one, else the place (a namespace, a manifest). */
export function problemSubject(problem: ShmsnapError, fallback: string): string {
  for (const field of ['object', 'key', 'where'] as const) {
    const value = problem.details[field];
    if (typeof value === 'string' && value !== '') return value;
  }
  return fallback;
}
