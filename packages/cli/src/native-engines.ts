/**
 * The addon's engines for what core and the codecs would otherwise do on
 * Node's own: the CRC-32 (shm-native crc32-engine.ts, 5-6x zlib.crc32 here),
 * chosen by runCli and runAsmt before anything is read, and the gzip codec's
 * inflater and deflater (shm-native inflate-engine.ts: restores inflate
 * straight into the segment; deflate-engine.ts: backups deflate with no
 * Buffer per piece for the collector), given to the built-in gzip plugin. Where the addon does not load
 * or lacks one (no PCLMULQDQ, an older prebuild), Node's stays: the bytes are
 * the same (core checks the addon's CRC-32 against zlib before it takes it),
 * so a missing engine costs speed and nothing else. No function here throws,
 * and none says anything.
 */
import { useCrc32Engine, type DeflateEngine, type InflateEngine } from '@shmsnap/core';
import { addonCrc32Engine, addonDeflateEngine, addonInflateEngine } from '@shmsnap/shm-native';

export function useAddonCrc32(): void {
  try {
    const engine = addonCrc32Engine();
    if (engine) useCrc32Engine(engine);
  } catch {
    // ADDON_MISSING (no addon for this host) or INTERNAL (it disagreed with zlib): zlib's stays.
  }
}

/** The addon's inflate engine, or undefined (the gzip codec then decodes through node:zlib streams). */
export function addonInflate(): InflateEngine | undefined {
  try {
    return addonInflateEngine();
  } catch {
    return undefined; // ADDON_MISSING: no addon for this host
  }
}

/** The addon's deflate engine, or undefined (the gzip codec then compresses with node:zlib's one-shot calls). */
export function addonDeflate(): DeflateEngine | undefined {
  try {
    return addonDeflateEngine();
  } catch {
    return undefined; // ADDON_MISSING: no addon for this host
  }
}
