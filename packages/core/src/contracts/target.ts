/**
 * The target contract: where a restore writes segments to.
 *
 * Guarantees a target MUST give:
 * - `check()` fails with SEGMENT_EXISTS if any segment of the set (or one that
 *   would collide with it) already exists, and creates nothing.
 * - `create()` creates the segment exclusively (never reusing one that exists)
 *   with exactly `segment.size` bytes, all zero until written (as SysV
 *   creates them: a restore skips the zero runs a backup recorded), and returns a writer whose stream
 *   accepts at most that many bytes: one byte more fails with SIZE_MISMATCH,
 *   never a write past the end.
 * - `commit()` on a writer is called after its stream finished with every
 *   byte; it checks the count, applies the recorded uid, gid and mode and
 *   releases the segment. Fewer bytes than `size` fail with SIZE_MISMATCH.
 * - `rollback()` removes every segment this target created (committed or not)
 *   and no other, and may be called at any time, more than once.
 * - A writer MAY offer `direct`: the segment's memory, writable in place, for
 *   restores that fill it without a stream (raw objects read straight into
 *   it). Bytes written there count once `wrote()` is called for them; the
 *   stream and `direct` are never both used for one segment. A target does
 *   not offer `direct` for a segment whose bytes it must see on the way (a
 *   base, whose shutdown status it withholds until `complete()`).
 * - `direct` MAY offer `shared`: a handle through which another thread of this
 *   process (a codec's worker) opens the same memory and writes it in place,
 *   so decoded bytes never cross threads. The same rules as `view()` hold;
 *   bytes count once `wrote()` is called on this thread. Whoever opens it
 *   MUST close it before reporting the segment finished or failed: after
 *   that the target may detach, commit or remove the segment.
 * - `complete()` ends the restore successfully: afterwards `rollback()`
 *   removes nothing. Until then, nothing the target created may be taken as
 *   a usable index by anyone else.
 */
import type { Writable } from 'node:stream';
import type { SegmentDescriptor } from './segment.js';

export interface DirectWindows {
  /** The largest view `view()` gives. */
  readonly maxViewBytes: number;
  /** A writable view of the segment's bytes [offset, offset + length), within the segment and at most maxViewBytes long. */
  view(offset: number, length: number): Uint8Array;
  /** Counts `bytes` as written, for commit's size check. */
  wrote(bytes: number): void;
  /**
   * Optional: faults [offset, offset + length) in off the main thread, so that
   * bytes copied into a view from JavaScript do not pay the page faults there.
   * Best effort: it MUST NOT change the bytes, MUST resolve (never reject),
   * and MUST have finished touching the memory when it resolves.
   */
  prefault?(offset: number, length: number): Promise<void>;
  /** Optional: the same memory, for another thread of this process (see the contract above). */
  readonly shared?: SharedWindowsHandle;
}

/**
 * Memory another thread of this process can open: `module` is the URL of an
 * ES module exporting `openSharedWindows(args): SharedWindows | Promise<SharedWindows>`,
 * `args` what it needs (structured-cloneable: it crosses to the thread).
 */
export interface SharedWindowsHandle {
  readonly module: string;
  readonly args: unknown;
  /** The memory's size: views lie within [0, size). */
  readonly size: number;
}

/** What `openSharedWindows` gives the thread that opened it. */
export interface SharedWindows {
  readonly maxViewBytes: number;
  /** A writable view of [offset, offset + length), within the memory and at most maxViewBytes long. */
  view(offset: number, length: number): Uint8Array;
  /**
   * Optional: faults [offset, offset + length) in off this thread's critical
   * path, as `DirectWindows.prefault`: best effort, MUST NOT change the bytes,
   * MUST resolve (never reject) and MUST have finished touching the memory
   * when it resolves.
   */
  prefault?(offset: number, length: number): Promise<void>;
  /** Releases the memory: no view may be touched afterwards. */
  close(): Promise<void> | void;
}

export interface SegmentWriter {
  readonly stream: Writable;
  /** The segment's memory, writable in place (see the contract above). */
  readonly direct?: DirectWindows;
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
