/**
 * ASMT's `.dat.gz` in, raw segment bytes out: strict where ASMT is lenient
 * (docs/asmt-format.md §11, §23.3–23.5) and bounded whatever the input.
 *
 * - The ASMT header must match the size (and CRC, when known) the caller
 *   recorded; its CRC is also checked against the inflated bytes.
 * - The body is one gzip member, or a zlib stream (ASMT's reader accepts
 *   both); raw deflate and anything else is refused.
 * - Output never exceeds `rawSize`; short output, truncation, a bad CRC or
 *   size in the trailer, and any byte after the member are errors.
 * - The inflater gets at most 64 KiB per write and pauses while downstream
 *   is full, so a highly compressible body cannot balloon in memory.
 *
 * Trailing data is detected from what the inflater consumed: after the end
 * of the deflate stream, zlib accepts writes without consuming them, so
 * `bytesWritten` (bytes consumed) falls behind the bytes fed. For gzip the
 * last 8 bytes seen so far are held back from the inflater, since they may be
 * the member's trailer.
 */
import { Duplex, addAbortSignal } from 'node:stream';
import zlib from 'node:zlib';
import {
  crc32,
  errChecksumMismatch,
  errCorruptObject,
  errPluginFailed,
  isShmsnapError,
  type ShmsnapError,
} from '@shmsnap/core/plugin-kit';
import { ASMT_HEADER_BYTES, checkAsmtHeader, parseAsmtHeader, type AsmtHeader } from './asmt-header.js';
import { GZIP_TRAILER_BYTES, GzipHeaderParser, isZlibHeader } from './gzip-header.js';

/** The ASMT header and the two bytes that tell gzip from zlib. */
const PREFIX_BYTES = ASMT_HEADER_BYTES + 2;
const FEED_BYTES = 64 * 1024;
const OUTPUT_CHUNK_BYTES = 64 * 1024;
/**
 * zlib hands out slices of one output buffer of this size until it is full:
 * larger means fewer buffers to allocate and collect. Measured restoring
 * ASMT-written .dat.gz files (1 GiB, 2 segments at once, cold cache):
 * 64 KiB 263 MB/s, 6.0 CPU-s (GC ~0.6 s); 256 KiB 307; 1 MiB 316, 5.2 CPU-s.
 * Output stays bounded by the feed (64 KiB in) and by pausing the inflater.
 */
const INFLATE_CHUNK_BYTES = 1024 * 1024;

export interface GzipDecoderOptions {
  readonly rawSize: number;
  readonly rawCrc32?: number;
  readonly objectName: string;
  readonly signal?: AbortSignal;
}

type Callback = (error?: Error | null) => void;
type Phase = 'prefix' | 'gzip-header' | 'body';

export class GzipDecoder extends Duplex {
  readonly #options: GzipDecoderOptions;
  #phase: Phase = 'prefix';
  readonly #prefix = Buffer.alloc(PREFIX_BYTES);
  #prefixLength = 0;
  #header: AsmtHeader | undefined;
  #wrapper: 'gzip' | 'zlib' = 'gzip';
  #gzipHeader: GzipHeaderParser | undefined;

  #inflater: zlib.InflateRaw | zlib.Inflate | undefined;
  /** Settles when the inflater's output has ended or it failed. */
  #inflaterEnded: Promise<void> = Promise.resolve();
  #inflaterError: ShmsnapError | undefined;
  #fed = 0;
  #failWrite: ((error: Error) => void) | undefined;

  /** The last bytes of the body seen so far, kept from the inflater: maybe the trailer. */
  #hold = Buffer.alloc(GZIP_TRAILER_BYTES);
  #spare = Buffer.alloc(GZIP_TRAILER_BYTES);
  #holdLength = 0;

  #outputBytes = 0;
  #outputCrc = 0;

  constructor(options: GzipDecoderOptions) {
    super({ readableHighWaterMark: OUTPUT_CHUNK_BYTES });
    this.#options = options;
    if (options.signal) addAbortSignal(options.signal, this);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.#accept(chunk).then(
      () => callback(),
      (error: unknown) => callback(this.#asError(error)),
    );
  }

  override _writev(chunks: { chunk: Buffer }[], callback: Callback): void {
    this.#acceptAll(chunks.map((entry) => entry.chunk)).then(
      () => callback(),
      (error: unknown) => callback(this.#asError(error)),
    );
  }

  override _final(callback: Callback): void {
    this.#finish().then(
      () => callback(),
      (error: unknown) => callback(this.#asError(error)),
    );
  }

  override _read(): void {
    this.#inflater?.resume();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    const inflater = this.#inflater;
    if (inflater === undefined || inflater.closed) {
      callback(error);
      return;
    }
    // 'close' is enough here: zlib keeps a reference to the input of a job
    // still on the thread pool and frees its handle only after the job, and
    // a decoder's input is the stored object (ordinary buffers), never
    // shared memory. Waiting for the write callback instead could hang: a
    // paused inflater defers its next job and never calls it after destroy.
    inflater.once('close', () => callback(error));
    inflater.destroy();
  }

  /**
   * Writes queued while the inflater was busy: small ones are joined so that
   * a producer of tiny chunks costs one zlib job per batch, not per chunk.
   */
  async #acceptAll(chunks: readonly Buffer[]): Promise<void> {
    let run: Buffer[] = [];
    let runBytes = 0;
    for (const chunk of chunks) {
      if (chunk.length >= FEED_BYTES) {
        if (run.length > 0) await this.#accept(Buffer.concat(run, runBytes));
        run = [];
        runBytes = 0;
        await this.#accept(chunk);
        continue;
      }
      run.push(chunk);
      runBytes += chunk.length;
      if (runBytes >= FEED_BYTES) {
        await this.#accept(Buffer.concat(run, runBytes));
        run = [];
        runBytes = 0;
      }
    }
    if (run.length > 0) await this.#accept(run.length === 1 ? run[0]! : Buffer.concat(run, runBytes));
  }

  async #accept(chunk: Buffer): Promise<void> {
    let rest = chunk;
    if (this.#phase === 'prefix') {
      const take = Math.min(PREFIX_BYTES - this.#prefixLength, rest.length);
      rest.copy(this.#prefix, this.#prefixLength, 0, take);
      this.#prefixLength += take;
      rest = rest.subarray(take);
      if (this.#header === undefined && this.#prefixLength >= ASMT_HEADER_BYTES) this.#header = checkAsmtHeader(this.#prefix, this.#options);
      if (this.#prefixLength < PREFIX_BYTES) return;
      this.#chooseWrapper();
      await this.#acceptBody(this.#prefix.subarray(ASMT_HEADER_BYTES));
    }
    await this.#acceptBody(rest);
  }

  #chooseWrapper(): void {
    const first = this.#prefix[ASMT_HEADER_BYTES]!;
    const second = this.#prefix[ASMT_HEADER_BYTES + 1]!;
    if (first === 0x1f) {
      // The parser checks the rest of the gzip magic.
      this.#wrapper = 'gzip';
      this.#gzipHeader = new GzipHeaderParser(this.#options.objectName);
      this.#phase = 'gzip-header';
    } else if (isZlibHeader(first, second)) {
      this.#wrapper = 'zlib';
      this.#startInflater(zlib.createInflate({ chunkSize: INFLATE_CHUNK_BYTES }));
    } else {
      throw errCorruptObject(this.#options.objectName, 'compressed body is neither gzip nor zlib (raw deflate is not accepted)');
    }
  }

  async #acceptBody(bytes: Buffer): Promise<void> {
    let body = bytes;
    if (this.#phase === 'gzip-header') {
      const parser = this.#gzipHeader!;
      body = body.subarray(parser.feed(body));
      if (!parser.done) return;
      this.#startInflater(zlib.createInflateRaw({ chunkSize: INFLATE_CHUNK_BYTES }));
    }
    if (this.#wrapper === 'zlib') {
      await this.#inflate(body);
      return;
    }
    for (const part of this.#holdBack(body)) await this.#inflate(part);
  }

  /**
   * Returns the bytes that are certainly not the trailer and keeps the last
   * 8 bytes of the body seen so far; copies at most 16 bytes.
   */
  #holdBack(bytes: Buffer): Buffer[] {
    const held = this.#holdLength;
    const total = held + bytes.length;
    if (total <= GZIP_TRAILER_BYTES) {
      bytes.copy(this.#hold, held);
      this.#holdLength = total;
      return [];
    }
    // Bytes of the old hold that stay held: some when `bytes` is shorter than 8.
    const keep = Math.max(0, GZIP_TRAILER_BYTES - bytes.length);
    const parts: Buffer[] = [];
    if (held > keep) parts.push(Buffer.from(this.#hold.subarray(0, held - keep)));
    const fromBytes = bytes.length - (GZIP_TRAILER_BYTES - keep);
    if (fromBytes > 0) parts.push(bytes.subarray(0, fromBytes));
    this.#hold.copy(this.#spare, 0, held - keep, held);
    bytes.copy(this.#spare, keep, fromBytes);
    [this.#hold, this.#spare] = [this.#spare, this.#hold];
    this.#holdLength = GZIP_TRAILER_BYTES;
    return parts;
  }

  #startInflater(inflater: zlib.InflateRaw | zlib.Inflate): void {
    this.#phase = 'body';
    this.#inflater = inflater;
    this.#inflaterEnded = new Promise<void>((resolve, reject) => {
      inflater.once('end', resolve);
      inflater.on('error', (error: Error) => {
        this.#inflaterError = this.#fromZlib(error);
        // No write callback follows a failed job.
        this.#failWrite?.(this.#inflaterError);
        reject(this.#inflaterError);
      });
    });
    this.#inflaterEnded.catch(() => undefined);
    // A destroyed inflater may never call back a deferred write: settle it here.
    inflater.on('close', () => {
      const reason = this.#inflaterError ?? errPluginFailed('gzip', `decompressing ${this.#options.objectName}`, 'inflater closed');
      this.#failWrite?.(reason);
    });
    inflater.on('data', (output: Buffer) => this.#emit(output));
  }

  #emit(output: Buffer): void {
    if (this.destroyed) return;
    const { rawSize, objectName } = this.#options;
    if (this.#outputBytes + output.length > rawSize) {
      this.destroy(errCorruptObject(objectName, `inflates to more than ${rawSize} bytes (the segment size)`));
      return;
    }
    this.#outputCrc = crc32(output, this.#outputCrc);
    this.#outputBytes += output.length;
    if (!this.push(output)) this.#inflater?.pause();
  }

  async #inflate(bytes: Buffer): Promise<void> {
    for (let at = 0; at < bytes.length; at += FEED_BYTES) {
      await this.#write(bytes.subarray(at, at + FEED_BYTES));
    }
  }

  async #write(piece: Buffer): Promise<void> {
    if (this.#inflaterError) throw this.#inflaterError;
    const inflater = this.#inflater!;
    this.#fed += piece.length;
    try {
      await new Promise<void>((resolve, reject) => {
        this.#failWrite = reject;
        inflater.write(piece, (error) => {
          if (error) reject(error);
          else resolve();
        });
      });
    } finally {
      this.#failWrite = undefined;
    }
    this.#checkConsumed(inflater);
  }

  #checkConsumed(inflater: zlib.InflateRaw | zlib.Inflate): void {
    if (inflater.bytesWritten < this.#fed) {
      // For gzip, the 8 bytes right after the deflate end are its trailer; the held bytes come after those.
      const held = this.#wrapper === 'gzip' ? this.#holdLength - GZIP_TRAILER_BYTES : 0;
      const extra = this.#fed - inflater.bytesWritten + held;
      const size = extra > 0 ? `, at least ${extra} bytes` : '';
      throw errCorruptObject(
        this.#options.objectName,
        `unexpected data after the compressed stream (a second gzip member or trailing bytes${size})`,
      );
    }
  }

  async #finish(): Promise<void> {
    const { objectName, rawSize } = this.#options;
    if (this.#phase === 'prefix') {
      if (this.#prefixLength < ASMT_HEADER_BYTES) parseAsmtHeader(this.#prefix.subarray(0, this.#prefixLength), objectName);
      throw errCorruptObject(objectName, 'truncated: no compressed body after the ASMT header');
    }
    if (this.#phase === 'gzip-header') throw errCorruptObject(objectName, 'truncated inside the gzip header');
    const inflater = this.#inflater!;
    inflater.end();
    await this.#inflaterEnded;
    this.#checkConsumed(inflater);
    if (this.#outputBytes !== rawSize) {
      throw errCorruptObject(objectName, `inflates to ${this.#outputBytes} bytes, expected ${rawSize} (the segment size)`);
    }
    if (this.#wrapper === 'gzip') this.#checkTrailer();
    const header = this.#header!;
    if (header.rawCrc32 !== this.#outputCrc) {
      // ASMT never compares this field (§23.4); a mismatch means the header or the body is damaged.
      throw errChecksumMismatch(objectName, 'inflated bytes (per the ASMT header)', header.rawCrc32, this.#outputCrc);
    }
    this.push(null);
  }

  #checkTrailer(): void {
    const { objectName } = this.#options;
    if (this.#holdLength < GZIP_TRAILER_BYTES) throw errCorruptObject(objectName, 'truncated inside the gzip trailer');
    const trailerCrc = this.#hold.readUInt32LE(0);
    const trailerSize = this.#hold.readUInt32LE(4);
    if (trailerCrc !== this.#outputCrc) {
      throw errChecksumMismatch(objectName, 'inflated bytes (per the gzip trailer)', trailerCrc, this.#outputCrc);
    }
    const expectedSize = this.#outputBytes % 0x1_0000_0000;
    if (trailerSize !== expectedSize) {
      throw errCorruptObject(objectName, `gzip trailer size is ${trailerSize}, the inflated size mod 2^32 is ${expectedSize}`);
    }
  }

  #fromZlib(error: Error): ShmsnapError {
    const { objectName } = this.#options;
    const code = (error as { code?: unknown }).code;
    if (code === 'Z_BUF_ERROR') {
      return errCorruptObject(objectName, 'truncated: the compressed stream ends before its end marker', error);
    }
    if (code === 'Z_DATA_ERROR' || code === 'Z_NEED_DICT' || code === 'Z_STREAM_ERROR') {
      return errCorruptObject(objectName, `invalid compressed data (${error.message})`, error);
    }
    return errPluginFailed('gzip', `decompressing ${objectName}`, error);
  }

  #asError(error: unknown): Error {
    if (isShmsnapError(error)) return error;
    const code = (error as { code?: unknown } | null)?.code;
    if (error instanceof Error && typeof code === 'string' && code.startsWith('Z_')) return this.#fromZlib(error);
    return errPluginFailed('gzip', `decompressing ${this.#options.objectName}`, error);
  }
}
