/**
 * Shared memory for tests of direct decoders (contracts/codec.ts
 * `createDirectDecoder`, contracts/target.ts `SharedWindowsHandle`): a
 * SharedArrayBuffer any thread of the process can open through the handle,
 * with guard bytes past the end (a byte written there is one past the
 * memory) and counters of opens and closes kept in shared memory too, so a
 * test sees what a worker did.
 */
import type { SharedWindows, SharedWindowsHandle } from '../contracts/target.js';

interface Args {
  readonly buffer: SharedArrayBuffer;
  readonly counters: SharedArrayBuffer;
  readonly size: number;
  readonly maxViewBytes: number;
}

export interface SharedArrayMemory {
  readonly handle: SharedWindowsHandle;
  /** The memory and its guard bytes after it. */
  readonly bytes: Uint8Array;
  readonly size: number;
  /** Times the memory was opened, and closed, from any thread. */
  opens(): number;
  closes(): number;
}

/** Guard bytes are filled with this value: any other value there was written past the end. */
export const GUARD_FILL = 0xa5;

export function createSharedArrayMemory(size: number, options: { guardBytes?: number; maxViewBytes?: number } = {}): SharedArrayMemory {
  const guardBytes = options.guardBytes ?? 4096;
  const buffer = new SharedArrayBuffer(size + guardBytes);
  const bytes = new Uint8Array(buffer);
  bytes.fill(GUARD_FILL, size);
  const counters = new SharedArrayBuffer(8);
  const count = new Int32Array(counters);
  // Small views by default, so that a decoder crosses many of them.
  const args: Args = { buffer, counters, size, maxViewBytes: options.maxViewBytes ?? 256 * 1024 + 3 };
  return {
    handle: { module: import.meta.url, args, size },
    bytes,
    size,
    opens: () => Atomics.load(count, 0),
    closes: () => Atomics.load(count, 1),
  };
}

/** The handle's module entry, run on whichever thread opens the memory. */
export function openSharedWindows(args: Args): SharedWindows {
  const count = new Int32Array(args.counters);
  Atomics.add(count, 0, 1);
  let open = true;
  return {
    maxViewBytes: args.maxViewBytes,
    view(offset, length) {
      if (!open) throw new Error('view of closed shared memory');
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || length > args.maxViewBytes || offset + length > args.size) {
        throw new RangeError(`view [${offset}, ${offset + length}) is outside the ${args.size}-byte memory or longer than ${args.maxViewBytes}`);
      }
      return new Uint8Array(args.buffer, offset, length);
    },
    close() {
      if (!open) return;
      open = false;
      Atomics.add(count, 1, 1);
    },
  };
}
