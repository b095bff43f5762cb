/**
 * The codec contract: how a segment's raw bytes become a stored object and
 * back.
 *
 * Guarantees a codec MUST give:
 * - `name` is unique in a registry; `extension` is the object-name suffix
 *   (`.dat`, `.dat.gz`, `.dat.zst`) and tells codecs apart when reading a
 *   location that has no manifest.
 * - The encoder turns exactly `rawSize` bytes into one stored object; more
 *   or fewer fail with SIZE_MISMATCH naming the object. When `needsRawCrc32`
 *   is set, the caller passes the CRC-32 of the raw bytes in advance (ASMT's
 *   header carries it before the data), and the encoder MUST fail with
 *   CHECKSUM_MISMATCH naming the object unless the bytes it was given have
 *   that CRC-32: the pipeline takes no second CRC-32 of them (a segment
 *   written between its pass and the encoder's is caught here).
 * - The decoder is strict and bounded: it emits exactly `rawSize` bytes or
 *   fails with CORRUPT_OBJECT / SIZE_MISMATCH / CHECKSUM_MISMATCH naming the
 *   object. It never emits more than `rawSize` bytes, and rejects trailing
 *   data, truncation and every check value it can verify. Memory stays
 *   bounded whatever the object's size.
 * - Destroying an encoder or decoder stream waits until no work still reads
 *   its input (chunks may be views of shared memory about to be detached)
 *   before it emits 'close'. Aborting the `signal` it was given destroys it
 *   the same way (failing with AbortError or ABORTED), and frees whatever it
 *   holds (workers, leases).
 *
 * - An encoder MAY cut the object into pieces a decoder can start at
 *   independently (no reference into earlier bytes) and describe them with
 *   `pieceIndex()`, read once it finished: the pipeline records the index in
 *   the manifest and hands it to the decoder, which then MAY decode pieces
 *   in parallel. The object MUST stay valid without its index (ASMT and
 *   `gzip -d` read it as any other), and a decoder given an index MUST still
 *   check every value it checks without one, and fail with CORRUPT_OBJECT
 *   when the object does not match the index.
 *
 * - A codec MAY offer `createDirectDecoder`: a decoder that takes the stored
 *   bytes and writes the raw bytes itself, in place, into memory a target
 *   shares (`SharedWindowsHandle`, contracts/target.ts), so that they never
 *   cross threads. It is held to every rule of `createDecoder` (it writes
 *   bytes [0, rawSize) and no byte past it), reports the bytes it wrote
 *   through `onBytes` as they land, and emits 'finish' only once every byte
 *   is written and the memory is closed again; `written()` then gives their
 *   count and CRC-32 for the caller to check. After an error or destroy it
 *   emits 'close' only once it no longer touches the memory.
 *
 * `describeCodecConformance` (`@shmsnap/core/testkit`) checks these.
 */
import type { Duplex, Writable } from 'node:stream';
import type { SharedWindowsHandle } from './target.js';

export interface EncodeOptions {
  readonly rawSize: number;
  /** Present when the codec declares `needsRawCrc32`. */
  readonly rawCrc32?: number;
  readonly level?: number;
  /** Upper bound on parallel work for one object. */
  readonly threads?: number;
  readonly objectName: string;
  readonly signal?: AbortSignal;
}

/**
 * Where an object's independently decodable pieces are: the first starts at
 * stored byte `offset`; every piece holds `rawBytes` raw bytes (the last one
 * the rest) and `storedBytes[i]` stored bytes.
 */
export interface PieceIndex {
  readonly offset: number;
  readonly rawBytes: number;
  readonly storedBytes: readonly number[];
}

/** What an encoder that cuts independent pieces also offers. */
export interface IndexingEncoder {
  /** The object's pieces, once the encoder finished; undefined when it cut none. */
  pieceIndex(): PieceIndex | undefined;
}

export function hasPieceIndex(encoder: object): encoder is IndexingEncoder {
  return typeof (encoder as Partial<IndexingEncoder>).pieceIndex === 'function';
}

export interface DecodeOptions {
  readonly rawSize: number;
  /** Size of the stored object when known (manifest or stat). */
  readonly storedSize?: number;
  readonly rawCrc32?: number;
  /** The encoder's piece index, from the manifest: the decoder may decode pieces in parallel. */
  readonly pieces?: PieceIndex;
  readonly threads?: number;
  readonly objectName: string;
  readonly signal?: AbortSignal;
}

export interface DirectDecodeOptions extends DecodeOptions {
  /** Where the raw bytes go, in place. */
  readonly into: SharedWindowsHandle;
  /** Raw bytes written since the last call, as they land (progress, the target's count). */
  readonly onBytes?: (bytes: number) => void;
}

/** A decoder writing into shared memory (the contract above). */
export interface DirectDecoder extends Writable {
  /** After 'finish': the raw bytes written and their CRC-32. */
  written(): { readonly bytes: number; readonly crc32: number };
}

/** What a codec can learn from the first bytes of a stored object. */
export interface CodecHeader {
  readonly rawSize: number;
  readonly rawCrc32?: number;
}

export interface Codec {
  readonly name: string;
  readonly extension: string;
  readonly levels: { readonly min: number; readonly max: number; readonly default: number } | null;
  /**
   * Stored bytes are exactly the raw bytes: the pipeline runs neither the
   * encoder nor the decoder, nor the second checksum; its raw CRC-32 meter
   * checks the bytes.
   */
  readonly identity?: boolean;
  readonly needsRawCrc32: boolean;
  /** Bytes `readHeader` needs; 0 when the object has no header. */
  readonly headerBytes: number;
  /** Parses the object's header; throws CORRUPT_OBJECT if it is not this codec's. */
  readHeader?(head: Buffer, objectName: string): CodecHeader;
  createEncoder(options: EncodeOptions): Duplex;
  createDecoder(options: DecodeOptions): Duplex;
  /** Optional: decodes straight into shared memory (the contract above). */
  createDirectDecoder?(options: DirectDecodeOptions): DirectDecoder;
}
