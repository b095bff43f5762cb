/**
 * FOR TESTS ONLY: an in-memory `ShmBinding`, so the shm source, the shm
 * target, window streams and fixtures run without root, without
 * `unshare --ipc` and without touching the host's shared memory.
 *
 * It MUST keep every guarantee of the contract in `binding.ts`, and it is
 * held to them: `describeShmBinding` runs on it in the unit tests and on the
 * System V addon in shm.integ.test.ts, so wherever the two disagree one of
 * those runs fails. Kernel behaviour it reproduces, as measured on Linux 6.x
 * in a private IPC namespace:
 * - ids as the kernel builds them: index in the segment table plus a
 *   sequence number times 32768, indices handed out cyclically (a removed
 *   segment's id is not reused at once);
 * - IPC_EXCL: EEXIST for a taken key; EINVAL for a size of 0 or an unknown
 *   id; ENOSPC past `maxSegments` or `capacityBytes`; errors shaped like the
 *   addon's (`errno`, `code`, `syscall`, message "shmget: File exists");
 * - `nattch`, `atime`/`dtime`/`lpid`, owner and permission bits (IPC_SET
 *   keeps SHM_LOCKED), SHM_LOCK/SHM_UNLOCK;
 * - IPC_RMID of an attached segment: SHM_DEST set, the key becomes
 *   IPC_PRIVATE (0) so the key is free again, the segment stays listed and
 *   attachable by id until its last detach;
 * - `detach()` and `remove()` settle on a later turn of the event loop, as
 *   thread-pool work does: `attached` is false at once, `nattch` drops when
 *   the promise settles;
 * - `populate()` is a no-op that resolves true (the memory is already there).
 *
 * What it cannot do: fault. A view written through a read-only attachment,
 * or used after `detach()`, keeps working here where the kernel would kill
 * the process; a segment's memory is overwritten with 0xdd when the segment
 * goes away, so a view kept past that reads garbage rather than the data.
 * It grants every permission (as to root) and knows one process: use
 * `attachElsewhere()` for another one.
 */
import { constants as bufferConstants } from 'node:buffer';
import type { NativeAttachment, NativeError, ShmBinding, ShmStat } from '../binding.js';

/** The errno values the fake raises (Linux numbering) and their strerror texts. */
const ERRNO = {
  EPERM: [1, 'Operation not permitted'],
  ENOENT: [2, 'No such file or directory'],
  ENOMEM: [12, 'Cannot allocate memory'],
  EACCES: [13, 'Permission denied'],
  EEXIST: [17, 'File exists'],
  EINVAL: [22, 'Invalid argument'],
  ENOSPC: [28, 'No space left on device'],
  EIDRM: [43, 'Identifier removed'],
} as const satisfies Record<string, readonly [number, string]>;

export type FakeErrnoCode = keyof typeof ERRNO;

/** The syscall names the addon puts in its errors; `failNext` takes one. */
export type FakeSyscall =
  | 'shmget'
  | 'shmat'
  | 'shmdt'
  | 'shmctl(SHM_INFO)'
  | 'shmctl(SHM_STAT)'
  | 'shmctl(IPC_STAT)'
  | 'shmctl(IPC_SET)'
  | 'shmctl(IPC_RMID)'
  | 'shmctl(SHM_LOCK)'
  | 'shmctl(SHM_UNLOCK)';

class FakeSysError extends Error implements NativeError {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;

  constructor(syscall: FakeSyscall, code: FakeErrnoCode) {
    const [errno, text] = ERRNO[code];
    super(`${syscall}: ${text}`);
    this.name = 'Error'; // the addon throws plain Errors
    this.errno = errno;
    this.code = code;
    this.syscall = syscall;
  }
}

/** Another process's attachment (see `attachElsewhere`). */
export interface FakeForeignAttachment {
  /** Detaches at once (another process needs no thread pool of ours); later calls do nothing. */
  detach(): void;
}

export interface FakeShmBinding extends ShmBinding {
  /**
   * Attaches `shmid` as another process would (a running Aerospike server):
   * `nattch` counts it and `lpid` shows `pid` until `detach()`. EINVAL for an
   * unknown id, like shmat.
   * @param pid @default 4242
   */
  attachElsewhere(shmid: number, pid?: number): FakeForeignAttachment;
  /** Makes the next call of `syscall` fail with `code` (a full table, a permission denied, a failed removal). Queued per syscall. */
  failNext(syscall: FakeSyscall, code: FakeErrnoCode): void;
}

export interface FakeShmBindingOptions {
  /** Owner of the segments this process creates. @default process.geteuid() */
  readonly uid?: number;
  /** @default process.getegid() */
  readonly gid?: number;
  /** Longest view; lower it to make tests cross window edges with small segments. @default 2 GiB, as the addon */
  readonly maxViewBytes?: number;
  /** SHMALL: total bytes of all segments (ENOSPC beyond). @default 1 GiB */
  readonly capacityBytes?: number;
  /** SHMMNI: how many segments may exist (ENOSPC beyond). @default 4096, as Linux */
  readonly maxSegments?: number;
}

/** IPCMNI: ids are `sequence * 32768 + index` (ipc_buildid). */
const INDEX_SPAN = 32768;
const MAX_SEQUENCE = 65535;
const IPC_PRIVATE = 0;
const SHM_DEST = 0o1000;
const SHM_LOCKED = 0o2000;
const POISON = 0xdd;

interface Segment {
  readonly index: number;
  readonly shmid: number;
  key: number;
  readonly size: number;
  readonly memory: Buffer;
  uid: number;
  gid: number;
  readonly cuid: number;
  readonly cgid: number;
  mode: number;
  nattch: number;
  readonly cpid: number;
  lpid: number;
  atime: number;
  dtime: number;
  ctime: number;
}

// Argument checks with the addon's exceptions and messages (shm.cc ArgUint32, ArgShmid, ArgSize).
function argUint32(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${name} must be an integer in 0..2^32-1`);
  return value;
}

function argShmid(value: unknown): number {
  const shmid = argUint32(value, 'shmid');
  if (shmid > 0x7fffffff) throw new RangeError('shmid out of range');
  return shmid;
}

function argSize(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a safe non-negative integer`);
  return value;
}

function argMode(value: unknown): number {
  const mode = argUint32(value, 'mode');
  if (mode > 0o777) throw new RangeError('mode must be permission bits (0..0777)');
  return mode;
}

function argBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean`);
  return value;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function describeBytes(bytes: number): string {
  return bytes % 2 ** 30 === 0 ? `${bytes / 2 ** 30} GiB` : `${bytes} bytes`;
}

/** A fresh, empty fake "IPC namespace". Bindings made by separate calls share nothing. */
export function createFakeShmBinding(options: FakeShmBindingOptions = {}): FakeShmBinding {
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const gid = options.gid ?? process.getegid?.() ?? 0;
  const maxView = options.maxViewBytes ?? 2 ** 31;
  const capacityBytes = options.capacityBytes ?? 2 ** 30;
  const maxSegments = Math.min(options.maxSegments ?? 4096, INDEX_SPAN);

  const byIndex = new Map<number, Segment>();
  const byKey = new Map<number, Segment>();
  const faults = new Map<FakeSyscall, FakeErrnoCode[]>();
  let usedBytes = 0;
  let lastIndex = -1;
  let sequence = 0;

  function fault(syscall: FakeSyscall): void {
    const code = faults.get(syscall)?.shift();
    if (code !== undefined) throw new FakeSysError(syscall, code);
  }

  function find(shmid: number, syscall: FakeSyscall): Segment {
    const segment = byIndex.get(shmid % INDEX_SPAN);
    if (!segment || segment.shmid !== shmid) throw new FakeSysError(syscall, 'EINVAL');
    return segment;
  }

  function stat(segment: Segment): ShmStat {
    const { shmid, key, size, uid, gid, cuid, cgid, mode, nattch, cpid, lpid, atime, dtime, ctime } = segment;
    return { shmid, key, size, uid, gid, cuid, cgid, mode, nattch, cpid, lpid, atime, dtime, ctime };
  }

  /** The kernel's shm_destroy: the id, the key and the memory go. */
  function destroy(segment: Segment): void {
    byIndex.delete(segment.index);
    if (byKey.get(segment.key) === segment) byKey.delete(segment.key);
    usedBytes -= segment.size;
    segment.memory.fill(POISON);
  }

  /** The kernel's do_shm_rmid: destroyed now if nobody is attached, else marked and unfindable by key. */
  function markRemoved(segment: Segment): void {
    if (segment.nattch === 0) {
      destroy(segment);
      return;
    }
    segment.mode |= SHM_DEST;
    if (byKey.get(segment.key) === segment) byKey.delete(segment.key);
    segment.key = IPC_PRIVATE;
  }

  function dropAttach(segment: Segment, pid: number): void {
    segment.nattch -= 1;
    segment.dtime = now();
    segment.lpid = pid;
    if (segment.nattch === 0 && (segment.mode & SHM_DEST) !== 0) destroy(segment);
  }

  /** idr_alloc_cyclic over [0, 32768): the next free index after the last one handed out; the sequence moves on at each wrap. */
  function allocateIndex(): number {
    for (let step = 1; step <= INDEX_SPAN; step++) {
      const index = (lastIndex + step) % INDEX_SPAN;
      if (byIndex.has(index)) continue;
      if (index <= lastIndex) sequence = sequence === MAX_SEQUENCE ? 0 : sequence + 1;
      lastIndex = index;
      return index;
    }
    throw new FakeSysError('shmget', 'ENOSPC');
  }

  /** Work the addon does on the thread pool: it lands on a later turn of the event loop. */
  function later<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(work());
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  class FakeAttachment implements NativeAttachment {
    readonly #segment: Segment;
    readonly #readOnly: boolean;
    #attached = true;

    constructor(shmid: unknown, readOnly: unknown) {
      const id = argShmid(shmid);
      this.#readOnly = argBoolean(readOnly, 'readOnly');
      fault('shmctl(IPC_STAT)');
      const segment = find(id, 'shmctl(IPC_STAT)');
      fault('shmat');
      this.#segment = segment;
      segment.nattch += 1;
      segment.atime = now();
      segment.lpid = process.pid;
    }

    get size(): number {
      return this.#segment.size;
    }

    get readOnly(): boolean {
      return this.#readOnly;
    }

    get attached(): boolean {
      return this.#attached;
    }

    view(offset: number, length: number): Buffer {
      if (!this.#attached) throw new Error('view: segment is detached');
      const from = argSize(offset, 'offset');
      const bytes = argSize(length, 'length');
      if (bytes > maxView) throw new RangeError(`view: length above ${describeBytes(maxView)}`);
      if (from > this.#segment.size || bytes > this.#segment.size - from) throw new RangeError('view: beyond the end of the segment');
      // subarray shares the memory: the zero-copy view every attachment sees.
      return this.#segment.memory.subarray(from, from + bytes);
    }

    populate(offset: number, length: number): Promise<boolean> {
      if (!this.#attached) throw new Error('populate: segment is detached');
      const from = argSize(offset, 'offset');
      const bytes = argSize(length, 'length');
      if (from > this.#segment.size || bytes > this.#segment.size - from) throw new RangeError('populate: beyond the end of the segment');
      return later(() => true);
    }

    detach(): Promise<void> {
      if (!this.#attached) return Promise.resolve();
      this.#attached = false; // no new views from here on, as in the addon
      const segment = this.#segment;
      return later(() => {
        fault('shmdt');
        dropAttach(segment, process.pid);
      });
    }
  }

  return {
    maxViewBytes: maxView,
    Attachment: FakeAttachment,

    shmInfo() {
      fault('shmctl(SHM_INFO)');
      // Linux answers 0, not -1, for an empty table; callers only rely on the bound.
      return { highestIndex: byIndex.size === 0 ? 0 : Math.max(...byIndex.keys()), usedIds: byIndex.size };
    },

    shmStat(index) {
      const at = argUint32(index, 'index');
      fault('shmctl(SHM_STAT)');
      const segment = byIndex.get(at);
      return segment ? stat(segment) : null;
    },

    ipcStat(shmid) {
      const id = argShmid(shmid);
      fault('shmctl(IPC_STAT)');
      return stat(find(id, 'shmctl(IPC_STAT)'));
    },

    lookup(key) {
      const k = argUint32(key, 'key');
      fault('shmget');
      return byKey.get(k)?.shmid ?? null;
    },

    create(key, size, mode) {
      const k = argUint32(key, 'key');
      const bytes = argSize(size, 'size');
      const bits = argUint32(mode, 'mode');
      if (k === IPC_PRIVATE) throw new RangeError('key must not be IPC_PRIVATE');
      if (bits > 0o777) throw new RangeError('mode must be permission bits (0..0777)');
      fault('shmget');
      // The kernel's order: the key first (IPC_EXCL), then the size and the limits.
      if (byKey.has(k)) throw new FakeSysError('shmget', 'EEXIST');
      if (bytes === 0) throw new FakeSysError('shmget', 'EINVAL');
      if (bytes > bufferConstants.MAX_LENGTH) throw new FakeSysError('shmget', 'ENOMEM'); // one Buffer holds a fake segment
      if (byIndex.size >= maxSegments || usedBytes + bytes > capacityBytes) throw new FakeSysError('shmget', 'ENOSPC');
      const index = allocateIndex();
      const time = now();
      const segment: Segment = {
        index,
        shmid: sequence * INDEX_SPAN + index,
        key: k,
        size: bytes,
        memory: Buffer.alloc(bytes),
        uid,
        gid,
        cuid: uid,
        cgid: gid,
        mode: bits,
        nattch: 0,
        cpid: process.pid,
        lpid: 0,
        atime: 0,
        dtime: 0,
        ctime: time,
      };
      byIndex.set(index, segment);
      byKey.set(k, segment);
      usedBytes += bytes;
      return segment.shmid;
    },

    setOwner(shmid, newUid, newGid, mode) {
      const id = argShmid(shmid);
      const u = argUint32(newUid, 'uid');
      const g = argUint32(newGid, 'gid');
      const bits = argMode(mode);
      fault('shmctl(IPC_STAT)');
      const segment = find(id, 'shmctl(IPC_STAT)');
      fault('shmctl(IPC_SET)');
      segment.uid = u;
      segment.gid = g;
      segment.mode = (segment.mode & ~0o777) | bits;
      segment.ctime = now();
    },

    remove(shmid) {
      const id = argShmid(shmid);
      return later(() => {
        fault('shmctl(IPC_RMID)');
        markRemoved(find(id, 'shmctl(IPC_RMID)'));
      });
    },

    removeNow(shmid) {
      const id = argShmid(shmid);
      fault('shmctl(IPC_RMID)');
      markRemoved(find(id, 'shmctl(IPC_RMID)'));
    },

    setLocked(shmid, locked) {
      const id = argShmid(shmid);
      const lock = argBoolean(locked, 'locked');
      const syscall = lock ? 'shmctl(SHM_LOCK)' : 'shmctl(SHM_UNLOCK)';
      fault(syscall);
      const segment = find(id, syscall);
      segment.mode = lock ? segment.mode | SHM_LOCKED : segment.mode & ~SHM_LOCKED;
    },

    attachElsewhere(shmid, pid = 4242) {
      fault('shmat');
      const segment = find(argShmid(shmid), 'shmat');
      segment.nattch += 1;
      segment.atime = now();
      segment.lpid = pid;
      let attached = true;
      return {
        detach() {
          if (!attached) return;
          attached = false;
          dropAttach(segment, pid);
        },
      };
    },

    failNext(syscall, code) {
      faults.set(syscall, [...(faults.get(syscall) ?? []), code]);
    },
  };
}
