/**
 * What a location holds, as far as shmsnap is concerned: complete backups
 * (one manifest each), interrupted ones (a pending marker without its
 * manifest), and every object (among them files other tools wrote, such as
 * ASMT's).
 */
import { errManifestInvalid, isShmsnapError, toShmsnapError } from '../errors.js';
import { withSinkContext } from '../plugins/with-plugin-context.js';
import { asmtFiles, newestModified, readFileHeader, type CodecLookup } from '../format/asmt-directory.js';
import {
  MANIFEST_MAX_BYTES,
  manifestName,
  manifestTotals,
  parseBackupObjectName,
  parseManifest,
  parsePendingMarker,
  PENDING_MARKER_MAX_BYTES,
  type Manifest,
} from '../format/manifest.js';
import { readLayoutFields } from '../format/segment-fields.js';
import { readObject, readRange } from '../pipeline/sink-io.js';
import type { ObjectInfo, Sink } from '../contracts/sink.js';

export interface LocationBackup {
  /** The manifest's object name. */
  readonly name: string;
  readonly manifest: Manifest;
}

export interface InterruptedBackup {
  /** The pending marker's object name. */
  readonly name: string;
  readonly instance: number;
  readonly nsids: readonly number[];
}

export interface LocationState {
  readonly backups: readonly LocationBackup[];
  readonly interrupted: readonly InterruptedBackup[];
  readonly objects: readonly ObjectInfo[];
}

export async function readLocation(given: Sink, signal?: AbortSignal): Promise<LocationState> {
  const sink = withSinkContext(given);
  const objects = await sink.list('', signal ? { signal } : {});
  const backups: LocationBackup[] = [];
  const pending: InterruptedBackup[] = [];
  for (const object of objects) {
    const parsed = parseBackupObjectName(object.name);
    if (!parsed) continue;
    if (parsed.kind === 'pending') {
      pending.push({ name: object.name, instance: parsed.instance, nsids: parsed.nsids });
      continue;
    }
    const where = `${sink.location}/${object.name}`;
    const bytes = await readObject(sink, object.name, MANIFEST_MAX_BYTES, signal);
    if (!bytes) continue; // removed while we listed
    const manifest = parseManifest(bytes, { where });
    const nsids = manifest.namespaces.map((n) => n.nsid).sort((a, b) => a - b);
    if (manifest.instance !== parsed.instance || nsids.join('-') !== [...parsed.nsids].sort((a, b) => a - b).join('-')) {
      throw errManifestInvalid(where, `its name says instance ${parsed.instance}, namespace ids ${parsed.nsids.join(',')}; its content says instance ${manifest.instance}, namespace ids ${nsids.join(',')}`);
    }
    backups.push({ name: object.name, manifest });
  }
  // A marker beside its own manifest is from a backup that committed but died before tidying up.
  const committed = new Set(backups.map((b) => b.name));
  const interrupted = pending.filter((p) => !committed.has(manifestName(p.instance, p.nsids)));
  return { backups, interrupted, objects };
}

/** One backup as `ls` shows it: complete (a manifest), interrupted (a marker without its manifest), ASMT files, or an unreadable manifest. */
export interface BackupListing {
  /** The location (or sub-location) holding it, safe to print. */
  readonly location: string;
  readonly status: 'complete' | 'interrupted' | 'asmt' | 'unreadable';
  readonly createdAt: string | null;
  readonly host: string | null;
  readonly instance: number;
  readonly namespaces: readonly string[];
  readonly segments: number;
  readonly rawBytes: number | null;
  readonly storedBytes: number;
  readonly codec: { readonly name: string; readonly level: number | null } | null;
  /** For ASMT rows: the codecs of the files (`gzip`, `none`). */
  readonly codecs?: readonly string[];
  readonly problem?: string;
}

async function listingsIn(sink: Sink, prefix: string, objects: readonly ObjectInfo[], codecs: Pick<CodecLookup, 'codecForObject'>, signal?: AbortSignal): Promise<BackupListing[]> {
  const where = `${sink.location}${prefix ? `/${prefix.slice(0, -1)}` : ''}`;
  const rows: BackupListing[] = [];
  const names = new Set(objects.map((o) => o.name));
  const claimed = new Set<string>();
  const segmentFiles = asmtFiles(objects, codecs);
  /** Files an interrupted shmsnap backup left: part of that backup, not an ASMT one. */
  const leftBy = (instance: number, nsids: readonly number[]) => segmentFiles.filter((f) => f.decoded.instance === instance && nsids.includes(f.decoded.nsid));
  for (const object of objects) {
    const parsed = parseBackupObjectName(object.name);
    if (!parsed) continue;
    if (parsed.kind === 'pending') {
      if (names.has(manifestName(parsed.instance, parsed.nsids))) continue;
      const marker = parsePendingMarker(await readObject(sink, prefix + object.name, PENDING_MARKER_MAX_BYTES, signal).catch(() => undefined));
      const left = leftBy(parsed.instance, parsed.nsids);
      for (const f of left) claimed.add(f.info.name);
      rows.push({
        location: where, status: 'interrupted', createdAt: marker.startedAt, host: marker.hostname, instance: parsed.instance,
        namespaces: parsed.nsids.map((n) => `nsid ${n}`), segments: left.length, rawBytes: null,
        storedBytes: left.reduce((sum, f) => sum + f.info.size, 0), codec: null,
      });
      continue;
    }
    try {
      const bytes = await readObject(sink, prefix + object.name, MANIFEST_MAX_BYTES, signal);
      if (!bytes) continue; // removed while we listed
      const manifest = parseManifest(bytes, { where: `${where}/${object.name}` });
      for (const s of manifest.segments) claimed.add(s.object);
      const totals = manifestTotals(manifest);
      rows.push({
        location: where, status: 'complete', createdAt: manifest.createdAt, host: manifest.host.hostname, instance: manifest.instance,
        namespaces: manifest.namespaces.map((n) => n.name), segments: totals.segments, rawBytes: totals.rawBytes, storedBytes: totals.storedBytes,
        codec: manifest.codec,
      });
    } catch (error) {
      rows.push({
        location: where, status: 'unreadable', createdAt: null, host: null, instance: parsed.instance, namespaces: [], segments: 0, rawBytes: null,
        storedBytes: object.size, codec: null, problem: toShmsnapError(error, 'read', `${where}/${object.name}`).message,
      });
    }
  }
  const files = segmentFiles.filter((f) => !claimed.has(f.info.name));
  for (const instance of [...new Set(files.map((f) => f.decoded.instance))].sort((a, b) => a - b)) {
    const mine = files.filter((f) => f.decoded.instance === instance);
    const namespaces: string[] = [];
    let rawBytes = 0;
    for (const file of mine) {
      const object = prefix + file.info.name;
      try {
        if (file.decoded.kind === 'primary-base' && file.codec.identity) {
          const fields = await readLayoutFields('primary-base', file.info.size, object, (bytes) => readRange(sink, object, 0, Math.min(bytes, file.info.size), signal));
          if (fields.base && !isShmsnapError(fields.base)) namespaces.push(fields.base.namespace);
        }
        rawBytes += (await readFileHeader(sink, object, file, signal)).rawSize;
      } catch {
        // Counted as stored bytes only; verify names the bad file.
      }
    }
    rows.push({
      location: where, status: 'asmt', createdAt: newestModified(mine)?.toISOString() ?? null, host: null, instance,
      namespaces: namespaces.sort(), segments: mine.length, rawBytes, storedBytes: mine.reduce((sum, f) => sum + f.info.size, 0),
      codec: null, codecs: [...new Set(mine.map((f) => f.codec.name))].sort(),
    });
  }
  return rows;
}

/** Every backup at the location and up to `depth` levels below it, grouped by sub-location, in name order. */
export async function listBackups(given: Sink, options: { readonly codecs: Pick<CodecLookup, 'codecForObject'>; readonly depth?: number; readonly signal?: AbortSignal }): Promise<BackupListing[]> {
  const { signal } = options;
  const sink = withSinkContext(given);
  // A location that does not exist is an error here (a mistyped path), not an empty listing.
  const objects = await sink.list('', { depth: options.depth ?? 0, mustExist: true, ...(signal ? { signal } : {}) });
  const groups = new Map<string, ObjectInfo[]>();
  for (const object of objects) {
    const cut = object.name.lastIndexOf('/') + 1;
    const prefix = object.name.slice(0, cut);
    groups.set(prefix, [...(groups.get(prefix) ?? []), { ...object, name: object.name.slice(cut) }]);
  }
  const rows: BackupListing[] = [];
  for (const [prefix, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) rows.push(...(await listingsIn(sink, prefix, group, options.codecs, signal)));
  return rows;
}
