/**
 * The source contract: where a backup reads segments from (shared memory in
 * production, memory in tests).
 *
 * Guarantees a source MUST give:
 * - `list()` returns the complete, checked set of segments to back up, or
 *   fails with a coded error naming the segment and the reason (attached,
 *   not cleanly shut down, missing stage...). It never returns a partial set
 *   silently, and it changes nothing.
 * - `open()` yields exactly `segment.size` bytes, in order, for as long as the
 *   reader is open. Chunks MAY be zero-copy views of the segment.
 * - Because chunks may be views, `close()` MUST only be called once the
 *   stream and every consumer of its chunks has settled; the caller owns that
 *   ordering (the pipeline waits for every stage to close). After `close()`,
 *   chunks from the stream MUST NOT be touched.
 * - `close()` is idempotent and never throws for a reader already closed.
 * - `checkUnchanged()`, where a source has it, fails with SEGMENT_CHANGED
 *   naming the segment and what changed when any listed segment may have
 *   been touched by someone else since `list()` (attached, detached,
 *   owner or mode set, removed, a base no longer cleanly shut down). The
 *   backup calls it after each segment it read and just before it writes
 *   the manifest, so a segment written during the backup is never
 *   committed. A source whose segments cannot change (memory) omits it.
 */
import type { Readable } from 'node:stream';
import type { SegmentDescriptor } from './segment.js';

export interface SegmentReader {
  readonly stream: Readable;
  close(): Promise<void>;
}

export interface SourceOpenOptions {
  readonly signal?: AbortSignal;
}

export interface SegmentSource {
  /** Shown in messages: `shm`, `memory`... */
  readonly name: string;
  list(options?: SourceOpenOptions): Promise<readonly SegmentDescriptor[]>;
  open(segment: SegmentDescriptor, options?: SourceOpenOptions): Promise<SegmentReader>;
  checkUnchanged?(options?: SourceOpenOptions): Promise<void>;
}
