/**
 * `@shmsnap/core`: the public API for frontends and library users.
 *
 * - Contracts (types): segment, source, target, codec, sink.
 * - Errors: the registry (codes, `ShmsnapError`, `isShmsnapError`, factories).
 * - The location format (docs/asmt-format.md): Aerospike keys, header
 *   fields, the layout analysis, ASMT directory rules, the manifest.
 * - Plans: `prepareBackup`, `prepareRestore`, `prepareVerify`, `listBackups`,
 *   each checking once and returning a plan whose `run()` does the work; the
 *   restore guard; `runBackup` / `runRestore` / `runVerify` for callers who
 *   render nothing in between or hold restore entries already.
 * - Composition: the registry, `withRetry`, `withSinkContext`, `codecNone`.
 *
 * Plugin authors import `@shmsnap/core/plugin-kit`; conformance kits are in
 * `@shmsnap/core/testkit`. Pipeline internals (executors, bounded runners,
 * small-object I/O) are not exported.
 */
export * from './errors.js';
export * from './units.js';
export * from './contracts/segment.js';
export type * from './contracts/source.js';
export type * from './contracts/target.js';
export type * from './contracts/codec.js';
export { hasPieceIndex } from './contracts/codec.js';
export type * from './contracts/sink.js';
export { definePlugin, PLUGIN_API_VERSION, type ShmsnapPlugin } from './contracts/plugin.js';
export * from './format/aerospike-key.js';
export * from './format/segment-fields.js';
export * from './format/layout-analysis.js';
export * from './format/asmt-directory.js';
export * from './format/manifest.js';
export * from './host-identity.js';
export * from './host/proc.js';
export * from './host/asd-process.js';
export * from './host/aerospike-conf.js';
export * from './host/instance-lock.js';
export * from './host/instance-guard.js';
export * from './host/systemd-units.js';
export * from './plugins/registry.js';
export { validatePlugin } from './plugins/validate-plugin.js';
export { withRetry, type RetryPolicy } from './plugins/with-retry.js';
export { withSinkContext } from './plugins/with-plugin-context.js';
export { codecNone } from './pipeline/codec-none.js';
export { corePlugin } from './plugins/core-plugin.js';
export type { Phase, ProgressEvent, ProgressListener } from './pipeline/progress.js';
export type { BackupPlanEntry, BackupResult, BackupRunOptions } from './pipeline/backup.js';
export { runRestore, type RestoreEntry, type RestoreExecution, type RestoreRunOptions, type TransferResult } from './pipeline/restore.js';
export { runVerify, type VerifyOptions, type VerifyResult } from './pipeline/verify.js';
export * from './location/catalog.js';
export * from './location/consumed.js';
export * from './location/plan-backup.js';
export * from './location/plan-restore.js';
export * from './location/plan-verify.js';
export * from './location/restore-guard.js';
export * from './location/outrun.js';
export * from './location/prune.js';
export * from './location/status.js';
export * from './location/preflight.js';
export * from './host/asd-build.js';
export type * from './contracts/key-provider.js';
export type * from './contracts/frame-cipher.js';
export type * from './contracts/deflate-engine.js';
export type * from './contracts/inflate-engine.js';
export { handOver, isHandedOver, MemoryStock, recyclerOf } from './contracts/chunk-ownership.js';
export { nodeFrameCipher } from './crypto/node-frame-cipher.js';
export { crc32Engine, useCrc32Engine, type Crc32Engine, type Crc32Function } from './pipeline/checksum.js';
export * from './crypto/key-providers.js';
export { DEFAULT_SCRYPT, type ScryptParameters } from './crypto/keys.js';
export { DEFAULT_FRAME_BYTES } from './crypto/frames.js';
export type { HashAlgorithm } from './pipeline/hash.js';
export * from './location/rekey.js';
