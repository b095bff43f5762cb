/**
 * Segments this process cannot see. Discovery is ASMT's (SHM_INFO, then
 * SHM_STAT per index), and SHM_STAT needs read permission on the segment:
 * a user who is neither root, nor the owner or creator, nor holds
 * CAP_IPC_OWNER simply does not get root's 0600 segments, so an inspect
 * would report "no Aerospike segments" while they are there. Two sources
 * tell how many are missing, whatever the caller's rights: SHM_INFO's count
 * of ids in use, and /proc/sysvipc/shm, which Linux fills with every
 * segment of the IPC namespace (key, owner, mode, size).
 */
import { readFileSync } from 'node:fs';
import { decodeKey, errShmFailed } from '@shmsnap/core';
import { loadShmBinding, type ShmBindingOptions } from './binding.js';
import { listShmSegments } from './shm.js';

/** One line of /proc/sysvipc/shm. */
export interface ProcShmEntry {
  readonly key: number;
  readonly shmid: number;
  /** Permission bits and status bits, as IPC_STAT gives `mode`. */
  readonly mode: number;
  readonly size: number;
  readonly nattch: number;
  readonly uid: number;
  readonly gid: number;
}

export const PROC_SYSVIPC_SHM = '/proc/sysvipc/shm';

/**
 * /proc/sysvipc/shm's table: a header line naming the columns, then one
 * line per segment (the key as a signed decimal, the mode in octal).
 * Columns are found by name, so a kernel that adds some does not matter.
 */
export function parseProcSysvipcShm(text: string): ProcShmEntry[] {
  const [header, ...lines] = text.split('\n').filter((line) => line.trim() !== '');
  if (!header) return [];
  const columns = header.trim().split(/\s+/);
  const at = (name: string): number => columns.indexOf(name);
  const index = { key: at('key'), shmid: at('shmid'), perms: at('perms'), size: at('size'), nattch: at('nattch'), uid: at('uid'), gid: at('gid') };
  if (Object.values(index).some((i) => i < 0)) return [];
  const out: ProcShmEntry[] = [];
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    const number = (i: number): number => Number(fields[i]);
    const entry: ProcShmEntry = {
      key: number(index.key) >>> 0,
      shmid: number(index.shmid),
      mode: Number.parseInt(fields[index.perms] ?? '', 8),
      size: number(index.size),
      nattch: number(index.nattch),
      uid: number(index.uid),
      gid: number(index.gid),
    };
    if (Object.values(entry).every((v) => Number.isFinite(v))) out.push(entry);
  }
  return out;
}

export interface HiddenSegments {
  /** Segments that exist but that SHM_STAT does not show this process (with `instance`, /proc's of that instance). */
  readonly count: number;
  /** Those of them with Aerospike keys, as /proc shows them; empty when /proc could not be read. */
  readonly aerospike: readonly ProcShmEntry[];
  /** False when /proc/sysvipc/shm could not be read: only `count` is known, not which keys. */
  readonly detailed: boolean;
}

export interface HiddenSegmentsOptions extends ShmBindingOptions {
  /** Only segments with Aerospike keys of this instance (needs /proc). */
  readonly instance?: number;
  /** The text of /proc/sysvipc/shm; @default read from the file for the real binding, none for another one (the fake) */
  readonly procText?: string;
}

export function hiddenShmSegments(options: HiddenSegmentsOptions = {}): HiddenSegments {
  const binding = options.binding ?? loadShmBinding();
  const visible = new Set(listShmSegments(binding).map((s) => s.shmid));
  let procText = options.procText;
  if (procText === undefined && options.binding === undefined) {
    try {
      procText = readFileSync(PROC_SYSVIPC_SHM, 'latin1');
    } catch {
      procText = undefined;
    }
  }
  if (procText === undefined) {
    // Only a count: ids in use, less those we could stat (clamped: a segment may come or go in between).
    let usedIds: number;
    try {
      usedIds = binding.shmInfo().usedIds;
    } catch (error) {
      throw errShmFailed('shmctl(SHM_INFO)', 'the segment table', error);
    }
    return { count: Math.max(0, usedIds - visible.size), aerospike: [], detailed: false };
  }
  const hidden = parseProcSysvipcShm(procText).filter((e) => !visible.has(e.shmid));
  const ofInstance = (e: ProcShmEntry): boolean => options.instance === undefined || decodeKey(e.key)?.instance === options.instance;
  const aerospike = hidden.filter((e) => decodeKey(e.key) !== undefined && ofInstance(e));
  return { count: options.instance === undefined ? hidden.length : aerospike.length, aerospike, detailed: true };
}
