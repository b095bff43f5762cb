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
}
