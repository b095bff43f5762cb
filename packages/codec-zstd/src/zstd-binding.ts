/**
 * zstd-napi's low-level binding (`zstd-napi/binding`): the thin wrapper over
 * libzstd's streaming API that our streams are built on. Typed here for the
 * calls we make.
 */
import { createRequire } from 'node:module';

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

export const zstd = createRequire(import.meta.url)('zstd-napi/binding') as ZstdBinding;
