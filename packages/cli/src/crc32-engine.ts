/**
 * The process's CRC-32 engine, chosen by runCli and runAsmt before anything
 * is read: the addon's (shm-native crc32-engine.ts, 5-6x zlib.crc32 here) where
 * it loads and the processor has PCLMULQDQ, zlib's otherwise. Both give the
 * same CRC-32 (core checks the addon's against zlib before it takes it), so
 * an engine that cannot be used costs speed and nothing else: this never
 * throws, and says nothing.
 */
import { useCrc32Engine } from '@shmsnap/core';
import { addonCrc32Engine } from '@shmsnap/shm-native';

export function useAddonCrc32(): void {
  try {
    const engine = addonCrc32Engine();
    if (engine) useCrc32Engine(engine);
  } catch {
    // ADDON_MISSING (no addon for this host) or INTERNAL (it disagreed with zlib): zlib's stays.
  }
}
