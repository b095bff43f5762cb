/**
 * The frame cipher contract: AES-256-GCM of one frame of an encrypted object
 * (docs/encryption.md), so that a faster implementation than node:crypto's
 * (shm-native's addon) can be given to the pipelines. Core keeps the format
 * and every check of it: nonces, additional data, frame boundaries, what a
 * failed tag means. An implementation is the cipher call and nothing else.
 *
 * Guarantees an implementation MUST give:
 * - The bytes are AES-256-GCM's (NIST SP 800-38D, 96-bit nonce, 128-bit
 *   tag), identical to node:crypto's `aes-256-gcm`: what one sealed, the
 *   other opens.
 * - `seal` writes the encryption of the parts, concatenated (n bytes), to
 *   `out[0, n)` and their tag to `out[n, n + 16)`, and writes nothing else
 *   of `out`. `open` writes the decryption of the parts to `out[0, n)` and
 *   returns whether `tag` checked; when it did not, and when it throws,
 *   `out[0, n)` MUST hold no plaintext (zeroed), so that unauthenticated
 *   bytes can never be passed on by mistake; `out[n, ...)` is not written.
 * - Both are synchronous and keep no reference to any argument once they
 *   return (a promise the conformance kit cannot check). They throw
 *   (TypeError, RangeError) for bad arguments: a key not 32 bytes, a nonce
 *   not 12, a tag not 16, an `out` too short; any other throw is the
 *   cipher library failing. A tag that does not check is `false`, never an
 *   exception.
 * - `out` never overlaps a part (callers give a buffer of their own).
 *
 * `describeFrameCipherConformance` (`@shmsnap/core/testkit`) checks these.
 */

export interface FrameCipher {
  /** Which implementation is in use: named by `--verbose` runs (the CLI) and in test titles. */
  readonly name: string;
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[], out: Uint8Array): void;
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[], tag: Uint8Array, out: Uint8Array): boolean;
}
