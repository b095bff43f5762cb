/**
 * The wrappers a compressed ASMT body may have: a gzip member header
 * (RFC 1952 §2.3), written by us and parsed as a stream, and the two-byte
 * zlib header (RFC 1950), which ASMT's reader auto-detects too.
 */
import { crc32, errCorruptObject } from '@shmsnap/core/plugin-kit';

export const GZIP_HEADER_BYTES = 10;
export const GZIP_TRAILER_BYTES = 8;

const ID1 = 0x1f;
const ID2 = 0x8b;
const CM_DEFLATE = 8;
const OS_UNIX = 3;

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const FRESERVED = 0xe0;

/**
 * The member header zlib writes by default, as ASMT's files have it: no name,
 * mtime 0, OS Unix. XFL tells readers how hard the compressor tried, the way
 * zlib sets it.
 */
export function gzipMemberHeader(level: number): Buffer {
  const xfl = level === 1 ? 4 : level === 9 ? 2 : 0;
  return Buffer.from([ID1, ID2, CM_DEFLATE, 0, 0, 0, 0, 0, xfl, OS_UNIX]);
}

/** The member trailer: CRC-32 of the raw bytes, then their count mod 2^32. */
export function gzipMemberTrailer(rawCrc32: number, rawSize: number): Buffer {
  const trailer = Buffer.alloc(GZIP_TRAILER_BYTES);
  trailer.writeUInt32LE(rawCrc32 >>> 0, 0);
  // `%` on a JS number stays exact for sizes ≥ 4 GiB, unlike `>>> 0` tricks on the size.
  trailer.writeUInt32LE(rawSize % 0x1_0000_0000, 4);
  return trailer;
}

/** True when `cmf`,`flg` open a zlib stream zlib's `inflate` accepts without a preset dictionary. */
export function isZlibHeader(cmf: number, flg: number): boolean {
  const method = cmf & 0x0f;
  const windowBits = (cmf >>> 4) + 8;
  const presetDictionary = (flg & 0x20) !== 0;
  return method === CM_DEFLATE && windowBits <= 15 && (cmf * 256 + flg) % 31 === 0 && !presetDictionary;
}

type Field = 'fixed' | 'xlen' | 'extra' | 'name' | 'comment' | 'hcrc' | 'done';

/**
 * Parses a gzip member header fed in arbitrary slices, holding at most 10
 * bytes: optional fields (extra, name, comment) are skipped as they stream
 * past, however long they are. Checks the optional header CRC.
 */
export class GzipHeaderParser {
  readonly #objectName: string;
  readonly #fixed = Buffer.alloc(GZIP_HEADER_BYTES);
  #field: Field = 'fixed';
  /** Bytes of the current fixed-size field collected so far. */
  #have = 0;
  /** A two-byte little-endian field (XLEN, header CRC) as it is collected. */
  #word = 0;
  #flags = 0;
  #extraLeft = 0;
  #crc = 0;

  constructor(objectName: string) {
    this.#objectName = objectName;
  }

  get done(): boolean {
    return this.#field === 'done';
  }

  /**
   * Consumes header bytes from `chunk` and returns how many it used; fewer
   * than `chunk.length` only once the header is complete (the rest is body).
   */
  feed(chunk: Buffer): number {
    let at = 0;
    while (at < chunk.length && this.#field !== 'done') {
      if (this.#field === 'hcrc') {
        // Checked against the CRC of every header byte before it, so it stays out of that CRC.
        this.#word |= chunk[at]! << (8 * this.#have);
        at += 1;
        this.#have += 1;
        if (this.#have === 2) this.#checkHeaderCrc();
        continue;
      }
      const start = at;
      switch (this.#field) {
        case 'fixed': {
          const take = Math.min(GZIP_HEADER_BYTES - this.#have, chunk.length - at);
          chunk.copy(this.#fixed, this.#have, at, at + take);
          this.#have += take;
          at += take;
          if (this.#have === GZIP_HEADER_BYTES) this.#checkFixed();
          break;
        }
        case 'xlen': {
          this.#word |= chunk[at]! << (8 * this.#have);
          at += 1;
          this.#have += 1;
          if (this.#have === 2) {
            this.#extraLeft = this.#word;
            this.#field = this.#extraLeft === 0 ? this.#after(FEXTRA) : 'extra';
          }
          break;
        }
        case 'extra': {
          const take = Math.min(this.#extraLeft, chunk.length - at);
          at += take;
          this.#extraLeft -= take;
          if (this.#extraLeft === 0) this.#field = this.#after(FEXTRA);
          break;
        }
        case 'name':
        case 'comment': {
          const zero = chunk.indexOf(0, at);
          if (zero < 0) {
            at = chunk.length;
          } else {
            at = zero + 1;
            this.#field = this.#after(this.#field === 'name' ? FNAME : FCOMMENT);
          }
          break;
        }
      }
      this.#crc = crc32(chunk.subarray(start, at), this.#crc);
    }
    return at;
  }

  #checkHeaderCrc(): void {
    const actual = this.#crc & 0xffff;
    if (this.#word !== actual) {
      throw errCorruptObject(
        this.#objectName,
        `gzip header CRC is 0x${this.#word.toString(16)}, the header's bytes give 0x${actual.toString(16)}`,
      );
    }
    this.#field = 'done';
  }

  #checkFixed(): void {
    const fixed = this.#fixed;
    if (fixed[0] !== ID1 || fixed[1] !== ID2) {
      throw errCorruptObject(this.#objectName, 'compressed body is not gzip (bad gzip magic)');
    }
    if (fixed[2] !== CM_DEFLATE) {
      throw errCorruptObject(this.#objectName, `gzip compression method ${fixed[2]} is not deflate (8)`);
    }
    this.#flags = fixed[3]!;
    if ((this.#flags & FRESERVED) !== 0) {
      // RFC 1952: a reader must reject reserved flags, they may change the layout.
      throw errCorruptObject(this.#objectName, `gzip header has reserved flags set (0x${this.#flags.toString(16)})`);
    }
    this.#field = this.#after(0);
  }

  /** The next optional field after `field` (0: after the fixed part). */
  #after(field: number): Field {
    this.#have = 0;
    this.#word = 0;
    const order: readonly [number, Field][] = [
      [FEXTRA, 'xlen'],
      [FNAME, 'name'],
      [FCOMMENT, 'comment'],
      [FHCRC, 'hcrc'],
    ];
    let passed = field === 0;
    for (const [flag, next] of order) {
      if (passed && (this.#flags & flag) !== 0) return next;
      if (flag === field) passed = true;
    }
    return 'done';
  }
}
