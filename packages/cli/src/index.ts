export { runCli, createProgram } from './program.js';
export { createDefaultRegistry } from './default-registry.js';
export * from './exit-codes.js';
