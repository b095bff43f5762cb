/**
 * The shm target (restore): creates Aerospike segments in System V shared
 * memory, exclusively, and removes exactly the ones it created when the
 * restore does not complete.
 *
 * Until `complete()`:
 * - segments are owned by the caller with mode 0600; the recorded owner and
 *   mode are applied at commit of each segment (IPC_SET);
 * - every base segment holds 0 where its shutdown status belongs; the real
 *   status is written by `complete()`. So a restore cut short by SIGKILL
 *   leaves an index that reads "not cleanly shut down" — Aerospike will not
 *   warm-start from it, and shmsnap will not back it up.
 *
 * Everything goes through the `binding` option (the System V addon unless
 * told otherwise).
 */
import { readFile } from 'node:fs/promises';
import {
  combineErrors,
  errSegmentExists,
  listSome,
  errShmLimit,
  errSizeMismatch,
  formatBytes,
  formatKey,
  type DirectWindows,
  type SegmentDescriptor,
  type SegmentTarget,
  type SegmentWriter,
  type ShmsnapError,
} from '@shmsnap/core';
import { BASE_SHUTDOWN_OFFSET } from '@shmsnap/core';
import { decodeKey } from '@shmsnap/core';
import { addonPathOf, loadShmBinding, type NativeAttachment, type ShmBindingOptions } from './binding.js';
import { shmSharedHandle } from './shared-windows.js';
import { attachShm, createShm, listShmSegments, removeShm, removeShmNow, setShmOwner } from './shm.js';
import { DEFAULT_WINDOW_BYTES, WindowWriter } from './window-stream.js';

export interface ShmTargetOptions extends ShmBindingOptions {
  /** @default 8 MiB */
  readonly windowBytes?: number;
  /** The kernel's limits and the host's memory, as `check()` compares them. @default readShmLimits */
  readonly limits?: () => Promise<ShmLimits>;
}

/** What shmget(2) and the host allow (kernel.shm* are per IPC namespace); a value the host does not tell is undefined. */
export interface ShmLimits {
  /** kernel.shmmax: the largest segment, in bytes. */
  readonly shmmax?: number;
  /** kernel.shmall: all segments together, in pages. */
  readonly shmall?: number;
  /** kernel.shmmni: how many segments. */
  readonly shmmni?: number;
  readonly pageSize: number;
  /** MemAvailable from /proc/meminfo: what a restore can fill without pushing the host into reclaim or the OOM killer. */
  readonly availableBytes?: number;
}

async function readNumber(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  const value = text === undefined ? Number.NaN : Number(text.trim());
  // kernel.shmmax and shmall default to values near 2^64: more than any restore needs.
  return Number.isFinite(value) && value >= 0 ? Math.min(value, Number.MAX_SAFE_INTEGER) : undefined;
}

/** The page size from the auxiliary vector (AT_PAGESZ), which every Linux process has; 4 KiB if unreadable. */
async function readPageSize(): Promise<number> {
  const auxv = await readFile('/proc/self/auxv').catch(() => undefined);
  if (auxv) {
    for (let offset = 0; offset + 16 <= auxv.length; offset += 16) {
      const type = auxv.readBigUInt64LE(offset);
      if (type === 0n) break;
      if (type === 6n) return Number(auxv.readBigUInt64LE(offset + 8));
    }
  }
  return 4096;
}

/** kernel.shmmax, shmall and shmmni of this IPC namespace, the page size, and MemAvailable. */
export async function readShmLimits(): Promise<ShmLimits> {
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const available = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo);
  const [shmmax, shmall, shmmni, pageSize] = await Promise.all([
    readNumber('/proc/sys/kernel/shmmax'),
    readNumber('/proc/sys/kernel/shmall'),
    readNumber('/proc/sys/kernel/shmmni'),
    readPageSize(),
  ]);
  return {
    pageSize,
    ...(shmmax === undefined ? {} : { shmmax }),
    ...(shmall === undefined ? {} : { shmall }),
    ...(shmmni === undefined ? {} : { shmmni }),
    ...(available ? { availableBytes: Number(available[1]) * 1024 } : {}),
  };
}

/**
 * Why shmget(2) would fail for `segments`, or the host could not hold them,
 * given the segments that exist already: every reason, before any segment
 * is created (so a dry run finds them too).
 */
export function shmLimitProblems(segments: readonly SegmentDescriptor[], existing: readonly { readonly size: number }[], limits: ShmLimits): ShmsnapError[] {
  const problems: ShmsnapError[] = [];
  const pages = (size: number): number => Math.ceil(size / limits.pageSize);
  for (const s of segments) {
    if (s.size < 1) problems.push(errShmLimit(formatKey(s.key), 'a segment of 0 bytes cannot be created (shmget needs at least 1)'));
    else if (limits.shmmax !== undefined && s.size > limits.shmmax) {
      problems.push(errShmLimit(`${formatKey(s.key)} (${s.size} bytes)`, `kernel.shmmax is ${limits.shmmax} bytes; raise it (sysctl -w kernel.shmmax=${s.size}) before restoring`));
    }
  }
  if (limits.shmmni !== undefined && existing.length + segments.length > limits.shmmni) {
    problems.push(errShmLimit(`${segments.length} segments`, `kernel.shmmni allows ${limits.shmmni} segments and ${existing.length} exist already`));
  }
  const needed = segments.reduce((sum, s) => sum + pages(s.size), 0);
  const inUse = existing.reduce((sum, s) => sum + pages(s.size), 0);
  if (limits.shmall !== undefined && inUse + needed > limits.shmall) {
    problems.push(errShmLimit(`${segments.length} segments (${needed} pages of ${limits.pageSize} bytes)`, `kernel.shmall allows ${limits.shmall} pages and ${inUse} are in use; raise it (sysctl -w kernel.shmall=${inUse + needed}) before restoring`));
  }
  const bytes = segments.reduce((sum, s) => sum + s.size, 0);
  if (limits.availableBytes !== undefined && bytes > limits.availableBytes) {
    problems.push(errShmLimit(`${segments.length} segments (${formatBytes(bytes)})`, `the host has ${formatBytes(limits.availableBytes)} of memory available (MemAvailable in /proc/meminfo)`));
  }
  return problems;
}

interface Created {
  readonly key: number;
  readonly shmid: number;
  attachment: NativeAttachment | undefined;
  writer: WindowWriter | undefined;
}

export interface ShmTarget extends SegmentTarget {
  /** Keys created by this restore and not yet completed. */
  created(): readonly number[];
  /**
   * The last resort of an interrupted restore whose rollback cannot finish
   * (a read blocked in the kernel holds it up): marks every segment this
   * restore created for removal at once, synchronously and without
   * detaching (a read may still be copying into one), so the kernel frees
   * them when this process ends. Returns the keys marked; afterwards
   * `rollback()` has nothing left to do.
   */
  abandon(): number[];
}

/** Live segments that a restore of `segments` would collide with: same key, or same instance and namespace id (as ASMT). */
export function conflictingSegments(segments: readonly SegmentDescriptor[], options: ShmBindingOptions = {}): { key: number; nattch: number }[] {
  const wanted = new Set(segments.map((s) => s.key));
  const namespaces = new Set(segments.map((s) => `${s.instance}/${s.nsid}`));
  return listShmSegments(options.binding ?? loadShmBinding())
    .filter((stat) => {
      const decoded = decodeKey(stat.key);
      return wanted.has(stat.key) || (decoded !== undefined && namespaces.has(`${decoded.instance}/${decoded.nsid}`));
    })
    .map((stat) => ({ key: stat.key, nattch: stat.nattch }));
}

export function createShmTarget(options: ShmTargetOptions = {}): ShmTarget {
  const windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
  const binding = options.binding ?? loadShmBinding();
  const addonPath = addonPathOf(binding);
  let created: Created[] = [];
  let heldStatus: { key: number; shmid: number; bytes: Buffer }[] = [];

  async function release(entry: Created): Promise<void> {
    const attachment = entry.attachment;
    entry.attachment = undefined;
    // A populate still running on the thread pool touches the mapping.
    await entry.writer?.settled();
    await attachment?.detach();
  }

  /**
   * SEGMENT_EXISTS for the live segments a restore of `segments` would
   * collide with, if any. A set can be long (every stage of an index): the
   * message gives the count and the first few keys, `details.keys` all of
   * them, and `details.sets` each instance and namespace they belong to, from
   * which a frontend says how to clear a leftover set.
   */
  function existingProblem(segments: readonly SegmentDescriptor[]): ShmsnapError | undefined {
    const conflicts = conflictingSegments(segments, { binding }).sort((a, b) => a.key - b.key);
    if (conflicts.length === 0) return undefined;
    const names = new Map(segments.map((s) => [`${s.instance}/${s.nsid}`, s.namespace]));
    const sets = new Map<string, { instance: number; nsid: number; namespace: string | null; base: boolean }>();
    for (const c of conflicts) {
      const decoded = decodeKey(c.key);
      if (!decoded) continue;
      const id = `${decoded.instance}/${decoded.nsid}`;
      const set = sets.get(id) ?? { instance: decoded.instance, nsid: decoded.nsid, namespace: names.get(id) ?? null, base: false };
      sets.set(id, { ...set, base: set.base || decoded.kind === 'primary-base' });
    }
    const described = [...sets.values()].map((set) => `instance ${set.instance} nsid ${set.nsid}${set.namespace ? ` ('${set.namespace}')` : ''}`);
    const keys = conflicts.map((c) => formatKey(c.key));
    const attached = conflicts.filter((c) => c.nattch > 0).length;
    const list = listSome(keys);
    return errSegmentExists(
      formatKey(conflicts[0]!.key),
      `shared memory already holds ${conflicts.length} segment${conflicts.length === 1 ? '' : 's'} of ${described.join(', ') || 'these keys'} (${list})${attached > 0 ? `, ${attached} of them attached` : ''}; refusing to restore over them`,
    ).withDetails({ keys, attached: conflicts.filter((c) => c.nattch > 0).map((c) => formatKey(c.key)), sets: [...sets.values()] });
  }

  return {
    name: 'shm',
    created: () => created.map((c) => c.key),

    async check(segments) {
      const problems: ShmsnapError[] = [];
      const conflict = existingProblem(segments);
      if (conflict) problems.push(conflict);
      problems.push(...shmLimitProblems(segments, listShmSegments(binding), await (options.limits ?? readShmLimits)()));
      if (problems.length > 0) throw combineErrors(problems);
    },

    async create(segment): Promise<SegmentWriter> {
      const label = formatKey(segment.key);
      const shmid = createShm(segment.key, segment.size, 0o600, binding);
      const entry: Created = { key: segment.key, shmid, attachment: undefined, writer: undefined };
      created.push(entry);
      entry.attachment = attachShm(shmid, segment.key, false, binding);
      const isBase = segment.kind === 'primary-base';
      const stream = new WindowWriter(entry.attachment, segment.size, {
        label,
        windowBytes,
        ...(isBase ? { hold: { offset: BASE_SHUTDOWN_OFFSET, length: 4 } } : {}),
      });
      entry.writer = stream;
      const attachment = entry.attachment;
      // Raw restores fill the segment in place; not a base, whose shutdown status the stream withholds.
      const direct: DirectWindows | undefined = isBase
        ? undefined
        : {
            maxViewBytes: binding.maxViewBytes,
            view: (offset, length) => {
              if (offset < 0 || length < 0 || offset + length > segment.size) throw errSizeMismatch(label, segment.size, offset + length, 'bytes (or more)');
              return attachment.view(offset, length);
            },
            wrote: (bytes) => {
              stream.written += bytes;
            },
            // MADV_POPULATE_WRITE on the thread pool; a kernel without it only costs speed.
            prefault: (offset, length) => attachment.populate(offset, length).then(
              () => undefined,
              () => undefined,
            ),
            // A codec's worker attaches the segment itself and decodes into it (shared-windows.ts); not on the fake binding.
            ...(addonPath === undefined ? {} : { shared: shmSharedHandle({ addonPath, shmid, size: segment.size }) }),
          };
      return {
        stream,
        ...(direct ? { direct } : {}),
        async commit() {
          if (stream.written !== segment.size) throw errSizeMismatch(label, segment.size, stream.written);
          setShmOwner(shmid, segment.key, segment.uid, segment.gid, segment.mode, binding);
          await release(entry);
          if (isBase) heldStatus.push({ key: segment.key, shmid, bytes: stream.held });
        },
      };
    },

    async rollback() {
      const toRemove = created;
      created = [];
      heldStatus = [];
      // Remove every one even if some fail; report the first failure after.
      let failure: unknown;
      for (const entry of toRemove.reverse()) {
        await release(entry).catch(() => undefined);
        await removeShm(entry.shmid, entry.key, binding).catch((error: unknown) => {
          failure ??= error;
        });
      }
      if (failure !== undefined) throw failure;
    },

    abandon() {
      const marked: number[] = [];
      for (const entry of created.reverse()) {
        try {
          removeShmNow(entry.shmid, entry.key, binding);
          marked.push(entry.key);
        } catch {
          // Nothing else can be done now; the others still get marked.
        }
      }
      created = [];
      heldStatus = [];
      return marked;
    },

    async complete() {
      for (const held of heldStatus) {
        const attachment = attachShm(held.shmid, held.key, false, binding);
        try {
          held.bytes.copy(attachment.view(BASE_SHUTDOWN_OFFSET, held.bytes.length));
        } finally {
          await attachment.detach();
        }
      }
      heldStatus = [];
      created = [];
    },
  };
}
