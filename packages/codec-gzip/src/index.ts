import { codecGzip } from './codec-gzip.js';

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
