/**
 * The inflate engine contract: deflate streams inflated into memory the
 * caller gives, off the main thread, with the CRC-32 of what was written. A
 * codec given one (the gzip codec's `inflateEngine`, shm-native's addon from
 * the CLI) can decode straight into a segment (`createDirectDecoder`):
 * node:zlib hands out fresh Buffers only, which a restore then copies,
 * checksums again and leaves to the collector. The codec keeps the format
 * and every check of it (headers, trailers, sizes, what follows the stream);
 * an engine is the inflate call and nothing else.
 *
 * Guarantees an implementation MUST give:
 * - `createInflater('raw')` inflates raw deflate (RFC 1951), `'zlib'` a zlib
 *   stream (RFC 1950, its Adler-32 checked); the bytes are zlib's.
 * - `inflate(input, output, crc)` reads from the start of `input`, writes
 *   from the start of `output`, and settles with how many bytes it read and
 *   wrote, whether the stream ended (then nothing after its end was read),
 *   and the CRC-32 of the bytes written continued from `crc`. It writes no
 *   byte of `output` past `written`; it stops only when the input is used
 *   up, the output is full, or the stream ended. With no room left it still
 *   reads what produces no bytes (an empty stored block, the end of the
 *   stream). Reading nothing and writing nothing means it cannot go on with
 *   what it was given.
 * - Invalid data rejects with an Error whose `code` is `Z_DATA_ERROR` (or
 *   `Z_NEED_DICT`); any other rejection is the engine failing.
 * - An inflater runs one call at a time: `inflate`, `reset` or `close` while
 *   a call runs throws. The caller keeps `input` and `output` untouched (and
 *   their memory mapped) until the call settled; the engine keeps no
 *   reference to either afterwards. `reset()` starts a new stream; `close()`
 *   frees the inflater, after which every call throws.
 *
 * `describeInflateEngineConformance` (`@shmsnap/core/testkit`) checks these.
 */

export interface InflateResult {
  readonly read: number;
  readonly written: number;
  readonly ended: boolean;
  readonly crc32: number;
}

export interface Inflater {
  inflate(input: Uint8Array, output: Uint8Array, crc: number): Promise<InflateResult>;
  reset(): void;
  close(): void;
}

export interface InflateEngine {
  /** Which implementation: named in test titles and `--verbose` runs. */
  readonly name: string;
  createInflater(format: 'raw' | 'zlib'): Inflater;
}
