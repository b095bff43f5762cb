/**
 * The shm target's segments, opened from another thread of the process (a
 * codec's worker decoding straight into a segment: core's target contract,
 * `SharedWindowsHandle`). The thread loads the same addon file and attaches
 * the segment by its id: a second mapping of the same memory, detached by
 * `close()`. Only the addon can be shared this way; the in-memory fake
 * binding lives in one thread, and a target on it offers no handle.
 */
import type { SharedWindows, SharedWindowsHandle } from '@shmsnap/core';
import { loadShmBinding } from './binding.js';

export interface ShmSharedArgs {
  readonly addonPath: string;
  readonly shmid: number;
  readonly size: number;
}

export function shmSharedHandle(args: ShmSharedArgs): SharedWindowsHandle {
  return { module: new URL(import.meta.url).href, args, size: args.size };
}

/** Called on the other thread, through the handle's module. */
export function openSharedWindows(args: ShmSharedArgs): SharedWindows {
  const binding = loadShmBinding({ path: args.addonPath });
  const attachment = new binding.Attachment(args.shmid, false);
  if (attachment.size !== args.size) {
    void attachment.detach();
    throw new Error(`segment ${args.shmid} holds ${attachment.size} bytes, not ${args.size}`);
  }
  return {
    maxViewBytes: binding.maxViewBytes,
    view: (offset, length) => attachment.view(offset, length),
    // MADV_POPULATE_WRITE on the thread pool; a kernel without it only costs speed.
    prefault: (offset, length) => attachment.populate(offset, length).then(
      () => undefined,
      () => undefined,
    ),
    close: () => attachment.detach(),
  };
}
