export * from './sink-conformance.js';
export * from './codec-conformance.js';
export * from './memory.js';
export * from './index-content.js';
export { freeLoopbackPort } from './free-port.js';
export { createSharedArrayMemory, GUARD_FILL, type SharedArrayMemory } from './shared-array-memory.js';
export { describeFrameCipherConformance, type FrameCipherConformanceOptions } from './frame-cipher-conformance.js';
export { describeInflateEngineConformance, type InflateEngineConformanceOptions } from './inflate-engine-conformance.js';
export { describeDeflateEngineConformance, type DeflateEngineConformanceOptions } from './deflate-engine-conformance.js';
