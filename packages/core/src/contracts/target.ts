/**
 * The target contract: where a restore writes segments to.
 *
 * Guarantees a target MUST give:
 * - `check()` fails with SEGMENT_EXISTS if any segment of the set (or one that
 *   would collide with it) already exists, and creates nothing.
 * - `create()` creates the segment exclusively (never reusing one that exists)
 *   with exactly `segment.size` bytes, and returns a writer whose stream
 *   accepts at most that many bytes: one byte more fails with SIZE_MISMATCH,
 *   never a write past the end.
 * - `commit()` on a writer is called after its stream finished with every
 *   byte; it checks the count, applies the recorded uid, gid and mode and
 *   releases the segment. Fewer bytes than `size` fail with SIZE_MISMATCH.
 * - `rollback()` removes every segment this target created (committed or not)
 *   and no other, and may be called at any time, more than once.
 * - `complete()` ends the restore successfully: afterwards `rollback()`
 *   removes nothing. Until then, nothing the target created may be taken as
 *   a usable index by anyone else.
 */
import type { Writable } from 'node:stream';
import type { SegmentDescriptor } from './segment.js';

export interface SegmentWriter {
  readonly stream: Writable;
  commit(): Promise<void>;
}

export interface TargetOptions {
  readonly signal?: AbortSignal;
}

export interface SegmentTarget {
  readonly name: string;
  check(segments: readonly SegmentDescriptor[], options?: TargetOptions): Promise<void>;
  create(segment: SegmentDescriptor, options?: TargetOptions): Promise<SegmentWriter>;
  rollback(): Promise<void>;
  complete(): Promise<void>;
}
