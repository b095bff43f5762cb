/**
 * The shm source (backup): Aerospike segments in System V shared memory.
 *
 * `list()` discovers every segment (SHM_INFO + SHM_STAT), reads the few
 * header fields of bases, metas and data stages through short read-only
 * attachments, and refuses (coded error naming the key) unless every
 * selected namespace is complete, detached and cleanly shut down.
 * `open()` checks again that nobody attached the segment since, then streams
 * it through read-only windows.
 *
 * Everything goes through the `binding` option (the System V addon unless
 * told otherwise), so every refusal can be tested without root on the fake.
 */
import {
  analyzeLayout,
  decodeKey,
  errSegmentAttached,
  errSegmentInvalid,
  errShmFailed,
  formatKey,
  readLayoutFields,
  requireNamespaces,
  type InstanceAnalysis,
  type LayoutEntry,
  type NamespaceAnalysis,
  type SegmentDescriptor,
  type SegmentReader,
  type SegmentSource,
} from '@shmsnap/core';
import { loadShmBinding, type ShmBinding, type ShmBindingOptions } from './binding.js';
import { attachShm, listShmSegments, PERMISSION_BITS, statShm, type ShmStat } from './shm.js';
import { createWindowReader, DEFAULT_WINDOW_BYTES } from './window-stream.js';

export interface LiveSegment extends LayoutEntry {
  readonly stat: ShmStat;
}

/** Reads `length` bytes from the start of a segment (a copy), through a short read-only attachment. */
async function readHead(binding: ShmBinding, stat: ShmStat, length: number): Promise<Buffer> {
  const attachment = attachShm(stat.shmid, stat.key, true, binding);
  try {
    return Buffer.from(attachment.view(0, Math.min(length, stat.size)));
  } finally {
    // Awaited, so that our own attachment never shows in a later nattch check.
    await attachment.detach();
  }
}

/** Every live Aerospike segment of `instance` (all instances when undefined), with its header fields. */
export async function discoverSegments(instance?: number, options: ShmBindingOptions = {}): Promise<LiveSegment[]> {
  const binding = options.binding ?? loadShmBinding();
  const out: LiveSegment[] = [];
  for (const stat of listShmSegments(binding)) {
    const decoded = decodeKey(stat.key);
    if (!decoded || (instance !== undefined && decoded.instance !== instance)) continue;
    const base = { key: stat.key, size: stat.size, label: formatKey(stat.key), nattch: stat.nattch, stat };
    try {
      out.push({ ...base, ...(await readLayoutFields(decoded.kind, stat.size, base.label, (bytes) => readHead(binding, stat, bytes))) });
    } catch (error) {
      // The segment vanished or cannot be attached: say so for this key.
      out.push({ ...base, base: errShmFailed('shmat', `segment ${base.label}`, error) });
    }
  }
  return out;
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
  let selection: { namespaces: NamespaceAnalysis<LiveSegment>[]; shmids: Map<number, number> } | undefined;

  async function select(): Promise<NonNullable<typeof selection>> {
    const live = await discoverSegments(instance, { binding });
    const namespaces = requireNamespaces(
      analyzeLiveSegments(live),
      { instance, ...(options.namespaces ? { namespaces: options.namespaces } : {}) },
      'shared memory',
    );
    selection = { namespaces, shmids: new Map(live.map((s) => [s.key, s.stat.shmid])) };
    return selection;
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
      const shmid = (selection ?? (await select())).shmids.get(segment.key);
      if (shmid === undefined) throw errSegmentInvalid(label, 'not among the listed segments');
      const stat = statShm(shmid, segment.key, binding);
      if (stat.key !== segment.key || stat.size !== segment.size) throw errSegmentInvalid(label, 'the segment changed since it was listed');
      if (stat.nattch > 0) throw errSegmentAttached(label, stat.nattch);
      const attachment = attachShm(shmid, segment.key, true, binding);
      return {
        stream: createWindowReader(attachment, segment.size, windowBytes),
        close: () => attachment.detach(),
      };
    },
  };
}
