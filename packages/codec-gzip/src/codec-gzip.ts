/**
 * The gzip codec: ASMT's `.dat.gz` format (a 24-byte header, then one gzip
 * member), written in parallel on Node's zlib and read strictly.
 */
import { addAbortSignal, type Duplex } from 'node:stream';
import { errConfigInvalid, type Codec, type CodecHeader, type DecodeOptions, type DirectDecodeOptions, type DirectDecoder, type DeflateEngine, type EncodeOptions, type InflateEngine } from '@shmsnap/core/plugin-kit';
import { ASMT_HEADER_BYTES, parseAsmtHeader } from './asmt-header.js';
import { GzipDecoder } from './gzip-decoder.js';
import { GzipPiecesDirectDecoder, GzipStreamDirectDecoder } from './gzip-direct-decoder.js';
import { GzipEncoder } from './gzip-encoder.js';
import { GzipPieceDecoder } from './gzip-piece-decoder.js';

export const GZIP_LEVELS = { min: 1, max: 9, default: 1 } as const;
const DEFAULT_THREADS = 2;
const DEFAULT_PIECE_BYTES = 1024 * 1024;
/** Smaller pieces work but cost a sync-flush marker (4–5 bytes) and a thread-pool round trip each. */
const MIN_PIECE_BYTES = 1024;
/** zlib takes an input length that must fit in 32 bits (the root of ASMT's ≥ 4 GiB bug, §12). */
const MAX_PIECE_BYTES = 1024 * 1024 * 1024;
/** Groups a piece decoder inflates at once, whatever the threads: each holds its stored and raw bytes (~3 MiB), and restores run several decoders at once. */
const MAX_GROUPS_IN_FLIGHT = 2;
/** Groups a direct decoder inflates at once: each holds only its stored bytes (~1.3 MiB), the raw ones land in the segment. */
const MAX_DIRECT_GROUPS_IN_FLIGHT = 4;

export interface GzipCodecOptions {
  /**
   * Raw bytes compressed as one independent job. Bigger pieces lose less
   * ratio at piece boundaries; memory is about threads × pieceBytes × 2.
   * With a `deflateEngine` a job is a whole indexed group (2 pieces) and one
   * more job is kept queued: about (threads + 1) × pieceBytes × 4.
   * @default 1048576 (1 MiB)
   */
  readonly pieceBytes?: number;
  /**
   * Parallel jobs per object when the caller does not say (with a
   * `deflateEngine`, one more backup job waits queued). Jobs run on libuv's
   * thread pool (UV_THREADPOOL_SIZE, 4 by default), shared with file I/O,
   * which bounds how many run at once.
   * @default 2
   */
  readonly threads?: number;
  /**
   * Pieces start with an empty window and the manifest records where they
   * are, so shmsnap restores decode them in parallel; the file stays one
   * gzip member that ASMT and `gzip -d` read. False: pigz's way, each piece
   * primed with the 32 KiB before it, sequential decode only.
   * @default true
   */
  readonly independentPieces?: boolean;
  /**
   * Inflates into memory it is given (contracts/inflate-engine.ts; the CLI
   * gives shm-native's addon): with one, the codec offers
   * `createDirectDecoder`, and a restore into shared memory inflates
   * straight into the segment. Without, every decode goes through node:zlib
   * streams.
   */
  readonly inflateEngine?: InflateEngine;
  /**
   * Deflates the independent pieces of a backup (contracts/deflate-engine.ts;
   * the CLI gives shm-native's addon) instead of node:zlib's one-shot calls:
   * no piece-sized Buffer per piece for the collector, no copy, and the CRC-32
   * of the raw bytes taken on the worker. The bytes written are the same
   * format either way.
   */
  readonly deflateEngine?: DeflateEngine;
}

function positiveInteger(option: string, value: number, min: number, max: number, objectName?: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const where = objectName === undefined ? '' : `${objectName}: `;
    throw errConfigInvalid(option, `${where}expected an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function checkRawSize(objectName: string, rawSize: number): void {
  if (!Number.isSafeInteger(rawSize) || rawSize < 0) {
    throw errConfigInvalid('rawSize', `${objectName}: expected a non-negative safe integer, got ${rawSize}`);
  }
}

export function createGzipCodec(codecOptions: GzipCodecOptions = {}): Codec {
  const pieceBytes = positiveInteger('gzip pieceBytes', codecOptions.pieceBytes ?? DEFAULT_PIECE_BYTES, MIN_PIECE_BYTES, MAX_PIECE_BYTES);
  const defaultThreads = positiveInteger('gzip threads', codecOptions.threads ?? DEFAULT_THREADS, 1, 1024);
  const independent = codecOptions.independentPieces ?? true;
  const engine = codecOptions.inflateEngine;
  const deflateEngine = codecOptions.deflateEngine;

  const createDirectDecoder = (options: DirectDecodeOptions): DirectDecoder => {
    const { objectName, rawSize, rawCrc32 } = options;
    checkRawSize(objectName, rawSize);
    const threads = positiveInteger('threads', options.threads ?? defaultThreads, 1, 1024, objectName);
    const settings = {
      rawSize,
      objectName,
      into: options.into,
      engine: engine!,
      inFlight: Math.min(threads, MAX_DIRECT_GROUPS_IN_FLIGHT),
      ...(rawCrc32 === undefined ? {} : { rawCrc32 }),
      ...(options.onBytes === undefined ? {} : { onBytes: options.onBytes }),
    };
    const decoder = options.pieces ? new GzipPiecesDirectDecoder({ ...settings, pieces: options.pieces }) : new GzipStreamDirectDecoder(settings);
    return options.signal ? addAbortSignal(options.signal, decoder) : decoder;
  };

  return {
    name: 'gzip',
    extension: '.dat.gz',
    levels: GZIP_LEVELS,
    needsRawCrc32: true,
    headerBytes: ASMT_HEADER_BYTES,

    readHeader(head: Buffer, objectName: string): CodecHeader {
      return parseAsmtHeader(head, objectName);
    },

    createEncoder(options: EncodeOptions): Duplex {
      const { objectName, rawSize, rawCrc32 } = options;
      checkRawSize(objectName, rawSize);
      if (rawCrc32 === undefined) {
        // ASMT's header carries the CRC before the data: it cannot be filled in afterwards on a stream.
        throw errConfigInvalid('rawCrc32', `${objectName}: the gzip codec needs the CRC-32 of the raw bytes in advance`);
      }
      if (!Number.isInteger(rawCrc32) || rawCrc32 < 0 || rawCrc32 > 0xffffffff) {
        throw errConfigInvalid('rawCrc32', `${objectName}: expected an unsigned 32-bit integer, got ${rawCrc32}`);
      }
      return new GzipEncoder({
        rawSize,
        rawCrc32,
        level: positiveInteger('level', options.level ?? GZIP_LEVELS.default, GZIP_LEVELS.min, GZIP_LEVELS.max, objectName),
        threads: positiveInteger('threads', options.threads ?? defaultThreads, 1, 1024, objectName),
        pieceBytes,
        independent,
        objectName,
        ...(deflateEngine === undefined ? {} : { deflateEngine }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    },

    createDecoder(options: DecodeOptions): Duplex {
      const { objectName, rawSize, rawCrc32 } = options;
      checkRawSize(objectName, rawSize);
      if (options.pieces) {
        return new GzipPieceDecoder({
          rawSize,
          objectName,
          pieces: options.pieces,
          // libuv's thread pool (4 threads by default) runs the jobs: more in flight would only hold memory.
          inFlight: Math.min(positiveInteger('threads', options.threads ?? defaultThreads, 1, 1024, objectName), MAX_GROUPS_IN_FLIGHT),
          ...(rawCrc32 === undefined ? {} : { rawCrc32 }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
      }
      return new GzipDecoder({
        rawSize,
        objectName,
        ...(rawCrc32 === undefined ? {} : { rawCrc32 }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    },

    ...(engine ? { createDirectDecoder } : {}),
  };
}

export const codecGzip: Codec = createGzipCodec();
