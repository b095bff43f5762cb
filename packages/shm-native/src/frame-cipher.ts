/**
 * Core's FrameCipher (contracts/frame-cipher.ts) on the addon's AES-256-GCM
 * (native/aead.cc): the OpenSSL inside this Node, writing into the buffer
 * core gives instead of returning a fresh one per call. Measured here on
 * 1 MiB frames: opened at 2.5 GB/s into a buffer, against 1.6 GB/s through
 * node:crypto's update() in 128 KiB slices; an encrypted zstd restore went
 * from 0.79× to 0.97× the plain one with 4 MiB frames (2026-12-02).
 */
import type { FrameCipher } from '@shmsnap/core';
import { loadShmBinding, type ShmBinding } from './binding.js';

/**
 * The addon's frame cipher; undefined when `binding` has none (the
 * in-memory binding, an addon built before it), and the caller keeps
 * node:crypto's. Throws ADDON_MISSING as `loadShmBinding` when the addon
 * does not load.
 */
export function addonFrameCipher(binding: ShmBinding = loadShmBinding()): FrameCipher | undefined {
  const { gcmSeal, gcmOpen } = binding;
  if (!gcmSeal || !gcmOpen) return undefined;
  return {
    name: 'shm-native (OpenSSL, in place)',
    seal: (key, nonce, aad, parts, out) => {
      gcmSeal(key, nonce, aad, parts, out);
    },
    open: (key, nonce, aad, parts, tag, out) => gcmOpen(key, nonce, aad, parts, tag, out),
  };
}
