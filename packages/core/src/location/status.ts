/**
 * The fleet view (`shmsnap status`): for every host and instance with
 * backups under a location (a directory or prefix holding many nodes'
 * backups, `<host>/<instance>/<timestamp>`), its newest complete backup
 * (where, when, how old, consumed or not, how large) and how many backups
 * of each kind it has. Read-only: the same catalog `ls` and
 * `restore --latest` read, no lock, nothing written.
 */
import type { Sink } from '../contracts/sink.js';
import type { CodecLookup } from '../format/asmt-directory.js';
import { listBackups, type BackupListing } from './catalog.js';

export interface HostInstanceStatus {
  /** The host's name as its backups record it; null for backups that name none (ASMT's files, unreadable manifests). */
  readonly hostname: string | null;
  readonly instance: number;
  /** Its newest complete backup (consumed or not); null when it has none. */
  readonly newest: {
    readonly location: string;
    readonly createdAt: string;
    /** Negative when dated ahead of now. */
    readonly ageMs: number;
    readonly consumed: BackupListing['consumed'];
    readonly namespaces: BackupListing['namespaces'];
    readonly rawBytes: number | null;
    readonly storedBytes: number;
  } | null;
  /** Its newest complete backup nobody restored yet: what `restore --latest` picks; null when there is none. */
  readonly newestUnconsumed: { readonly location: string; readonly createdAt: string } | null;
  readonly counts: {
    readonly complete: number;
    /** Of the complete ones, those restored already. */
    readonly consumed: number;
    readonly interrupted: number;
    readonly invalid: number;
    readonly asmt: number;
    /** Complete backups older than the newest. */
    readonly older: number;
  };
}

export interface LocationStatus {
  readonly location: string;
  readonly depth: number;
  readonly hosts: readonly HostInstanceStatus[];
}

const time = (row: BackupListing): number => (row.createdAt === null ? -Infinity : Date.parse(row.createdAt));

/** Groups the catalog's rows by host and instance; sorted by host name (unknown last), then instance. */
export function statusOf(rows: readonly BackupListing[], now: Date): HostInstanceStatus[] {
  const groups = new Map<string, BackupListing[]>();
  for (const row of rows) {
    const key = `${row.host?.hostname ?? ''}\u0000${row.host === null ? 1 : 0}\u0000${String(row.instance).padStart(2, '0')}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const out: { key: string; status: HostInstanceStatus }[] = [];
  for (const [key, members] of groups) {
    const complete = members.filter((r) => r.status === 'complete').sort((a, b) => time(b) - time(a) || (a.location < b.location ? -1 : 1));
    const newest = complete[0];
    const unconsumed = complete.find((r) => r.consumed === null);
    const first = members[0]!;
    out.push({
      key: `${first.host === null ? 1 : 0}\u0000${key}`,
      status: {
        hostname: first.host?.hostname ?? null,
        instance: first.instance,
        newest: newest
          ? {
              location: newest.location, createdAt: newest.createdAt!, ageMs: now.getTime() - time(newest), consumed: newest.consumed,
              namespaces: newest.namespaces, rawBytes: newest.rawBytes, storedBytes: newest.storedBytes,
            }
          : null,
        newestUnconsumed: unconsumed ? { location: unconsumed.location, createdAt: unconsumed.createdAt! } : null,
        counts: {
          complete: complete.length,
          consumed: complete.filter((r) => r.consumed !== null).length,
          interrupted: members.filter((r) => r.status === 'interrupted').length,
          invalid: members.filter((r) => r.status === 'invalid').length,
          asmt: members.filter((r) => r.status === 'asmt').length,
          older: Math.max(0, complete.length - 1),
        },
      },
    });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((o) => o.status);
}

export async function readStatus(sink: Sink, options: { readonly codecs: CodecLookup; readonly depth?: number; readonly now?: Date; readonly signal?: AbortSignal }): Promise<LocationStatus> {
  const depth = options.depth ?? 3;
  const rows = await listBackups(sink, { codecs: options.codecs, depth, ...(options.signal ? { signal: options.signal } : {}) });
  return { location: sink.location, depth, hosts: statusOf(rows, options.now ?? new Date()) };
}
