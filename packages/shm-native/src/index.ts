export * from './shm.js';
export { isNativeError, type NativeError } from './binding.js';
export * from './layout/key.js';
export * from './layout/fields.js';
export * from './layout/analysis.js';
export * from './window-stream.js';
export * from './shm-source.js';
export * from './shm-target.js';
export * from './private-ipc.js';
