/**
 * `@shmsnap/core/plugin-kit`: what a sink or codec author needs, and no more.
 *
 * - Object names: the one rule every sink applies before touching storage.
 * - Errors: the registry's factories, so a plugin's failures carry codes the
 *   CLI maps to exit statuses; `toShmsnapError` for file-system errors.
 * - Retries: `retryOperation` (full-jitter backoff, only for retryable
 *   errors) and `withRetry(sink)` for reads, listings and removals.
 * - Checksums: `crc32` (zlib's), `createCrc32Meter`, `crc32Combine`.
 * - Streams: `pipelineSettled`, a pipeline that is over only when every stage
 *   has closed (chunks may be views of shared memory); `handOver` and
 *   `isHandedOver`, for chunks whose memory passes to the consumer.
 * - Encryption: the `FrameCipher` contract, for a faster AES-256-GCM.
 * - Inflating: the `InflateEngine` contract, for a codec that decodes into
 *   memory it is given (a segment) instead of into fresh Buffers.
 *
 * The conformance kits to run from a plugin's own tests are in
 * `@shmsnap/core/testkit`.
 */
export * from './errors.js';
export type * from './contracts/sink.js';
export type * from './contracts/codec.js';
export type { SharedWindows, SharedWindowsHandle } from './contracts/target.js';
export { definePlugin, PLUGIN_API_VERSION, type ShmsnapPlugin } from './contracts/plugin.js';
export { hasPieceIndex } from './contracts/codec.js';
export type * from './contracts/frame-cipher.js';
export type * from './contracts/deflate-engine.js';
export type * from './contracts/inflate-engine.js';
export { handOver, isHandedOver, MemoryStock, recyclerOf } from './contracts/chunk-ownership.js';
export { assertObjectName, assertObjectPath, isObjectName, objectNameProblem } from './format/object-name.js';
export { retryDelayMs, retryOperation, withRetry, type RetryEvent, type RetryOptions, type RetryPolicy } from './plugins/with-retry.js';
export { crc32, crc32Combine, crc32Engine, createCrc32Meter, type Crc32Engine, type Crc32Meter, type Crc32MeterOptions, type Crc32Result } from './pipeline/checksum.js';
export { pipelineSettled } from './pipeline/settle.js';
export { createSinkWriter, type SinkWriterOptions } from './plugins/sink-writer.js';
export { redactUrlLocation } from './plugins/redact-location.js';
export { CONNECTION_ERROR_CODES } from './plugins/connection-errors.js';
