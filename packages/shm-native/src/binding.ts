/**
 * The native binding's surface, typed. The addon (native/shm.cc) only checks
 * arguments and makes syscalls; its failures are Errors carrying `errno`,
 * `code` and `syscall`.
 *
 * Guarantees the addon gives:
 * - `shmStat(index)` is `shmctl(index, SHM_STAT)`: null for an index that is
 *   unused or that we may not read; `highestIndex` from `shmInfo()` bounds
 *   the indices worth asking about.
 * - `create()` never reuses an existing segment (IPC_CREAT | IPC_EXCL).
 * - `new Attachment(shmid, readOnly)` maps the segment (shmat). `view()`
 *   returns a zero-copy Buffer over [offset, offset + length), at most
 *   `maxViewBytes` long (Node 20 cannot hold a 4 GiB external buffer). A view
 *   of a read-only attachment MUST NOT be written to (the process would take
 *   SIGSEGV), and no view may be touched after `detach()`.
 * - `detach()` and `remove()` run on the thread pool.
 */
import { createRequire } from 'node:module';
import { errInternal } from '@shmsnap/core';

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
  /** Faults [offset, offset + length) in on the thread pool (read-write attachments); false when the kernel cannot. */
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
  setLocked(shmid: number, locked: boolean): void;
  readonly Attachment: new (shmid: number, readOnly: boolean) => NativeAttachment;
  readonly maxViewBytes: number;
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

const ADDON_PATH = '../build/Release/shmsnap_shm.node';
let loaded: ShmBinding | undefined;

export function shmBinding(): ShmBinding {
  if (loaded) return loaded;
  try {
    loaded = createRequire(import.meta.url)(ADDON_PATH) as ShmBinding;
  } catch (error) {
    throw errInternal(
      'the shared-memory addon of @shmsnap/shm-native is not built or does not load (run `npm run build`, or `node scripts/build-native.mjs` in packages/shm-native)',
      error,
    );
  }
  return loaded;
}
