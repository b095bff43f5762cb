/**
 * The parts a sink uploads at once, all its objects together: a counting
 * semaphore its writers share. Per writer, the bound was (uploadConcurrency
 * + 1) parts, so memory grew with the objects in flight: the zstd backup to
 * S3 peaked at 304 MiB with 2 writers × 5 × 8 MiB of parts (bench,
 * 2026-12-01), over the 300 MiB budget. Shared, the parts in flight are
 * `uploadConcurrency` whatever the writers, and each writer adds only the
 * part it fills and one kept for reuse.
 *
 * Waiting for a slot depends only on uploads in flight finishing (or
 * failing), never on another writer's input, so writers cannot deadlock on
 * one another; slots are handed out in the order they were asked for.
 */
export interface UploadSlots {
  /** Resolves once a slot is free; rejects with `signal`'s reason if it aborts first. */
  acquire(signal: AbortSignal): Promise<void>;
  /** Gives back one slot. */
  release(): void;
  /** Slots in use now. */
  readonly inUse: number;
}

export function createUploadSlots(limit: number): UploadSlots {
  let inUse = 0;
  const waiting: { grant: () => void }[] = [];
  return {
    get inUse() {
      return inUse;
    },
    acquire(signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      if (inUse < limit && waiting.length === 0) {
        inUse++;
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const waiter = {
          grant: () => {
            signal.removeEventListener('abort', onAbort);
            inUse++;
            resolve();
          },
        };
        const onAbort = (): void => {
          const index = waiting.indexOf(waiter);
          if (index >= 0) waiting.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiting.push(waiter);
      });
    },
    release() {
      inUse--;
      while (inUse < limit && waiting.length > 0) waiting.shift()!.grant();
    },
  };
}
