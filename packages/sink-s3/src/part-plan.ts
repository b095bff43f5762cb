/**
 * How big each part of a multipart upload is. Memory is part size ×
 * (concurrency + 1), so parts stay as small as the object allows:
 *
 * - With a known size (exact or an upper-bound hint), every part is
 *   max(partSizeBytes, size / maxParts) rounded up to a MiB, enough to hold
 *   the whole object in `maxParts` parts.
 * - Beyond that (no size given, or a hint that was too low) the part size
 *   doubles every `growEvery` parts, a schedule that reaches about 5 TiB with
 *   S3's 10 000 parts of 16 MiB and never runs out of parts first. S3 allows
 *   parts of different sizes as long as all but the last are at least 5 MiB.
 */
import { errConfigInvalid, errSizeMismatch } from '@shmsnap/core/plugin-kit';
import { roundUpToMiB, S3_MAX_OBJECT_BYTES, S3_MAX_PART_BYTES } from './s3-options.js';

export interface PartPlan {
  /** Size of the first parts. */
  readonly baseBytes: number;
  /** How many parts keep `baseBytes` before growing starts. */
  readonly fixedParts: number;
  /** After `fixedParts`, the size doubles every this many parts. */
  readonly growEvery: number;
  readonly maxParts: number;
}

export interface PartPlanInput {
  readonly partSizeBytes: number;
  readonly maxParts: number;
  /** The exact size, when known. */
  readonly expectedBytes?: number;
  /** An upper-bound estimate, when the exact size is not known. */
  readonly sizeHint?: number;
  /** For error messages. */
  readonly object: string;
}

/** Doublings spread over the parts left: 8 take 16 MiB parts to 2 GiB, under S3's 5 GiB part limit. */
const DOUBLINGS = 8;

export function planParts(input: PartPlanInput): PartPlan {
  const { expectedBytes, maxParts, object } = input;
  if (expectedBytes !== undefined && expectedBytes > S3_MAX_OBJECT_BYTES) {
    throw errSizeMismatch(object, S3_MAX_OBJECT_BYTES, expectedBytes, 'bytes to write (an S3 object holds at most 5 TiB)');
  }
  // A hint is only an estimate: plan for it, but grow if the object turns out bigger.
  const known = expectedBytes ?? (input.sizeHint === undefined ? undefined : Math.min(input.sizeHint, S3_MAX_OBJECT_BYTES));
  const baseBytes = roundUpToMiB(Math.max(input.partSizeBytes, known === undefined ? 0 : Math.ceil(known / maxParts)));
  if (baseBytes > S3_MAX_PART_BYTES) {
    throw errConfigInvalid('maxParts', `${maxParts} parts of at most 5 GiB cannot hold the ${known} bytes of ${object}`);
  }
  const fixedParts = known === undefined ? Math.max(1, Math.floor(maxParts / DOUBLINGS)) : Math.min(maxParts, Math.max(1, Math.ceil(known / baseBytes)));
  const growEvery = Math.max(1, Math.floor((maxParts - fixedParts) / DOUBLINGS));
  return { baseBytes, fixedParts, growEvery, maxParts };
}

/** Size of part `partNumber` (from 1). */
export function partBytesAt(plan: PartPlan, partNumber: number): number {
  if (partNumber <= plan.fixedParts) return plan.baseBytes;
  const doublings = Math.floor((partNumber - plan.fixedParts - 1) / plan.growEvery) + 1;
  // Doubling a MiB multiple keeps it one; the cap (5 GiB) is one too.
  return Math.min(S3_MAX_PART_BYTES, plan.baseBytes * 2 ** Math.min(doublings, 32));
}

/** The most bytes the plan holds in `maxParts` parts. */
export function planCapacity(plan: PartPlan): number {
  let total = 0;
  for (let part = 1; part <= plan.maxParts; part += 1) total += partBytesAt(plan, part);
  return Math.min(total, S3_MAX_OBJECT_BYTES);
}
