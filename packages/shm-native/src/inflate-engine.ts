/**
 * Core's InflateEngine (contracts/inflate-engine.ts) on the addon's inflater
 * (native/inflate.cc): the zlib inside this Node, writing into the memory it
 * is given (the gzip codec's direct decoder gives it the segment) and taking
 * the CRC-32 of those bytes on the same thread. 256 MiB of index-like
 * content inflated in 1.01 s of CPU against 1.26 s for zlib.inflateRawSync
 * and 1.5 s for the system's C zlib (2026-12-03); the README's Speed section
 * has what it did to the gzip restores.
 */
import type { InflateEngine } from '@shmsnap/core';
import { loadShmBinding, type ShmBinding } from './binding.js';

/**
 * The addon's inflate engine; undefined when `binding` has none (the
 * in-memory binding, an addon built before it), and the caller keeps
 * node:zlib. Throws ADDON_MISSING as `loadShmBinding` when the addon does
 * not load.
 */
export function addonInflateEngine(binding: ShmBinding = loadShmBinding()): InflateEngine | undefined {
  const { Inflater } = binding;
  if (!Inflater) return undefined;
  return {
    name: 'shm-native inflate (Node zlib)',
    createInflater: (format) => new Inflater(format === 'raw' ? -15 : 15),
  };
}
