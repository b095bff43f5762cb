/**
 * What a restore from a location will do: which objects become which
 * segments, with which check values, after every check on the set.
 *
 * Sources, per namespace:
 * - a shmsnap manifest: segments, sizes, owners, modes and CRC-32s as
 *   recorded (owner and mode from the manifest, not the files: a copy that
 *   lost ownership, or S3, restores right);
 * - otherwise ASMT's files (no manifest), inferred as ASMT does: names give
 *   the keys, the base file gives the namespace, `.dat.gz` headers give sizes
 *   and CRC-32s, file owner and mode give the segments' (§17, §18).
 * Either way the set goes through the same analysis as live segments: base
 * version and shutdown status, treex, stage counts and contiguity, metas,
 * data names. A namespace whose backup was interrupted is refused.
 */
import type { Codec } from '../contracts/codec.js';
import type { Sink } from '../contracts/sink.js';
import type { SegmentTarget } from '../contracts/target.js';
import {
  errBackupIncomplete,
  errBackupNotFound,
  errBackupStale,
  errConfigInvalid,
  errManifestInvalid,
  errNamespaceNotFound,
  errSegmentInvalid,
  isShmsnapError,
  type ShmsnapError,
} from '../errors.js';
import { decodeKey } from '../format/aerospike-key.js';
import { asmtFiles, asmtFileSegment, newestModified, readFileHeader, segmentObjectName, type AsmtFile, type CodecLookup } from '../format/asmt-directory.js';
import { analyzeLayout, requireNamespaces, type LayoutEntry, type NamespaceAnalysis } from '../format/layout-analysis.js';
import type { HostIdentity, Manifest, ManifestSegment } from '../format/manifest.js';
import { readLayoutFields, type LayoutFields } from '../format/segment-fields.js';
import { readHostIdentity } from '../host-identity.js';
import { executeRestore, type RestoreEntry, type RestoreRunOptions, type TransferResult } from '../pipeline/restore.js';
import { checkConcurrency } from '../pipeline/settle.js';
import { readRawHead } from '../pipeline/sink-io.js';
import { withSinkContext } from '../plugins/with-plugin-context.js';
import { readLocation, type LocationBackup, type LocationState } from './catalog.js';
import {
  assessRestore,
  describeFinding,
  RESTORE_OVERRIDES,
  standingFindings,
  type OptionNamer,
  type RestoreFinding,
  type RestoreOverrides,
  type RestoreProvenance,
  type RestoreSource,
} from './restore-guard.js';

/** The header fields of one object, read through its codec; bases and metas must be uncompressed (as ASMT writes them). */
async function fieldsOf(sink: Sink, entry: { object: string; key: number; codec: Codec; rawSize: number }, signal: AbortSignal | undefined): Promise<LayoutFields> {
  const kind = decodeKey(entry.key)?.kind ?? null;
  if ((kind === 'primary-base' || kind === 'secondary-meta') && !entry.codec.identity) {
    return { base: errSegmentInvalid(entry.object, `a ${kind === 'primary-base' ? 'base segment' : 'secondary meta'} file must be uncompressed (.dat), as ASMT writes it`) };
  }
  try {
    return await readLayoutFields(kind, entry.rawSize, entry.object, (bytes) => readRawHead(sink, entry.object, entry.codec, entry.rawSize, bytes, signal));
  } catch (error) {
    if (isShmsnapError(error) && kind === 'primary-base') return { base: error };
    throw error;
  }
}

/** One object of the plan before analysis: where it comes from and what it becomes. */
interface Candidate {
  readonly entry: LayoutEntry;
  readonly restore: RestoreEntry | ((analysis: NamespaceAnalysis) => RestoreEntry);
}

async function manifestCandidates(sink: Sink, backup: LocationBackup, codecs: CodecLookup, signal?: AbortSignal): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const s of backup.manifest.segments) {
    const codec = codecs.codec(s.codec);
    const fields = s.kind === 'data-stage' ? { dataName: s.namespace } : await fieldsOf(sink, { object: s.object, key: s.key, codec, rawSize: s.size }, signal);
    const { object, codec: _codec, rawBytes: _raw, rawCrc32, storedBytes, storedCrc32, pieces, zeroRanges, ...segment }: ManifestSegment = s;
    out.push({
      entry: { key: s.key, size: s.size, label: object, ...fields },
      restore: { segment, object, codec, storedBytes, storedCrc32, rawCrc32, ...(pieces ? { pieces } : {}), ...(zeroRanges ? { zeroRanges } : {}) },
    });
  }
  return out;
}

async function asmtCandidates(sink: Sink, files: readonly AsmtFile[], signal?: AbortSignal): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const file of files) {
    const object = file.info.name;
    const { rawSize, rawCrc32 } = await readFileHeader(sink, object, file, signal);
    const fields = await fieldsOf(sink, { object, key: file.key, codec: file.codec, rawSize }, signal);
    out.push({
      entry: { key: file.key, size: rawSize, label: object, ...fields },
      restore: (ns) => ({
        segment: asmtFileSegment(file, rawSize, ns.namespace),
        object,
        codec: file.codec,
        storedBytes: file.info.size,
        ...(rawCrc32 === undefined ? {} : { rawCrc32 }),
      }),
    });
  }
  return out;
}

export type PlanSource =
  | { readonly kind: 'manifest'; readonly name: string; readonly backup: LocationBackup }
  | { readonly kind: 'asmt'; readonly newest: Date | undefined };

export interface RestorePlan {
  readonly location: string;
  readonly instance: number;
  readonly namespaces: readonly { readonly name: string; readonly nsid: number; readonly source: PlanSource }[];
  /** In restore order as planned (the run writes bases last). */
  readonly entries: readonly RestoreEntry[];
  readonly rawBytes: number;
  /** Where each part comes from: host, time, boot. */
  readonly provenance: readonly RestoreProvenance[];
  /** Every reason the guard found to refuse this restore, each naming the option that overrides it (or none). */
  readonly findings: readonly RestoreFinding[];
  /** The findings the given overrides do not lift: `run()` refuses while any stands. */
  readonly refusing: readonly RestoreFinding[];
  /** Restores into the target checked in prepare; all or nothing. */
  run(options?: RestoreRunOptions): Promise<TransferResult>;
}

export interface PrepareRestoreOptions {
  readonly sink: Sink;
  readonly codecs: CodecLookup;
  /** Where the segments go; checked in prepare (nothing there may collide). Without one, `run()` is refused. */
  readonly target?: SegmentTarget;
  /** Default: the one instance the location holds backups of. */
  readonly instance?: number;
  /** Default: every namespace of the instance. */
  readonly namespaces?: readonly string[];
  /** This host, for the provenance guard. @default readHostIdentity() */
  readonly host?: HostIdentity;
  readonly now?: Date;
  /**
   * Refuse a backup older than this, or of unknown age. Replaces the default
   * limit (DEFAULT_MAX_AGE_MS), larger or smaller; no override lifts it, so
   * it cannot be given with `allowOlder`.
   */
  readonly maxAgeMs?: number;
  /** Restore a backup made on another host. @default false */
  readonly allowOtherHost?: boolean;
  /** Restore a backup older than the default limit (DEFAULT_MAX_AGE_MS); never lifts `maxAgeMs`. @default false */
  readonly allowOlder?: boolean;
  /** Restore a backup dated more than CLOCK_SKEW_ALLOWANCE_MS ahead of now. @default false */
  readonly allowFuture?: boolean;
  /** `allowOtherHost`, `allowOlder` and `allowFuture` at once, and nothing more (`maxAgeMs` still applies). @default false */
  readonly force?: boolean;
  /** Segments transferred at once. @default 2 */
  readonly concurrency?: number;
  /** Raw objects straight into the segment where sink and target allow (see RestoreExecution). @default true */
  readonly directCopy?: boolean;
  readonly signal?: AbortSignal;
  /** An already read location. */
  readonly state?: LocationState;
}

function instancesIn(state: LocationState, codecs: CodecLookup): number[] {
  const claimed = new Set(state.backups.flatMap((b) => b.manifest.segments.map((s) => s.object)));
  const found = new Set<number>([
    ...state.backups.map((b) => b.manifest.instance),
    ...state.interrupted.map((i) => i.instance),
    ...asmtFiles(state.objects.filter((o) => !claimed.has(o.name)), codecs).map((f) => f.decoded.instance),
  ]);
  return [...found].sort((a, b) => a - b);
}

/** The restore set of a location: every check of the set, nothing about where it goes. */
async function selectRestoreSet(options: PrepareRestoreOptions): Promise<Pick<RestorePlan, 'location' | 'instance' | 'namespaces' | 'entries'>> {
  const { sink, codecs, signal } = options;
  const state = options.state ?? (await readLocation(sink, signal));
  const instances = instancesIn(state, codecs);
  if (instances.length === 0) throw errBackupNotFound(sink.location, 'no shmsnap manifest and no ASMT segment files');
  let instance = options.instance;
  if (instance === undefined) {
    if (instances.length > 1) throw errConfigInvalid('instance', `${sink.location} holds backups of instances ${instances.join(', ')}; choose one`);
    instance = instances[0]!;
  }
  const backups = state.backups.filter((b) => b.manifest.instance === instance);
  const interrupted = state.interrupted.filter((i) => i.instance === instance);
  const claimed = new Set(state.backups.flatMap((b) => b.manifest.segments.map((s) => s.object)));
  const interruptedNsids = new Set(interrupted.flatMap((i) => i.nsids));
  const files = asmtFiles(state.objects.filter((o) => !claimed.has(o.name)), codecs, instance).filter(
    (f) => !interruptedNsids.has(f.decoded.nsid),
  );
  if (backups.length === 0 && files.length === 0) {
    if (interrupted.length > 0) throw errBackupIncomplete(sink.location, `${interrupted.map((i) => i.name).join(', ')} without a manifest: the backup was interrupted`);
    throw errBackupNotFound(sink.location, `nothing of instance ${instance}`);
  }
  if (interrupted.length > 0 && options.namespaces === undefined) {
    throw errBackupIncomplete(sink.location, `${interrupted.map((i) => i.name).join(', ')} without a manifest: a backup of instance ${instance} was interrupted (name the namespaces to restore the others)`);
  }

  const candidates: { candidate: Candidate; source: PlanSource }[] = [];
  for (const backup of backups) {
    const source: PlanSource = { kind: 'manifest', name: backup.name, backup };
    for (const candidate of await manifestCandidates(sink, backup, codecs, signal)) candidates.push({ candidate, source });
  }
  const asmtSource: PlanSource = { kind: 'asmt', newest: newestModified(files) };
  for (const candidate of await asmtCandidates(sink, files, signal)) candidates.push({ candidate, source: asmtSource });

  const analysis = analyzeLayout(candidates.map((c) => c.candidate.entry), { requireClean: true, requireDetached: false, noun: 'segment file' });
  let selected: NamespaceAnalysis[];
  try {
    selected = requireNamespaces(analysis, { instance, ...(options.namespaces ? { namespaces: options.namespaces } : {}) }, sink.location);
  } catch (error) {
    if (isShmsnapError(error, 'NAMESPACE_NOT_FOUND') && interrupted.length > 0) {
      throw errBackupIncomplete(sink.location, `${String(error.details.namespace)} is not among the complete backups, and ${interrupted.map((i) => i.name).join(', ')} shows an interrupted one`);
    }
    throw error;
  }

  const byKey = new Map(candidates.map((c) => [c.candidate.entry.key, c]));
  const entries: RestoreEntry[] = [];
  const namespaces: RestorePlan['namespaces'][number][] = [];
  for (const ns of selected) {
    let source: PlanSource | undefined;
    for (const member of ns.members) {
      const found = byKey.get(member.entry.key)!;
      source ??= found.source;
      entries.push(typeof found.candidate.restore === 'function' ? found.candidate.restore(ns) : found.candidate.restore);
    }
    if (!source) throw errNamespaceNotFound(ns.namespace, instance, sink.location);
    namespaces.push({ name: ns.namespace, nsid: ns.nsid, source });
  }
  return { location: sink.location, instance, namespaces, entries };
}

function sourcesOf(namespaces: RestorePlan['namespaces']): RestoreSource[] {
  const bySource = new Map<PlanSource, string[]>();
  for (const ns of namespaces) bySource.set(ns.source, [...(bySource.get(ns.source) ?? []), ns.name]);
  return [...bySource].map(([source, names]) =>
    source.kind === 'manifest'
      ? { namespaces: names, what: source.name, createdAt: new Date(source.backup.manifest.createdAt), host: source.backup.manifest.host }
      : { namespaces: names, what: 'ASMT files (no manifest)', createdAt: source.newest, host: undefined },
  );
}

/**
 * Every check of a restore, once: the location's set (manifests, ASMT files,
 * the layout analysis), the provenance guard, the target (nothing there may
 * collide), and the options. A dry run is this call and nothing else.
 */
export async function prepareRestore(options: PrepareRestoreOptions): Promise<RestorePlan> {
  const concurrency = options.concurrency ?? 2;
  checkConcurrency(concurrency);
  const overrides = restoreOverrides(options);
  const sink = withSinkContext(options.sink);
  const set = await selectRestoreSet({ ...options, sink });
  const host = options.host ?? (await readHostIdentity());
  const { provenance, findings } = assessRestore(sourcesOf(set.namespaces), host, options.now ?? new Date(), options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs });
  const refusing = standingFindings(findings, overrides);
  const { target, signal } = options;
  const segments = set.entries.map((e) => e.segment);
  await target?.check(segments, signal ? { signal } : {});
  return {
    ...set,
    rawBytes: segments.reduce((sum, s) => sum + s.size, 0),
    provenance,
    findings,
    refusing,
    async run(runOptions = {}) {
      if (!target) throw errConfigInvalid('target', 'this restore plan was prepared without a target');
      if (refusing.length > 0) throw errRestoreRefused(set.location, refusing);
      return executeRestore({ sink, target, entries: set.entries, concurrency, ...(options.directCopy === undefined ? {} : { directCopy: options.directCopy }) }, runOptions);
    },
  };
}

/** The overrides `options` give: each one named, or all of them through `force`; `allowOlder` with `maxAgeMs` is CONFIG_INVALID. */
function restoreOverrides(options: PrepareRestoreOptions): RestoreOverrides {
  // allowOlder lifts only the default limit: next to a limit of the caller's own it would say two contrary things.
  if (options.allowOlder === true && options.maxAgeMs !== undefined) {
    throw errConfigInvalid('allowOlder', 'it lifts only the default age limit, and a limit given explicitly always applies', 'maxAge');
  }
  return Object.fromEntries(RESTORE_OVERRIDES.map((o) => [o, options.force === true || options[o] === true]));
}

/** BACKUP_STALE for `findings`, each with what overrides it, worded with `name` for options (frontends pass their flag names). */
export function errRestoreRefused(location: string, findings: readonly RestoreFinding[], name?: OptionNamer): ShmsnapError {
  return errBackupStale(location, findings.map((f) => describeFinding(f, name)).join('; ')).withDetails({
    findings,
    overrides: findings.map((f) => f.override),
  });
}

/** Restore entries from a manifest, resolving codecs by name; a codec whose extension the object does not carry is MANIFEST_INVALID. */
export function planFromManifest(manifest: Manifest, codecByName: (name: string) => Codec, where: string): RestoreEntry[] {
  return manifest.segments.map((s) => {
    const codec = codecByName(s.codec);
    if (s.object !== segmentObjectName(s, codec)) {
      throw errManifestInvalid(where, `${s.object} does not carry codec '${s.codec}' extension ${codec.extension}`);
    }
    if (codec.identity && (s.storedBytes !== s.rawBytes || s.storedCrc32 !== s.rawCrc32)) {
      throw errManifestInvalid(where, `${s.object}: stored and raw values differ for codec '${s.codec}'`);
    }
    const { object, codec: _name, rawBytes: _raw, rawCrc32, storedBytes, storedCrc32, pieces, zeroRanges, ...segment } = s;
    return { segment, object, codec, storedBytes, storedCrc32, rawCrc32, ...(pieces ? { pieces } : {}), ...(zeroRanges ? { zeroRanges } : {}) };
  });
}
