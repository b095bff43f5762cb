/**
 * zstd-napi's low-level binding (`zstd-napi/binding`): the thin wrapper over
 * libzstd's streaming API that our streams are built on. Typed here for the
 * calls we make.
 */
import { createRequire } from 'node:module';
import { errAddonMissing } from '@shmsnap/core/plugin-kit';

export type StreamResult = [remaining: number, produced: number, consumed: number];

export interface CCtx {
  setParameter(param: number, value: number): void;
  setPledgedSrcSize(size: number): void;
  compressStream2(dst: Uint8Array, src: Uint8Array, end: number): StreamResult;
}

export interface DCtx {
  decompressStream(dst: Uint8Array, src: Uint8Array): StreamResult;
}

export interface ZstdBinding {
  readonly CCtx: new () => CCtx;
  readonly DCtx: new () => DCtx;
  readonly CParameter: { readonly compressionLevel: number; readonly checksumFlag: number; readonly contentSizeFlag: number; readonly nbWorkers: number };
  readonly EndDirective: { readonly continue: number; readonly end: number };
  getFrameContentSize(frame: Uint8Array): number | null;
  cStreamOutSize(): number;
  dStreamOutSize(): number;
  maxCLevel(): number;
  versionString(): string;
}

let loaded: { readonly binding: ZstdBinding; readonly path: string } | undefined;

/**
 * Loaded at the first zstd backup or restore, never at import: `--help`,
 * `ls` and gzip or raw work go on without the addon, and a host where it
 * did not install hears so only when it asks for zstd (ADDON_MISSING).
 */
function load(): { readonly binding: ZstdBinding; readonly path: string } {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  try {
    const path = require.resolve('zstd-napi/binding');
    loaded = { binding: require(path) as ZstdBinding, path };
  } catch (error) {
    throw errAddonMissing('the zstd addon (zstd-napi)', 'reinstall shmsnap where zstd-napi installs (its prebuilt linux-x64 binary ships with the artifact; elsewhere it builds with python3, make and g++), or choose --codec gzip', error);
  }
  return loaded;
}

/** zstd-napi's binding, loaded on first use. */
export function zstd(): ZstdBinding {
  return load().binding;
}

/** Where the binding loaded from, for the worker threads (each loads it itself). */
export function zstdBindingPath(): string {
  return load().path;
}
