/**
 * A `.dat.gz` written with independent pieces, decoded on every core: the
 * manifest's piece index says where each group of pieces starts in the
 * deflate stream, and since none refers to bytes before it, groups are
 * inflated at once on libuv's thread pool and emitted in order.
 *
 * Every check of the sequential decoder still holds: the ASMT header must
 * match the recorded size and CRC, the gzip header must be whole and end
 * where the index says the deflate stream starts, every group must inflate
 * to exactly its raw size and consume exactly its stored bytes, the last one
 * must end the deflate stream, the trailer's CRC-32 and size must match the
 * bytes emitted, and nothing may follow. An object that does not fit its
 * index is CORRUPT_OBJECT.
 *
 * Memory is bounded by design: at most `inFlight` groups (each the stored
 * group plus its raw output) are held, and no group is started while
 * downstream is full. A group's stored bytes go to zlib as views of the
 * chunks written (no copy), and a chunk handed over with a recycler
 * (contracts/chunk-ownership.ts) goes back to its producer once the queue
 * has passed it and every group that read it has inflated whole. Measured on
 * a 2 GiB restore before this: 183 mark-compact collections and 1.7 s of GC
 * on the main thread, from copying each group out of the read chunks and
 * letting those chunks be collected.
 */
import { Duplex, addAbortSignal } from 'node:stream';
import zlib from 'node:zlib';
import { crc32, errChecksumMismatch, errCorruptObject, isShmsnapError, type PieceIndex } from '@shmsnap/core/plugin-kit';
import { ASMT_HEADER_BYTES, checkAsmtHeader, type AsmtHeader, type ExpectedSegment } from './asmt-header.js';
import { ByteQueue } from './byte-queue.js';
import { ChunkReaders } from './chunk-readers.js';
import { GZIP_TRAILER_BYTES, GzipHeaderParser } from './gzip-header.js';
import { OrderedJobs } from './ordered-jobs.js';

export interface GzipPieceDecoderOptions {
  readonly rawSize: number;
  readonly rawCrc32?: number;
  readonly objectName: string;
  readonly pieces: PieceIndex;
  /** Groups inflated at once. */
  readonly inFlight: number;
  readonly signal?: AbortSignal;
}

type Callback = (error?: Error | null) => void;

/**
 * The bytes before the first piece: the ASMT header, checked against what
 * the caller recorded, and a whole gzip header ending exactly there.
 */
export function checkPiecePrefix(prefix: Buffer, expected: ExpectedSegment): AsmtHeader {
  const { objectName } = expected;
  if (prefix.length < ASMT_HEADER_BYTES) throw errCorruptObject(objectName, 'the piece index starts inside the ASMT header');
  const header = checkAsmtHeader(prefix, expected);
  const parser = new GzipHeaderParser(objectName);
  const body = prefix.subarray(ASMT_HEADER_BYTES);
  const used = parser.feed(body);
  if (!parser.done || used !== body.length) throw errCorruptObject(objectName, 'the gzip header does not end where the piece index says the compressed data starts');
  return header;
}

/** Inflates one group on the thread pool; resolves to its raw bytes (as zlib gave them, one chunk per input part or so: not joined), or rejects with why it does not fit. */
function inflateGroup(stored: readonly Buffer[], last: boolean, rawBytes: number, objectName: string, index: number): Promise<Buffer[]> {
  const storedBytes = stored.reduce((sum, part) => sum + part.length, 0);
  return new Promise((resolve, reject) => {
    // One output buffer for the whole group, with room to spare: zlib allocates another as soon as one is exactly full.
    const inflater = zlib.createInflateRaw({ chunkSize: Math.min(Math.max(64 * 1024, rawBytes + 4096), 16 * 1024 * 1024), finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH });
    const chunks: Buffer[] = [];
    let produced = 0;
    const where = `piece group ${index}`;
    inflater.on('data', (chunk: Buffer) => {
      produced += chunk.length;
      // Never hold more than the group's raw size, whatever the input claims.
      if (produced > rawBytes) inflater.destroy(errCorruptObject(objectName, `${where} inflates to more than its ${rawBytes} bytes`));
      else chunks.push(chunk);
    });
    inflater.on('error', (error: Error) =>
      reject(isShmsnapError(error) ? error : errCorruptObject(objectName, `${where}: invalid compressed data (${error.message})`, error)),
    );
    inflater.on('end', () => {
      if (produced !== rawBytes) reject(errCorruptObject(objectName, `${where} inflates to ${produced} bytes, the index says ${rawBytes}`));
      else if (inflater.bytesWritten !== storedBytes) reject(errCorruptObject(objectName, `${where} ends ${storedBytes - inflater.bytesWritten} bytes before its recorded size`));
      else resolve(chunks);
    });
    for (const part of stored) inflater.write(part);
    inflater.end();
  });
}

export class GzipPieceDecoder extends Duplex {
  readonly #options: GzipPieceDecoderOptions;
  readonly #queue = new ByteQueue((chunk) => this.#readers.spent(chunk));
  /** Who still reads each recyclable chunk (chunk-readers.ts). */
  readonly #readers = new ChunkReaders();
  #phase: 'prefix' | 'groups' | 'trailer' | 'done' = 'prefix';
  #header: AsmtHeader | undefined;
  #nextGroup = 0;
  /** Inflates on the thread pool; groups leave in order. */
  readonly #jobs = new OrderedJobs<Buffer[]>();
  #readBlocked = false;
  #failed = false;
  #pendingWrite: Callback | null = null;
  #pendingFinal: Callback | null = null;
  #outputBytes = 0;
  #outputCrc = 0;
  #received = 0;

  constructor(options: GzipPieceDecoderOptions) {
    super({ readableHighWaterMark: options.pieces.rawBytes });
    this.#options = options;
    if (options.signal) addAbortSignal(options.signal, this);
  }

  get #groups(): number {
    return this.#options.pieces.storedBytes.length;
  }

  #rawBytesOf(group: number): number {
    const { rawSize, pieces } = this.#options;
    return group === this.#groups - 1 ? rawSize - pieces.rawBytes * (this.#groups - 1) : pieces.rawBytes;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.#received += chunk.length;
    this.#readers.written(chunk);
    this.#queue.push(chunk);
    this.#pendingWrite = callback;
    this.#pump();
  }

  override _final(callback: Callback): void {
    this.#pendingFinal = callback;
    this.#pump();
  }

  override _read(): void {
    this.#readBlocked = false;
    this.#pump();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#failed = true;
    this.#pendingWrite = null;
    this.#pendingFinal = null;
    this.#jobs.stop(() => callback(error));
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    const callback = this.#pendingWrite ?? this.#pendingFinal;
    this.#pendingWrite = null;
    this.#pendingFinal = null;
    if (callback) callback(error as Error);
    else this.destroy(error as Error);
  }

  #pump(): void {
    if (this.#failed) return;
    try {
      this.#advance();
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#pendingWrite && !this.#readBlocked && this.#jobs.running < this.#options.inFlight) {
      const callback = this.#pendingWrite;
      this.#pendingWrite = null;
      callback();
    }
    if (this.#pendingFinal) this.#finishIfDone();
  }

  /** Takes what the queue holds as far as the phase allows. */
  #advance(): void {
    const { objectName, pieces, inFlight } = this.#options;
    if (this.#phase === 'prefix') {
      if (this.#queue.length < pieces.offset) return;
      this.#header = checkPiecePrefix(this.#queue.take(pieces.offset), this.#options);
      this.#phase = 'groups';
    }
    while (this.#phase === 'groups' && !this.#readBlocked && this.#jobs.running < inFlight && this.#nextGroup < this.#groups) {
      const need = pieces.storedBytes[this.#nextGroup]!;
      if (this.#queue.length < need) return;
      const sources: Buffer[] = [];
      const stored = this.#queue.takeViews(need, sources);
      this.#start(this.#nextGroup, sources, stored);
      this.#nextGroup += 1;
    }
    if (this.#phase === 'groups' && this.#nextGroup === this.#groups) this.#phase = 'trailer';
    if (this.#phase === 'trailer' && this.#queue.length > GZIP_TRAILER_BYTES) {
      throw errCorruptObject(objectName, 'bytes after the gzip member (a second member or trailing data)');
    }
  }

  #start(index: number, sources: Buffer[], stored: Buffer[]): void {
    const { objectName } = this.#options;
    this.#jobs.started();
    this.#readers.acquire(sources);
    inflateGroup(stored, index === this.#groups - 1, this.#rawBytesOf(index), objectName, index).then(
      (raw) => {
        // zlib has read every stored byte ('end'), so the chunks may go back.
        this.#readers.release(sources);
        this.#done(index, raw);
      },
      // A failed inflate may still be reading on the thread pool: its chunks are left to the collector.
      (error: unknown) => this.#done(index, undefined, error),
    );
  }


  #done(index: number, raw: Buffer[] | undefined, error?: unknown): void {
    this.#jobs.ended(index, this.#failed ? undefined : raw);
    if (this.#failed) return;
    if (error !== undefined || raw === undefined) {
      this.#fail(error);
      return;
    }
    for (const group of this.#jobs.ready()) {
      for (const next of group) {
        this.#outputCrc = crc32(next, this.#outputCrc);
        this.#outputBytes += next.length;
        if (!this.push(next)) this.#readBlocked = true;
      }
    }
    this.#pump();
  }

  #finishIfDone(): void {
    const { objectName, rawSize } = this.#options;
    if (this.#jobs.running > 0 || this.#jobs.emitted < this.#groups) {
      // Everything was written: what is missing will never come.
      if (this.#phase !== 'trailer' && this.#jobs.running === 0 && !this.#readBlocked && this.#nextGroup < this.#groups) {
        this.#fail(errCorruptObject(objectName, `truncated: ${this.#received} stored bytes, the piece index needs more`));
      }
      return;
    }
    const callback = this.#pendingFinal!;
    this.#pendingFinal = null;
    try {
      if (this.#queue.length < GZIP_TRAILER_BYTES) throw errCorruptObject(objectName, 'truncated inside the gzip trailer');
      const trailer = this.#queue.take(GZIP_TRAILER_BYTES);
      const trailerCrc = trailer.readUInt32LE(0);
      const trailerSize = trailer.readUInt32LE(4);
      if (this.#outputBytes !== rawSize) throw errCorruptObject(objectName, `inflates to ${this.#outputBytes} bytes, expected ${rawSize} (the segment size)`);
      if (trailerCrc !== this.#outputCrc) throw errChecksumMismatch(objectName, 'inflated bytes (per the gzip trailer)', trailerCrc, this.#outputCrc);
      if (this.#header && this.#header.rawCrc32 !== this.#outputCrc) throw errChecksumMismatch(objectName, 'inflated bytes (per the ASMT header)', this.#header.rawCrc32, this.#outputCrc);
      const expectedSize = rawSize % 2 ** 32;
      if (trailerSize !== expectedSize) throw errCorruptObject(objectName, `gzip trailer size is ${trailerSize}, the inflated size mod 2^32 is ${expectedSize}`);
    } catch (error) {
      this.#failed = true;
      callback(error as Error);
      return;
    }
    this.#phase = 'done';
    this.push(null);
    callback();
  }
}
