/**
 * The shm source (backup): Aerospike segments in System V shared memory.
 *
 * `list()` discovers every segment (SHM_INFO + SHM_STAT), reads the few
 * header fields of bases, metas and data stages through short read-only
 * attachments, and refuses (coded error naming the key) unless every
 * selected namespace is complete, detached and cleanly shut down.
 * `open()` checks again that nobody attached the segment since, then streams
 * it through read-only windows. Every segment is watched from the listing on
 * (segment-watch.ts): `checkUnchanged()` fails with SEGMENT_CHANGED when
 * another process attached, detached or changed one since, or a base is no
 * longer cleanly shut down.
 *
 * Everything goes through the `binding` option (the System V addon unless
 * told otherwise), so every refusal can be tested without root on the fake.
 */
import {
  analyzeLayout,
  BASE_MIN_BYTES,
  decodeKey,
  errSegmentAttached,
  errSegmentChanged,
  errPermissionDenied,
  errSegmentInvalid,
  errShmFailed,
  formatKey,
  isShmsnapError,
  parseBase,
  readLayoutFields,
  requireNamespaces,
  SHUTDOWN_CLEAN,
  type ShmsnapError,
  type InstanceAnalysis,
  type LayoutEntry,
  type NamespaceAnalysis,
  type SegmentDescriptor,
  type SegmentReader,
  type SegmentSource,
} from '@shmsnap/core';
import { loadShmBinding, type ShmBinding, type ShmBindingOptions } from './binding.js';
import { hiddenShmSegments } from './hidden-segments.js';
import { listShmSegments, PERMISSION_BITS, statShm, type ShmStat } from './shm.js';
import { watchSegment, type SegmentWatch } from './segment-watch.js';
import { createWindowReader, DEFAULT_WINDOW_BYTES } from './window-stream.js';

export interface LiveSegment extends LayoutEntry {
  readonly stat: ShmStat;
}

/** Reads `length` bytes from the start of a segment (a copy), through a short read-only attachment the watch brackets. */
async function readHead(watch: SegmentWatch, size: number, length: number): Promise<Buffer> {
  const attachment = watch.attach();
  try {
    return Buffer.from(attachment.view(0, Math.min(length, size)));
  } finally {
    // Awaited, so that our own attachment never shows in a later nattch check.
    await attachment.detach();
  }
}

/** Every live Aerospike segment of `instance`, with its header fields, and the watch that read them. */
async function discoverWatched(instance: number | undefined, binding: ShmBinding): Promise<{ live: LiveSegment[]; watches: Map<number, SegmentWatch> }> {
  const live: LiveSegment[] = [];
  const watches = new Map<number, SegmentWatch>();
  for (const stat of listShmSegments(binding)) {
    const decoded = decodeKey(stat.key);
    if (!decoded || (instance !== undefined && decoded.instance !== instance)) continue;
    const base = { key: stat.key, size: stat.size, label: formatKey(stat.key), nattch: stat.nattch, stat };
    // Watched from the listing on: anything another process does to the segment from here is seen (segment-watch.ts).
    const watch = watchSegment(stat, binding);
    watches.set(stat.key, watch);
    try {
      live.push({ ...base, ...(await readLayoutFields(decoded.kind, stat.size, base.label, (bytes) => readHead(watch, stat.size, bytes))) });
    } catch (error) {
      // The segment vanished or cannot be attached: say so for this key.
      live.push({ ...base, base: errShmFailed('shmat', `segment ${base.label}`, error) });
    }
  }
  return { live, watches };
}

/** Every live Aerospike segment of `instance` (all instances when undefined), with its header fields. */
export async function discoverSegments(instance?: number, options: ShmBindingOptions = {}): Promise<LiveSegment[]> {
  return (await discoverWatched(instance, options.binding ?? loadShmBinding())).live;
}

export function analyzeLiveSegments(segments: readonly LiveSegment[]): InstanceAnalysis<LiveSegment>[] {
  return analyzeLayout(segments, { requireClean: true, requireDetached: true, noun: 'segment' });
}

export function descriptorsOf(namespaces: readonly NamespaceAnalysis<LiveSegment>[]): SegmentDescriptor[] {
  return namespaces.flatMap((ns) =>
    ns.members.map((m): SegmentDescriptor => {
      const stat = m.entry.stat;
      return {
        key: m.entry.key,
        kind: m.kind,
        instance: ns.instance,
        // The key's own: a data stripe's key may carry another nsid than its base's.
        nsid: decodeKey(m.entry.key)!.nsid,
        namespace: ns.namespace,
        stage: m.stage,
        size: m.entry.size,
        uid: stat.uid,
        gid: stat.gid,
        mode: stat.mode & PERMISSION_BITS,
      };
    }),
  );
}

/**
 * "Nothing there" said to a user who cannot see what is there: when no
 * segment (or no asked-for namespace) was found while segments exist that
 * this user may not read (SHM_STAT hides them from a non-root user), the
 * truth is a permission problem, with how many and who may read them.
 */
function unreadableInstead(error: unknown, binding: ShmBinding, instance: number): unknown {
  if (!isShmsnapError(error) || (error.code !== 'NOTHING_SELECTED' && error.code !== 'NAMESPACE_NOT_FOUND')) return error;
  // The count only (SHM_INFO's ids in use less those SHM_STAT shows): the binding is given, so /proc is not read.
  const unreadable = hiddenShmSegments({ binding }).count;
  if (unreadable === 0) return error;
  const uid = process.getuid?.() ?? '?';
  const missing = error.code === 'NOTHING_SELECTED' ? `no Aerospike segment of instance ${instance}` : `no namespace '${String(error.details.namespace)}' of instance ${instance}`;
  return errPermissionDenied(
    'reading',
    `shared memory: ${unreadable} segment(s) exist that uid ${uid} cannot read (it can read ${missing}); run as root, with CAP_IPC_OWNER, or as the segments' owner`,
    error,
  ).withDetails({ unreadableSegments: unreadable, uid });
}

export interface ShmSourceOptions extends ShmBindingOptions {
  /** @default 0 (as ASMT) */
  readonly instance?: number;
  /** Namespace names; all namespaces of the instance when omitted. */
  readonly namespaces?: readonly string[];
  /** @default 8 MiB */
  readonly windowBytes?: number;
}

export interface ShmSource extends SegmentSource {
  /** The namespaces `list()` selected, with their analysis. */
  selected(): Promise<readonly NamespaceAnalysis<LiveSegment>[]>;
}

export function createShmSource(options: ShmSourceOptions = {}): ShmSource {
  const instance = options.instance ?? 0;
  const windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
  const binding = options.binding ?? loadShmBinding();
  let selection: { namespaces: NamespaceAnalysis<LiveSegment>[]; shmids: Map<number, number>; watches: Map<number, SegmentWatch> } | undefined;

  async function select(): Promise<NonNullable<typeof selection>> {
    const { live, watches } = await discoverWatched(instance, binding);
    let namespaces: NamespaceAnalysis<LiveSegment>[];
    try {
      namespaces = requireNamespaces(analyzeLiveSegments(live), { instance, ...(options.namespaces ? { namespaces: options.namespaces } : {}) }, 'shared memory');
    } catch (error) {
      throw unreadableInstead(error, binding, instance);
    }
    const selected = new Set(namespaces.flatMap((ns) => ns.members.map((m) => m.entry.key)));
    selection = {
      namespaces,
      shmids: new Map(live.map((s) => [s.key, s.stat.shmid])),
      watches: new Map([...watches].filter(([key]) => selected.has(key))),
    };
    return selection;
  }

  /**
   * The first change seen on a selected segment, as the coded error: every
   * watch first (they name who), then each base read again for its shutdown
   * status, then the bases' watches once more (that read attached them).
   */
  async function firstChange(current: NonNullable<typeof selection>): Promise<ShmsnapError | undefined> {
    const checkWatches = async (keys: Iterable<number>): Promise<ShmsnapError | undefined> => {
      for (const key of keys) {
        const change = await current.watches.get(key)!.check();
        if (change !== undefined) return errSegmentChanged(formatKey(key), change);
      }
      return undefined;
    };
    const changed = await checkWatches(current.watches.keys());
    if (changed) return changed;
    const bases = current.namespaces.flatMap((ns) => ns.members.filter((m) => m.kind === 'primary-base').map((m) => m.entry));
    for (const base of bases) {
      let status: number;
      try {
        status = parseBase(await readHead(current.watches.get(base.key)!, base.size, BASE_MIN_BYTES), base.label).shutdownStatus;
      } catch (error) {
        return isShmsnapError(error) ? error : errShmFailed('shmat', `segment ${base.label}`, error);
      }
      // The listing refused anything but a clean status: any other value now was written since.
      if (status !== SHUTDOWN_CLEAN) return errSegmentChanged(base.label, `its shutdown status is now ${status} (it was ${SHUTDOWN_CLEAN}, clean, when listed)`);
    }
    return checkWatches(bases.map((b) => b.key));
  }

  return {
    name: 'shm',
    async list() {
      return descriptorsOf((await select()).namespaces);
    },
    async selected() {
      return (selection ?? (await select())).namespaces;
    },
    async open(segment): Promise<SegmentReader> {
      const label = formatKey(segment.key);
      const current = selection ?? (await select());
      const shmid = current.shmids.get(segment.key);
      const watch = current.watches.get(segment.key);
      if (shmid === undefined || watch === undefined) throw errSegmentInvalid(label, 'not among the listed segments');
      const stat = statShm(shmid, segment.key, binding);
      if (stat.key !== segment.key || stat.size !== segment.size) throw errSegmentInvalid(label, 'the segment changed since it was listed');
      if (stat.nattch > 0) throw errSegmentAttached(label, stat.nattch);
      const attachment = watch.attach();
      if (watch.change !== undefined) {
        await attachment.detach();
        throw errSegmentChanged(label, watch.change);
      }
      const stream = createWindowReader(attachment, segment.size, windowBytes);
      return {
        stream,
        // Never throws for a change: the watch keeps it, and checkUnchanged() reports it.
        close: async () => {
          await stream.settled(); // a populate on the thread pool may still touch the mapping
          await attachment.detach();
        },
      };
    },
    async checkUnchanged() {
      if (!selection) return;
      const change = await firstChange(selection);
      if (change) throw change;
    },
  };
}
