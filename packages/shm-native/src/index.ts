export * from './shm.js';
export { isNativeError, type NativeError } from './binding.js';
export * from './window-stream.js';
export * from './shm-source.js';
export * from './shm-target.js';
export * from './private-ipc.js';
