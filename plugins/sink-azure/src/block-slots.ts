/**
 * The blocks a sink uploads at once, all its writers together: a counting
 * semaphore. A writer takes a slot before it sends a filled block and gives
 * it back when the block is staged (or failed), so a sink holds at most
 * `uploadConcurrency` blocks in flight whatever the number of writers; each
 * writer adds only the block it is filling. A wait depends only on uploads
 * in flight settling, never on another writer's input, so writers cannot
 * deadlock on one another; slots go in the order they were asked for.
 */
export interface BlockSlots {
  /** Resolves once a slot is taken; rejects with `signal`'s reason if it aborts first. */
  take(signal: AbortSignal): Promise<void>;
  /** Gives one slot back. */
  give(): void;
  /** Slots taken now. */
  readonly taken: number;
  /** The most ever taken at once. */
  readonly peak: number;
}

export function createBlockSlots(limit: number): BlockSlots {
  let taken = 0;
  let peak = 0;
  const queue: (() => void)[] = [];
  const grant = (): void => {
    taken += 1;
    peak = Math.max(peak, taken);
  };
  return {
    get taken() {
      return taken;
    },
    get peak() {
      return peak;
    },
    take(signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      if (taken < limit && queue.length === 0) {
        grant();
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const entry = (): void => {
          signal.removeEventListener('abort', onAbort);
          grant();
          resolve();
        };
        const onAbort = (): void => {
          const at = queue.indexOf(entry);
          if (at >= 0) queue.splice(at, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        queue.push(entry);
      });
    },
    give() {
      taken -= 1;
      while (taken < limit && queue.length > 0) queue.shift()!();
    },
  };
}
