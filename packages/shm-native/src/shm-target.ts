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
import { errSegmentExists, errSizeMismatch, formatKey, type DirectWindows, type SegmentDescriptor, type SegmentTarget, type SegmentWriter } from '@shmsnap/core';
import { BASE_SHUTDOWN_OFFSET } from '@shmsnap/core';
import { decodeKey } from '@shmsnap/core';
import { loadShmBinding, type NativeAttachment, type ShmBindingOptions } from './binding.js';
import { attachShm, createShm, listShmSegments, removeShm, removeShmNow, setShmOwner } from './shm.js';
import { DEFAULT_WINDOW_BYTES, WindowWriter } from './window-stream.js';

export interface ShmTargetOptions extends ShmBindingOptions {
  /** @default 8 MiB */
  readonly windowBytes?: number;
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
  let created: Created[] = [];
  let heldStatus: { key: number; shmid: number; bytes: Buffer }[] = [];

  async function release(entry: Created): Promise<void> {
    const attachment = entry.attachment;
    entry.attachment = undefined;
    // A populate still running on the thread pool touches the mapping.
    await entry.writer?.settled();
    await attachment?.detach();
  }

  return {
    name: 'shm',
    created: () => created.map((c) => c.key),

    async check(segments) {
      const conflicts = conflictingSegments(segments, { binding }).sort((a, b) => a.key - b.key);
      if (conflicts.length === 0) return;
      const names = new Map(segments.map((s) => [`${s.instance}/${s.nsid}`, s.namespace]));
      const described = [...new Set(conflicts.map((c) => {
        const decoded = decodeKey(c.key);
        const name = decoded ? names.get(`${decoded.instance}/${decoded.nsid}`) : undefined;
        return decoded ? `instance ${decoded.instance} nsid ${decoded.nsid}${name ? ` ('${name}')` : ''}` : formatKey(c.key);
      }))];
      const keys = conflicts.map((c) => formatKey(c.key) + (c.nattch > 0 ? ` (attached ${c.nattch})` : ''));
      throw errSegmentExists(
        formatKey(conflicts[0]!.key),
        `shared memory already holds ${conflicts.length} segment(s) of ${described.join(', ')}: ${keys.join(', ')}. Refusing to restore over them (if they are left from an interrupted restore, remove them with ipcrm -M <key>)`,
      ).withDetails({ keys: conflicts.map((c) => formatKey(c.key)) });
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
