/**
 * Core's CRC-32 engine (pipeline/checksum.ts) on the addon's carry-less
 * multiplication fold (native/crc32.cc): 16-21 GB/s against Node 20's
 * zlib.crc32 at 2.9-3.9 GB/s on this project's VM (64 KiB to 4 MiB calls,
 * 2026-12-03). The README's Speed section has what it did to each path.
 */
import type { Crc32Engine } from '@shmsnap/core';
import { addonPathOf, loadShmBinding, type ShmBinding } from './binding.js';

const engines = new WeakMap<ShmBinding, Crc32Engine>();

/**
 * The addon's CRC-32 engine, with the addon's path for worker threads, the
 * same object for the same binding (so installing it again costs nothing);
 * undefined when `binding` has none (a processor without PCLMULQDQ, the
 * in-memory binding, an addon built before it): the caller keeps zlib's.
 * Throws ADDON_MISSING as `loadShmBinding` when the addon does not load.
 */
export function addonCrc32Engine(binding: ShmBinding = loadShmBinding()): Crc32Engine | undefined {
  const { crc32 } = binding;
  if (!crc32) return undefined;
  let engine = engines.get(binding);
  if (!engine) {
    const module = addonPathOf(binding);
    engine = { name: 'shm-native CRC-32 (pclmul)', crc32, ...(module ? { module } : {}) };
    engines.set(binding, engine);
  }
  return engine;
}
