/**
 * Core's FrameCipher (contracts/frame-cipher.ts) on the addon's AES-256-GCM
 * (native/aead.cc): the OpenSSL inside this Node, writing into the buffer
 * core gives instead of returning a fresh one per call (node:crypto's
 * update() does). With 2 MiB frames the encrypted zstd restore measured
 * 0.93x the plain one in a quick A/B, and 1.02x on 2026-12-03 (7 cold
 * restores each); docs/encryption.md has the numbers and what node:crypto
 * gave.
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
    name: 'shm-native AES-256-GCM (OpenSSL)',
    seal: (key, nonce, aad, parts, out) => gcmSeal(key, nonce, aad, parts, out),
    open: (key, nonce, aad, parts, tag, out) => gcmOpen(key, nonce, aad, parts, tag, out),
  };
}
