/**
 * Typed, coded wrappers over a binding. Loops over the kernel's segment
 * table live here, not in C++.
 *
 * Each takes the binding last and defaults to the System V addon
 * (`loadShmBinding()`), so callers that know only real shared memory (the
 * CLI, the benchmark, the end-to-end tests) call them as before, and unit
 * tests pass the in-memory fake. Failures MUST come out coded: SHM_FAILED
 * naming the syscall and the segment (the native error kept as `cause`), or
 * SEGMENT_EXISTS for a taken key.
 */
import { errSegmentExists, errShmFailed, formatKey } from '@shmsnap/core';
import { isNativeError, loadShmBinding, type NativeAttachment, type ShmBinding, type ShmStat } from './binding.js';

export type { NativeAttachment, ShmStat } from './binding.js';

/** Permission bits of shm_perm.mode (SHM_LOCKED and SHM_DEST are status, not permissions). */
export const PERMISSION_BITS = 0o777;
export const SHM_LOCKED = 0o2000;
/** Set by IPC_RMID on a segment that is still attached: it goes with its last detach. */
export const SHM_DEST = 0o1000;

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
export function listShmSegments(binding: ShmBinding = loadShmBinding()): ShmStat[] {
  const { highestIndex } = wrap('shmctl(SHM_INFO)', 'the segment table', () => binding.shmInfo());
  const out: ShmStat[] = [];
  for (let index = 0; index <= highestIndex; index++) {
    const stat = wrap('shmctl(SHM_STAT)', `segment index ${index}`, () => binding.shmStat(index));
    if (stat) out.push(stat);
  }
  return out;
}

export function statShm(shmid: number, key: number, binding: ShmBinding = loadShmBinding()): ShmStat {
  return wrap('shmctl(IPC_STAT)', `segment ${formatKey(key)}`, () => binding.ipcStat(shmid));
}

/** The id of the segment with `key`, or undefined when none exists. */
export function lookupShm(key: number, binding: ShmBinding = loadShmBinding()): number | undefined {
  return wrap('shmget', `segment ${formatKey(key)}`, () => binding.lookup(key)) ?? undefined;
}

/** Creates a segment exclusively; SEGMENT_EXISTS when the key is taken. */
export function createShm(key: number, size: number, mode: number, binding: ShmBinding = loadShmBinding()): number {
  try {
    return binding.create(key, size, mode & PERMISSION_BITS);
  } catch (error) {
    if (isNativeError(error) && error.code === 'EEXIST') throw errSegmentExists(formatKey(key), 'a segment with this key is present');
    throw errShmFailed('shmget', `segment ${formatKey(key)} (${size} bytes)`, error);
  }
}

export function setShmOwner(shmid: number, key: number, uid: number, gid: number, mode: number, binding: ShmBinding = loadShmBinding()): void {
  wrap('shmctl(IPC_SET)', `segment ${formatKey(key)}`, () => binding.setOwner(shmid, uid, gid, mode & PERMISSION_BITS));
}

export async function removeShm(shmid: number, key: number, binding: ShmBinding = loadShmBinding()): Promise<void> {
  try {
    await binding.remove(shmid);
  } catch (error) {
    // Already gone (removed by someone else, or its namespace ended): what we wanted.
    if (isNativeError(error) && (error.code === 'EINVAL' || error.code === 'EIDRM')) return;
    throw errShmFailed('shmctl(IPC_RMID)', `segment ${formatKey(key)}`, error);
  }
}

/** `removeShm` on the calling thread (see `ShmBinding.removeNow`): for a run that must end while pool threads are blocked. */
export function removeShmNow(shmid: number, key: number, binding: ShmBinding = loadShmBinding()): void {
  try {
    binding.removeNow(shmid);
  } catch (error) {
    if (isNativeError(error) && (error.code === 'EINVAL' || error.code === 'EIDRM')) return;
    throw errShmFailed('shmctl(IPC_RMID)', `segment ${formatKey(key)}`, error);
  }
}

/** SHM_LOCK / SHM_UNLOCK (fixtures use it to reproduce a locked index). */
export function setShmLocked(shmid: number, key: number, locked: boolean, binding: ShmBinding = loadShmBinding()): void {
  wrap(locked ? 'shmctl(SHM_LOCK)' : 'shmctl(SHM_UNLOCK)', `segment ${formatKey(key)}`, () => binding.setLocked(shmid, locked));
}

export function attachShm(shmid: number, key: number, readOnly: boolean, binding: ShmBinding = loadShmBinding()): NativeAttachment {
  return wrap('shmat', `segment ${formatKey(key)}`, () => new binding.Attachment(shmid, readOnly));
}

export function maxViewBytes(binding: ShmBinding = loadShmBinding()): number {
  return binding.maxViewBytes;
}
