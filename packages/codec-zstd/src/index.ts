import { definePlugin, PLUGIN_API_VERSION } from '@shmsnap/core/plugin-kit';
import { codecZstd } from './codec-zstd.js';

/** This package as a plugin (contracts/plugin.ts); libzstd still loads only at the first zstd use. Its version is package.json's (checked by a test). */
export const plugin = definePlugin({ name: '@shmsnap/codec-zstd', version: '0.1.0', apiVersion: PLUGIN_API_VERSION, codecs: [codecZstd] });

export { codecZstd, createZstdCodec, ZSTD_LEVELS } from './codec-zstd.js';
export default codecZstd;
