import { definePlugin, PLUGIN_API_VERSION, type ShmsnapPlugin } from '@shmsnap/core/plugin-kit';
import { codecGzip, createGzipCodec, type GzipCodecOptions } from './codec-gzip.js';

/** This package as a plugin (contracts/plugin.ts), its codec made with `options`. Its version is package.json's (checked by a test). */
export function createGzipPlugin(options?: GzipCodecOptions): ShmsnapPlugin {
  return definePlugin({ name: '@shmsnap/codec-gzip', version: '0.1.0', apiVersion: PLUGIN_API_VERSION, codecs: [options ? createGzipCodec(options) : codecGzip] });
}

/** The plugin with node:zlib only (what `--plugin @shmsnap/codec-gzip` would load). */
export const plugin = createGzipPlugin();

export { codecGzip, createGzipCodec, GZIP_LEVELS, type GzipCodecOptions } from './codec-gzip.js';
export {
  ASMT_HEADER_BYTES,
  ASMT_MAGIC,
  ASMT_MAGIC_SWAPPED,
  ASMT_VERSION,
  encodeAsmtHeader,
  parseAsmtHeader,
  type AsmtHeader,
} from './asmt-header.js';
export default codecGzip;
