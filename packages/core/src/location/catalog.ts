/**
 * What a location holds, as far as shmsnap is concerned: complete backups
 * (one manifest each), interrupted ones (a pending marker without its
 * manifest), and every object (among them files other tools wrote, such as
 * ASMT's).
 */
import { errManifestInvalid, withPluginContext } from '../errors.js';
import { MANIFEST_MAX_BYTES, manifestName, parseBackupObjectName, parseManifest, type Manifest } from '../format/manifest.js';
import { readObject } from '../pipeline/sink-io.js';
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

/** Whether two backups cover a common namespace of the same instance. */
export function coversSameNamespace(a: { instance: number; nsids: readonly number[] }, b: { instance: number; nsids: readonly number[] }): boolean {
  return a.instance === b.instance && a.nsids.some((nsid) => b.nsids.includes(nsid));
}

export async function readLocation(sink: Sink, signal?: AbortSignal): Promise<LocationState> {
  let objects: readonly ObjectInfo[];
  try {
    objects = await sink.list('', signal ? { signal } : {});
  } catch (error) {
    throw withPluginContext(error, sink.name, 'list');
  }
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
