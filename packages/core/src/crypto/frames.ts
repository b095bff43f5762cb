/**
 * The encrypted object format (docs/encryption.md): a 24-byte header, then
 * frames of `frameBytes` plaintext each (the last one shorter, or empty only
 * for an empty object), each sealed with AES-256-GCM and followed by its
 * 16-byte tag. The nonce of frame i is the header's 7-byte random prefix ‖ i
 * (32-bit big-endian) ‖ a last-frame flag (1 on the last frame, else 0), as
 * age's STREAM; the additional data of every frame is the header and the
 * object's name. So a frame changed, moved within the object or into another
 * (another name, another prefix), a truncation at a frame boundary (the new
 * last frame was not sealed as last), and bytes appended after the last frame
 * all fail the tag of some frame.
 *
 * The decryptor holds at most one frame and releases a frame's plaintext only
 * after its tag checked: nothing unauthenticated goes downstream.
 *
 * The AES-256-GCM calls are a FrameCipher's (contracts/frame-cipher.ts):
 * node:crypto's unless a faster one is given. Each sealed or opened frame
 * goes on as one buffer of its own, handed over (contracts/chunk-ownership.ts)
 * so that the next stage may take it without a copy (zstd's decoder
 * transfers it to its worker).
 */
import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { handOver, MemoryStock, recyclerOf } from '../contracts/chunk-ownership.js';
import type { FrameCipher } from '../contracts/frame-cipher.js';
import { errAuthFailed, errCorruptObject } from '../errors.js';
import { nodeFrameCipher } from './node-frame-cipher.js';

export const FRAME_MAGIC = Buffer.from('SHMSNAPE', 'latin1');
export const FRAME_FORMAT_VERSION = 1;
/** Algorithm byte of the header: AES-256-GCM frames. */
export const FRAME_ALGORITHM_AES_256_GCM = 1;
export const HEADER_BYTES = 24;
export const TAG_BYTES = 16;
export const NONCE_PREFIX_BYTES = 7;
/**
 * 2 MiB of plaintext per frame: the tag costs 16 bytes per 2 MiB, and the
 * decryptor holds one frame (and the frame it opens into) per object in
 * flight. Each frame is one input to a zstd worker. Measured 2026-12-02
 * (shm-native's cipher, 5 cold restores each, against the plain restore of
 * the same run): 1 MiB frames 0.89×; 2 MiB 0.93× at 277 MiB peak RSS (plain
 * 270); 4 MiB 0.98× but 308 MiB, over the 300 MiB bound. Older backups keep
 * their recorded size.
 */
export const DEFAULT_FRAME_BYTES = 2 * 1024 * 1024;
export const MIN_FRAME_BYTES = 16;
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** The counter is 32 bits: 2^32 frames of the default 2 MiB is 8 PiB, far past any segment. */
const MAX_FRAMES = 2 ** 32;

export interface FrameHeader {
  readonly frameBytes: number;
  readonly noncePrefix: Buffer;
}

export function encodeHeader(header: FrameHeader): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  FRAME_MAGIC.copy(out, 0);
  out[8] = FRAME_FORMAT_VERSION;
  out[9] = FRAME_ALGORITHM_AES_256_GCM;
  out.writeUInt32BE(header.frameBytes, 12);
  header.noncePrefix.copy(out, 16);
  return out;
}

/** Parses a header; CORRUPT_OBJECT unless it is ours, of this version, with the frame size recorded (`frameBytes`). */
export function parseHeader(bytes: Buffer, object: string, frameBytes: number): FrameHeader {
  if (bytes.length < HEADER_BYTES) throw errAuthFailed(object, `${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  if (!bytes.subarray(0, 8).equals(FRAME_MAGIC)) throw errCorruptObject(object, 'not a shmsnap encrypted object (bad magic)');
  if (bytes[8] !== FRAME_FORMAT_VERSION || bytes[9] !== FRAME_ALGORITHM_AES_256_GCM) {
    throw errCorruptObject(object, `encrypted object of version ${bytes[8]}, algorithm ${bytes[9]}; this shmsnap reads version ${FRAME_FORMAT_VERSION}, algorithm ${FRAME_ALGORITHM_AES_256_GCM}`);
  }
  const recorded = bytes.readUInt32BE(12);
  if (recorded !== frameBytes || bytes[10] !== 0 || bytes[11] !== 0 || bytes[23] !== 0) throw errAuthFailed(object, `header does not match the manifest (frame size ${recorded}, recorded ${frameBytes})`);
  return { frameBytes, noncePrefix: Buffer.from(bytes.subarray(16, 16 + NONCE_PREFIX_BYTES)) };
}

/** Stored size of an encrypted object holding `plainBytes`. */
export function encryptedSize(plainBytes: number, frameBytes: number): number {
  const frames = Math.max(1, Math.ceil(plainBytes / frameBytes));
  return HEADER_BYTES + plainBytes + frames * TAG_BYTES;
}

function nonceOf(prefix: Buffer, counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(counter, NONCE_PREFIX_BYTES);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

function checkFrameBytes(frameBytes: number): void {
  if (!Number.isInteger(frameBytes) || frameBytes < MIN_FRAME_BYTES || frameBytes > MAX_FRAME_BYTES) {
    throw new RangeError(`frame size ${frameBytes} is outside ${MIN_FRAME_BYTES}..${MAX_FRAME_BYTES}`);
  }
}

export interface FrameStreamOptions {
  /** The frame key (32 bytes), derived from the backup's data key. */
  readonly key: Buffer;
  /** Bound into every frame: a frame moved into another object fails. */
  readonly objectName: string;
  /** @default DEFAULT_FRAME_BYTES */
  readonly frameBytes?: number;
  /** The AES-256-GCM implementation. @default node:crypto's */
  readonly cipher?: FrameCipher;
}

/**
 * Encrypts a stream into the format above. It holds one frame of plaintext
 * (the frame is sealed once the next byte, or the end, shows whether it is
 * the last one), as references to the chunks it was given, not a copy: the
 * cipher reads them in place when the frame is sealed (a copy cost about a
 * tenth of the cipher's own time), into one buffer holding the frame and
 * its tag.
 */
export class FrameEncryptor extends Transform {
  readonly #key: Buffer;
  readonly #cipher: FrameCipher;
  readonly #frameBytes: number;
  readonly #prefix: Buffer;
  readonly #aad: Buffer;
  #parts: Buffer[] = [];
  #fill = 0;
  #counter = 0;

  constructor(options: FrameStreamOptions & { readonly noncePrefix?: Buffer }) {
    super();
    this.#frameBytes = options.frameBytes ?? DEFAULT_FRAME_BYTES;
    checkFrameBytes(this.#frameBytes);
    this.#key = options.key;
    this.#cipher = options.cipher ?? nodeFrameCipher;
    this.#prefix = options.noncePrefix ?? randomBytes(NONCE_PREFIX_BYTES);
    const header = encodeHeader({ frameBytes: this.#frameBytes, noncePrefix: this.#prefix });
    this.#aad = Buffer.concat([header, Buffer.from(options.objectName, 'utf8')]);
    this.push(header);
  }

  #seal(last: boolean): void {
    if (this.#counter >= MAX_FRAMES) throw new RangeError('more than 2^32 frames in one object');
    const sealed = Buffer.allocUnsafeSlow(this.#fill + TAG_BYTES);
    this.#cipher.seal(this.#key, nonceOf(this.#prefix, this.#counter, last), this.#aad, this.#parts, sealed);
    this.#counter += 1;
    this.#parts = [];
    this.#fill = 0;
    this.push(handOver(sealed));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      let offset = 0;
      while (offset < chunk.length) {
        if (this.#fill === this.#frameBytes) this.#seal(false);
        const n = Math.min(chunk.length - offset, this.#frameBytes - this.#fill);
        this.#parts.push(n === chunk.length ? chunk : chunk.subarray(offset, offset + n));
        this.#fill += n;
        offset += n;
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#seal(true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#parts = [];
    callback(error);
  }
}

/**
 * Decrypts the format above, failing with AUTH_FAILED (naming the object and
 * the frame) at the first frame whose tag does not check, and at the end when
 * the last frame was not sealed as last. Holds at most one frame (plus the
 * header), as references to the chunks read; emits a frame's plaintext only
 * after its tag checked. (The last-frame flag is in the nonce, so a frame can
 * be opened only once the next byte, or the end, says whether it is the last.)
 */
export class FrameDecryptor extends Transform {
  readonly #key: Buffer;
  readonly #cipher: FrameCipher;
  readonly #object: string;
  readonly #frameBytes: number;
  #parts: Buffer[] = [];
  #fill = 0;
  #header: Buffer | undefined = Buffer.alloc(HEADER_BYTES);
  #headerFill = 0;
  #prefix: Buffer | undefined;
  #aad: Buffer | undefined;
  #counter = 0;
  /** Frames' memory given back: two frames (the zstd decoder queues two inputs) are enough to never allocate. */
  readonly #stock = new MemoryStock(2);
  /** Handed-over inputs whose producer wants their memory back, with the frame their last byte is in. */
  #held: { readonly frame: number; readonly memory: ArrayBuffer; readonly recycle: (memory: ArrayBuffer) => void }[] = [];

  /** Gives back the inputs whose every byte is in a frame already opened: no part of them is held any more. */
  #recycleInputs(): void {
    while (this.#held.length > 0 && this.#held[0]!.frame < this.#counter) {
      const { memory, recycle } = this.#held.shift()!;
      recycle(memory);
    }
  }

  constructor(options: FrameStreamOptions) {
    super();
    this.#frameBytes = options.frameBytes ?? DEFAULT_FRAME_BYTES;
    checkFrameBytes(this.#frameBytes);
    this.#key = options.key;
    this.#cipher = options.cipher ?? nodeFrameCipher;
    this.#object = options.objectName;
  }

  #open(last: boolean): void {
    if (this.#fill < TAG_BYTES) throw errAuthFailed(this.#object, `truncated in frame ${this.#counter} (${this.#fill} bytes, less than its tag)`);
    let body = this.#fill - TAG_BYTES;
    const sealed: Buffer[] = [];
    const tag: Buffer[] = [];
    for (const part of this.#parts) {
      const n = Math.min(body, part.length);
      if (n > 0) sealed.push(n === part.length ? part : part.subarray(0, n));
      if (n < part.length) tag.push(part.subarray(n));
      body -= n;
    }
    // Memory a consumer gave back (zstd's worker, once it used a frame up) when there is some: no fresh pages per frame.
    const plain = this.#stock.take(this.#fill - TAG_BYTES);
    const authentic = this.#cipher.open(this.#key, nonceOf(this.#prefix!, this.#counter, last), this.#aad!, sealed, tag.length === 1 ? tag[0]! : Buffer.concat(tag), plain);
    if (!authentic) {
      const why = last
        ? `frame ${this.#counter} is not a valid last frame (altered, moved from elsewhere, or the object was truncated at a frame boundary)`
        : `frame ${this.#counter} is altered, out of place or from another object`;
      throw errAuthFailed(this.#object, why);
    }
    this.#counter += 1;
    this.#parts = [];
    this.#fill = 0;
    this.#recycleInputs();
    // Only now, authenticated, do the bytes go on.
    if (plain.length > 0) this.push(handOver(plain, this.#stock.recycle));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      let offset = 0;
      if (this.#header) {
        const n = Math.min(chunk.length, HEADER_BYTES - this.#headerFill);
        chunk.copy(this.#header, this.#headerFill, 0, n);
        this.#headerFill += n;
        offset = n;
        if (this.#headerFill === HEADER_BYTES) {
          const parsed = parseHeader(this.#header, this.#object, this.#frameBytes);
          this.#prefix = parsed.noncePrefix;
          this.#aad = Buffer.concat([this.#header, Buffer.from(this.#object, 'utf8')]);
          this.#header = undefined;
        }
      }
      const sealedBytes = this.#frameBytes + TAG_BYTES;
      while (offset < chunk.length) {
        if (this.#fill === sealedBytes) {
          // More bytes follow a full frame: it was not the last one.
          if (this.#counter >= MAX_FRAMES) throw errAuthFailed(this.#object, 'more than 2^32 frames');
          this.#open(false);
        }
        const n = Math.min(chunk.length - offset, sealedBytes - this.#fill);
        this.#parts.push(offset === 0 && n === chunk.length ? chunk : chunk.subarray(offset, offset + n));
        this.#fill += n;
        offset += n;
      }
      // A handed-over input (contracts/chunk-ownership.ts) is ours: its memory goes back once its frame is opened.
      const recycle = recyclerOf(chunk);
      if (recycle) this.#held.push({ frame: this.#counter, memory: chunk.buffer as ArrayBuffer, recycle });
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.#header) throw errAuthFailed(this.#object, `${this.#headerFill} bytes, shorter than the ${HEADER_BYTES}-byte header`);
      this.#open(true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#parts = [];
    this.#held = [];
    callback(error);
  }
}
