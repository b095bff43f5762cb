/**
 * The plugins the CLI ships with, registered exactly as the ones an operator
 * names (`--plugin`, SHMSNAP_PLUGINS, the configuration file: plugins.ts).
 * Nothing registers itself. Each provider composes its own wrappers (S3:
 * retries) and loads its heavy dependencies only when a location needs them
 * (S3: the AWS SDK, ~90 ms); the registry adds the plugin context to every
 * sink it opens.
 */
import { corePlugin, createRegistry, type Registry, type ShmsnapPlugin } from '@shmsnap/core';
import { createGzipPlugin } from '@shmsnap/codec-gzip';
import { plugin as zstdPlugin } from '@shmsnap/codec-zstd';
import { plugin as localPlugin } from '@shmsnap/sink-local';
import { plugin as s3Plugin } from '@shmsnap/sink-s3/provider';
import { addonDeflate, addonInflate } from './native-engines.js';

const inflateEngine = addonInflate();
const deflateEngine = addonDeflate();
/**
 * gzip with the addon's engines where it loads: restores into shared memory
 * inflate straight into the segment, backups deflate each piece without a
 * Buffer per piece for the collector.
 */
const gzipPlugin = createGzipPlugin({ ...(inflateEngine ? { inflateEngine } : {}), ...(deflateEngine ? { deflateEngine } : {}) });

export const BUILTIN_PLUGINS: readonly ShmsnapPlugin[] = [localPlugin, s3Plugin, corePlugin, gzipPlugin, zstdPlugin];

/** A registry of the built-in plugins only (the `asmt` frontend, and the base `shmsnap` adds named plugins to). */
export function createDefaultRegistry(): Registry {
  const registry = createRegistry();
  for (const plugin of BUILTIN_PLUGINS) registry.registerPlugin(plugin);
  return registry;
}
