/**
 * CRC-32 (the zlib/gzip polynomial, as ASMT uses) computed in-stream.
 *
 * Every CRC-32 shmsnap computes goes through `crc32` here, on any thread.
 * Engine: Node's built-in `zlib.crc32` unless a faster one was installed with
 * `useCrc32Engine` (the CLI installs the addon's PCLMULQDQ fold: 16-21 GB/s
 * against zlib.crc32's 2.9-3.9 GB/s on this project's VM, 64 KiB to 4 MiB
 * calls, 2026-12-03). The engine is process-wide, not an option of each
 * pipeline, because the checksum is computed in every package (the pipeline,
 * both codecs, the zstd workers) and its result does not depend on it: an
 * engine is accepted only after it gave zlib's result on every check vector.
 */
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { errChecksumMismatch, errInternal, errSizeMismatch } from '../errors.js';

/** Continues the CRC-32 `previous` over `data`; MUST give what zlib.crc32 gives. */
export type Crc32Function = (data: Uint8Array, previous: number) => number;

export interface Crc32Engine {
  /** Says which engine in diagnostics: `zlib`, `addon (pclmul)`. */
  readonly name: string;
  readonly crc32: Crc32Function;
  /**
   * A CommonJS module (a native addon) whose `crc32` export is this same
   * engine, for worker threads to load; absent: workers use zlib's.
   */
  readonly module?: string;
}

const ZLIB_ENGINE: Crc32Engine = { name: 'zlib', crc32: (data, previous) => zlib.crc32(data, previous) };

let engine: Crc32Engine = ZLIB_ENGINE;

/** Lengths around the fold's block sizes and thresholds (16, 64, 256 bytes), and a large one. */
const CHECK_LENGTHS = [0, 1, 7, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1000, 4096 + 13, 65536 + 129];

/**
 * Makes `candidate` the CRC-32 engine of this thread, after checking it
 * against zlib on lengths from 0 to 64 KiB at odd offsets and starting
 * values; INTERNAL (and the engine unchanged) if any differs. The engine in
 * use is taken again without a check (the CLI installs it on every run).
 */
export function useCrc32Engine(candidate: Crc32Engine): void {
  if (candidate === engine) return;
  const data = new Uint8Array(65536 + 200);
  for (let i = 0, x = 0x9e3779b9; i < data.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  for (const [i, length] of CHECK_LENGTHS.entries()) {
    const view = data.subarray(i * 3, i * 3 + length);
    const previous = (0x5bd1e995 * (i + 1)) >>> 0;
    const want = zlib.crc32(view, previous) >>> 0;
    const got = candidate.crc32(view, previous) >>> 0;
    if (got !== want) {
      throw errInternal(`the CRC-32 engine ${candidate.name} gives ${got.toString(16)} for ${length} bytes where zlib gives ${want.toString(16)}`);
    }
  }
  engine = candidate;
}

/** The engine in use on this thread (zlib's until `useCrc32Engine`). */
export function crc32Engine(): Crc32Engine {
  return engine;
}

/** Continues `previous` (0 to start) over `data`. */
export function crc32(data: Uint8Array, previous = 0): number {
  return engine.crc32(data, previous) >>> 0;
}

// ---- combining CRCs of concatenated pieces (zlib's crc32_combine, written from the maths) ----
// CRC is linear over GF(2): crc(A‖B) = shift(crc(A), |B|) xor crc(B), where
// shift advances a CRC register over |B| zero bytes. Advancing by 2^k bytes is
// a 32×32 bit-matrix; squaring it doubles the distance.

function gf2MatrixTimes(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  let v = vector >>> 0;
  for (let i = 0; v !== 0; i++, v >>>= 1) {
    if (v & 1) sum ^= matrix[i]!;
  }
  return sum >>> 0;
}

function gf2MatrixSquare(square: Uint32Array, matrix: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2MatrixTimes(matrix, matrix[n]!);
}

/** CRC-32 of A‖B from crc(A), crc(B) and the length of B (any safe integer). */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  // Operator for one zero bit.
  odd[0] = 0xedb88320;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row >>> 0;
  gf2MatrixSquare(even, odd); // two bits
  gf2MatrixSquare(odd, even); // four bits
  let crc = crcA >>> 0;
  let remaining = lengthB;
  // From here, each square advances by one more power of two of bytes.
  for (;;) {
    gf2MatrixSquare(even, odd);
    if (remaining % 2 === 1) crc = gf2MatrixTimes(even, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
    gf2MatrixSquare(odd, even);
    if (remaining % 2 === 1) crc = gf2MatrixTimes(odd, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
  }
  return (crc ^ crcB) >>> 0;
}

export interface Crc32MeterOptions {
  /** Names the object in errors. */
  readonly object: string;
  /** What the bytes are, in errors: `raw bytes`, `stored bytes`. */
  readonly what: string;
  /** Fail as soon as more bytes than this pass, and at the end if fewer did. */
  readonly expectedBytes?: number;
  /** Fail at the end unless the CRC-32 matches. */
  readonly expectedCrc32?: number;
  /** False: count the bytes only (the result's crc32 is then 0), for bytes another check covers. @default true */
  readonly crc32?: boolean;
  /** Told the size of every chunk that passed (progress). */
  readonly onBytes?: (bytes: number) => void;
  /** Shown every chunk that passed, in order (zero runs). */
  readonly observe?: (chunk: Buffer) => void;
}

export interface Crc32Result {
  readonly bytes: number;
  readonly crc32: number;
}

/**
 * A pass-through stage that counts and checksums what flows through it. With
 * expectations it fails the pipeline at the end (SIZE_MISMATCH or
 * CHECKSUM_MISMATCH, naming the object) unless every byte was as recorded:
 * nothing downstream may treat the data as good before its flush succeeds.
 */
export class Crc32Meter extends Transform {
  #crc = 0;
  #bytes = 0;
  readonly #options: Crc32MeterOptions;

  constructor(options: Crc32MeterOptions) {
    super();
    this.#options = options;
  }

  get result(): Crc32Result {
    return { bytes: this.#bytes, crc32: this.#crc };
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const expected = this.#options.expectedBytes;
    if (expected !== undefined && this.#bytes + chunk.length > expected) {
      callback(errSizeMismatch(this.#options.object, expected, this.#bytes + chunk.length, `${this.#options.what} (or more)`));
      return;
    }
    if (this.#options.crc32 !== false) this.#crc = engine.crc32(chunk, this.#crc) >>> 0;
    this.#bytes += chunk.length;
    this.#options.onBytes?.(chunk.length);
    this.#options.observe?.(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const { expectedBytes, expectedCrc32, object, what } = this.#options;
    if (expectedBytes !== undefined && this.#bytes !== expectedBytes) {
      callback(errSizeMismatch(object, expectedBytes, this.#bytes, what));
      return;
    }
    if (expectedCrc32 !== undefined && this.#options.crc32 !== false && this.#crc !== expectedCrc32 >>> 0) {
      callback(errChecksumMismatch(object, what, expectedCrc32, this.#crc));
      return;
    }
    callback();
  }
}

export function createCrc32Meter(options: Crc32MeterOptions): Crc32Meter {
  return new Crc32Meter(options);
}
