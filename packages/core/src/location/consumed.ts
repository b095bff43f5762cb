/**
 * Consumed backups. Once a restore has completed, the node runs from those
 * segments and its index moves on: restoring the same backup again would
 * bring back records deleted since and lose newer writes. So after a
 * restore completes, each manifest it restored from gets a consumed marker
 * beside it (`shmsnap-consumed-i<instance>-n<nsids>.json`, the manifest's
 * name with `consumed`), written atomically through the sink like any object
 * (local: link() of a fsynced temp file; S3: a conditional put). A later
 * restore refuses a consumed backup (BACKUP_CONSUMED) unless `allowConsumed`,
 * which `force` does not include: it is not a provenance doubt but a fact.
 *
 * - The marker records the manifest's `createdAt`: a marker left after its
 *   manifest was removed does not mark a new backup of the same namespaces
 *   later written there. An unreadable marker counts as consumed (it can only
 *   have been written after a restore).
 * - ASMT's files have no manifest and get no marker (nothing of shmsnap's
 *   decides for them what is current).
 * - Restoring a consumed backup again (allowConsumed) keeps the first marker.
 */
import type { Sink } from '../contracts/sink.js';
import { toShmsnapError, type ShmsnapError } from '../errors.js';
import { consumedName, lenientField, lenientJsonObject, type HostIdentity } from '../format/manifest.js';
import { readObject, writeObject } from '../pipeline/sink-io.js';
import type { LocationBackup } from './catalog.js';

export const CONSUMED_FORMAT = 'shmsnap-consumed';
/** Far above any real marker; bounds what a hostile file can make us read. */
export const CONSUMED_MARKER_MAX_BYTES = 64 * 1024;

/** What a consumed marker says, leniently read (nulls for what it does not say). */
export interface ConsumedMarker {
  /** The marker's object name. */
  readonly name: string;
  readonly consumedAt: string | null;
  readonly hostname: string | null;
  readonly pid: number | null;
  /** The `createdAt` of the manifest it was written for. */
  readonly backupCreatedAt: string | null;
}

export interface ConsumedRecord {
  readonly consumedAt: string;
  readonly host: HostIdentity;
  readonly pid: number;
  readonly tool: { readonly name: string; readonly version: string };
  readonly backup: { readonly manifest: string; readonly createdAt: string };
  readonly restored: { readonly instance: number; readonly namespaces: readonly { readonly name: string; readonly nsid: number }[]; readonly segments: number; readonly rawBytes: number };
  /** Why a backup that was not restored is consumed (location/outrun.ts: the segments it copied stayed in place and asd went on from them). */
  readonly note?: string;
}

export function serializeConsumedMarker(record: ConsumedRecord): Buffer {
  return Buffer.from(`${JSON.stringify({ format: CONSUMED_FORMAT, formatVersion: 1, ...record }, null, 2)}\n`);
}

export function parseConsumedMarker(name: string, bytes: Uint8Array | undefined): ConsumedMarker {
  const root = lenientJsonObject(bytes);
  const host = lenientField(root, 'host');
  const backup = lenientField(root, 'backup');
  return {
    name,
    consumedAt: typeof root.consumedAt === 'string' ? root.consumedAt : null,
    hostname: typeof host.hostname === 'string' ? host.hostname : null,
    pid: typeof root.pid === 'number' && Number.isSafeInteger(root.pid) ? root.pid : null,
    backupCreatedAt: typeof backup.createdAt === 'string' ? backup.createdAt : null,
  };
}

/** The marker name for a manifest's backup. */
export function consumedNameFor(backup: LocationBackup): string {
  return consumedName(backup.manifest.instance, backup.manifest.namespaces.map((n) => n.nsid));
}

/** The marker that marks `backup` consumed among `markers`, if any. */
export function consumedMarkerOf(backup: LocationBackup, markers: readonly ConsumedMarker[]): ConsumedMarker | undefined {
  const name = consumedNameFor(backup);
  return markers.find((m) => m.name === name && (m.backupCreatedAt === null || m.backupCreatedAt === backup.manifest.createdAt));
}

/** Reads the markers named in a listing. */
export async function readConsumedMarkers(sink: Sink, names: readonly string[], signal?: AbortSignal): Promise<ConsumedMarker[]> {
  const out: ConsumedMarker[] = [];
  for (const name of names) {
    const bytes = await readObject(sink, name, CONSUMED_MARKER_MAX_BYTES, signal).catch((error: unknown) => {
      if (signal?.aborted) throw error;
      return undefined;
    });
    out.push(parseConsumedMarker(name, bytes));
  }
  return out;
}

export interface MarkConsumedResult {
  /** Markers written by this call. */
  readonly written: readonly string[];
  /** Markers already there (the backup had been restored before, with allowConsumed now). */
  readonly kept: readonly string[];
  /** Markers that could not be written: the restore stays done. */
  readonly failed: readonly { readonly name: string; readonly error: ShmsnapError }[];
}

/**
 * Writes a marker beside each manifest restored from. A stale marker of the
 * same name (for an earlier manifest since removed) is replaced. Never
 * throws for a failed write: the restore it follows is complete.
 */
export async function markConsumed(
  sink: Sink,
  backups: readonly LocationBackup[],
  markers: readonly ConsumedMarker[],
  record: (backup: LocationBackup) => ConsumedRecord,
): Promise<MarkConsumedResult> {
  const written: string[] = [];
  const kept: string[] = [];
  const failed: { name: string; error: ShmsnapError }[] = [];
  for (const backup of backups) {
    const name = consumedNameFor(backup);
    if (consumedMarkerOf(backup, markers)) {
      kept.push(name);
      continue;
    }
    try {
      if (markers.some((m) => m.name === name)) await sink.remove(name);
      await writeObject(sink, name, serializeConsumedMarker(record(backup)));
      written.push(name);
    } catch (error) {
      failed.push({ name, error: toShmsnapError(error, 'write', `${sink.location}/${name}`) });
    }
  }
  return { written, kept, failed };
}
