import { definePlugin, PLUGIN_API_VERSION } from '@shmsnap/core/plugin-kit';
import { codecGzip } from './codec-gzip.js';

/** This package as a plugin (contracts/plugin.ts). Its version is package.json's (checked by a test). */
export const plugin = definePlugin({ name: '@shmsnap/codec-gzip', version: '0.1.0', apiVersion: PLUGIN_API_VERSION, codecs: [codecGzip] });

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
