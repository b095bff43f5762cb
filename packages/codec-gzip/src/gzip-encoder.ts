/**
 * Raw segment bytes in, ASMT's `.dat.gz` out: the 24-byte header, then one
 * gzip member compressed in parallel the way pigz does it.
 *
 * The raw stream is cut into pieces; each piece is deflated on its own by
 * zlib on libuv's thread pool and ended with a sync flush (the last one with
 * Z_FINISH). A sync flush ends on a byte boundary with a non-final block, so
 * the outputs, joined in order, are one valid deflate stream: ASMT, `gzip -t`
 * and `gzip -d` read it as any other.
 *
 * Independent pieces (the default): each piece starts with an empty window,
 * so a decoder can start at any piece boundary, and `pieceIndex()` says where
 * the boundaries are (grouped by `groupPieces`): shmsnap's decoder then
 * inflates groups in parallel. The cost is the 32 KiB of history each piece
 * does not see: measured on index-like data, ~0.3% more stored bytes with
 * 1 MiB pieces. With `independent: false` each piece is primed with the
 * 32 KiB before it as dictionary (pigz's way; references into the
 * dictionary are references into the previous piece's bytes), and there is
 * no index.
 *
 * With a deflate engine (contracts/deflate-engine.ts; the CLI gives
 * shm-native's addon), independent pieces are deflated by it instead: one
 * stream per job reset per piece, each output an exact-size array, the
 * input's CRC-32 taken on the worker and combined here in piece order, so
 * the main thread neither checksums nor copies. And one job is a whole
 * indexed group (the decoder starts at groups, never inside one): a job
 * per 1 MiB piece left the worker idle each time the main thread paused (a
 * collection) before it could hand over the next piece. Quick A/B, 2 GiB
 * backup, --threads 2, 3 runs each (2026-12-03): engine 93 -> 101 MB/s
 * median (41.1 -> 37.3 CPU-s); 2 MiB jobs 104 -> 111 MB/s. For the same
 * reason one job more than `threads` is kept queued on the thread pool:
 * libuv runs it as soon as one of its threads is free (its 4 threads bound
 * what runs at once), so a worker that finishes has the next job without
 * waiting for the main thread: 114 -> 126 MB/s.
 */
import { Duplex, addAbortSignal } from 'node:stream';
import zlib from 'node:zlib';
import { crc32, crc32Combine, errChecksumMismatch, errPluginFailed, errSizeMismatch, type DeflateEngine, type Deflater, type IndexingEncoder, type PieceIndex } from '@shmsnap/core/plugin-kit';
import { encodeAsmtHeader } from './asmt-header.js';
import { ByteQueue } from './byte-queue.js';
import { gzipMemberHeader, gzipMemberTrailer } from './gzip-header.js';
import { OrderedJobs } from './ordered-jobs.js';
import { RecentBytes } from './recent-bytes.js';

/** Deflate's window: the farthest back a match can reach. */
const WINDOW_BYTES = 32 * 1024;

export interface GzipEncoderOptions {
  readonly rawSize: number;
  readonly rawCrc32: number;
  readonly level: number;
  readonly threads: number;
  readonly pieceBytes: number;
  readonly objectName: string;
  readonly signal?: AbortSignal;
  /** Pieces start with an empty window and are indexed. @default true */
  readonly independent?: boolean;
  /** Pieces per indexed group. @default 2 */
  readonly groupPieces?: number;
  /** Deflates independent pieces (ignored when pieces are not independent: it takes no dictionary). */
  readonly deflateEngine?: DeflateEngine;
}

/** A piece's output, and with an engine the CRC-32 of its input. */
interface DeflatedPiece {
  readonly output: Buffer;
  readonly rawBytes: number;
  readonly crc32?: number;
}

type Callback = (error?: Error | null) => void;

export class GzipEncoder extends Duplex implements IndexingEncoder {
  readonly #options: GzipEncoderOptions;
  readonly #independent: boolean;
  readonly #groupPieces: number;
  /** Raw bytes per job: a piece on node:zlib, a group on an engine. */
  readonly #jobBytes: number;
  /** Jobs started and not yet pushed, at most: `threads`, and one queued ahead on an engine. */
  readonly #maxOutstanding: number;
  /** Bytes before the deflate stream: ASMT's header and the gzip member header. */
  readonly #streamOffset: number;
  /** Stored bytes per indexed group, in order. */
  readonly #groups: number[] = [];
  #ended = false;
  /** Input not yet cut into pieces. */
  readonly #queue = new ByteQueue();
  readonly #recent = new RecentBytes(WINDOW_BYTES);
  #received = 0;
  #crc = 0;
  #cut = 0;
  /** The piece ending at rawSize (deflated with Z_FINISH) was started. */
  #lastCut = false;
  #nextPiece = 0;
  /** zlib jobs: each may still read its input until its callback ran; outputs leave in piece order. */
  readonly #jobs = new OrderedJobs<DeflatedPiece>();
  readonly #engine: DeflateEngine | undefined;
  /** Every deflater made (closed with the stream), and those not running a job. */
  readonly #deflaters: Deflater[] = [];
  readonly #idle: Deflater[] = [];
  #readBlocked = false;
  #stopped = false;
  #pendingWrite: Callback | null = null;
  #pendingFinal: Callback | null = null;

  constructor(options: GzipEncoderOptions) {
    // One job's output may wait in the readable buffer without stalling the workers.
    const onEngine = (options.independent ?? true) && options.deflateEngine !== undefined;
    super({ readableHighWaterMark: options.pieceBytes * (onEngine ? (options.groupPieces ?? 2) : 1) });
    this.#options = options;
    this.#independent = options.independent ?? true;
    this.#groupPieces = options.groupPieces ?? 2;
    this.#engine = this.#independent ? options.deflateEngine : undefined;
    this.#jobBytes = this.#engine ? options.pieceBytes * this.#groupPieces : options.pieceBytes;
    this.#maxOutstanding = options.threads + (this.#engine ? 1 : 0);
    const prefix = Buffer.concat([encodeAsmtHeader(options.rawSize, options.rawCrc32), gzipMemberHeader(options.level)]);
    this.#streamOffset = prefix.length;
    this.push(prefix);
    if (options.signal) addAbortSignal(options.signal, this);
  }

  pieceIndex(): PieceIndex | undefined {
    if (!this.#independent || !this.#ended) return undefined;
    return { offset: this.#streamOffset, rawBytes: this.#options.pieceBytes * this.#groupPieces, storedBytes: [...this.#groups] };
  }

  /** Pieces started and not yet pushed: what memory is bounded by. */
  get #outstanding(): number {
    return this.#nextPiece - this.#jobs.emitted;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this._writev([{ chunk }], callback);
  }

  /** Takes every write queued meanwhile at once: a producer of tiny chunks costs one pump per batch. */
  override _writev(chunks: { chunk: Buffer }[], callback: Callback): void {
    const { rawSize, objectName } = this.#options;
    for (const { chunk } of chunks) {
      if (this.#received + chunk.length > rawSize) {
        callback(errSizeMismatch(objectName, rawSize, this.#received + chunk.length, 'raw bytes (or more)'));
        return;
      }
      // With an engine, each piece's CRC-32 comes back with its output.
      if (!this.#engine) this.#crc = crc32(chunk, this.#crc);
      this.#received += chunk.length;
      this.#queue.push(chunk);
    }
    this.#pendingWrite = callback;
    this.#pump();
  }

  override _final(callback: Callback): void {
    const { rawSize, rawCrc32, objectName } = this.#options;
    // All input is here: a wrong size or CRC fails now, before the rest is compressed.
    if (this.#received !== rawSize) {
      callback(errSizeMismatch(objectName, rawSize, this.#received, 'raw bytes'));
      return;
    }
    if (!this.#engine && this.#crc !== rawCrc32 >>> 0) {
      callback(errChecksumMismatch(objectName, 'raw bytes (as the encoder received them)', rawCrc32, this.#crc));
      return;
    }
    this.#pendingFinal = callback;
    this.#pump();
  }

  override _read(): void {
    this.#readBlocked = false;
    this.#pump();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#stopped = true;
    this.#pendingWrite = null;
    this.#pendingFinal = null;
    // 'close' must mean no zlib job still reads the input: it may be shared
    // memory that is detached as soon as the pipeline has closed.
    this.#jobs.stop(() => {
      this.#closeDeflaters();
      callback(error);
    });
  }

  #closeDeflaters(): void {
    for (const deflater of this.#deflaters.splice(0)) deflater.close();
    this.#idle.length = 0;
  }

  /** Starts what can start, then lets more input in or ends the stream. */
  #pump(): void {
    if (this.#stopped) return;
    const { rawSize } = this.#options;
    const jobBytes = this.#jobBytes;
    const limit = this.#maxOutstanding;
    while (!this.#readBlocked && this.#outstanding < limit && !this.#lastCut) {
      const queued = this.#queue.length;
      // The last piece may be short (or empty, for a zero-length segment).
      if (queued < jobBytes && this.#received < rawSize) break;
      this.#start(this.#queue.take(Math.min(queued, jobBytes)));
    }
    if (this.#pendingWrite && !this.#readBlocked && this.#outstanding < limit) {
      const callback = this.#pendingWrite;
      this.#pendingWrite = null;
      callback();
    }
    if (this.#pendingFinal && this.#lastCut && this.#outstanding === 0) {
      const callback = this.#pendingFinal;
      this.#pendingFinal = null;
      this.#closeDeflaters();
      const { rawCrc32, objectName } = this.#options;
      if (this.#engine && this.#crc !== rawCrc32 >>> 0) {
        // Known only now, from the pieces' CRC-32s: the trailer is never written.
        callback(errChecksumMismatch(objectName, 'raw bytes (as the encoder received them)', rawCrc32, this.#crc));
        return;
      }
      this.push(gzipMemberTrailer(this.#crc, rawSize));
      this.#ended = true;
      this.push(null);
      callback();
    }
  }

  #start(piece: Buffer): void {
    const { level, rawSize } = this.#options;
    const dictionary = this.#independent ? undefined : this.#recent.tail();
    if (!this.#independent) this.#recent.append(piece);
    this.#cut += piece.length;
    const last = this.#cut === rawSize;
    if (last) this.#lastCut = true;
    const index = this.#nextPiece++;
    this.#jobs.started();
    if (this.#engine) {
      this.#startOnEngine(this.#engine, index, piece, last);
      return;
    }
    const options: zlib.ZlibOptions = {
      level,
      finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
      // One output buffer big enough for the whole piece: one thread-pool job per piece.
      chunkSize: Math.max(64 * 1024, piece.length + Math.ceil(piece.length / 256) + 1024),
      ...(dictionary === undefined ? {} : { dictionary }),
    };
    zlib.deflateRaw(piece, options, (error, output) => this.#done(index, error, error ? undefined : compacted(output, piece.length)));
  }

  #startOnEngine(engine: DeflateEngine, index: number, piece: Buffer, last: boolean): void {
    let deflater = this.#idle.pop();
    try {
      if (deflater) deflater.reset();
      else {
        deflater = engine.createDeflater(this.#options.level);
        this.#deflaters.push(deflater);
      }
    } catch (error) {
      this.#done(index, error as Error, undefined);
      return;
    }
    const running = deflater;
    running.deflate(piece, last, 0).then(
      ({ output, crc32 }) => {
        this.#idle.push(running);
        const bytes = Buffer.isBuffer(output) ? output : Buffer.from(output.buffer, output.byteOffset, output.byteLength);
        this.#done(index, null, { output: bytes, rawBytes: piece.length, crc32 });
      },
      // A deflater that failed is not reused; it is closed with the others.
      (error: unknown) => this.#done(index, error instanceof Error ? error : new Error(String(error)), undefined),
    );
  }

  #done(index: number, error: Error | null, piece: DeflatedPiece | undefined): void {
    if (this.#stopped || error) {
      this.#jobs.ended(index, undefined);
      if (this.#stopped) return;
    }
    if (error) {
      this.destroy(errPluginFailed('gzip', `compressing ${this.#options.objectName}`, error));
      return;
    }
    this.#jobs.ended(index, piece);
    for (const next of this.#jobs.ready()) {
      // A job on an engine is a group of its own.
      if (this.#engine || (this.#jobs.emitted - 1) % this.#groupPieces === 0) this.#groups.push(0);
      this.#groups[this.#groups.length - 1]! += next.output.length;
      if (next.crc32 !== undefined) this.#crc = crc32Combine(this.#crc, next.crc32, next.rawBytes);
      if (!this.push(next.output)) this.#readBlocked = true;
    }
    this.#pump();
  }
}

/**
 * zlib hands back a view of its piece-sized output buffer. Compressible data
 * leaves most of it unused, and a downstream stage that keeps chunks
 * (collecting upload parts, say) would pin ~pieceBytes per chunk: give it an
 * exact-size copy instead (cheap next to deflating the piece).
 */
function compacted(output: Buffer, rawBytes: number): DeflatedPiece {
  return { output: output.buffer.byteLength > output.length + output.length / 8 ? Buffer.from(output) : output, rawBytes };
}
