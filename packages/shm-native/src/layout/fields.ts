/**
 * The few fields of Aerospike's segments that a backup must read
 * (asmt-format.md §3). Host byte order: little-endian on every platform
 * Aerospike runs on.
 */
import { errSegmentInvalid } from '@shmsnap/core';

export const BASE_VERSION_OFFSET = 0;
export const BASE_SHUTDOWN_OFFSET = 4;
export const BASE_NAME_OFFSET = 1024;
export const NAME_BYTES = 32;
/** cf_arenax sits at 2048 in the base block; its stage_count is at +104. */
export const BASE_STAGE_COUNT_OFFSET = 2152;
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
  };
}

export function readMetaStageCount(head: Uint8Array): number {
  return new DataView(head.buffer, head.byteOffset, head.length).getUint32(META_STAGE_COUNT_OFFSET, true);
}
