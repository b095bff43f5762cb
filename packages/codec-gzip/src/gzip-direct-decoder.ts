/**
 * A `.dat.gz` inflated straight into the segment (the codec contract's
 * `createDirectDecoder`): an inflate engine (contracts/inflate-engine.ts,
 * shm-native's addon from the CLI) writes the raw bytes into views of the
 * memory the target shares and takes their CRC-32 on the same thread, so
 * the main thread neither receives, copies nor checksums them, and nothing
 * is left for the collector. Measured before it, restoring 2.2 GB of gzip
 * backups through node:zlib streams: 14.6 CPU-s (16.7 for ASMT's files)
 * against 10.9 for C zlib inflating the same bytes on one core.
 *
 * Two ways in, one set of checks (those of the stream decoders,
 * gzip-decoder.ts and gzip-piece-decoder.ts, with their messages):
 * - with the manifest's piece index, groups of pieces inflate at once, each
 *   into its own range of the segment, their CRC-32s combined in order;
 * - without it (ASMT's files), one stream in order: restores run segments
 *   side by side, so that still keeps every core busy.
 *
 * The ASMT header must match the recorded size and CRC; the body is one gzip
 * member (or, without an index, a zlib stream, as ASMT's reader takes); no
 * byte may be written past the segment's size; the trailer's CRC-32 and size
 * must match; nothing may follow. The engine says exactly where the deflate
 * stream ended, so what follows it is the trailer and nothing else.
 *
 * Memory: the stored bytes of at most `inFlight` groups (views of the read
 * chunks, handed back to their producer once inflated), a view object per
 * output window, and the engine's inflaters (~45 KiB each, closed with the decoder).
 */
import { Writable } from 'node:stream';
import {
  crc32Combine,
  errChecksumMismatch,
  errCorruptObject,
  errPluginFailed,
  isShmsnapError,
  recyclerOf,
  type DirectDecoder,
  type InflateEngine,
  type Inflater,
  type PieceIndex,
  type SharedWindows,
  type SharedWindowsHandle,
} from '@shmsnap/core/plugin-kit';
import { ASMT_HEADER_BYTES, checkAsmtHeader, parseAsmtHeader, type AsmtHeader } from './asmt-header.js';
import { ByteQueue } from './byte-queue.js';
import { ChunkReaders } from './chunk-readers.js';
import { checkPiecePrefix } from './gzip-piece-decoder.js';
import { GZIP_TRAILER_BYTES, GzipHeaderParser, isZlibHeader } from './gzip-header.js';

/** Output views are made this big at most: a view is a JavaScript object per window, the memory is the segment's. */
const VIEW_BYTES = 64 * 1024 * 1024;
/**
 * Output is faulted in (the memory's `prefault`: MADV_POPULATE_WRITE for a
 * segment) this much at a time, just before it is inflated into: a fresh
 * segment's pages are otherwise faulted one by one inside inflate. C on this
 * machine, 256 MiB of fresh shm: 0.27-0.30 s written page by page, 0.10-0.18
 * s populated + 0.04-0.06 s written (2026-12-03).
 */
const PREFAULT_BYTES = 4 * 1024 * 1024;
const EMPTY = new Uint8Array(0);

export interface GzipDirectDecoderOptions {
  readonly rawSize: number;
  readonly rawCrc32?: number;
  readonly objectName: string;
  readonly pieces?: PieceIndex;
  /** Groups inflated at once (piece index only). */
  readonly inFlight: number;
  readonly into: SharedWindowsHandle;
  readonly onBytes?: (bytes: number) => void;
  readonly engine: InflateEngine;
}

type Callback = (error?: Error | null) => void;

async function openShared(handle: SharedWindowsHandle): Promise<SharedWindows> {
  const module = (await import(handle.module)) as { openSharedWindows(args: unknown): SharedWindows | Promise<SharedWindows> };
  return module.openSharedWindows(handle.args);
}

/** Where in the shared memory one deflate stream's output goes: [start, end), written through views. */
class OutputRange {
  written = 0;
  crc = 0;
  ended = false;
  #view: Uint8Array = EMPTY;
  #viewAt = 0;
  /** Output below this was faulted in (or needs not be). */
  #prefaultedTo = 0;

  constructor(
    private readonly windows: SharedWindows,
    private readonly inflater: Inflater,
    private readonly start: number,
    private readonly end: number,
    private readonly tooLong: () => Error,
    private readonly onBytes: ((bytes: number) => void) | undefined,
  ) {}

  /** Inflates from `input` until it is used up or the stream ends; returns the bytes read. */
  async feed(input: Uint8Array): Promise<number> {
    let read = 0;
    while (!this.ended && read < input.length) {
      const room = await this.#room();
      const result = await this.inflater.inflate(input.subarray(read), room, this.crc);
      read += result.read;
      this.written += result.written;
      this.#viewAt += result.written;
      this.crc = result.crc32;
      this.ended = result.ended;
      if (result.written > 0) this.onBytes?.(result.written);
      if (result.read === 0 && result.written === 0 && !result.ended) {
        if (room.length === 0) throw this.tooLong();
        throw errPluginFailed('gzip', 'inflating', 'the inflater made no progress with input and room left');
      }
    }
    return read;
  }

  /** The rest of the current view (or a new one) up to the output faulted in; empty once the range is full. */
  async #room(): Promise<Uint8Array> {
    const at = this.start + this.written;
    if (this.#viewAt >= this.#view.length) {
      const length = Math.min(this.end - at, VIEW_BYTES, this.windows.maxViewBytes);
      this.#view = length > 0 ? this.windows.view(at, length) : EMPTY;
      this.#viewAt = 0;
    }
    const prefault = this.windows.prefault;
    if (!prefault) return this.#view.subarray(this.#viewAt);
    if (at >= this.#prefaultedTo && at < this.end) {
      const length = Math.min(this.end - at, PREFAULT_BYTES);
      await prefault(at, length);
      this.#prefaultedTo = at + length;
    }
    return this.#view.subarray(this.#viewAt, this.#viewAt + Math.max(0, this.#prefaultedTo - at));
  }
}

abstract class DirectBase extends Writable implements DirectDecoder {
  protected readonly options: GzipDirectDecoderOptions;
  protected windows: SharedWindows | undefined;
  readonly #opening: Promise<SharedWindows>;
  /** Inflate calls under way: each may be writing into the memory. */
  readonly #running = new Set<Promise<unknown>>();
  /** Every inflater made, and those idle for reuse. */
  readonly #made: Inflater[] = [];
  readonly #idle: Inflater[] = [];
  protected failed = false;
  protected outputBytes = 0;
  protected outputCrc = 0;

  constructor(options: GzipDirectDecoderOptions) {
    super({ highWaterMark: 4 * 1024 * 1024 });
    this.options = options;
    this.#opening = openShared(options.into);
    // Until a write awaits it, a failure to open must not be an unhandled rejection.
    this.#opening.catch(() => undefined);
  }

  written(): { readonly bytes: number; readonly crc32: number } {
    return { bytes: this.outputBytes, crc32: this.outputCrc };
  }

  protected async open(): Promise<SharedWindows> {
    if (!this.windows) this.windows = await this.#opening;
    return this.windows;
  }

  /** Runs `work` counted as touching the memory, so that destroy and final wait for it. */
  protected track<T>(work: Promise<T>): Promise<T> {
    this.#running.add(work);
    const untrack = (): void => {
      this.#running.delete(work);
    };
    work.then(untrack, untrack);
    return work;
  }

  protected get running(): number {
    return this.#running.size;
  }

  /** An idle raw inflater, reset, or a new one; every one made is closed by release(), used up or not. */
  protected takeInflater(format: 'raw' | 'zlib'): Inflater {
    const reused = format === 'raw' ? this.#idle.pop() : undefined;
    if (reused) {
      reused.reset();
      return reused;
    }
    const made = this.options.engine.createInflater(format);
    this.#made.push(made);
    return made;
  }

  /** A raw inflater whose stream ended well, for the next group. */
  protected giveBack(inflater: Inflater): void {
    this.#idle.push(inflater);
  }

  protected range(inflater: Inflater, windows: SharedWindows, start: number, end: number, tooLong: () => Error): OutputRange {
    return new OutputRange(windows, inflater, start, end, tooLong, this.options.onBytes);
  }

  protected asError(error: unknown, where = ''): Error {
    if (isShmsnapError(error)) return error;
    const { objectName } = this.options;
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_NEED_DICT') {
      return errCorruptObject(objectName, `${where}invalid compressed data (${(error as Error).message})`, error);
    }
    return errPluginFailed('gzip', `decompressing ${objectName}`, error);
  }

  /** Waits for every call that may touch the memory, then lets go of the memory and the inflaters. */
  protected async release(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
    this.#idle.length = 0;
    for (const inflater of this.#made.splice(0)) inflater.close();
    const windows = this.windows ?? (await this.#opening.catch(() => undefined));
    this.windows = undefined;
    await windows?.close();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.failed = true;
    this.release().then(
      () => callback(error),
      (closeError: unknown) => callback(error ?? (closeError as Error)),
    );
  }

  /** The checks every way in ends with; then the memory is closed. */
  protected async complete(header: AsmtHeader | undefined, trailer: Buffer | undefined): Promise<void> {
    const { objectName, rawSize } = this.options;
    if (this.outputBytes !== rawSize) throw errCorruptObject(objectName, `inflates to ${this.outputBytes} bytes, expected ${rawSize} (the segment size)`);
    if (trailer) {
      if (trailer.length < GZIP_TRAILER_BYTES) throw errCorruptObject(objectName, 'truncated inside the gzip trailer');
      const trailerCrc = trailer.readUInt32LE(0);
      const trailerSize = trailer.readUInt32LE(4);
      if (trailerCrc !== this.outputCrc) throw errChecksumMismatch(objectName, 'inflated bytes (per the gzip trailer)', trailerCrc, this.outputCrc);
      const expectedSize = rawSize % 2 ** 32;
      if (trailerSize !== expectedSize) throw errCorruptObject(objectName, `gzip trailer size is ${trailerSize}, the inflated size mod 2^32 is ${expectedSize}`);
    }
    // ASMT never compares this field (§23.4); a mismatch means the header or the body is damaged.
    if (header && header.rawCrc32 !== this.outputCrc) throw errChecksumMismatch(objectName, 'inflated bytes (per the ASMT header)', header.rawCrc32, this.outputCrc);
    await this.release();
  }
}

/** Without a piece index: one stream, in order (ASMT's files, and ours when the manifest is missing). */
export class GzipStreamDirectDecoder extends DirectBase {
  #phase: 'prefix' | 'gzip-header' | 'body' | 'after' = 'prefix';
  readonly #prefix = Buffer.alloc(ASMT_HEADER_BYTES + 2);
  #prefixLength = 0;
  #header: AsmtHeader | undefined;
  #gzipHeader: GzipHeaderParser | undefined;
  #wrapper: 'gzip' | 'zlib' = 'gzip';
  #output: OutputRange | undefined;
  readonly #trailer = Buffer.alloc(GZIP_TRAILER_BYTES);
  #trailerLength = 0;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.#accept(chunk).then(
      () => {
        // Inflated whole: the chunk's memory may go back to its producer.
        if (chunk.length > 0) recyclerOf(chunk)?.(chunk.buffer as ArrayBuffer);
        callback();
      },
      (error: unknown) => callback(this.asError(error)),
    );
  }

  override _final(callback: Callback): void {
    this.#finish().then(
      () => callback(),
      (error: unknown) => callback(this.asError(error)),
    );
  }

  async #accept(chunk: Buffer): Promise<void> {
    let rest = chunk;
    if (this.#phase === 'prefix') {
      const take = Math.min(this.#prefix.length - this.#prefixLength, rest.length);
      rest.copy(this.#prefix, this.#prefixLength, 0, take);
      this.#prefixLength += take;
      rest = rest.subarray(take);
      if (this.#header === undefined && this.#prefixLength >= ASMT_HEADER_BYTES) this.#header = checkAsmtHeader(this.#prefix, this.options);
      if (this.#prefixLength < this.#prefix.length) return;
      this.#chooseWrapper();
      await this.#body(Buffer.from(this.#prefix.subarray(ASMT_HEADER_BYTES)));
    }
    await this.#body(rest);
  }

  #chooseWrapper(): void {
    const first = this.#prefix[ASMT_HEADER_BYTES]!;
    const second = this.#prefix[ASMT_HEADER_BYTES + 1]!;
    if (first === 0x1f) {
      // The parser checks the rest of the gzip magic.
      this.#gzipHeader = new GzipHeaderParser(this.options.objectName);
      this.#phase = 'gzip-header';
    } else if (isZlibHeader(first, second)) {
      this.#wrapper = 'zlib';
      this.#phase = 'body';
    } else {
      throw errCorruptObject(this.options.objectName, 'compressed body is neither gzip nor zlib (raw deflate is not accepted)');
    }
  }

  async #body(bytes: Buffer): Promise<void> {
    let body = bytes;
    if (this.#phase === 'gzip-header') {
      const parser = this.#gzipHeader!;
      body = body.subarray(parser.feed(body));
      if (!parser.done) return;
      this.#phase = 'body';
    }
    if (this.#phase === 'body' && body.length > 0) {
      const output = await this.#outputRange();
      const read = await this.track(output.feed(body));
      body = body.subarray(read);
      if (output.ended) {
        this.outputBytes = output.written;
        this.outputCrc = output.crc;
        this.#phase = 'after';
      }
    }
    if (this.#phase === 'after' && body.length > 0) this.#after(body);
  }

  async #outputRange(): Promise<OutputRange> {
    if (this.#output) return this.#output;
    const windows = await this.open();
    const { objectName, rawSize } = this.options;
    const inflater = this.takeInflater(this.#wrapper === 'gzip' ? 'raw' : 'zlib');
    this.#output = this.range(inflater, windows, 0, rawSize, () => errCorruptObject(objectName, `inflates to more than ${rawSize} bytes (the segment size)`));
    return this.#output;
  }

  /** Bytes after the end of the deflate stream: gzip's 8-byte trailer, and nothing more. */
  #after(bytes: Buffer): void {
    const room = this.#wrapper === 'gzip' ? GZIP_TRAILER_BYTES - this.#trailerLength : 0;
    if (bytes.length > room) {
      throw errCorruptObject(
        this.options.objectName,
        `unexpected data after the compressed stream (a second gzip member or trailing bytes, at least ${bytes.length - room} bytes)`,
      );
    }
    bytes.copy(this.#trailer, this.#trailerLength);
    this.#trailerLength += bytes.length;
  }

  async #finish(): Promise<void> {
    const { objectName } = this.options;
    if (this.#phase === 'prefix') {
      if (this.#prefixLength < ASMT_HEADER_BYTES) parseAsmtHeader(this.#prefix.subarray(0, this.#prefixLength), objectName);
      throw errCorruptObject(objectName, 'truncated: no compressed body after the ASMT header');
    }
    if (this.#phase === 'gzip-header') throw errCorruptObject(objectName, 'truncated inside the gzip header');
    if (this.#phase === 'body') throw errCorruptObject(objectName, 'truncated: the compressed stream ends before its end marker');
    await this.complete(this.#header, this.#wrapper === 'gzip' ? this.#trailer.subarray(0, this.#trailerLength) : undefined);
  }
}

/** With the manifest's piece index: groups inflated at once, each into its own range. */
export class GzipPiecesDirectDecoder extends DirectBase {
  readonly #pieces: PieceIndex;
  readonly #queue = new ByteQueue((chunk) => this.#readers.spent(chunk));
  /** Who still reads each recyclable chunk (chunk-readers.ts). */
  readonly #readers = new ChunkReaders();
  #phase: 'prefix' | 'groups' | 'trailer' = 'prefix';
  #header: AsmtHeader | undefined;
  #nextGroup = 0;
  #doneGroups = 0;
  readonly #crcs: number[] = [];
  #pendingWrite: Callback | null = null;
  #pendingFinal: Callback | null = null;
  #received = 0;

  constructor(options: GzipDirectDecoderOptions & { readonly pieces: PieceIndex }) {
    super(options);
    this.#pieces = options.pieces;
    this.open().then(
      () => this.#pump(),
      (error: unknown) => this.#fail(error),
    );
  }

  get #groups(): number {
    return this.#pieces.storedBytes.length;
  }

  #rawBytesOf(group: number): number {
    return group === this.#groups - 1 ? this.options.rawSize - this.#pieces.rawBytes * (this.#groups - 1) : this.#pieces.rawBytes;
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

  override _destroy(error: Error | null, callback: Callback): void {
    this.#pendingWrite = null;
    this.#pendingFinal = null;
    super._destroy(error, callback);
  }

  #fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    const callback = this.#pendingWrite ?? this.#pendingFinal;
    this.#pendingWrite = null;
    this.#pendingFinal = null;
    const reason = this.asError(error);
    if (callback) callback(reason);
    else this.destroy(reason);
  }

  #pump(): void {
    if (this.failed) return;
    try {
      this.#advance();
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#pendingWrite && this.running < this.options.inFlight) {
      const callback = this.#pendingWrite;
      this.#pendingWrite = null;
      callback();
    }
    // Before the memory is open nothing can have started: not a truncation.
    if (this.#pendingFinal && this.running === 0 && this.windows) this.#finish();
  }

  #advance(): void {
    const windows = this.windows;
    if (!windows) return;
    const { objectName, inFlight } = this.options;
    if (this.#phase === 'prefix') {
      if (this.#queue.length < this.#pieces.offset) return;
      this.#header = checkPiecePrefix(this.#queue.take(this.#pieces.offset), this.options);
      this.#phase = 'groups';
    }
    while (this.#phase === 'groups' && this.running < inFlight && this.#nextGroup < this.#groups) {
      const need = this.#pieces.storedBytes[this.#nextGroup]!;
      if (this.#queue.length < need) return;
      const sources: Buffer[] = [];
      const stored = this.#queue.takeViews(need, sources);
      this.#start(windows, this.#nextGroup, sources, stored);
      this.#nextGroup += 1;
    }
    if (this.#phase === 'groups' && this.#nextGroup === this.#groups) this.#phase = 'trailer';
    if (this.#phase === 'trailer' && this.#queue.length > GZIP_TRAILER_BYTES) {
      throw errCorruptObject(objectName, 'bytes after the gzip member (a second member or trailing data)');
    }
  }

  #start(windows: SharedWindows, index: number, sources: Buffer[], stored: Buffer[]): void {
    this.#readers.acquire(sources);
    this.track(this.#inflateGroup(windows, index, stored)).then(
      () => {
        this.#readers.release(sources);
        this.#doneGroups += 1;
        this.#pump();
      },
      // The engine has settled the call that failed: nothing reads the chunks, but they are left to the collector.
      (error: unknown) => this.#fail(this.asError(error, `piece group ${index}: `)),
    );
  }

  async #inflateGroup(windows: SharedWindows, index: number, stored: readonly Buffer[]): Promise<void> {
    const { objectName } = this.options;
    const rawBytes = this.#rawBytesOf(index);
    const start = this.#pieces.rawBytes * index;
    const last = index === this.#groups - 1;
    const where = `piece group ${index}`;
    const inflater = this.takeInflater('raw');
    const output = this.range(inflater, windows, start, start + rawBytes, () => errCorruptObject(objectName, `${where} inflates to more than its ${rawBytes} bytes`));
    let storedBytes = 0;
    let read = 0;
    for (const part of stored) {
      storedBytes += part.length;
      read += await output.feed(part);
    }
    if (output.ended && !last) throw errCorruptObject(objectName, `${where} ends the deflate stream before the last group`);
    if (output.written !== rawBytes) throw errCorruptObject(objectName, `${where} inflates to ${output.written} bytes, the index says ${rawBytes}`);
    if (read !== storedBytes) throw errCorruptObject(objectName, `${where} ends ${storedBytes - read} bytes before its recorded size`);
    if (last && !output.ended) throw errCorruptObject(objectName, 'truncated: the compressed stream ends before its end marker');
    this.giveBack(inflater);
    this.#crcs[index] = output.crc;
  }


  #finish(): void {
    const { objectName } = this.options;
    if (this.#doneGroups < this.#groups) {
      // Everything was written and nothing runs: what is missing will never come.
      if (this.running === 0 && this.#phase !== 'trailer') {
        this.#fail(errCorruptObject(objectName, `truncated: ${this.#received} stored bytes, the piece index needs more`));
      }
      return;
    }
    const callback = this.#pendingFinal!;
    this.#pendingFinal = null;
    let crc = 0;
    let bytes = 0;
    for (let i = 0; i < this.#groups; i++) {
      const length = this.#rawBytesOf(i);
      crc = crc32Combine(crc, this.#crcs[i]!, length);
      bytes += length;
    }
    this.outputCrc = crc;
    this.outputBytes = bytes;
    const trailer = this.#queue.take(Math.min(this.#queue.length, GZIP_TRAILER_BYTES));
    this.complete(this.#header, trailer).then(
      () => callback(),
      (error: unknown) => {
        this.failed = true;
        callback(this.asError(error));
      },
    );
  }
}
