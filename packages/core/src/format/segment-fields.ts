/**
 * The few fields of Aerospike's segments that a backup must read
 * (docs/asmt-format.md §3). Host byte order: little-endian on every platform
 * Aerospike runs on.
 */
import type { SegmentKind } from '../contracts/segment.js';
import { errSegmentInvalid, type ShmsnapError } from '../errors.js';

export const BASE_VERSION_OFFSET = 0;
export const BASE_SHUTDOWN_OFFSET = 4;
export const BASE_NAME_OFFSET = 1024;
export const NAME_BYTES = 32;
/** cf_arenax sits at 2048 in the base block; its stage_count is at +104. */
export const BASE_STAGE_COUNT_OFFSET = 2152;
/**
 * The arena's element_size (+20), stage_capacity (+24) and stage_size (+40,
 * u64): offsets derived from the CE header, not checked on every Aerospike
 * edition, so the stage size counts as recorded only when the three agree
 * (element_size × stage_capacity = stage_size).
 */
export const BASE_ELEMENT_SIZE_OFFSET = 2068;
export const BASE_STAGE_CAPACITY_OFFSET = 2072;
export const BASE_STAGE_SIZE_OFFSET = 2088;
export const BASE_MIN_BYTES = BASE_STAGE_COUNT_OFFSET + 4;
export const BASE_VERSIONS = { min: 10, max: 12 } as const;
/** A cleanly shut down server leaves this shutdown status in the base. */
export const SHUTDOWN_CLEAN = 1;

export const META_STAGE_COUNT_OFFSET = 20;
export const META_MIN_BYTES = META_STAGE_COUNT_OFFSET + 4;

/** drv_prefix: u64 magic, u32 version, then the namespace name. */
export const DATA_NAME_OFFSET = 12;
export const DATA_MIN_BYTES = DATA_NAME_OFFSET + NAME_BYTES;

export interface BaseInfo {
  readonly version: number;
  readonly shutdownStatus: number;
  readonly namespace: string;
  readonly primaryStageCount: number;
  /** The size of each primary stage as the base's arena records it; absent when its fields do not agree (see BASE_STAGE_SIZE_OFFSET). */
  readonly stageSize?: number;
}

/** A NUL-padded name field; empty when the first byte is NUL. */
export function readName(bytes: Uint8Array, offset: number): string {
  const field = Buffer.from(bytes.buffer, bytes.byteOffset + offset, NAME_BYTES);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? NAME_BYTES : end).toString('latin1');
}

export function writeName(target: Uint8Array, offset: number, name: string): void {
  const encoded = Buffer.from(name, 'latin1');
  if (encoded.length >= NAME_BYTES) throw new RangeError(`namespace name '${name}' is longer than ${NAME_BYTES - 1} bytes`);
  const field = Buffer.from(target.buffer, target.byteOffset + offset, NAME_BYTES);
  field.fill(0);
  encoded.copy(field);
}

/** Parses the head of a base segment (at least BASE_MIN_BYTES of it). */
export function parseBase(head: Uint8Array, label: string): BaseInfo {
  if (head.length < BASE_MIN_BYTES) throw errSegmentInvalid(label, `base segment is too small (${head.length} bytes, needs ${BASE_MIN_BYTES})`);
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  return {
    version: view.getUint32(BASE_VERSION_OFFSET, true),
    shutdownStatus: view.getUint32(BASE_SHUTDOWN_OFFSET, true),
    namespace: readName(head, BASE_NAME_OFFSET),
    primaryStageCount: view.getUint32(BASE_STAGE_COUNT_OFFSET, true),
    ...recordedStageSize(view),
  };
}

function recordedStageSize(view: DataView): { stageSize?: number } {
  const elementSize = view.getUint32(BASE_ELEMENT_SIZE_OFFSET, true);
  const capacity = view.getUint32(BASE_STAGE_CAPACITY_OFFSET, true);
  const stageSize = view.getBigUint64(BASE_STAGE_SIZE_OFFSET, true);
  if (elementSize === 0 || capacity === 0 || stageSize > BigInt(Number.MAX_SAFE_INTEGER)) return {};
  return BigInt(elementSize) * BigInt(capacity) === stageSize ? { stageSize: Number(stageSize) } : {};
}

export function readMetaStageCount(head: Uint8Array): number {
  return new DataView(head.buffer, head.byteOffset, head.length).getUint32(META_STAGE_COUNT_OFFSET, true);
}

/** The header fields the layout analysis needs, as read from one segment or file. */
export interface LayoutFields {
  /** Bases: the parsed head, or the error reading it. */
  readonly base?: BaseInfo | ShmsnapError;
  /** Secondary metas: the stage count (undefined when too small to hold it). */
  readonly metaStageCount?: number;
  /** Data stages: the namespace name (undefined when too small to hold it). */
  readonly dataName?: string;
}

/**
 * Reads the fields of a segment of `kind` and `size` bytes through `head`
 * (which returns at least the first N bytes, or all of them when smaller):
 * the one reader of header fields, for live segments and for files alike.
 */
export async function readLayoutFields(kind: SegmentKind | null, size: number, label: string, head: (bytes: number) => Promise<Uint8Array>): Promise<LayoutFields> {
  switch (kind) {
    case 'primary-base':
      return { base: size < BASE_MIN_BYTES ? errSegmentInvalid(label, `base segment is too small (${size} bytes, needs ${BASE_MIN_BYTES})`) : parseBase(await head(BASE_MIN_BYTES), label) };
    case 'secondary-meta':
      return size >= META_MIN_BYTES ? { metaStageCount: readMetaStageCount(await head(META_MIN_BYTES)) } : {};
    case 'data-stage':
      return size >= DATA_MIN_BYTES ? { dataName: readName(await head(DATA_MIN_BYTES), DATA_NAME_OFFSET) } : {};
    default:
      return {};
  }
}
