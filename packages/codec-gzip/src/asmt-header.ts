/**
 * ASMT's 24-byte header in front of a compressed segment (docs/asmt-format.md §11):
 *
 * ```
 * offset size  field
 * 0      4     magic   u32 LE 0x544D5341 (bytes "ASMT")
 * 4      4     version u32 LE = 1
 * 8      8     segsz   u64 LE, the raw segment size
 * 16     8     crc32   u64 LE, CRC-32 of the raw bytes (upper 4 bytes 0)
 * ```
 */
import { errChecksumMismatch, errConfigInvalid, errCorruptObject, errSizeMismatch } from '@shmsnap/core/plugin-kit';

export const ASMT_HEADER_BYTES = 24;
/** The bytes "ASMT" read as a little-endian u32. */
export const ASMT_MAGIC = 0x544d5341;
/** ASMT also accepts the magic byte-swapped (§11) — we do too, as a reader only. */
export const ASMT_MAGIC_SWAPPED = 0x41534d54;
export const ASMT_VERSION = 1;

export interface AsmtHeader {
  readonly rawSize: number;
  readonly rawCrc32: number;
}

function checkCrc32Value(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw errConfigInvalid(name, `expected an unsigned 32-bit integer, got ${value}`);
  }
}

/** The header ASMT writes for a segment of `rawSize` bytes whose CRC-32 is `rawCrc32`. */
export function encodeAsmtHeader(rawSize: number, rawCrc32: number): Buffer {
  if (!Number.isSafeInteger(rawSize) || rawSize < 0) {
    throw errConfigInvalid('rawSize', `expected a non-negative safe integer, got ${rawSize}`);
  }
  checkCrc32Value('rawCrc32', rawCrc32);
  const header = Buffer.alloc(ASMT_HEADER_BYTES);
  header.writeUInt32LE(ASMT_MAGIC, 0);
  header.writeUInt32LE(ASMT_VERSION, 4);
  // BigInt: segments can be ≥ 4 GiB and a u64 does not fit 32-bit writers.
  header.writeBigUInt64LE(BigInt(rawSize), 8);
  header.writeBigUInt64LE(BigInt(rawCrc32), 16);
  return header;
}

/**
 * Reads the header at the start of `buffer` (extra bytes after it are
 * ignored). Throws CORRUPT_OBJECT naming `objectName` when it is too short or
 * is not a version-1 ASMT header.
 *
 * The other fields are read little-endian whichever magic is found: ASMT reads
 * them in host order after accepting either magic, and it only builds on
 * little-endian hosts.
 */
export function parseAsmtHeader(buffer: Uint8Array, objectName: string): AsmtHeader {
  if (buffer.length < ASMT_HEADER_BYTES) {
    throw errCorruptObject(
      objectName,
      `truncated: ${buffer.length} bytes, shorter than the ${ASMT_HEADER_BYTES}-byte ASMT header`,
    );
  }
  const view = Buffer.from(buffer.buffer, buffer.byteOffset, ASMT_HEADER_BYTES);
  const magic = view.readUInt32LE(0);
  if (magic !== ASMT_MAGIC && magic !== ASMT_MAGIC_SWAPPED) {
    throw errCorruptObject(
      objectName,
      `not an ASMT compressed segment: magic is 0x${magic.toString(16).padStart(8, '0')}, expected 0x${ASMT_MAGIC.toString(16)}`,
    );
  }
  const version = view.readUInt32LE(4);
  if (version !== ASMT_VERSION) {
    throw errCorruptObject(objectName, `unsupported ASMT header version ${version} (only ${ASMT_VERSION} exists)`);
  }
  const segsz = view.readBigUInt64LE(8);
  if (segsz > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw errCorruptObject(objectName, `ASMT header segment size ${segsz} is not a plausible size`);
  }
  const crc = view.readBigUInt64LE(16);
  if (crc > 0xffffffffn) {
    // ASMT stores a zlib CRC (< 2^32) in an 8-byte field: anything above is damage.
    throw errCorruptObject(objectName, `ASMT header CRC-32 field 0x${crc.toString(16)} has bits above 32`);
  }
  return { rawSize: Number(segsz), rawCrc32: Number(crc) };
}

/** What a decoder was told of the segment, to check an ASMT header against. */
export interface ExpectedSegment {
  readonly objectName: string;
  readonly rawSize: number;
  readonly rawCrc32?: number;
}

/** Parses the header and checks it against the size (and CRC, when known) the caller recorded. */
export function checkAsmtHeader(buffer: Uint8Array, expected: ExpectedSegment): AsmtHeader {
  const { objectName, rawSize, rawCrc32 } = expected;
  const header = parseAsmtHeader(buffer, objectName);
  if (header.rawSize !== rawSize) throw errSizeMismatch(objectName, rawSize, header.rawSize, 'bytes in the ASMT header segment size');
  if (rawCrc32 !== undefined && header.rawCrc32 !== rawCrc32 >>> 0) {
    throw errChecksumMismatch(objectName, 'segment according to the ASMT header', rawCrc32, header.rawCrc32);
  }
  return header;
}
