export * from './sink-conformance.js';
export * from './codec-conformance.js';
export * from './memory.js';
export * from './index-content.js';
export { freeLoopbackPort } from './free-port.js';
