/**
 * The native binding's surface, typed: the one seam between shmsnap and the
 * kernel. The addon (native/shm.cc) only checks arguments and makes
 * syscalls; everything above it (shm.ts, the shm source and target, window
 * streams, fixtures) takes a `ShmBinding`, so the same code runs on the real
 * System V binding and on the in-memory fake (`@shmsnap/shm-native/testing`).
 *
 * Every implementation MUST give what the addon gives, and
 * `describeShmBinding` (src/testing/binding-suite.ts) checks it on both:
 * - Failed syscalls throw (or reject with) an Error carrying `errno`, `code`
 *   (`EEXIST`, `EINVAL`...) and `syscall` (`shmget`, `shmctl(IPC_STAT)`...);
 *   bad arguments throw TypeError or RangeError before any syscall.
 * - `shmStat(index)` is `shmctl(index, SHM_STAT)`: null for an index that is
 *   unused or that we may not read; `highestIndex` from `shmInfo()` bounds
 *   the indices worth asking about.
 * - `lookup(key)` is null when no segment has the key; a segment removed
 *   while attached has lost its key (it reads IPC_PRIVATE, 0).
 * - `create()` never reuses an existing segment (IPC_CREAT | IPC_EXCL):
 *   EEXIST when the key is taken. New memory reads as zeros, and `size` is
 *   kept exactly as asked (not rounded to pages).
 * - `new Attachment(shmid, readOnly)` maps the segment (shmat) and counts in
 *   `nattch`. `view()` returns a zero-copy Buffer over [offset, offset +
 *   length), at most `maxViewBytes` long (Node 20 cannot hold a 4 GiB
 *   external buffer); every view of every attachment of a segment aliases
 *   the same memory. A view of a read-only attachment MUST NOT be written to
 *   (the process would take SIGSEGV), and no view may be touched after
 *   `detach()`.
 * - `detach()` and `remove()` run on the thread pool: `attached` is false as
 *   soon as `detach()` is called, `nattch` drops when its promise settles.
 * - `remove()` of a segment still attached only marks it (SHM_DEST in
 *   `mode`, key gone); it disappears with its last detach, like the kernel
 *   does. `removeNow()` is the same on the calling thread, synchronously:
 *   for an interrupted run that must end while pool threads are blocked.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errAddonMissing, errInternal } from '@shmsnap/core';

export interface ShmStat {
  readonly shmid: number;
  readonly key: number;
  readonly size: number;
  readonly uid: number;
  readonly gid: number;
  readonly cuid: number;
  readonly cgid: number;
  /** shm_perm.mode: permission bits plus SHM_DEST (0o1000) and SHM_LOCKED (0o2000). */
  readonly mode: number;
  readonly nattch: number;
  readonly cpid: number;
  readonly lpid: number;
  readonly atime: number;
  readonly dtime: number;
  readonly ctime: number;
}

export interface NativeAttachment {
  readonly size: number;
  readonly readOnly: boolean;
  readonly attached: boolean;
  view(offset: number, length: number): Buffer;
  /**
   * Faults [offset, offset + length) in on the thread pool, for writing
   * (MADV_POPULATE_WRITE) or, on a read-only attachment, for reading
   * (MADV_POPULATE_READ); the bytes are unchanged. False when the kernel cannot.
   */
  populate(offset: number, length: number): Promise<boolean>;
  detach(): Promise<void>;
}

export interface ShmBinding {
  shmInfo(): { readonly highestIndex: number; readonly usedIds: number };
  shmStat(index: number): ShmStat | null;
  ipcStat(shmid: number): ShmStat;
  lookup(key: number): number | null;
  create(key: number, size: number, mode: number): number;
  setOwner(shmid: number, uid: number, gid: number, mode: number): void;
  remove(shmid: number): Promise<void>;
  removeNow(shmid: number): void;
  setLocked(shmid: number, locked: boolean): void;
  readonly Attachment: new (shmid: number, readOnly: boolean) => NativeAttachment;
  readonly maxViewBytes: number;
  /**
   * AES-256-GCM of one frame into the caller's buffer (native/aead.cc), for
   * core's FrameCipher (frame-cipher.ts). Absent from the in-memory binding
   * and from an addon built before it or without OpenSSL's headers. Both
   * throw on bad sizes; gcmOpen returns false, with out zeroed, when the tag
   * does not check.
   */
  readonly gcmSeal?: (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[], out: Uint8Array) => void;
  readonly gcmOpen?: (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[], tag: Uint8Array, out: Uint8Array) => boolean;
  /**
   * zlib's CRC-32 of `bytes` continued from `previous` (native/crc32.cc), for
   * core's CRC-32 engine (crc32-engine.ts). Present only on x86-64 with
   * PCLMULQDQ and SSE4.1; absent from the in-memory binding and from an addon
   * built before it. Throws TypeError unless bytes is a Uint8Array.
   */
  readonly crc32?: (bytes: Uint8Array, previous: number) => number;
  /**
   * One zlib stream inflated into memory the caller gives, on the thread
   * pool, with the CRC-32 of what it wrote (native/inflate.cc, Node's own
   * zlib): windowBits -15 for raw deflate, 15 for zlib. For core's
   * InflateEngine (inflate-engine.ts). Absent from the in-memory binding
   * and from an addon built before it.
   */
  readonly Inflater?: new (windowBits: -15 | 15) => NativeInflater;
  /**
   * One raw deflate stream (level 1-9), a whole piece per call on the thread
   * pool, each call's output an exact-size Buffer ending with a sync flush or
   * the final block, with the input's CRC-32 (native/deflate.cc, Node's own
   * zlib). For core's DeflateEngine (deflate-engine.ts). Absent from the
   * in-memory binding and from an addon built before it.
   */
  readonly Deflater?: new (level: number) => NativeDeflater;
}

/** The addon's deflater: core's Deflater (contracts/deflate-engine.ts) as it is. */
export interface NativeDeflater {
  deflate(input: Uint8Array, last: boolean, crc: number): Promise<{ output: Buffer; crc32: number }>;
  reset(): void;
  close(): void;
}

/** The addon's inflater: core's Inflater (contracts/inflate-engine.ts) as it is. */
export interface NativeInflater {
  inflate(input: Uint8Array, output: Uint8Array, crc: number): Promise<{ read: number; written: number; ended: boolean; crc32: number }>;
  reset(): void;
  close(): void;
}

/** How the shm source, the shm target and fixtures are given a binding. */
export interface ShmBindingOptions {
  /** @default the System V addon, `loadShmBinding()` */
  readonly binding?: ShmBinding;
}

/** The error shape the addon throws. */
export interface NativeError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
}

export function isNativeError(error: unknown): error is NativeError {
  return error instanceof Error && typeof (error as Partial<NativeError>).syscall === 'string';
}

/** Points `loadShmBinding()` at another build of the addon (a debug build, a cross-compiled one). */
export const NATIVE_PATH_ENV = 'SHMSNAP_NATIVE_PATH';

/** The addon node-gyp builds from source, relative to this file (src/ and dist/ sit side by side with build/). */
const SOURCE_BUILD_PATH = fileURLToPath(new URL('../build/Release/shmsnap_shm.node', import.meta.url));

/** The addon `npm run dist` ships for this platform and architecture (N-API: one per platform, any Node ≥ 20). */
export function prebuiltAddonPath(platform: string = process.platform, arch: string = process.arch): string {
  return fileURLToPath(new URL(`../prebuilds/${platform}-${arch}/shmsnap_shm.node`, import.meta.url));
}

/**
 * A source build wins when there is one (it was made on this host, for it);
 * otherwise the prebuilt addon for this platform, which is what an installed
 * package has on a host without a compiler.
 */
function defaultAddonPath(): string {
  return existsSync(SOURCE_BUILD_PATH) || !existsSync(prebuiltAddonPath()) ? SOURCE_BUILD_PATH : prebuiltAddonPath();
}

const ADDON_FIX = `there is no prebuilt addon for ${process.platform}-${process.arch}: reinstall on a host with python3, make and g++ so that it builds from source (npm rebuild @shmsnap/shm-native), or point ${'SHMSNAP_NATIVE_PATH'} at a build`;

const BINDING_FUNCTIONS = ['shmInfo', 'shmStat', 'ipcStat', 'lookup', 'create', 'setOwner', 'remove', 'removeNow', 'setLocked', 'Attachment'] as const;

/** True when `value` has the binding's shape (what was loaded is the addon, not some other module). */
export function isShmBinding(value: unknown): value is ShmBinding {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return BINDING_FUNCTIONS.every((name) => typeof record[name] === 'function') && typeof record.maxViewBytes === 'number';
}

export interface LoadShmBindingOptions {
  /**
   * The addon to load; a relative path is taken from the working directory.
   * @default process.env.SHMSNAP_NATIVE_PATH, else the addon built in this package
   */
  readonly path?: string;
}

const loaded = new Map<string, ShmBinding>();

/**
 * The System V binding: the native addon, loaded once per path. Everything
 * that takes an optional `binding` defaults to this (read at call time, so
 * importing the package never loads the addon). ADDON_MISSING when the addon is
 * not built, does not load, or is not this addon.
 */
export function loadShmBinding(options: LoadShmBindingOptions = {}): ShmBinding {
  const fromEnv = process.env[NATIVE_PATH_ENV];
  const requested = options.path ?? (fromEnv === '' ? undefined : fromEnv);
  const path = requested === undefined ? defaultAddonPath() : resolve(requested);
  const cached = loaded.get(path);
  if (cached) return cached;
  // Name the path when it is not ours, and where it came from: a stale
  // variable in a shell is the likely reason for a wrong one.
  const which =
    requested === undefined ? 'the shared-memory addon of @shmsnap/shm-native' : `the shared-memory addon ${path}${options.path === undefined ? ` (from ${NATIVE_PATH_ENV})` : ''}`;
  let module: unknown;
  try {
    module = createRequire(import.meta.url)(path);
  } catch (error) {
    if (requested !== undefined) throw errAddonMissing(which, `check ${NATIVE_PATH_ENV}, or unset it to use the installed addon`, error);
    const fix = path === SOURCE_BUILD_PATH && existsSync(path) ? 'rebuild it (npm rebuild @shmsnap/shm-native; in the repository: npm run build)' : ADDON_FIX;
    throw errAddonMissing(which, fix, error);
  }
  if (!isShmBinding(module)) throw errInternal(`${which} is not shmsnap's addon: it lacks ${BINDING_FUNCTIONS.join(', ')} or maxViewBytes`);
  loaded.set(path, module);
  paths.set(module, path);
  return module;
}

const paths = new WeakMap<ShmBinding, string>();

/** Where `binding` was loaded from, when it is the addon (another thread loads the same file); undefined for any other binding. */
export function addonPathOf(binding: ShmBinding): string | undefined {
  return paths.get(binding);
}
