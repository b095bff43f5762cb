/**
 * Core's DeflateEngine (contracts/deflate-engine.ts) on the addon's deflater
 * (native/deflate.cc): the zlib inside this Node, one stream reset per piece,
 * each output left as one exact-size Buffer, the input's CRC-32 taken on the
 * same thread. The README's Speed section has what it did to gzip backups.
 */
import type { DeflateEngine } from '@shmsnap/core';
import { loadShmBinding, type ShmBinding } from './binding.js';

/**
 * The addon's deflate engine; undefined when `binding` has none (the
 * in-memory binding, an addon built before it), and the caller keeps
 * node:zlib. Throws ADDON_MISSING as `loadShmBinding` when the addon does
 * not load.
 */
export function addonDeflateEngine(binding: ShmBinding = loadShmBinding()): DeflateEngine | undefined {
  const { Deflater } = binding;
  if (!Deflater) return undefined;
  return {
    name: 'shm-native deflate (Node zlib)',
    createDeflater: (level) => new Deflater(level),
  };
}
