/**
 * The segment descriptor: everything needed to re-create one System V
 * shared-memory segment exactly as it was, without reading its bytes.
 *
 * Guarantees every producer (a source, the manifest reader, the ASMT
 * directory reader) MUST give:
 * - `key` is the 32-bit SysV IPC key as an unsigned integer.
 * - `size` is the segment size in bytes, a safe integer; segments of 4 GiB
 *   and more are normal and MUST be carried in full.
 * - `mode` holds only the nine permission bits (0o777). SHM_LOCKED and the
 *   other status bits of `shm_perm.mode` are not part of it: they are state,
 *   not permissions, and must never become setgid bits on a file.
 * - `stage` is the stage number for primary, secondary and data stages and
 *   `null` for the base, treex and secondary meta segments.
 */

export const SEGMENT_KINDS = [
  'primary-base',
  'primary-treex',
  'primary-stage',
  'secondary-meta',
  'secondary-stage',
  'data-stage',
] as const;

export type SegmentKind = (typeof SEGMENT_KINDS)[number];

export interface SegmentDescriptor {
  readonly key: number;
  readonly kind: SegmentKind;
  readonly instance: number;
  /** The namespace id encoded in the key (1..32). */
  readonly nsid: number;
  /** The namespace name as stored in the base (or data) segment. */
  readonly namespace: string;
  readonly stage: number | null;
  readonly size: number;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

export function isSegmentKind(value: unknown): value is SegmentKind {
  return typeof value === 'string' && (SEGMENT_KINDS as readonly string[]).includes(value);
}

/** `0xae001100`: how keys are shown to people. */
export function formatKey(key: number): string {
  return `0x${(key >>> 0).toString(16).padStart(8, '0')}`;
}
