/**
 * Backup in two phases: `prepareBackup` runs every check once and returns
 * the plan; `plan.run()` does the work. A dry run (`shmsnap backup
 * --dry-run`, `asmt -a -b`) is "prepare and render", so it can never
 * disagree with the real run about a check both do.
 *
 * Checked in prepare, in this order: the options (concurrency, codec level),
 * the source's own refusals (attached, not clean, incomplete sets... the
 * layout analysis), one instance per backup, the sink's object size limit,
 * the location (no backup or segment file of these namespaces there), that
 * the location can be written (a directory, writable, owners this process
 * can give: the sink's `checkWritable`), and free space for the objects whose
 * size is certain (uncompressed ones). Every problem found is reported, not
 * just the first (the first decides the code, the others are in
 * `details.more`): a dry run finds everything the real run would.
 */
import type { Codec } from '../contracts/codec.js';
import type { InstanceGuard } from '../host/instance-guard.js';
import { formatKey, type SegmentDescriptor } from '../contracts/segment.js';
import type { Sink } from '../contracts/sink.js';
import type { FrameCipher } from '../contracts/frame-cipher.js';
import type { KeyProvider } from '../contracts/key-provider.js';
import type { HashAlgorithm } from '../pipeline/hash.js';
import type { SegmentSource } from '../contracts/source.js';
import { collectProblem, combineErrors, errConfigInvalid, errNoSpace, errNothingSelected, errObjectTooLarge, type ShmsnapError } from '../errors.js';
import { ASMT_DATA_STAGE_001_FIXED, oldAsmtSkips } from '../format/asmt-directory.js';
import type { HostIdentity } from '../format/manifest.js';
import { BASE_MIN_BYTES, parseBase, type BaseInfo } from '../format/segment-fields.js';
import { checkConcurrency } from '../pipeline/settle.js';
import { aerospikeRecord, confWarning, type AerospikeHostFacts } from './preflight.js';
import { withSinkContext } from '../plugins/with-plugin-context.js';
import { formatBytes } from '../units.js';
import { backupEntries, checkBackupLocation, executeBackup, type BackupPlanEntry, type BackupResult, type BackupRunOptions } from '../pipeline/backup.js';

export interface PrepareBackupOptions {
  readonly source: SegmentSource;
  readonly sink: Sink;
  readonly codec: Codec;
  /** Codec level; the codec's default when omitted. */
  readonly level?: number;
  /** Segments transferred at once, and codec threads shared among them. @default 2 */
  readonly concurrency?: number;
  /** Parallel work inside one segment, for codecs that can split a segment. @default concurrency ÷ segments in flight */
  readonly codecThreads?: number;
  readonly host: HostIdentity;
  readonly tool: { readonly name: string; readonly version: string };
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
  /** The host lock and the asd check (host/instance-guard.ts), acquired before the segments are listed; the caller releases it. */
  readonly guard?: InstanceGuard;
  /** The instance `source` reads, for the guard. @default the instance of the listed segments */
  readonly instance?: number;
  /**
   * aerospike.conf and the asd build as read now (`readAerospikeHostFacts`): recorded in the
   * manifest's `aerospike` field, with each base's header, for pre-flight. @default none recorded
   */
  readonly aerospike?: AerospikeHostFacts;
  /** Whether `aerospike`'s conf path was named by the operator (a missing one is then warned about). @default false */
  readonly aerospikeConfExplicit?: boolean;
  /**
   * Encrypt every object (AES-256-GCM frames after the codec, names ending in
   * `.enc`, which ASMT cannot read) and authenticate the manifest, with a
   * fresh data key this provider wraps (docs/encryption.md).
   */
  readonly encryption?: KeyProvider;
  /** Seals the frames of encrypted objects. @default node:crypto's AES-256-GCM */
  readonly frameCipher?: FrameCipher;
  /** Also record each object's SHA-256 (of its stored bytes), checked by restore and verify. */
  readonly hash?: HashAlgorithm;
}

export interface BackupPlan {
  /** The location, safe to print. */
  readonly location: string;
  readonly instance: number;
  readonly namespaces: readonly { readonly name: string; readonly nsid: number }[];
  readonly codec: Codec;
  /** The level the codec will use; null for codecs without levels. */
  readonly level: number | null;
  /** In the order the manifest lists them; the run writes bases last. */
  readonly entries: readonly BackupPlanEntry[];
  readonly rawBytes: number;
  /** Bytes the location must have room for whatever the compression achieves (the uncompressed objects). */
  readonly certainBytes: number;
  /** Free space the sink reports; undefined when it cannot tell. */
  readonly freeBytes: number | undefined;
  /** Facts the operator should know that do not stop the backup. */
  readonly notes: readonly string[];
  /**
   * What another tool would lose from this backup although shmsnap restores
   * it, one line per object (today: data stages ASMT before 2.3.0 skips).
   */
  readonly warnings: readonly string[];
  /** Where the data key comes from, when the backup is encrypted. */
  readonly encryption: KeyProvider | undefined;
  readonly hash: HashAlgorithm | undefined;
  /** Runs the backup; checks again only what may have changed since (the location). */
  run(options?: BackupRunOptions): Promise<BackupResult>;
}

function checkLevel(codec: Codec, level: number | undefined): number | null {
  if (!codec.levels) {
    if (level !== undefined) throw errConfigInvalid('level', `codec '${codec.name}' has no levels`);
    return null;
  }
  const chosen = level ?? codec.levels.default;
  if (!Number.isInteger(chosen) || chosen < codec.levels.min || chosen > codec.levels.max) {
    throw errConfigInvalid('level', `codec '${codec.name}' takes levels ${codec.levels.min}..${codec.levels.max}, got ${chosen}`);
  }
  return chosen;
}

/**
 * The namespaces a backup covers, by their base's nsid. A data stripe's key
 * may carry another nsid than its base's (Aerospike 7+): it belongs to the
 * namespace it names, and only a segment whose namespace has no base in the
 * set counts on its own.
 */
function namespacesOf(segments: readonly SegmentDescriptor[]): { name: string; nsid: number }[] {
  const names = new Map<number, string>();
  for (const s of segments) if (s.kind === 'primary-base') names.set(s.nsid, s.namespace);
  const covered = new Set(names.values());
  for (const s of segments) if (!names.has(s.nsid) && !(s.namespace !== '' && covered.has(s.namespace))) names.set(s.nsid, s.namespace);
  return [...names].sort(([a], [b]) => a - b).map(([nsid, name]) => ({ name, nsid }));
}

export async function prepareBackup(options: PrepareBackupOptions): Promise<BackupPlan> {
  const { source, codec, signal } = options;
  const sink = withSinkContext(options.sink);
  const concurrency = options.concurrency ?? 2;
  checkConcurrency(concurrency);
  const problems: ShmsnapError[] = [];
  /** Runs one check; its coded failure joins the others (an interrupt or a bug still ends prepare at once). */
  const check = async <T>(body: () => T | Promise<T>): Promise<T | undefined> => {
    try {
      return await body();
    } catch (error) {
      collectProblem(problems, error, signal);
      return undefined;
    }
  };
  const level = (await check(() => checkLevel(codec, options.level))) ?? null;
  let guardInstance = options.instance;
  const segments = (await check(async () => {
    // The lock and the asd check come first: a refusal there decides, whatever else is found.
    if (options.guard && guardInstance !== undefined) await options.guard.acquire(guardInstance);
    const listed = await source.list(signal ? { signal } : {});
    if (listed.length === 0) throw errNothingSelected(source.name, 'no segments to back up');
    const instances = new Set(listed.map((s) => s.instance));
    if (instances.size !== 1) throw errConfigInvalid('instance', `one backup holds one instance; found ${[...instances].join(', ')}`);
    if (options.guard && guardInstance === undefined) await options.guard.acquire((guardInstance = listed[0]!.instance));
    return listed;
  })) ?? [];
  const entries = backupEntries(segments, codec, options.encryption !== undefined);

  const limit = sink.capabilities.maxObjectSize;
  for (const entry of entries) {
    // A compressed object can exceed its segment by a little (incompressible data); refuse only what cannot fit.
    if (entry.segment.size > limit) problems.push(errObjectTooLarge(entry.object, entry.segment.size, limit, sink.location));
  }
  if (entries.length > 0) await check(() => checkBackupLocation(sink, entries, signal));
  const owners = new Map(segments.map((s) => [`${s.uid}:${s.gid}`, { uid: s.uid, gid: s.gid, mode: s.mode }]));
  await check(() => sink.checkWritable?.({ ...(sink.capabilities.posixAttributes ? { attributes: [...owners.values()] } : {}), ...(signal ? { signal } : {}) }));

  const rawBytes = segments.reduce((sum, s) => sum + s.size, 0);
  const certainBytes = entries.filter((e) => e.codec.identity).reduce((sum, e) => sum + e.segment.size, 0);
  const freeBytes = await sink.freeBytes?.();
  if (freeBytes !== undefined && certainBytes > freeBytes) {
    problems.push(errNoSpace(`${sink.location}: the backup needs ${formatBytes(certainBytes)}, ${formatBytes(freeBytes)} is free`).withDetails({ neededBytes: certainBytes, freeBytes }));
  }
  if (problems.length > 0) throw combineErrors(problems);

  const notes: string[] = [];
  if (!sink.capabilities.posixAttributes) {
    notes.push(`${sink.location} keeps no owner or mode on objects: they are recorded in the manifest only (ASMT, reading the files alone, would restore them as root with mode 0666)`);
  }
  const warnings = entries
    .filter((e) => oldAsmtSkips(e.segment, e.object))
    .map(
      (e) =>
        `${e.object} (data stage ${formatKey(e.segment.key)}, key low bits 0x001): ASMT before ${ASMT_DATA_STAGE_001_FIXED} will not restore it (it takes the file for a treex or skips it, and reports success); shmsnap and ASMT ${ASMT_DATA_STAGE_001_FIXED} or later restore it`,
    );
  const namespaces = namespacesOf(segments);
  const confProblem = options.aerospike && confWarning(options.aerospike, options.aerospikeConfExplicit === true);
  if (confProblem) warnings.push(confProblem);
  if (options.guard) warnings.push(...options.guard.checkpointWarnings(namespaces.map((n) => n.name)), ...options.guard.notes);
  const now = options.now ?? (() => new Date());
  const execution = {
    source,
    sink,
    codec,
    level,
    entries,
    namespaces,
    concurrency,
    ...(options.codecThreads === undefined ? {} : { codecThreads: options.codecThreads }),
    host: options.host,
    tool: options.tool,
    now,
    ...(options.encryption ? { encryption: options.encryption } : {}),
    ...(options.frameCipher ? { frameCipher: options.frameCipher } : {}),
    ...(options.hash ? { hash: options.hash } : {}),
  };
  return {
    location: sink.location,
    instance: segments[0]!.instance,
    namespaces,
    codec,
    level,
    entries,
    rawBytes,
    certainBytes,
    freeBytes,
    notes,
    warnings,
    encryption: options.encryption,
    hash: options.hash,
    run: async (runOptions) => {
      const aerospike = options.aerospike && aerospikeRecord(options.aerospike, namespaces.map((n) => n.name), await readBases(source, entries, runOptions?.signal));
      return executeBackup({ ...execution, ...(aerospike ? { aerospike } : {}) }, runOptions);
    },
  };
}

/**
 * Each base's header, read through the source (a short read of its first
 * bytes) for the manifest's record; a base that cannot be read is left out
 * (recorded as null): the record is for pre-flight, never a reason to fail.
 */
async function readBases(source: SegmentSource, entries: readonly BackupPlanEntry[], signal: AbortSignal | undefined): Promise<Map<string, BaseInfo>> {
  const bases = new Map<string, BaseInfo>();
  for (const { segment } of entries) {
    if (segment.kind !== 'primary-base' || segment.size < BASE_MIN_BYTES) continue;
    try {
      const reader = await source.open(segment, signal ? { signal } : {});
      try {
        const chunks: Buffer[] = [];
        let have = 0;
        for await (const chunk of reader.stream as AsyncIterable<Buffer>) {
          chunks.push(Buffer.from(chunk.subarray(0, BASE_MIN_BYTES - have))); // a copy: the chunk may be a view of the segment
          have += chunks.at(-1)!.length;
          if (have >= BASE_MIN_BYTES) break;
        }
        bases.set(segment.namespace, parseBase(Buffer.concat(chunks), formatKey(segment.key)));
      } finally {
        reader.stream.destroy();
        await reader.close();
      }
    } catch (error) {
      if (signal?.aborted) throw error;
    }
  }
  return bases;
}

/** Prepare and run in one call, for library users who render nothing in between. */
export async function runBackup(options: PrepareBackupOptions & BackupRunOptions): Promise<BackupResult> {
  const plan = await prepareBackup(options);
  const { signal, onProgress, onCommitted } = options;
  return plan.run({ ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}), ...(onCommitted ? { onCommitted } : {}) });
}
