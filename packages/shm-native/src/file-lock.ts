/**
 * `flock(fd, LOCK_EX | LOCK_NB)` from the addon, for core's host lock
 * (`createInstanceGuard({ tryLock })`). Kept out of `ShmBinding`: it is not
 * shared memory and the fake binding has nothing to say about it.
 */
import { errInternal, type TryLockFile } from '@shmsnap/core';
import { loadShmBinding, type LoadShmBindingOptions } from './binding.js';

/** The addon's `tryLockFile`: true when the lock was taken, false when another open file holds it. */
export function loadFileLock(options: LoadShmBindingOptions = {}): TryLockFile {
  const addon = loadShmBinding(options) as unknown as { tryLockFile?: unknown };
  if (typeof addon.tryLockFile !== 'function') throw errInternal('the shared-memory addon has no tryLockFile: rebuild it (npm run build)');
  const tryLockFile = addon.tryLockFile as (fd: number) => boolean;
  return (fd) => tryLockFile(fd);
}
