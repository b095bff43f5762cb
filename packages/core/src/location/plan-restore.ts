/**
 * What a restore from a location will do: which objects become which
 * segments, with which check values, after every check on the set.
 *
 * The set comes from `restore-set.ts` (a manifest per namespace, or ASMT's
 * files; owner and mode from the manifest, not the files, where there is
 * one: a copy that lost ownership, or S3, restores right), through the same
 * analysis as live segments: base version and shutdown status, treex, stage
 * counts, contiguity and sizes, metas, data names. A namespace whose backup
 * was interrupted, or whose manifest cannot be read, is refused. Every
 * problem found while preparing is reported (the first decides the code, the
 * others are in `details.more`), so a dry run finds all the real run would.
 */
import type { Sink } from '../contracts/sink.js';
import type { FrameCipher } from '../contracts/frame-cipher.js';
import type { KeyProvider } from '../contracts/key-provider.js';
import { openBackups } from './backup-keys.js';
import type { SegmentTarget } from '../contracts/target.js';
import {
  collectProblem,
  combineErrors,
  errBackupIncomplete,
  errBackupNotFound,
  errBackupStale,
  errBackupConsumed,
  errConfigInvalid,
  errNamespaceNotFound,
  isShmsnapError,
  type ShmsnapError,
} from '../errors.js';
import { type CodecLookup } from '../format/asmt-directory.js';
import { selectNamespaces, type NamespaceAnalysis } from '../format/layout-analysis.js';
import type { HostIdentity } from '../format/manifest.js';
import { foreignHostReason, readHostIdentity } from '../host-identity.js';
import type { InstanceGuard } from '../host/instance-guard.js';
import { executeRestore, type RestoreEntry, type RestoreRunOptions, type TransferResult } from '../pipeline/restore.js';
import { checkConcurrency } from '../pipeline/settle.js';
import { withSinkContext } from '../plugins/with-plugin-context.js';
import { chooseInstance, listBackups, readLocation, type BackupListing, type LocationBackup, type LocationState } from './catalog.js';
import { consumedMarkerOf, markConsumed, type ConsumedMarker, type MarkConsumedResult } from './consumed.js';
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
import { assessInstance, type PlanSource } from './restore-set.js';

export { planFromManifest, type PlanSource } from './restore-set.js';

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
  /** Backups of the plan restored before, which `allowConsumed` lets through (a consumed one without it is BACKUP_CONSUMED in prepare). */
  readonly consumed: readonly ConsumedMarker[];
  /** For the operator: the namespaces Aerospike checkpoints itself (aerospike.conf), the guard's notes. */
  readonly warnings: readonly string[];
  /** Restores into the target checked in prepare; all or nothing; then marks the manifests restored from as consumed. */
  run(options?: RestoreRunOptions): Promise<RestoreResult>;
}

export interface RestoreResult extends TransferResult {
  /** The consumed markers: a failure to write one leaves the restore done (the CLI warns). */
  readonly consumed: MarkConsumedResult;
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
  /** The host lock and the asd check (host/instance-guard.ts), acquired once the instance is known; the caller releases it. */
  readonly guard?: InstanceGuard;
  /** Restore a backup that was restored before (it has a consumed marker). Not part of `force`. @default false */
  readonly allowConsumed?: boolean;
  /** Write a consumed marker beside each manifest restored from, once the restore completed. @default true */
  readonly markConsumed?: boolean;
  /** The key of an encrypted backup: without it (or with another) an encrypted backup is refused before anything is created. */
  readonly key?: KeyProvider;
  /** Opens the frames of encrypted objects. @default node:crypto's AES-256-GCM */
  readonly frameCipher?: FrameCipher;
}

/** The restore set of a location: every check of the set, nothing about where it goes. Problems are returned, not thrown, with the entries of what could be planned. */
async function selectRestoreSet(options: PrepareRestoreOptions): Promise<Pick<RestorePlan, 'location' | 'instance' | 'namespaces' | 'entries'> & { problems: ShmsnapError[]; state: LocationState }> {
  const { sink, codecs, signal } = options;
  const state = options.state ?? (await readLocation(sink, signal));
  const instance = await chooseInstance(sink, codecs, state, options.instance, signal);
  // Encrypted backups of the instance are opened first (key unwrapped, manifest MAC checked): a wrong key or an
  // altered manifest is one error naming the backup, before a byte of its objects is read.
  const wanted = (b: LocationBackup): boolean => options.namespaces === undefined || b.manifest.namespaces.some((n) => options.namespaces!.includes(n.name));
  const ciphers = await openBackups(sink, state.backups.filter((b) => b.manifest.instance === instance && wanted(b)), options.key, signal, options.frameCipher);
  for (const opened of ciphers.values()) if (isShmsnapError(opened)) throw opened;
  const set = await assessInstance(sink, codecs, state, instance, signal, ciphers);
  const { backups, files, interrupted, invalid } = set;
  const unreadable = (): ShmsnapError => combineErrors(invalid.map((i) => i.error));
  if (backups.length === 0 && files.length === 0 && set.candidates.size === 0) {
    if (invalid.length > 0) throw unreadable();
    if (interrupted.length > 0) throw errBackupIncomplete(sink.location, `${interrupted.map((i) => i.name).join(', ')} without a manifest: the backup was interrupted`);
    throw errBackupNotFound(sink.location, `nothing of instance ${instance}`);
  }
  if (interrupted.length > 0 && options.namespaces === undefined) {
    throw errBackupIncomplete(sink.location, `${interrupted.map((i) => i.name).join(', ')} without a manifest: a backup of instance ${instance} was interrupted (name the namespaces to restore the others)`);
  }
  // Never a silent downgrade: the namespaces an unreadable manifest names are not restored from the files beside it.
  if (invalid.length > 0 && options.namespaces === undefined) throw unreadable();

  let selected: { namespaces: NamespaceAnalysis[]; problems: ShmsnapError[] };
  try {
    selected = selectNamespaces([set.analysis], { instance, ...(options.namespaces ? { namespaces: options.namespaces } : {}) }, sink.location);
  } catch (error) {
    if (isShmsnapError(error, 'NAMESPACE_NOT_FOUND') && invalid.length > 0) throw unreadable();
    if (isShmsnapError(error, 'NAMESPACE_NOT_FOUND') && interrupted.length > 0) {
      throw errBackupIncomplete(sink.location, `${String(error.details.namespace)} is not among the complete backups, and ${interrupted.map((i) => i.name).join(', ')} shows an interrupted one`);
    }
    throw error;
  }

  const entries: RestoreEntry[] = [];
  const namespaces: RestorePlan['namespaces'][number][] = [];
  for (const ns of selected.namespaces) {
    let source: PlanSource | undefined;
    for (const member of ns.members) {
      const found = set.candidates.get(member.entry)!;
      source ??= found.source;
      if (found.restore) entries.push(found.restore(ns.namespace));
    }
    if (!source) throw errNamespaceNotFound(ns.namespace, instance, sink.location);
    namespaces.push({ name: ns.namespace, nsid: ns.nsid, source });
  }
  return { location: sink.location, instance, namespaces, entries, problems: selected.problems, state };
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
  const host = options.host ?? (await readHostIdentity());
  const sink = withSinkContext(options.sink);
  const { problems, state, ...set } = await selectRestoreSet({ ...options, sink });
  await options.guard?.acquire(set.instance);
  const restoredFrom = manifestsOf(set.namespaces);
  const consumed: ConsumedMarker[] = [];
  for (const backup of restoredFrom) {
    const marker = consumedMarkerOf(backup, state.consumed);
    if (!marker) continue;
    consumed.push(marker);
    // First among the problems: it decides the code, whatever else a dry run finds.
    if (options.allowConsumed !== true) problems.unshift(errBackupConsumed(set.location, backup.name, { at: marker.consumedAt, hostname: marker.hostname, pid: marker.pid, marker: marker.name }));
  }
  const warnings = [...(options.guard?.checkpointWarnings(set.namespaces.map((n) => n.name)) ?? []), ...(options.guard?.notes ?? [])];
  const { provenance, findings } = assessRestore(sourcesOf(set.namespaces), host, options.now ?? new Date(), options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs });
  const refusing = standingFindings(findings, overrides);
  const { target, signal } = options;
  const segments = set.entries.map((e) => e.segment);
  // The target is checked even when the set has problems: a dry run reports every reason the restore would fail.
  try {
    await target?.check(segments, signal ? { signal } : {});
  } catch (error) {
    collectProblem(problems, error, signal);
  }
  if (problems.length > 0) throw combineErrors(problems);
  return {
    ...set,
    rawBytes: segments.reduce((sum, s) => sum + s.size, 0),
    provenance,
    findings,
    refusing,
    consumed,
    warnings,
    async run(runOptions = {}) {
      if (!target) throw errConfigInvalid('target', 'this restore plan was prepared without a target');
      if (refusing.length > 0) throw errRestoreRefused(set.location, refusing);
      const result = await executeRestore({ sink, target, entries: set.entries, concurrency, ...(options.directCopy === undefined ? {} : { directCopy: options.directCopy }) }, runOptions);
      const marked =
        options.markConsumed === false
          ? { written: [], kept: [], failed: [] }
          : await markConsumed(sink, restoredFrom, state.consumed, (backup) => ({
              consumedAt: new Date().toISOString(),
              host,
              pid: process.pid,
              tool: backup.manifest.tool,
              backup: { manifest: backup.name, createdAt: backup.manifest.createdAt },
              restored: {
                instance: set.instance,
                namespaces: set.namespaces.filter((n) => n.source.kind === 'manifest' && n.source.name === backup.name).map((n) => ({ name: n.name, nsid: n.nsid })),
                segments: set.entries.filter((e) => backup.manifest.segments.some((s) => s.key === e.segment.key)).length,
                rawBytes: set.entries.filter((e) => backup.manifest.segments.some((s) => s.key === e.segment.key)).reduce((sum, e) => sum + e.segment.size, 0),
              },
            }));
      return { ...result, consumed: marked };
    },
  };
}

/** The manifests the plan's namespaces come from, each once. */
function manifestsOf(namespaces: RestorePlan['namespaces']): LocationBackup[] {
  const out: LocationBackup[] = [];
  for (const ns of namespaces) if (ns.source.kind === 'manifest' && !out.includes(ns.source.backup)) out.push(ns.source.backup);
  return out;
}

/**
 * `restore --latest`: the newest complete, unconsumed backup of `host` (and
 * `instance`, when given) at the location or up to `depth` levels below it
 * (a prefix holding many nodes' backups, `<host>/<instance>/<timestamp>`);
 * BACKUP_NOT_FOUND when there is none, CONFIG_INVALID when it would have to
 * choose between instances. The caller opens a sink at its `prefix` (a
 * sink's object names hold no `/`, so the markers are written there) and
 * restores from it.
 */
export async function findLatestBackup(
  sink: Sink,
  options: { readonly codecs: CodecLookup; readonly host: HostIdentity; readonly depth: number; readonly instance?: number; readonly signal?: AbortSignal },
): Promise<BackupListing> {
  const rows = await listBackups(sink, { codecs: options.codecs, depth: options.depth, ...(options.signal ? { signal: options.signal } : {}) });
  const usable = rows.filter(
    (r) => r.status === 'complete' && r.consumed === null && r.host !== null && foreignHostReason(r.host, options.host) === undefined && (options.instance === undefined || r.instance === options.instance),
  );
  const instances = [...new Set(usable.map((r) => r.instance))].sort((a, b) => a - b);
  if (options.instance === undefined && instances.length > 1) {
    throw errConfigInvalid('instance', `${sink.location} holds backups of instances ${instances.join(', ')} of this host; choose one`);
  }
  const newest = usable.sort((a, b) => Date.parse(b.createdAt!) - Date.parse(a.createdAt!))[0];
  if (!newest) {
    const of = options.instance === undefined ? '' : `, instance ${options.instance}`;
    throw errBackupNotFound(sink.location, `no complete, unconsumed backup of host '${options.host.hostname}'${of} there or up to ${options.depth} level${options.depth === 1 ? '' : 's'} below (${rows.length} backup${rows.length === 1 ? '' : 's'} listed)`);
  }
  return newest;
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
