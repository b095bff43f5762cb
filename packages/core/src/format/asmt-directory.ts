/**
 * ASMT's backup directory (docs/asmt-format.md §6, §9, §17): one object per
 * segment, named by its key, `xxxxxxxx.dat` (raw) or `xxxxxxxx.dat.gz`
 * (ASMT's header then one gzip member), plus our `.dat.zst`. This file is the
 * one place that knows how segment objects are named, which kinds are never
 * compressed, which existing objects block a backup, and how an ASMT file
 * states its raw size and CRC-32. `ls`, `verify`, restore planning and backup
 * planning all ask it.
 */
import type { Codec } from '../contracts/codec.js';
import type { SegmentDescriptor, SegmentKind } from '../contracts/segment.js';
import type { ObjectAttributes, ObjectInfo, Sink } from '../contracts/sink.js';
import { errCorruptObject } from '../errors.js';
import { readRange } from '../pipeline/sink-io.js';
import { decodeKey, type DecodedKey } from './aerospike-key.js';

/** `ae001100`: how keys are written into file and object names (as ASMT does). */
export function keyFileStem(key: number): string {
  return (key >>> 0).toString(16).padStart(8, '0');
}

/** Bases and metas carry the namespace layout; they are never compressed (as ASMT). */
export function isUncompressedKind(kind: SegmentKind): boolean {
  return kind === 'primary-base' || kind === 'secondary-meta';
}

/** The object a segment is stored as with `codec` (`ae001100.dat.gz`). */
export function segmentObjectName(segment: Pick<SegmentDescriptor, 'key'>, codec: Pick<Codec, 'extension'>): string {
  return `${keyFileStem(segment.key)}${codec.extension}`;
}

const FILE_NAME = /^([^.]{8})(\.dat(?:\.gz|\.zst)?)$/;

export interface ParsedSegmentObjectName {
  readonly key: number;
  readonly decoded: DecodedKey;
  readonly extension: '.dat' | '.dat.gz' | '.dat.zst';
}

/**
 * A segment object name as ASMT reads it (§9): exactly 8 hex digits (either
 * case) then `.dat` or `.dat.gz` (and our `.dat.zst`), from the first dot on.
 * Anything else is not a segment file and is ignored.
 */
export function parseSegmentObjectName(name: string): ParsedSegmentObjectName | undefined {
  const match = FILE_NAME.exec(name);
  if (!match || !/^[0-9a-fA-F]{8}$/.test(match[1]!)) return undefined;
  const key = Number.parseInt(match[1]!, 16) >>> 0;
  const decoded = decodeKey(key);
  return decoded ? { key, decoded, extension: match[2] as ParsedSegmentObjectName['extension'] } : undefined;
}

/** The first ASMT release that restores a data stage with key low bits 0x001 (§25.3, TOOLS-4136). */
export const ASMT_DATA_STAGE_001_FIXED = '2.3.0';

/**
 * True for a segment object that ASMT before 2.3.0 would not restore: a
 * data stage whose key has low bits 0x001, in a format ASMT reads (`.dat`,
 * `.dat.gz`). Its restore takes such a file for a treex or skips it,
 * depending on `readdir` order, and still reports success (§23.1); shmsnap
 * classifies it as the data stage it is.
 */
export function oldAsmtSkips(segment: Pick<SegmentDescriptor, 'key' | 'kind'>, object: string): boolean {
  const extension = parseSegmentObjectName(object)?.extension;
  return segment.kind === 'data-stage' && (segment.key & 0xfff) === 0x001 && (extension === '.dat' || extension === '.dat.gz');
}

/**
 * ASMT's rule (§6): an object that is a segment file of the same instance and
 * namespace id as a segment being backed up blocks the backup, whatever its
 * codec, encrypted or not: it would make the directory ambiguous. Files of other namespaces or
 * instances may share the directory. Returns a reason per offending object.
 */
export function segmentFileConflicts(existing: readonly ObjectInfo[], segments: readonly Pick<SegmentDescriptor, 'instance' | 'nsid'>[]): string[] {
  const wanted = new Set(segments.map((s) => `${s.instance}/${s.nsid}`));
  const reasons: string[] = [];
  for (const object of existing) {
    // An encrypted segment object (`ae001100.dat.zst.enc`) is one too: it stands for the same segment.
    const parsed = parseSegmentObjectName(object.name.endsWith('.enc') ? object.name.slice(0, -'.enc'.length) : object.name);
    if (parsed && wanted.has(`${parsed.decoded.instance}/${parsed.decoded.nsid}`)) {
      reasons.push(`it already holds ${object.name}, a segment file of instance ${parsed.decoded.instance}, namespace id ${parsed.decoded.nsid}`);
    }
  }
  return reasons;
}

/**
 * Owner and mode of a restored segment whose ASMT file carries none (a copy
 * that lost them, or a store without POSIX attributes): what Aerospike itself
 * creates when it runs as root. One default for restore planning and verify.
 */
export const ASMT_FILE_DEFAULT_ATTRIBUTES: ObjectAttributes = { uid: 0, gid: 0, mode: 0o666 };

/** How a location's reader finds codecs; the registry is one. */
export interface CodecLookup {
  codec(name: string): Codec;
  codecForObject(objectName: string): Codec | undefined;
}

export interface AsmtFile {
  readonly info: ObjectInfo;
  readonly key: number;
  readonly decoded: DecodedKey;
  readonly codec: Codec;
}

/** Objects that are segment files of `instance` (or of any instance) with a known codec. */
export function asmtFiles(objects: readonly ObjectInfo[], codecs: Pick<CodecLookup, 'codecForObject'>, instance?: number): AsmtFile[] {
  const out: AsmtFile[] = [];
  for (const info of objects) {
    const parsed = parseSegmentObjectName(info.name);
    if (!parsed || (instance !== undefined && parsed.decoded.instance !== instance)) continue;
    const codec = codecs.codecForObject(parsed.extension);
    if (codec) out.push({ info, key: parsed.key, decoded: parsed.decoded, codec });
  }
  return out;
}

/**
 * The segment an ASMT file stands for, with `rawSize` from its header (or
 * its size) and owner and mode from the file (§17), the documented default
 * where the sink keeps none. A key that fits no kind (which restore's
 * analysis refuses, and verify only checks as bytes) counts as a data stage.
 */
export function asmtFileSegment(file: AsmtFile, rawSize: number, namespace: string): SegmentDescriptor {
  const attributes = file.info.attributes ?? ASMT_FILE_DEFAULT_ATTRIBUTES;
  return {
    key: file.key,
    kind: file.decoded.kind ?? 'data-stage',
    instance: file.decoded.instance,
    nsid: file.decoded.nsid,
    namespace,
    stage: file.decoded.stage,
    size: rawSize,
    uid: attributes.uid,
    gid: attributes.gid,
    mode: attributes.mode & 0o777,
  };
}

/**
 * The raw size and CRC-32 an ASMT file states: its own size for `.dat`, its
 * header for compressed files (`object` is the file's path at the sink; the
 * header read is clamped to the file's size). A compressed file whose codec
 * cannot state them is CORRUPT_OBJECT.
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
