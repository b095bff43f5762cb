/**
 * Aerospike's SysV key encoding (docs/asmt-format.md §2):
 *
 *   bits 31..24  type: 0xAE primary index, 0xA2 secondary index, 0xAD data
 *   bits 23..20  instance (0..15)
 *   bits 19..12  namespace id (1..32)
 *   bits 11..0   "low": 0x000 base/meta, 0x001 treex, 0x100+n stage n (n ≤ 2047)
 *
 * Unlike ASMT (§23.1, §23.10), every key is classified the same way whether
 * it comes from a live segment or a file name, and never by leftover state:
 * data keys with any low bits are data stages (stage = low); primary and
 * secondary keys whose low bits fit nothing are reported as unexpected, never
 * taken for a base or meta and never skipped silently.
 */
import type { SegmentKind } from '../contracts/segment.js';

export type KeyType = 'primary' | 'secondary' | 'data';

export const TYPE_BYTE: Readonly<Record<KeyType, number>> = { primary: 0xae, secondary: 0xa2, data: 0xad };
export const STAGE_LOW_BASE = 0x100;
export const MAX_STAGES = 2048;
export const MAX_INSTANCE = 15;
export const MIN_NSID = 1;
export const MAX_NSID = 32;

export interface DecodedKey {
  readonly key: number;
  readonly type: KeyType;
  readonly instance: number;
  readonly nsid: number;
  readonly low: number;
  /** null when the low bits fit no segment kind of this type. */
  readonly kind: SegmentKind | null;
  readonly stage: number | null;
}

function typeOf(byte: number): KeyType | undefined {
  if (byte === TYPE_BYTE.primary) return 'primary';
  if (byte === TYPE_BYTE.secondary) return 'secondary';
  if (byte === TYPE_BYTE.data) return 'data';
  return undefined;
}

function classify(type: KeyType, low: number): { kind: SegmentKind | null; stage: number | null } {
  const isStage = low >= STAGE_LOW_BASE && low < STAGE_LOW_BASE + MAX_STAGES;
  switch (type) {
    case 'primary':
      if (low === 0x000) return { kind: 'primary-base', stage: null };
      if (low === 0x001) return { kind: 'primary-treex', stage: null };
      return isStage ? { kind: 'primary-stage', stage: low - STAGE_LOW_BASE } : { kind: null, stage: null };
    case 'secondary':
      if (low === 0x000) return { kind: 'secondary-meta', stage: null };
      return isStage ? { kind: 'secondary-stage', stage: low - STAGE_LOW_BASE } : { kind: null, stage: null };
    case 'data':
      return { kind: 'data-stage', stage: low };
  }
}

/** The parts of an Aerospike key, or undefined for a key that is not Aerospike's. */
export function decodeKey(key: number): DecodedKey | undefined {
  const k = key >>> 0;
  const type = typeOf(k >>> 24);
  const nsid = (k >>> 12) & 0xff;
  if (type === undefined || nsid < MIN_NSID || nsid > MAX_NSID) return undefined;
  const low = k & 0xfff;
  return { key: k, type, instance: (k >>> 20) & 0xf, nsid, low, ...classify(type, low) };
}

export function encodeKey(type: KeyType, instance: number, nsid: number, low: number): number {
  if (!Number.isInteger(instance) || instance < 0 || instance > MAX_INSTANCE) throw new RangeError(`instance ${instance} is outside 0..${MAX_INSTANCE}`);
  if (!Number.isInteger(nsid) || nsid < MIN_NSID || nsid > MAX_NSID) throw new RangeError(`nsid ${nsid} is outside ${MIN_NSID}..${MAX_NSID}`);
  if (!Number.isInteger(low) || low < 0 || low > 0xfff) throw new RangeError(`low bits ${low} are outside 0..0xfff`);
  return ((TYPE_BYTE[type] << 24) | (instance << 20) | (nsid << 12) | low) >>> 0;
}

/** The key of `kind` (stage number for stages and data) in one namespace. */
export function keyOf(kind: SegmentKind, instance: number, nsid: number, stage: number | null = null): number {
  const stageLow = (): number => {
    if (stage === null || !Number.isInteger(stage) || stage < 0 || stage >= MAX_STAGES) throw new RangeError(`stage ${stage} is outside 0..${MAX_STAGES - 1}`);
    return STAGE_LOW_BASE + stage;
  };
  switch (kind) {
    case 'primary-base':
      return encodeKey('primary', instance, nsid, 0);
    case 'primary-treex':
      return encodeKey('primary', instance, nsid, 1);
    case 'primary-stage':
      return encodeKey('primary', instance, nsid, stageLow());
    case 'secondary-meta':
      return encodeKey('secondary', instance, nsid, 0);
    case 'secondary-stage':
      return encodeKey('secondary', instance, nsid, stageLow());
    case 'data-stage':
      return encodeKey('data', instance, nsid, stage ?? 0);
  }
}
