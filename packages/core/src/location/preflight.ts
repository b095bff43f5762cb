/**
 * Pre-flight: what the next start of asd will do with what a restore from a
 * location puts into shared memory, per namespace: a warm start, a cold one
 * (the segments are there but asd will not use them), a crash, or unknown.
 *
 * Two layers:
 * - `assessPreflight(facts)` is pure: aerospike.conf as it is now, what the
 *   backup recorded at backup time (the manifest's `aerospike` field), and
 *   the segments the location holds (the base header as restore reads it,
 *   the data stripes' count and size). Every finding carries both values and
 *   its reason, and says whether it rests on a derived fact (an inference
 *   from Community Edition sources: a hint, never a refusal).
 * - `preparePreflight(options)` gathers those facts (the location through
 *   the same restore set restore uses, the conf, `asd --version`) and runs
 *   the checks restore would make, through `prepareRestore` itself (a dry
 *   run: the set, the target's space and collision checks, the host lock),
 *   plus the provenance guard's and the consumed state's pure functions, so
 *   pre-flight and restore cannot disagree.
 *
 * What rests on what (/work/shared facts, Aerospike's docs and CE source):
 * - `partition-tree-sprigs` changed → cold start ("persistent memory
 *   partition-tree-sprigs 512 doesn't match config 1024", the cold-start page).
 * - the namespace gone from the conf, its index no longer in shared memory
 *   (`index-type`), a base not cleanly shut down → cold start.
 * - a memory namespace's data stripes: asd computes their geometry from the
 *   conf (`drv_mem.c`: memory-only n = max(8, ⌈data-size ÷ 2 TiB⌉) stripes of
 *   data-size ÷ n rounded down to 8 MiB; with shadows one stripe per file or
 *   device of its size) and `cf_crash`es with "existing memory stripe size
 *   differs from config" on a mismatch → crash risk. A changed `data-size`
 *   or `filesize` between backup and now is recorded evidence; the stripes'
 *   sizes against the geometry computed from the conf are derived.
 */
import type { Sink } from '../contracts/sink.js';
import type { SegmentTarget } from '../contracts/target.js';
import { errBackupNotFound, errNamespaceNotFound, isShmsnapError, type ShmsnapError } from '../errors.js';
import type { CodecLookup } from '../format/asmt-directory.js';
import type { ManifestAerospike, ManifestAerospikeNamespace, RecordedBase, RecordedNamespaceConf } from '../format/manifest.js';
import type { HostIdentity } from '../format/manifest.js';
import { SHUTDOWN_CLEAN, type BaseInfo } from '../format/segment-fields.js';
import { readHostIdentity } from '../host-identity.js';
import { parseConfSize, readAerospikeConf, type AerospikeConfRead, type NamespaceConf, type StorageEngineConf } from '../host/aerospike-conf.js';
import { readAsdBuild } from '../host/asd-build.js';
import { findRunningAsd, DEFAULT_ASD_PID_FILE } from '../host/asd-process.js';
import type { InstanceGuard } from '../host/instance-guard.js';
import { formatAge, formatBytes } from '../units.js';
import { chooseInstance, readLocation } from './catalog.js';
import { consumedMarkerOf } from './consumed.js';
import { prepareRestore } from './plan-restore.js';
import { assessRestore, describeFinding, type OptionNamer, type RestoreSource } from './restore-guard.js';
import { assessInstance } from './restore-set.js';

// ---- the record a backup keeps ---------------------------------------------------

/** What the host says about Aerospike, read once by the frontend (a backup records it, pre-flight compares it). */
export interface AerospikeHostFacts {
  readonly conf: AerospikeConfRead;
  /** `asd --version`, null when not found. */
  readonly build: string | null;
}

/** Reads aerospike.conf at `confPath` and asks `asd --version`; never fails. */
export async function readAerospikeHostFacts(confPath: string, options: { readonly asdCommand?: string } = {}): Promise<AerospikeHostFacts> {
  return { conf: readAerospikeConf(confPath), build: await readAsdBuild(options.asdCommand === undefined ? {} : { command: options.asdCommand }) };
}

export function recordNamespaceConf(ns: NamespaceConf): RecordedNamespaceConf {
  const se = ns.storageEngine;
  return {
    partitionTreeSprigs: ns.partitionTreeSprigs ?? null,
    indexType: ns.indexType ?? null,
    sindexType: ns.sindexType ?? null,
    indexStageSize: ns.indexStageSize ?? null,
    sindexStageSize: ns.sindexStageSize ?? null,
    memorySize: ns.memorySize ?? null,
    indexCheckpointPath: ns.indexCheckpointPath ?? null,
    storageEngine: se ? { type: se.type, dataSize: se.dataSize ?? null, filesize: se.filesize ?? null, files: [...se.files], devices: [...se.devices] } : null,
  };
}

export function recordBase(base: BaseInfo): RecordedBase {
  return { version: base.version, shutdownStatus: base.shutdownStatus, primaryStageCount: base.primaryStageCount, stageSize: base.stageSize ?? null };
}

/** The manifest's `aerospike` field for a backup of `namespaces`, with the bases read at backup time (by name). */
export function aerospikeRecord(facts: AerospikeHostFacts, namespaces: readonly string[], bases: ReadonlyMap<string, BaseInfo>): ManifestAerospike {
  const conf = facts.conf.conf;
  return {
    conf: { path: facts.conf.path, error: facts.conf.conf ? null : facts.conf.error },
    build: facts.build,
    namespaces: namespaces.map((name) => {
      const ns = conf?.namespaces.find((n) => n.name === name);
      const base = bases.get(name);
      return { name, conf: ns ? recordNamespaceConf(ns) : null, base: base ? recordBase(base) : null };
    }),
  };
}

/**
 * The warning a backup prints when the conf could not be read (the backup
 * goes on, the manifest records why). A conf missing at the default path is
 * recorded without a word (`explicit` false): a host without
 * /etc/aerospike/aerospike.conf is a test or demo host, whose every backup
 * would otherwise warn; a path named by the operator that is missing is warned about.
 */
export function confWarning(facts: AerospikeHostFacts, explicit: boolean): string | undefined {
  const read = facts.conf;
  if (read.conf || (read.missing && !explicit)) return undefined;
  return `${read.path} could not be read (${read.error}): the manifest records no Aerospike settings, so a pre-flight of this backup will say "unknown" for what it cannot compare`;
}

// ---- the assessment (pure) ----------------------------------------------------------

/** What the next start is expected to do; ordered from best to worst for `worst`. */
export type StartExpectation = 'warm' | 'unknown' | 'cold' | 'crash-risk';

const RANK: Readonly<Record<StartExpectation, number>> = { warm: 0, unknown: 1, cold: 2, 'crash-risk': 3 };

export function worstExpectation(values: readonly StartExpectation[]): StartExpectation {
  return values.reduce<StartExpectation>((worst, v) => (RANK[v] > RANK[worst] ? v : worst), 'warm');
}

export interface PreflightFinding {
  /** What was compared: `conf`, `clean-shutdown`, `partition-tree-sprigs`, `index-type`, `sindex-type`, `storage-engine`, `data-size`, `stripes`, `index-stage-size`. */
  readonly what: string;
  readonly expect: StartExpectation;
  /** The value at backup time (or in the backup's segments); null when unknown. */
  readonly backup: string | null;
  /** The value now; null when unknown. */
  readonly now: string | null;
  readonly reason: string;
  /** Rests on a fact inferred from Community Edition sources, not documented: a hint. */
  readonly derived: boolean;
}

export interface PreflightNamespaceFacts {
  readonly name: string;
  readonly nsid: number;
  /** What the backup's manifest recorded; undefined for ASMT files and manifests of older shmsnap versions. */
  readonly recorded?: { readonly record: ManifestAerospike; readonly namespace: ManifestAerospikeNamespace | undefined };
  /** The base header as the location's base object holds it; undefined when it could not be read. */
  readonly base: BaseInfo | undefined;
  /** The backup's data stripes' sizes, in stage order (empty: none). */
  readonly dataStripes: readonly number[];
  readonly hasSecondaryIndex: boolean;
}

export interface PreflightFacts {
  /** aerospike.conf as it is now. */
  readonly conf: AerospikeConfRead;
  readonly namespaces: readonly PreflightNamespaceFacts[];
}

export interface NamespacePreflight {
  readonly name: string;
  readonly nsid: number;
  readonly expect: StartExpectation;
  readonly findings: readonly PreflightFinding[];
}

/** asd's defaults for what the conf may leave out (Aerospike's configuration reference; the stage sizes: facts §1.3). */
export const AEROSPIKE_DEFAULTS = { partitionTreeSprigs: '256', indexType: 'shmem', sindexType: 'shmem', indexStageSize: '1G', sindexStageSize: '1G' } as const;

const MIB8 = 8 * 2 ** 20;
const MAX_STRIPE = 2 * 2 ** 40;

/** The data stripes asd makes for a memory storage engine: count and size where the conf decides them; undefined when it keeps no data in shared memory. */
export function stripeGeometry(se: StorageEngineConf | RecordedNamespaceConf['storageEngine'] | undefined): { readonly count: number; readonly size: number | undefined; readonly basis: string } | undefined {
  if (!se || se.type !== 'memory') return undefined;
  const shadows = se.files.length + se.devices.length;
  if (shadows > 0) {
    const filesize = parseConfSize(se.filesize ?? undefined);
    const size = se.devices.length === 0 ? filesize : undefined;
    return { count: shadows, size, basis: se.devices.length === 0 ? `${se.files.length} file(s) of filesize ${se.filesize ?? '(unset)'}` : `${shadows} shadow device(s)/file(s), a device's size is not in the conf` };
  }
  const dataSize = parseConfSize(se.dataSize ?? undefined);
  if (dataSize === undefined) return undefined;
  const count = Math.max(8, Math.ceil(dataSize / MAX_STRIPE));
  return { count, size: Math.floor(dataSize / count / MIB8) * MIB8, basis: `data-size ${se.dataSize}` };
}

const sizeText = (bytes: number): string => `${bytes} bytes (${formatBytes(bytes)})`;

function sameSize(a: string, b: string): boolean {
  const [x, y] = [parseConfSize(a), parseConfSize(b)];
  return x !== undefined && y !== undefined ? x === y : a === b;
}

/** What one namespace's next start is expected to do, with every finding. */
export function assessNamespace(facts: PreflightNamespaceFacts, conf: AerospikeConfRead): NamespacePreflight {
  const findings: PreflightFinding[] = [];
  const add = (f: PreflightFinding): void => void findings.push(f);
  const recordedNs = facts.recorded?.namespace;
  const recorded = recordedNs?.conf ?? undefined;
  const notRecorded = facts.recorded === undefined ? 'the backup records no Aerospike settings (ASMT files, or a manifest of an older shmsnap)' : facts.recorded.record.conf.error !== null ? `aerospike.conf could not be read at backup time (${facts.recorded.record.conf.error})` : `the namespace was not in ${facts.recorded.record.conf.path} at backup time`;

  const base = facts.base;
  if (base === undefined) add({ what: 'clean-shutdown', expect: 'unknown', backup: null, now: null, reason: 'the base segment file could not be read', derived: false });
  else if (base.shutdownStatus !== SHUTDOWN_CLEAN) add({ what: 'clean-shutdown', expect: 'cold', backup: String(base.shutdownStatus), now: null, reason: `the base records shutdown status ${base.shutdownStatus}, not ${SHUTDOWN_CLEAN} (clean): asd cold-starts from an index that was not shut down cleanly (restore refuses it too)`, derived: false });
  else add({ what: 'clean-shutdown', expect: 'warm', backup: String(base.shutdownStatus), now: null, reason: 'the base records a clean shutdown', derived: false });

  const now = conf.conf?.namespaces.find((n) => n.name === facts.name);
  if (!conf.conf) {
    add({ what: 'conf', expect: 'unknown', backup: null, now: null, reason: `${conf.path} could not be read (${conf.error}): nothing of the next start's configuration can be compared`, derived: false });
    return finish(facts, findings);
  }
  if (!now) {
    add({ what: 'conf', expect: 'cold', backup: recorded ? 'present' : null, now: null, reason: `namespace '${facts.name}' is not in ${conf.path}: asd will not start it from these segments`, derived: false });
    return finish(facts, findings);
  }

  // Values the conf may leave to asd's default: compared as asd would use them.
  const effective = (value: string | null | undefined, fallback: string): string => value ?? fallback;
  const sprigsNow = effective(now.partitionTreeSprigs, AEROSPIKE_DEFAULTS.partitionTreeSprigs);
  if (!recorded) add({ what: 'partition-tree-sprigs', expect: 'unknown', backup: null, now: sprigsNow, reason: `${notRecorded}; a different value cold-starts`, derived: false });
  else {
    const sprigsThen = effective(recorded.partitionTreeSprigs, AEROSPIKE_DEFAULTS.partitionTreeSprigs);
    if (Number(sprigsThen) !== Number(sprigsNow) || sprigsThen === '' || Number.isNaN(Number(sprigsNow))) {
      add({ what: 'partition-tree-sprigs', expect: 'cold', backup: sprigsThen, now: sprigsNow, reason: `partition-tree-sprigs changed from ${sprigsThen} to ${sprigsNow}: the treex no longer matches, asd cold-starts ("persistent memory partition-tree-sprigs ${sprigsThen} doesn't match config ${sprigsNow}")`, derived: false });
    } else add({ what: 'partition-tree-sprigs', expect: 'warm', backup: sprigsThen, now: sprigsNow, reason: 'unchanged', derived: false });
  }

  // The backup holds the primary index in shared memory, so it was `shmem` then, whatever was recorded.
  const indexNow = effective(now.indexType, AEROSPIKE_DEFAULTS.indexType);
  const indexThen = effective(recorded?.indexType, AEROSPIKE_DEFAULTS.indexType);
  if (indexNow !== 'shmem') add({ what: 'index-type', expect: 'cold', backup: indexThen, now: indexNow, reason: `index-type is ${indexNow}: the primary index no longer lives in shared memory, so these segments are not used`, derived: false });
  else add({ what: 'index-type', expect: 'warm', backup: indexThen, now: indexNow, reason: 'the primary index is in shared memory', derived: false });

  if (facts.hasSecondaryIndex) {
    const sindexNow = effective(now.sindexType, AEROSPIKE_DEFAULTS.sindexType);
    const sindexThen = effective(recorded?.sindexType, AEROSPIKE_DEFAULTS.sindexType);
    if (sindexNow !== 'shmem') add({ what: 'sindex-type', expect: 'cold', backup: sindexThen, now: sindexNow, reason: `sindex-type is ${sindexNow}: the secondary index segments of the backup are not used`, derived: false });
    else add({ what: 'sindex-type', expect: 'warm', backup: sindexThen, now: sindexNow, reason: 'the secondary index is in shared memory', derived: false });
  }

  if (recorded) {
    const then = effective(recorded.indexStageSize, AEROSPIKE_DEFAULTS.indexStageSize);
    const current = effective(now.indexStageSize, AEROSPIKE_DEFAULTS.indexStageSize);
    if (!sameSize(then, current)) {
      add({ what: 'index-stage-size', expect: 'unknown', backup: then, now: current, reason: `index-stage-size changed from ${then} to ${current}${base?.stageSize === undefined ? '' : ` (the base records stages of ${sizeText(base.stageSize)})`}: whether asd reuses the stages is not documented`, derived: true });
    }
  }

  assessData(facts, recorded, now, add, notRecorded);
  return finish(facts, findings);
}

function assessData(facts: PreflightNamespaceFacts, recorded: RecordedNamespaceConf | undefined, now: NamespaceConf, add: (f: PreflightFinding) => void, notRecorded: string): void {
  const stripes = facts.dataStripes;
  const typeNow = now.storageEngine?.type ?? null;
  const typeThen = recorded?.storageEngine?.type ?? null;
  if (recorded && typeThen !== typeNow) {
    add({ what: 'storage-engine', expect: stripes.length > 0 ? 'crash-risk' : 'cold', backup: typeThen, now: typeNow, reason: `storage-engine changed from ${typeThen ?? '(none)'} to ${typeNow ?? '(none)'}: the storage backing is not the one the segments were made for (Aerospike's operator skips the checkpoint in this case)`, derived: false });
    return;
  }
  const geometry = stripeGeometry(now.storageEngine);
  if (stripes.length === 0) {
    if (geometry) add({ what: 'stripes', expect: 'unknown', backup: '0 stripes', now: `${geometry.count} stripes`, reason: `${geometry.basis} keeps the data in shared memory, and the backup holds no data stripes: asd will not find this namespace's data there`, derived: true });
    return;
  }
  const backupText = `${stripes.length} stripes of ${sizeText(stripes[0]!)}`;
  if (recorded?.storageEngine && now.storageEngine) {
    for (const [what, then, current] of [
      ['data-size', recorded.storageEngine.dataSize, now.storageEngine.dataSize],
      ['filesize', recorded.storageEngine.filesize, now.storageEngine.filesize],
    ] as const) {
      if ((then ?? '') === (current ?? '') || (then !== null && current !== undefined && sameSize(then, current))) continue;
      add({ what, expect: 'crash-risk', backup: then, now: current ?? null, reason: `${what} changed from ${then ?? '(unset)'} to ${current ?? '(unset)'}: asd computes the data stripes from it and crashes when the existing ones differ ("existing memory stripe size differs from config")`, derived: false });
      return;
    }
    const shadowsThen = recorded.storageEngine.files.length + recorded.storageEngine.devices.length;
    const shadowsNow = now.storageEngine.files.length + now.storageEngine.devices.length;
    if (shadowsThen !== shadowsNow) {
      add({ what: 'stripes', expect: 'crash-risk', backup: `${shadowsThen} shadow(s)`, now: `${shadowsNow} shadow(s)`, reason: `the shadow files/devices changed from ${shadowsThen} to ${shadowsNow}: one stripe each, so the stripes the backup holds do not match`, derived: false });
      return;
    }
  }
  if (!geometry) {
    add({ what: 'stripes', expect: typeNow === 'memory' ? 'unknown' : 'cold', backup: backupText, now: typeNow, reason: typeNow === 'memory' ? 'the conf sets neither data-size nor shadow files: the stripes asd expects are unknown' : `storage-engine is ${typeNow ?? '(none)'}: the data stripes of the backup are not used`, derived: true });
    return;
  }
  const nowText = `${geometry.count} stripes of ${geometry.size === undefined ? 'unknown size' : sizeText(geometry.size)}`;
  if (geometry.count !== stripes.length || (geometry.size !== undefined && stripes.some((s) => s !== geometry.size))) {
    add({ what: 'stripes', expect: 'crash-risk', backup: backupText, now: nowText, reason: `${geometry.basis} gives ${nowText}, the backup holds ${backupText}: asd crashes on a stripe of another size ("existing memory stripe size differs from config")`, derived: true });
  } else if (geometry.size === undefined) {
    add({ what: 'stripes', expect: 'unknown', backup: backupText, now: nowText, reason: `${geometry.basis}: whether the stripes match cannot be told from the conf`, derived: true });
  } else {
    add({ what: 'stripes', expect: 'warm', backup: backupText, now: nowText, reason: `${geometry.basis} gives the stripes the backup holds`, derived: true });
  }
  if (!recorded) add({ what: 'data-size', expect: 'unknown', backup: null, now: now.storageEngine?.dataSize ?? now.storageEngine?.filesize ?? null, reason: notRecorded, derived: false });
}

function finish(facts: PreflightNamespaceFacts, findings: PreflightFinding[]): NamespacePreflight {
  return { name: facts.name, nsid: facts.nsid, expect: worstExpectation(findings.map((f) => f.expect)), findings };
}

export interface PreflightAssessment {
  readonly expect: StartExpectation;
  readonly namespaces: readonly NamespacePreflight[];
}

export function assessPreflight(facts: PreflightFacts): PreflightAssessment {
  const namespaces = facts.namespaces.map((ns) => assessNamespace(ns, facts.conf));
  return { expect: worstExpectation(namespaces.map((n) => n.expect)), namespaces };
}

/** The findings a restore prints as warnings: what is not a warm start, with its reason. */
export function preflightWarnings(assessment: PreflightAssessment): string[] {
  return assessment.namespaces.flatMap((ns) =>
    ns.findings
      .filter((f) => f.expect === 'cold' || f.expect === 'crash-risk')
      .map((f) => `namespace '${ns.name}': ${f.expect === 'cold' ? 'cold start expected' : 'crash risk at the next start'}${f.derived ? ' (derived)' : ''}: ${f.reason}`),
  );
}

// ---- the checks restore makes, and the I/O ---------------------------------------

export type PreflightCheckStatus = 'pass' | 'fail' | 'warn' | 'skipped';

export interface PreflightCheck {
  /** `restore` (the set, segments in the way, shm space, the host lock), `asd`, `age`, `host`, `consumed`, `index-checkpoint`. */
  readonly check: string;
  readonly status: PreflightCheckStatus;
  readonly message: string;
  /** The error code restore would fail with, for a failed check that has one. */
  readonly code: string | null;
}

export interface PreflightReport extends PreflightAssessment {
  readonly location: string;
  readonly instance: number;
  readonly conf: { readonly path: string; readonly error: string | null };
  /** The asd build at backup time (null: not recorded or not found) and now. */
  readonly build: { readonly backup: string | null; readonly now: string | null };
  readonly checks: readonly PreflightCheck[];
  /** A warm start is expected for every namespace and no check fails. */
  readonly warmStart: boolean;
  /** For the operator: a different asd build, notes of the restore checks. */
  readonly notes: readonly string[];
}

export interface PreparePreflightOptions {
  readonly sink: Sink;
  readonly codecs: CodecLookup;
  readonly instance?: number;
  readonly namespaces?: readonly string[];
  /** aerospike.conf now and asd's build. @default readAerospikeHostFacts(DEFAULT_AEROSPIKE_CONF) */
  readonly aerospike: AerospikeHostFacts;
  /**
   * The restore checks (`prepareRestore` as a dry run): the target is checked for
   * segments in the way and space, the guard takes the host lock. Its asd check
   * is made here instead (`asdPidFile`), so that a running asd does not hide the
   * other checks: give a guard with `allowRunningAsd`. Omitted: those checks are
   * `skipped` (a pre-flight of the configuration only).
   */
  readonly restoreChecks?: {
    readonly target?: SegmentTarget;
    readonly guard?: InstanceGuard;
    readonly asdPidFile?: string;
    readonly procRoot?: string;
    /** As the guard's: a running asd is then a warning, not a failed check. @default false */
    readonly allowRunningAsd?: boolean;
  };
  readonly host?: HostIdentity;
  readonly now?: Date;
  /** As restore's `maxAgeMs`. */
  readonly maxAgeMs?: number;
  /** Names options in messages (frontends pass their flags). */
  readonly name?: OptionNamer;
  readonly signal?: AbortSignal;
}

/** Reads the location and the host, runs restore's checks as a dry run, and assesses the next start. Fails only where restore would fail to find anything to assess. */
export async function preparePreflight(options: PreparePreflightOptions): Promise<PreflightReport> {
  const { sink, codecs, signal } = options;
  const name = options.name ?? ((o: string) => o);
  const state = await readLocation(sink, signal);
  const instance = await chooseInstance(sink, codecs, state, options.instance, signal);
  const set = await assessInstance(sink, codecs, state, instance, signal);
  const all = set.analysis.namespaces;
  const chosen = options.namespaces === undefined ? all : options.namespaces.map((n) => all.find((ns) => ns.namespace === n) ?? failNamespace(n, instance, sink.location));
  if (chosen.length === 0) throw errBackupNotFound(sink.location, `no namespace of instance ${instance} with a base segment file`);

  const sources = new Map<string, RestoreSource & { backupName?: string }>();
  const facts: PreflightNamespaceFacts[] = chosen.map((ns) => {
    const source = ns.members.map((m) => set.candidates.get(m.entry)?.source).find((s) => s !== undefined);
    const manifest = source?.kind === 'manifest' ? source.backup.manifest : undefined;
    const key = source?.kind === 'manifest' ? source.name : 'asmt';
    const what = source?.kind === 'manifest' ? source.name : 'ASMT files (no manifest)';
    const entry = sources.get(key);
    sources.set(key, {
      namespaces: [...(entry?.namespaces ?? []), ns.namespace],
      what,
      createdAt: manifest ? new Date(manifest.createdAt) : source?.kind === 'asmt' ? source.newest : undefined,
      host: manifest?.host,
      ...(source?.kind === 'manifest' ? { backupName: source.name } : {}),
    });
    return {
      name: ns.namespace,
      nsid: ns.nsid,
      ...(manifest?.aerospike ? { recorded: { record: manifest.aerospike, namespace: manifest.aerospike.namespaces.find((n) => n.name === ns.namespace) } } : {}),
      base: ns.base,
      dataStripes: ns.members.filter((m) => m.kind === 'data-stage').map((m) => m.entry.size),
      hasSecondaryIndex: ns.members.some((m) => m.kind === 'secondary-meta' || m.kind === 'secondary-stage'),
    };
  });
  const assessment = assessPreflight({ conf: options.aerospike.conf, namespaces: facts });

  const checks: PreflightCheck[] = [];
  const notes: string[] = [];
  const host = options.host ?? (await readHostIdentity());
  const now = options.now ?? new Date();
  const names = chosen.map((n) => n.namespace);
  const restoreChecks = options.restoreChecks;
  if (restoreChecks) {
    const running = findRunningAsd(instance, { pidFile: restoreChecks.asdPidFile ?? DEFAULT_ASD_PID_FILE, ...(restoreChecks.procRoot === undefined ? {} : { procRoot: restoreChecks.procRoot }) });
    checks.push(
      running.length === 0
        ? { check: 'asd', status: 'pass', message: `no asd is running for instance ${instance}`, code: null }
        : restoreChecks.allowRunningAsd === true
          ? { check: 'asd', status: 'warn', message: `an asd is running for instance ${instance} (pid ${running.map((r) => r.pid).join(', ')}); ${name('allowRunningAsd')} lets restore go on`, code: 'ASD_RUNNING' }
          : { check: 'asd', status: 'fail', message: `an asd is running for instance ${instance} (pid ${running.map((r) => r.pid).join(', ')}): restore refuses while it runs (${name('allowRunningAsd')} goes on)`, code: 'ASD_RUNNING' },
    );
    try {
      const plan = await prepareRestore({
        sink,
        codecs,
        state,
        instance,
        namespaces: names,
        host,
        now,
        allowConsumed: true,
        markConsumed: false,
        ...(restoreChecks.target ? { target: restoreChecks.target } : {}),
        ...(restoreChecks.guard ? { guard: restoreChecks.guard } : {}),
        ...(options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs }),
        ...(signal ? { signal } : {}),
      });
      checks.push({ check: 'restore', status: 'pass', message: `restore's checks pass: ${plan.entries.length} segments, ${formatBytes(plan.rawBytes)}${restoreChecks.target ? ', none in the way, within kernel.shmmax/shmall/shmmni and available memory' : ''}`, code: null });
      // The guard's notes (a lock outside the default directory); its checkpoint warnings are a check of their own here.
      notes.push(...(restoreChecks.guard?.notes ?? []).filter((n) => !n.startsWith('allowRunningAsd:')));
    } catch (error) {
      // A bug or an interrupt is not a finding.
      if (!isShmsnapError(error) || signal?.aborted || isShmsnapError(error, 'ABORTED')) throw error;
      const problem: ShmsnapError = error;
      const more = Array.isArray(problem.details.more) ? (problem.details.more as string[]) : [];
      checks.push({ check: checkOfCode(problem.code), status: 'fail', message: problem.message, code: problem.code });
      for (const message of more) checks.push({ check: 'restore', status: 'fail', message, code: null });
    }
  } else {
    checks.push({ check: 'restore', status: 'skipped', message: 'not run (configuration only): segments in the way, shared-memory space, the host lock and a running asd were not checked', code: null });
  }

  const { provenance, findings } = assessRestore([...sources.values()], host, now, options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs });
  for (const guard of ['age', 'host'] as const) {
    const found = findings.filter((f) => (guard === 'age' ? f.guard !== 'host' : f.guard === 'host'));
    if (found.length > 0) for (const f of found) checks.push({ check: guard, status: 'fail', message: describeFinding(f, name), code: 'BACKUP_STALE' });
    else checks.push({ check: guard, status: 'pass', message: guard === 'age' ? provenance.map(ageText).join('; ') : provenance.map((p) => (p.host ? `made on host '${p.host.hostname}' (this host)` : `${p.what}: the host is not recorded (ASMT records none)`)).join('; '), code: null });
  }
  for (const source of sources.values()) {
    const backup = source.backupName === undefined ? undefined : set.backups.find((b) => b.name === source.backupName);
    const marker = backup && consumedMarkerOf(backup, state.consumed);
    if (!backup) checks.push({ check: 'consumed', status: 'pass', message: `${source.what}: no consumed marker (ASMT files carry none)`, code: null });
    else if (marker) checks.push({ check: 'consumed', status: 'fail', message: `${backup.name} was restored before${marker.consumedAt === null ? '' : ` (${marker.consumedAt}${marker.hostname === null ? '' : ` on '${marker.hostname}'`})`}: restore refuses it without ${name('allowConsumed')}`, code: 'BACKUP_CONSUMED' });
    else checks.push({ check: 'consumed', status: 'pass', message: `${backup.name} has not been restored`, code: null });
  }
  const conf = options.aerospike.conf;
  for (const ns of names) {
    const path = conf.conf?.namespaces.find((n) => n.name === ns && !n.skipCheckpoint)?.indexCheckpointPath;
    checks.push(
      path === undefined
        ? { check: 'index-checkpoint', status: conf.conf ? 'pass' : 'skipped', message: conf.conf ? `namespace '${ns}': no index-checkpoint-path` : `namespace '${ns}': ${conf.path} not read`, code: null }
        : { check: 'index-checkpoint', status: 'warn', message: `namespace '${ns}': ${conf.path} sets index-checkpoint-path ${path}: Aerospike may hydrate this namespace from its own checkpoint there at the next start (deleting it then): make sure the start uses the copy you mean`, code: null },
    );
  }

  const builds = [...new Set([...sources.keys()].map((k) => set.backups.find((b) => b.name === k)?.manifest.aerospike?.build ?? null))];
  const buildThen = builds.length === 1 ? builds[0]! : null;
  const buildNow = options.aerospike.build;
  if (buildThen !== null && buildNow !== null && buildThen !== buildNow) notes.push(`the asd build differs from the one at backup time ('${buildThen}' then, '${buildNow}' now): check that this build warm-starts from the older one's segments`);
  return {
    location: sink.location,
    instance,
    conf: { path: conf.path, error: conf.conf ? null : conf.error },
    build: { backup: buildThen, now: buildNow },
    ...assessment,
    checks,
    warmStart: assessment.expect === 'warm' && checks.every((c) => c.status !== 'fail'),
    notes,
  };
}

function failNamespace(name: string, instance: number, where: string): never {
  throw errNamespaceNotFound(name, instance, where);
}

function ageText(p: { what: string; ageMs: number | undefined }): string {
  return p.ageMs === undefined ? `${p.what}: of unknown age` : p.ageMs < 0 ? `${p.what}: dated ${formatAge(-p.ageMs)} ahead` : `${p.what}: made ${formatAge(p.ageMs)} ago`;
}

/** Which check a restore error belongs to. */
function checkOfCode(code: string): string {
  switch (code) {
    case 'SHM_LIMIT':
      return 'shm-space';
    case 'SEGMENT_EXISTS':
    case 'SEGMENT_IN_USE':
      return 'segments';
    case 'INSTANCE_LOCKED':
      return 'host-lock';
    default:
      return 'restore';
  }
}
