/**
 * The frame cipher on node:crypto (contracts/frame-cipher.ts): the default,
 * used whenever no faster one is given. Each `update()` returns a fresh
 * allocation, copied into `out`; shm-native's addon writes into `out`
 * directly and is what the CLI uses.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { FrameCipher } from '../contracts/frame-cipher.js';

const TAG_BYTES = 16;

/**
 * Bytes handed to one `update()`: each call allocates its output, and a
 * 1 MiB output is a fresh mapping whose pages fault in on every call, where
 * 128 KiB ones are reused from the allocator. Measured here in a loop on one
 * thread (2026-12-02): AES-256-GCM opened 1 MiB frames at 1.5 GB/s in one
 * update each, 3.0 GB/s in 128 KiB updates (64 KiB: 2.7, 256 KiB: 2.6); in
 * a restore, with a fresh buffer per frame, docs/encryption.md has it lower.
 */
const UPDATE_BYTES = 128 * 1024;

function checkSizes(key: Uint8Array, nonce: Uint8Array, tag?: Uint8Array): void {
  if (key.length !== 32) throw new RangeError('key must be 32 bytes');
  if (nonce.length !== 12) throw new RangeError('nonce must be 12 bytes');
  if (tag && tag.length !== TAG_BYTES) throw new RangeError('tag must be 16 bytes');
}

function totalOf(parts: readonly Uint8Array[]): number {
  let total = 0;
  for (const part of parts) total += part.length;
  return total;
}

/** Runs every part through `cipher` in UPDATE_BYTES slices, into `out` from 0; returns the bytes written. */
function runInto(cipher: { update(data: Uint8Array): Buffer }, parts: readonly Uint8Array[], out: Uint8Array): number {
  let at = 0;
  for (const part of parts) {
    for (let offset = 0; offset < part.length; offset += UPDATE_BYTES) {
      const piece = cipher.update(part.subarray(offset, offset + UPDATE_BYTES));
      out.set(piece, at);
      at += piece.length;
    }
  }
  return at;
}

export const nodeFrameCipher: FrameCipher = {
  name: 'node:crypto',
  seal(key, nonce, aad, parts, out) {
    checkSizes(key, nonce);
    const body = totalOf(parts);
    if (out.length < body + TAG_BYTES) throw new RangeError('out is shorter than the parts and the tag');
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(aad);
    if (runInto(cipher, parts, out) !== body) throw new Error('AES-256-GCM: enciphered fewer bytes than it was given');
    cipher.final();
    out.set(cipher.getAuthTag(), body);
  },
  open(key, nonce, aad, parts, tag, out) {
    checkSizes(key, nonce, tag);
    const body = totalOf(parts);
    if (out.length < body) throw new RangeError('out is shorter than the parts');
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    let authentic = false;
    try {
      if (runInto(decipher, parts, out) !== body) throw new Error('AES-256-GCM: deciphered fewer bytes than it was given');
      decipher.final();
      authentic = true;
    } catch (error) {
      // A tag that does not check is final()'s only throw past the sizes checked above.
      if ((error as Error).message.includes('fewer bytes')) throw error;
    } finally {
      // Whatever ended it short of a checked tag, no deciphered byte stays in `out`.
      if (!authentic) out.fill(0, 0, body);
    }
    return authentic;
  },
};
