/**
 * Raw objects straight into the segment: positional reads from the sink
 * (`openRandomReader`, pread for local files) into the target's memory
 * (`direct` windows), several ranges of one segment at once, the CRC-32 of
 * each range computed on the bytes where they landed and combined in order.
 * No intermediate Buffer, no stream, no copy: what ASMT does (it reads files
 * straight into the attached segment), with the checks ASMT does not make.
 *
 * Guarantees, like the stream path's meters:
 * - the object must hold exactly the segment's size (SIZE_MISMATCH
 *   otherwise, before a byte is written when the size is known up front);
 * - the combined CRC-32 must match the recorded one (CHECKSUM_MISMATCH);
 * - a failure in one range stops the others and is reported after every
 *   range in flight has settled (nothing touches the segment afterwards, so
 *   the target can remove it).
 */
import type { RandomReader, Sink } from '../contracts/sink.js';
import type { DirectWindows } from '../contracts/target.js';
import { errChecksumMismatch, errObjectNotFound, errSizeMismatch } from '../errors.js';
import { crc32, crc32Combine } from './checksum.js';
import { runBounded } from './settle.js';
import { crc32OfZeros, type ZeroRanges } from './zero-ranges.js';

export interface DirectCopyOptions {
  /** Object name, for messages. */
  readonly object: string;
  readonly size: number;
  readonly expectedCrc32?: number;
  /** Bytes per range. @default 64 MiB */
  readonly rangeBytes?: number;
  /** Ranges of this segment in flight at once. @default 2 */
  readonly inFlight?: number;
  readonly signal: AbortSignal;
  readonly onBytes?: (bytes: number) => void;
  /** Runs the segment holds as zeros (from the manifest): neither read nor written, their CRC-32 combined in. */
  readonly zeroRanges?: ZeroRanges;
  /**
   * The reader copies into the view on the main thread (ranged reads of a
   * stream, S3): fault each range in on the thread pool while its bytes are
   * on the way, where the windows can. Not for pread, whose copy faults in
   * the kernel on the pool already (populating first was slower there).
   */
  readonly prefault?: boolean;
}

/**
 * 64 MiB ranges, 2 at a time per segment (with 2 segments in flight: 4
 * reads, libuv's 4 threads), and no populate ahead: the kernel faults the
 * segment's pages in while it copies into them, in bulk. Measured on 2 GiB
 * (8 × 256 MiB stages, cold cache, 2 vCPUs, 3 runs each, same session):
 * 8 MiB × 4 with MADV_POPULATE_WRITE 0.94–1.34 GB/s; 8 MiB × 4 without
 * 1.36–1.41; 64 MiB × 2 without 1.41–1.85; 256 MiB × 1 (ASMT's one pread per
 * file) 0.99–1.70; the stream path 0.69–0.84. Larger ranges cost less kernel
 * time per byte; two per segment keep a huge single segment on both cores.
 */
const DEFAULT_RANGE_BYTES = 64 * 1024 * 1024;
const DEFAULT_IN_FLIGHT = 2;

/** Copies the whole object into the segment; resolves to its CRC-32. */
export async function copyDirect(reader: RandomReader, windows: DirectWindows, options: DirectCopyOptions): Promise<number> {
  const { object, size, signal } = options;
  if (reader.size !== size) throw errSizeMismatch(object, size, reader.size, 'raw bytes');
  const rangeBytes = Math.min(options.rangeBytes ?? DEFAULT_RANGE_BYTES, windows.maxViewBytes);
  const ranges: { offset: number; length: number; zero: boolean }[] = [];
  const readPart = (from: number, to: number): void => {
    for (let offset = from; offset < to; offset += rangeBytes) ranges.push({ offset, length: Math.min(rangeBytes, to - offset), zero: false });
  };
  let at = 0;
  for (const [offset, length] of options.zeroRanges ?? []) {
    // The manifest's reader checked the runs are sorted and inside the segment.
    readPart(at, offset);
    ranges.push({ offset, length, zero: true });
    at = offset + length;
  }
  readPart(at, size);
  const crcs = await runBounded(
    ranges,
    options.inFlight ?? DEFAULT_IN_FLIGHT,
    async ({ offset, length, zero }) => {
      if (zero) {
        // A new segment is zero-filled (the target contract): nothing to read, nothing to fault in.
        windows.wrote(length);
        options.onBytes?.(length);
        return crc32OfZeros(length);
      }
      const view = windows.view(offset, length);
      const prefaulted = options.prefault ? windows.prefault?.(offset, length) : undefined;
      const got = await reader.read(view, offset).finally(() => prefaulted);
      // The file shrank since it was opened: never leave a range unwritten.
      if (got !== length) throw errSizeMismatch(object, size, offset + got, 'raw bytes');
      windows.wrote(length);
      options.onBytes?.(length);
      return crc32(view);
    },
    { signal, what: 'restore' },
  );
  // Bytes past the recorded size mean the object is not what was recorded.
  const probe = new Uint8Array(1);
  if ((await reader.read(probe, size)) !== 0) throw errSizeMismatch(object, size, size + 1, 'raw bytes (or more)');
  let crc = 0;
  for (const [i, range] of ranges.entries()) crc = i === 0 ? crcs[0]! : crc32Combine(crc, crcs[i]!, range.length);
  if (options.expectedCrc32 !== undefined && crc !== options.expectedCrc32 >>> 0) throw errChecksumMismatch(object, 'raw bytes', options.expectedCrc32, crc);
  return crc;
}

/**
 * Positional reads for a sink that has ranged reads but no `openRandomReader`
 * (S3): each read is a ranged `openReader` whose bytes are copied into the
 * target as they arrive, so several ranges of one object are fetched at once
 * and nothing larger than the network's chunks is held. Through `withRetry`,
 * a range that breaks mid-way resumes from the byte it reached.
 */
export async function rangedRandomReader(sink: Sink, name: string, signal?: AbortSignal): Promise<RandomReader> {
  const info = await sink.stat(name, signal ? { signal } : {});
  if (!info) throw errObjectNotFound(name, sink.location);
  return {
    size: info.size,
    async read(target, position) {
      const end = Math.min(info.size, position + target.length);
      if (end <= position) return 0;
      const stream = await sink.openReader(name, { range: { start: position, end }, ...(signal ? { signal } : {}) });
      let done = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (done + chunk.length > target.length) {
          stream.destroy();
          throw errSizeMismatch(name, end - position, done + chunk.length, 'bytes in a ranged read (or more)');
        }
        target.set(chunk, done);
        done += chunk.length;
      }
      return done;
    },
    close: async () => undefined,
  };
}
