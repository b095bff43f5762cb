export * from './shm.js';
export {
  isNativeError,
  isShmBinding,
  loadShmBinding,
  NATIVE_PATH_ENV,
  type LoadShmBindingOptions,
  type NativeError,
  type ShmBinding,
  type ShmBindingOptions,
} from './binding.js';
export * from './window-stream.js';
export * from './shm-source.js';
export * from './shm-target.js';
export * from './private-ipc.js';
export * from './hidden-segments.js';
export * from './shm-clear.js';
export * from './file-lock.js';
export { addonFrameCipher } from './frame-cipher.js';
export { addonCrc32Engine } from './crc32-engine.js';
export { addonDeflateEngine } from './deflate-engine.js';
export { addonInflateEngine } from './inflate-engine.js';
