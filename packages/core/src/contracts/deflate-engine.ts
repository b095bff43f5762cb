/**
 * The deflate engine contract: raw deflate of whole pieces off the main
 * thread, each call's output ending on a byte boundary, with the CRC-32 of
 * the input. A codec given one (the gzip codec's `deflateEngine`, shm-native's
 * addon from the CLI) compresses a backup's pieces with it: node:zlib's
 * one-shot calls make a new stream and a piece-sized output Buffer per piece,
 * which the collector then spends seconds on. The codec keeps the format
 * (headers, trailers, the piece index) and every check of the raw bytes; an
 * engine is the deflate call and nothing else.
 *
 * Guarantees an implementation MUST give:
 * - `createDeflater(level)` makes a raw deflate stream (RFC 1951, a 32 KiB
 *   window) at zlib's `level` (1 to 9); any other level throws. Its bytes
 *   need not be zlib's own, but any inflater MUST read them.
 * - `deflate(input, last, crc)` compresses all of `input` continuing the
 *   stream, and settles with the compressed bytes in a new array the caller
 *   owns (no other holder) and the CRC-32 of `input` continued from `crc`.
 *   With `last` false the output ends with a sync flush: on a byte boundary,
 *   no final block, so more output can follow; with `last` true it ends with
 *   the final block. The outputs since the last `reset()` (or creation),
 *   joined in order, inflate to the inputs joined in order.
 * - After `reset()` the next output does not refer to any byte before it (an
 *   empty window): it inflates on its own, and an inflater can start at it.
 * - A deflater runs one call at a time: `deflate`, `reset` or `close` while a
 *   call runs throws. The caller keeps `input` untouched (and its memory
 *   mapped) until the call settled; the engine keeps no reference to it
 *   afterwards. `close()` frees the deflater, after which every call throws.
 * - Any rejection is the engine failing (out of memory): the input cannot be
 *   invalid.
 *
 * `describeDeflateEngineConformance` (`@shmsnap/core/testkit`) checks these.
 */

export interface DeflatedPiece {
  readonly output: Uint8Array;
  readonly crc32: number;
}

export interface Deflater {
  deflate(input: Uint8Array, last: boolean, crc: number): Promise<DeflatedPiece>;
  reset(): void;
  close(): void;
}

export interface DeflateEngine {
  /** Which implementation: named in test titles and `--verbose` runs. */
  readonly name: string;
  createDeflater(level: number): Deflater;
}
