import { codecZstd } from './codec-zstd.js';

export { codecZstd, createZstdCodec, ZSTD_LEVELS } from './codec-zstd.js';
export default codecZstd;
