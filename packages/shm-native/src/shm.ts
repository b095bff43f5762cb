/**
 * Typed, coded wrappers over the binding. Loops over the kernel's segment
 * table live here, not in C++.
 */
import { errSegmentExists, errShmFailed, formatKey } from '@shmsnap/core';
import { isNativeError, shmBinding, type NativeAttachment, type ShmStat } from './binding.js';

export type { NativeAttachment, ShmStat } from './binding.js';

/** Permission bits of shm_perm.mode (SHM_LOCKED and SHM_DEST are status, not permissions). */
export const PERMISSION_BITS = 0o777;
export const SHM_LOCKED = 0o2000;

function wrap<T>(syscall: string, what: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw errShmFailed(isNativeError(error) ? error.syscall : syscall, what, error);
  }
}

/**
 * Every segment the kernel will tell us about: shmctl(SHM_INFO) for the
 * highest index in use, then shmctl(SHM_STAT) for each index up to it (as
 * ASMT does; no /proc parsing).
 */
export function listShmSegments(): ShmStat[] {
  const binding = shmBinding();
  const { highestIndex } = wrap('shmctl(SHM_INFO)', 'the segment table', () => binding.shmInfo());
  const out: ShmStat[] = [];
  for (let index = 0; index <= highestIndex; index++) {
    const stat = wrap('shmctl(SHM_STAT)', `segment index ${index}`, () => binding.shmStat(index));
    if (stat) out.push(stat);
  }
  return out;
}

export function statShm(shmid: number, key: number): ShmStat {
  return wrap('shmctl(IPC_STAT)', `segment ${formatKey(key)}`, () => shmBinding().ipcStat(shmid));
}

/** The id of the segment with `key`, or undefined when none exists. */
export function lookupShm(key: number): number | undefined {
  return wrap('shmget', `segment ${formatKey(key)}`, () => shmBinding().lookup(key)) ?? undefined;
}

/** Creates a segment exclusively; SEGMENT_EXISTS when the key is taken. */
export function createShm(key: number, size: number, mode: number): number {
  try {
    return shmBinding().create(key, size, mode & PERMISSION_BITS);
  } catch (error) {
    if (isNativeError(error) && error.code === 'EEXIST') throw errSegmentExists(formatKey(key), 'a segment with this key is present');
    throw errShmFailed('shmget', `segment ${formatKey(key)} (${size} bytes)`, error);
  }
}

export function setShmOwner(shmid: number, key: number, uid: number, gid: number, mode: number): void {
  wrap('shmctl(IPC_SET)', `segment ${formatKey(key)}`, () => shmBinding().setOwner(shmid, uid, gid, mode & PERMISSION_BITS));
}

export async function removeShm(shmid: number, key: number): Promise<void> {
  try {
    await shmBinding().remove(shmid);
  } catch (error) {
    // Already gone (removed by someone else, or its namespace ended): what we wanted.
    if (isNativeError(error) && (error.code === 'EINVAL' || error.code === 'EIDRM')) return;
    throw errShmFailed('shmctl(IPC_RMID)', `segment ${formatKey(key)}`, error);
  }
}

/** SHM_LOCK / SHM_UNLOCK (fixtures use it to reproduce a locked index). */
export function setShmLocked(shmid: number, key: number, locked: boolean): void {
  wrap(locked ? 'shmctl(SHM_LOCK)' : 'shmctl(SHM_UNLOCK)', `segment ${formatKey(key)}`, () => shmBinding().setLocked(shmid, locked));
}

export function attachShm(shmid: number, key: number, readOnly: boolean): NativeAttachment {
  const binding = shmBinding();
  return wrap('shmat', `segment ${formatKey(key)}`, () => new binding.Attachment(shmid, readOnly));
}

export function maxViewBytes(): number {
  return shmBinding().maxViewBytes;
}
