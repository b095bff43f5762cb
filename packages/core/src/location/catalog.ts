/**
 * What a location holds, as far as shmsnap is concerned: complete backups
 * (one manifest each), interrupted ones (a pending marker without its
 * manifest), and every object (among them files other tools wrote, such as
 * ASMT's).
 */
import { errBackupIncomplete, errBackupNotFound, errConfigInvalid, errManifestInvalid, isShmsnapError, toShmsnapError, type ShmsnapError } from '../errors.js';
import { withSinkContext } from '../plugins/with-plugin-context.js';
import { asmtFiles, type CodecLookup } from '../format/asmt-directory.js';
import {
  MANIFEST_MAX_BYTES,
  manifestName,
  manifestTotals,
  parseBackupObjectName,
  parseManifest,
  consumedName,
  parsePendingMarker,
  pendingName,
  PENDING_MARKER_MAX_BYTES,
  type HostIdentity,
  type Manifest,
} from '../format/manifest.js';
import { readObject } from '../pipeline/sink-io.js';
import type { ObjectInfo, Sink } from '../contracts/sink.js';
import { assessInstance, groupEntries, instancesIn, type InstanceSet, type PlanSource } from './restore-set.js';
import { consumedMarkerOf, readConsumedMarkers, type ConsumedMarker } from './consumed.js';

export interface LocationBackup {
  /** The manifest's object name. */
  readonly name: string;
  readonly manifest: Manifest;
  /** The manifest as stored: an encrypted backup's MAC is checked over these bytes (crypto/backup-cipher.ts). */
  readonly bytes?: Buffer;
}

export interface InterruptedBackup {
  /** The pending marker's object name. */
  readonly name: string;
  readonly instance: number;
  readonly nsids: readonly number[];
}

/**
 * An object named like a manifest that cannot be read as one (not a regular
 * file, unreadable, unparsable, or its name disagreeing with its content).
 * Its name still says which instance and namespace ids it covers: those are
 * refused, never restored from the files beside it as if no manifest were there.
 */
export interface InvalidManifest {
  readonly name: string;
  readonly instance: number;
  readonly nsids: readonly number[];
  readonly error: ShmsnapError;
}

export interface LocationState {
  readonly backups: readonly LocationBackup[];
  readonly interrupted: readonly InterruptedBackup[];
  readonly invalid: readonly InvalidManifest[];
  /** The consumed markers (location/consumed.ts): which manifests were restored already. */
  readonly consumed: readonly ConsumedMarker[];
  readonly objects: readonly ObjectInfo[];
}

/**
 * A location whose listing is empty may not be there at all: the sink says
 * so (LOCATION_NOT_FOUND: "the path does not exist"), rather than the caller
 * reporting "no backup found" for a typo. Resolves when it is there, or the
 * sink cannot tell.
 */
export async function checkLocationExists(sink: Sink, objects: readonly ObjectInfo[], signal?: AbortSignal): Promise<void> {
  if (objects.length === 0) await sink.checkExists?.(signal ? { signal } : {});
}

/**
 * The instance a reader of `state` works on: `requested`, or the only one the
 * location holds. An empty location is LOCATION_NOT_FOUND when the sink can
 * tell it is not there, else BACKUP_NOT_FOUND; several instances and none
 * requested is CONFIG_INVALID naming them (restore and pre-flight alike).
 */
export async function chooseInstance(sink: Sink, codecs: Pick<CodecLookup, 'codecForObject'>, state: LocationState, requested: number | undefined, signal?: AbortSignal): Promise<number> {
  const instances = instancesIn(state, codecs);
  if (instances.length === 0) {
    await checkLocationExists(sink, state.objects, signal);
    throw errBackupNotFound(sink.location, 'no shmsnap manifest and no ASMT segment files');
  }
  if (requested !== undefined) return requested;
  if (instances.length > 1) throw errConfigInvalid('instance', `${sink.location} holds backups of instances ${instances.join(', ')}; choose one`);
  return instances[0]!;
}

export async function readLocation(given: Sink, signal?: AbortSignal): Promise<LocationState> {
  const sink = withSinkContext(given);
  return locationStateOf(sink, await sink.list('', signal ? { signal } : {}), signal);
}

/** What `objects` (a listing of `sink`'s location) hold: manifests are read and checked here. */
export async function locationStateOf(sink: Sink, objects: readonly ObjectInfo[], signal?: AbortSignal): Promise<LocationState> {
  const backups: LocationBackup[] = [];
  const pending: InterruptedBackup[] = [];
  const invalid: InvalidManifest[] = [];
  const manifests = new Set<string>();
  const consumedNames: string[] = [];
  const rekeys: { name: string; instance: number; nsids: readonly number[] }[] = [];
  for (const object of objects) {
    const parsed = parseBackupObjectName(object.name);
    if (!parsed) continue;
    if (parsed.kind === 'consumed') {
      consumedNames.push(object.name);
      continue;
    }
    if (parsed.kind === 'pending') {
      pending.push({ name: object.name, instance: parsed.instance, nsids: parsed.nsids });
      continue;
    }
    if (parsed.kind === 'rekey') {
      rekeys.push({ name: object.name, instance: parsed.instance, nsids: parsed.nsids });
      continue;
    }
    manifests.add(object.name);
    const where = `${sink.location}/${object.name}`;
    const refuse = (error: ShmsnapError): void => {
      invalid.push({ name: object.name, instance: parsed.instance, nsids: parsed.nsids, error });
    };
    if (object.unusable) {
      refuse(errManifestInvalid(where, `it is ${object.unusable}, not a regular file, so it cannot be read; the files of the namespaces it names are not restored without it`));
      continue;
    }
    try {
      const bytes = await readObject(sink, object.name, MANIFEST_MAX_BYTES, signal);
      if (!bytes) {
        manifests.delete(object.name); // removed while we listed
        continue;
      }
      const manifest = parseManifest(bytes, { where });
      const nsids = manifest.namespaces.map((n) => n.nsid).sort((a, b) => a - b);
      if (manifest.instance !== parsed.instance || nsids.join('-') !== [...parsed.nsids].sort((a, b) => a - b).join('-')) {
        throw errManifestInvalid(where, `its name says instance ${parsed.instance}, namespace ids ${parsed.nsids.join(',')}; its content says instance ${manifest.instance}, namespace ids ${nsids.join(',')}`);
      }
      backups.push({ name: object.name, manifest, bytes });
    } catch (error) {
      if (signal?.aborted || isShmsnapError(error, 'ABORTED')) throw error;
      refuse(toShmsnapError(error, 'read', where));
    }
  }
  // A rekey that stopped between removing the old manifest and writing the new one: its new manifest is
  // here, whole, under the rekey name; the backup is refused until `rekey` runs again and puts it in place.
  // Beside its manifest, a rekey object is a leftover of a rekey that had not yet replaced anything.
  for (const r of rekeys) {
    if (manifests.has(manifestName(r.instance, r.nsids))) continue;
    invalid.push({ ...r, error: errBackupIncomplete(`${sink.location}/${r.name}`, `a rekey was interrupted while it replaced ${manifestName(r.instance, r.nsids)}; run shmsnap rekey again with the same keys to finish it`) });
  }
  // A marker beside its own manifest is from a backup that committed but died before tidying up.
  const interrupted = pending.filter((p) => !manifests.has(manifestName(p.instance, p.nsids)));
  const consumed = await readConsumedMarkers(sink, consumedNames, signal);
  return { backups, interrupted, invalid, consumed, objects };
}

/**
 * One backup as `ls` shows it: complete (a manifest), interrupted (a marker
 * without its manifest), ASMT files, or invalid: one that restore would
 * refuse (a manifest that cannot be read, an object missing or of the wrong
 * size, a conflicting file, an incomplete or inconsistent set), with the reason.
 */
export interface BackupListing {
  /** The location (or sub-location) holding it, safe to print. */
  readonly location: string;
  /** Its sub-location as a prefix of object names below the listed location (`''`, `host/0/20261201T000000Z/`). */
  readonly prefix: string;
  readonly status: 'complete' | 'interrupted' | 'asmt' | 'invalid';
  readonly createdAt: string | null;
  /** Who made it, as far as is known (an interrupted backup's marker names only the host; ASMT records nothing). */
  readonly host: HostIdentity | null;
  readonly instance: number;
  /** The namespaces it holds; `name` null where only the id is known (an interrupted backup, an unreadable manifest). */
  readonly namespaces: readonly { readonly name: string | null; readonly nsid: number }[];
  readonly segments: number;
  readonly rawBytes: number | null;
  readonly storedBytes: number;
  /** The codecs of its objects: the manifest's, or for ASMT files each one found (`gzip`, and `none` for bases); level null where unknown. */
  readonly codecs: readonly { readonly name: string; readonly level: number | null }[];
  /** Why restore would refuse it (status `invalid`); empty otherwise. */
  readonly problems: readonly ShmsnapError[];
  /** The marker saying it was restored already (a complete backup only); null when it was not. */
  readonly consumed: ConsumedMarker | null;
  /**
   * The objects of its sub-location that belong to it, relative to `prefix`: a manifest's own
   * name, the segment objects it lists that are there, its consumed marker and a pending marker
   * left beside it; an interrupted backup's marker and the segment files it left; ASMT's files;
   * an unreadable manifest alone. What `prune` removes, and nothing else.
   */
  readonly objects: readonly string[];
  /** The manifest (a complete or an invalid backup whose manifest could be read); null otherwise. */
  readonly manifest: Manifest | null;
  /** Its objects are encrypted (a manifest with `encryption`): their contents are checked only with the key (verify, restore). */
  readonly encrypted: boolean;
}

/** The location's view under `prefix`: the same sink, with names relative to the sub-location. */
function within(sink: Sink, prefix: string, location: string): Sink {
  if (prefix === '') return sink;
  const random = sink.openRandomReader;
  return {
    ...sink,
    location,
    openReader: (name, options) => sink.openReader(prefix + name, options),
    stat: (name, options) => sink.stat(prefix + name, options),
    list: async (sub = '', options) => (await sink.list(prefix + sub, options)).map((o) => ({ ...o, name: o.name.slice(prefix.length) })),
    ...(random ? { openRandomReader: (name: string, options?: { readonly signal?: AbortSignal }) => random.call(sink, prefix + name, options) } : {}),
  };
}

/** The problems of every group holding a candidate from each source: what restore of that source would refuse on. */
function problemsBySource(set: InstanceSet): Map<PlanSource, ShmsnapError[]> {
  const out = new Map<PlanSource, ShmsnapError[]>();
  const { namespaces, orphans } = set.analysis;
  for (const group of [...namespaces, ...orphans]) {
    const sources = new Set(groupEntries(group).map((e) => set.candidates.get(e)?.source).filter((s): s is PlanSource => s !== undefined));
    for (const source of sources) {
      const list = out.get(source) ?? [];
      for (const problem of group.problems) if (!list.includes(problem)) list.push(problem);
      out.set(source, list);
    }
  }
  return out;
}

/** The codecs of ASMT-named files, each once, by name; their level is not recorded. */
function codecsOf(files: readonly { readonly codec: { readonly name: string } }[]): BackupListing['codecs'] {
  return [...new Set(files.map((f) => f.codec.name))].sort().map((name) => ({ name, level: null }));
}

async function listingsIn(given: Sink, prefix: string, objects: readonly ObjectInfo[], codecs: CodecLookup, signal?: AbortSignal): Promise<BackupListing[]> {
  const where = `${given.location}${prefix ? `/${prefix.slice(0, -1)}` : ''}`;
  const sink = within(given, prefix, where);
  const state = await locationStateOf(sink, objects, signal);
  const sets = new Map<number, InstanceSet>();
  for (const instance of instancesIn(state, codecs)) sets.set(instance, await assessInstance(sink, codecs, state, instance, signal));
  const problems = new Map([...sets.values()].flatMap((set) => [...problemsBySource(set)]));
  const rows: BackupListing[] = [];
  // Rows in the order of the objects that stand for them (manifests, markers), then ASMT files by instance.
  for (const object of objects) {
    const parsed = parseBackupObjectName(object.name);
    if (!parsed || parsed.kind === 'consumed') continue;
    const set = sets.get(parsed.instance);
    if (parsed.kind === 'pending') {
      if (!state.interrupted.some((i) => i.name === object.name)) continue;
      const marker = parsePendingMarker(object.unusable ? undefined : await readObject(sink, object.name, PENDING_MARKER_MAX_BYTES, signal).catch(() => undefined));
      // Files an interrupted shmsnap backup left: part of that backup, not an ASMT one.
      const left = asmtFiles(objects, codecs, parsed.instance).filter((f) => parsed.nsids.includes(f.decoded.nsid));
      rows.push({
        // A consumed marker of the same namespaces has no manifest left to mark (a prune that stopped part-way leaves one): it goes with the rest.
        objects: [object.name, ...left.map((f) => f.info.name), ...objects.filter((o) => o.name === consumedName(parsed.instance, parsed.nsids)).map((o) => o.name)], manifest: null,
        location: where, prefix, consumed: null, status: 'interrupted', createdAt: marker.startedAt,
        host: marker.hostname === null ? null : { hostname: marker.hostname, machineId: null, bootId: null }, instance: parsed.instance,
        namespaces: parsed.nsids.map((nsid) => ({ name: null, nsid })), segments: left.length, rawBytes: null,
        storedBytes: left.reduce((sum, f) => sum + f.info.size, 0), codecs: codecsOf(left), problems: [], encrypted: false,
      });
      continue;
    }
    const backup = set?.backups.find((b) => b.name === object.name);
    if (backup) {
      const source = set!.manifestSources.get(backup.name);
      const { manifest } = backup;
      // ls has no key: what it cannot read of an encrypted backup is not a problem of the backup.
      const found = ((source && problems.get(source)) ?? []).filter((p) => !(manifest.encryption && isShmsnapError(p, 'KEY_REQUIRED')));
      const totals = manifestTotals(manifest);
      const present = new Set(objects.map((o) => o.name));
      const marker = found.length > 0 ? undefined : consumedMarkerOf(backup, state.consumed);
      const nsids = manifest.namespaces.map((n) => n.nsid);
      const untidied = pendingName(manifest.instance, nsids);
      // Its consumed marker's name, even when the marker is stale (written for an earlier manifest of that name): nothing else it could mark.
      const markerName = consumedName(manifest.instance, nsids);
      rows.push({
        objects: [object.name, ...manifest.segments.map((s) => s.object).filter((o) => present.has(o)), ...(present.has(markerName) ? [markerName] : []), ...(present.has(untidied) ? [untidied] : [])],
        manifest,
        location: where, prefix, consumed: marker ?? null, status: found.length > 0 ? 'invalid' : 'complete', createdAt: manifest.createdAt, host: manifest.host, instance: manifest.instance,
        namespaces: manifest.namespaces.map((n) => ({ name: n.name, nsid: n.nsid })), segments: totals.segments, rawBytes: totals.rawBytes, storedBytes: totals.storedBytes,
        codecs: [manifest.codec], problems: found, encrypted: manifest.encryption !== undefined,
      });
      continue;
    }
    const bad = set?.invalid.find((i) => i.name === object.name);
    if (bad) {
      rows.push({
        objects: [object.name], manifest: null,
        location: where, prefix, consumed: null, status: 'invalid', createdAt: null, host: null, instance: bad.instance, namespaces: bad.nsids.map((nsid) => ({ name: null, nsid })), segments: 0, rawBytes: null,
        storedBytes: object.size, codecs: [], problems: [bad.error], encrypted: false,
      });
    }
  }
  for (const set of sets.values()) {
    if (set.files.length === 0) continue;
    const source = set.asmtSource;
    const asmt = [...set.candidates.values()].filter((c) => c.source === source);
    const found = problems.get(source) ?? [];
    const namespaces = set.analysis.namespaces
      .filter((ns) => ns.namespace !== '' && groupEntries(ns).some((e) => set.candidates.get(e)?.source === source))
      .map((ns) => ({ name: ns.namespace, nsid: ns.nsid }));
    rows.push({
      objects: set.files.map((f) => f.info.name), manifest: null,
      location: where, prefix, consumed: null, status: found.length > 0 ? 'invalid' : 'asmt', createdAt: source.kind === 'asmt' ? (source.newest?.toISOString() ?? null) : null, host: null,
      instance: set.instance, namespaces: namespaces.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)), segments: set.files.length,
      rawBytes: asmt.filter((c) => c.restore && !c.entry.problem).reduce((sum, c) => sum + c.entry.size, 0),
      storedBytes: set.files.reduce((sum, f) => sum + f.info.size, 0),
      codecs: codecsOf(set.files), problems: found, encrypted: false,
    });
  }
  return rows;
}

/** Every backup at the location and up to `depth` levels below it, grouped by sub-location, in name order. */
export async function listBackups(given: Sink, options: { readonly codecs: CodecLookup; readonly depth?: number; readonly signal?: AbortSignal }): Promise<BackupListing[]> {
  const { signal } = options;
  const sink = withSinkContext(given);
  const objects = await sink.list('', { depth: options.depth ?? 0, ...(signal ? { signal } : {}) });
  await checkLocationExists(sink, objects, signal);
  return listBackupsIn(sink, objects, options);
}

/** listBackups over a listing already made (`sink.list` with the depth wanted): for callers that need the objects too (prune). */
export async function listBackupsIn(given: Sink, objects: readonly ObjectInfo[], options: { readonly codecs: CodecLookup; readonly signal?: AbortSignal }): Promise<BackupListing[]> {
  const { signal } = options;
  const sink = withSinkContext(given);
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
