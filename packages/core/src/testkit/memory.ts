/**
 * A source and a target that keep segments in process memory: for unit
 * tests of the pipeline and for sink authors who want to run a whole backup
 * and restore against their sink without shared memory.
 */
import { Readable, Writable } from 'node:stream';
import { errSegmentExists, errSizeMismatch } from '../errors.js';
import { formatKey, type SegmentDescriptor } from '../contracts/segment.js';
import type { SegmentReader, SegmentSource } from '../contracts/source.js';
import type { DirectWindows, SegmentTarget, SegmentWriter } from '../contracts/target.js';

export interface MemorySegment {
  readonly descriptor: SegmentDescriptor;
  readonly data: Buffer;
}

export interface MemorySourceOptions {
  /** Size of the views the stream yields. @default 1 MiB */
  readonly chunkBytes?: number;
}

export function createMemorySource(segments: readonly MemorySegment[], options: MemorySourceOptions = {}): SegmentSource {
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const byKey = new Map(segments.map((s) => [s.descriptor.key, s]));
  return {
    name: 'memory',
    async list() {
      return segments.map((s) => s.descriptor);
    },
    async open(descriptor): Promise<SegmentReader> {
      const segment = byKey.get(descriptor.key);
      if (!segment) throw errSegmentExists(formatKey(descriptor.key), 'not in this memory source');
      let offset = 0;
      const stream = new Readable({
        read() {
          if (offset >= segment.data.length) {
            this.push(null);
            return;
          }
          const end = Math.min(offset + chunkBytes, segment.data.length);
          const view = segment.data.subarray(offset, end);
          offset = end;
          this.push(view);
        },
      });
      return { stream, close: async () => undefined };
    },
  };
}

export interface MemoryTarget extends SegmentTarget {
  /** Every segment present, restored or pre-existing. */
  readonly segments: ReadonlyMap<number, MemorySegment>;
}

export interface MemoryTargetOptions {
  /** Offer `direct` windows on every writer (raw restores then fill the memory in place). @default true */
  readonly direct?: boolean;
}

export function createMemoryTarget(existing: readonly MemorySegment[] = [], options: MemoryTargetOptions = {}): MemoryTarget {
  const segments = new Map<number, MemorySegment>(existing.map((s) => [s.descriptor.key, s]));
  let created = new Set<number>();

  return {
    name: 'memory',
    segments,
    async check(descriptors) {
      for (const d of descriptors) {
        if (segments.has(d.key)) throw errSegmentExists(formatKey(d.key), 'a segment with this key is present');
      }
    },
    async create(descriptor): Promise<SegmentWriter> {
      const name = formatKey(descriptor.key);
      if (segments.has(descriptor.key)) throw errSegmentExists(name, 'a segment with this key is present');
      const data = Buffer.alloc(descriptor.size);
      // Not visible with its recorded owner and mode until commit.
      segments.set(descriptor.key, { descriptor: { ...descriptor, uid: 0, gid: 0, mode: 0o600 }, data });
      created.add(descriptor.key);
      let offset = 0;
      const stream = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          if (offset + chunk.length > data.length) {
            callback(errSizeMismatch(name, data.length, offset + chunk.length, 'bytes (or more)'));
            return;
          }
          chunk.copy(data, offset);
          offset += chunk.length;
          callback();
        },
      });
      const direct: DirectWindows = {
        maxViewBytes: 1 << 30,
        view: (at, length) => {
          if (at < 0 || at + length > data.length) throw errSizeMismatch(name, data.length, at + length, 'bytes (or more)');
          return data.subarray(at, at + length);
        },
        wrote: (bytes) => {
          offset += bytes;
        },
      };
      return {
        stream,
        ...(options.direct === false ? {} : { direct }),
        async commit() {
          if (offset !== data.length) throw errSizeMismatch(name, data.length, offset);
          segments.set(descriptor.key, { descriptor, data });
        },
      };
    },
    async rollback() {
      for (const key of created) segments.delete(key);
      created = new Set();
    },
    async complete() {
      created = new Set();
    },
  };
}
