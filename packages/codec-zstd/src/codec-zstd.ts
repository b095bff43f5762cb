/**
 * The zstd codec: `.dat.zst` objects holding one zstd frame per segment.
 *
 * Chosen by measurement (ARCHITECTURE.md, README benchmark): zstd-napi
 * (libzstd 1.5.7, native) compresses index-like data at ~500 MB/s per core at
 * level 1, ~900 MB/s with two worker threads, decompresses at ~1.2 GB/s, and
 * level 1 compresses index data as well as level 3 (1.528 vs 1.525) at more
 * than twice the speed: 1 is the default.
 *
 * ASMT cannot read these files; backups meant for ASMT use none or gzip.
 */
import { addAbortSignal, type Duplex } from 'node:stream';
import { errConfigInvalid, errCorruptObject, type Codec } from '@shmsnap/core/plugin-kit';
import { ZSTD_FRAME_HEADER_MAX_BYTES, ZstdDecoder } from './zstd-decoder.js';
import { ZstdEncoder } from './zstd-encoder.js';
import { zstd } from './zstd-binding.js';

export const ZSTD_LEVELS = { min: 1, max: 19, default: 1 } as const;

/**
 * Destroys `stream` when `signal` aborts. The pipeline also tears its stages
 * down on its own signal, but a caller running the codec alone relies on this
 * one; without it an aborted stream kept its worker lease (found by the codec
 * conformance kit).
 */
function withSignal<T extends Duplex>(stream: T, signal: AbortSignal | undefined): T {
  return signal === undefined ? stream : addAbortSignal(signal, stream);
}

export function createZstdCodec(): Codec {
  return {
    name: 'zstd',
    extension: '.dat.zst',
    levels: ZSTD_LEVELS,
    needsRawCrc32: false,
    headerBytes: ZSTD_FRAME_HEADER_MAX_BYTES,
    readHeader(head, objectName) {
      let size: number | null;
      try {
        size = zstd().getFrameContentSize(head);
      } catch (error) {
        throw errCorruptObject(objectName, `not a zstd frame (${error instanceof Error ? error.message : String(error)})`, error);
      }
      if (size === null) throw errCorruptObject(objectName, 'the zstd frame does not record its content size');
      return { rawSize: size };
    },
    createEncoder(options) {
      const level = options.level ?? ZSTD_LEVELS.default;
      if (!Number.isInteger(level) || level < ZSTD_LEVELS.min || level > ZSTD_LEVELS.max) {
        throw errConfigInvalid('level', `zstd takes levels ${ZSTD_LEVELS.min}..${ZSTD_LEVELS.max}, got ${level}`);
      }
      return withSignal(new ZstdEncoder({ rawSize: options.rawSize, level, threads: options.threads ?? 1, objectName: options.objectName }), options.signal);
    },
    createDecoder(options) {
      return withSignal(
        new ZstdDecoder({ rawSize: options.rawSize, objectName: options.objectName, ...(options.threads === undefined ? {} : { threads: options.threads }) }),
        options.signal,
      );
    },
    // Straight into the segment: the raw bytes and their CRC-32 stay on the worker (zstd-worker-pool.ts).
    createDirectDecoder(options) {
      return withSignal(
        new ZstdDecoder({
          rawSize: options.rawSize,
          objectName: options.objectName,
          into: options.into,
          ...(options.onBytes ? { onBytes: options.onBytes } : {}),
          ...(options.threads === undefined ? {} : { threads: options.threads }),
        }),
        options.signal,
      );
    },
  };
}

export const codecZstd: Codec = createZstdCodec();
