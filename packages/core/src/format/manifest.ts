/**
 * The manifest: a JSON object written last, as the commit point of a backup.
 * A location without one holds no complete shmsnap backup.
 *
 * Its name (`shmsnap-manifest-i<instance>-n<nsids>.json`) does not match
 * ASMT's `XXXXXXXX.dat[.gz]` pattern, so ASMT ignores it and can restore the
 * files beside it (docs/asmt-format.md §24).
 *
 * Reading is strict: a manifest is untrusted input that names files. Unknown
 * fields, wrong types, sizes that disagree, duplicate keys or names, and any
 * object name that could leave the location are rejected with
 * MANIFEST_INVALID naming the field.
 */
import { errManifestInvalid } from '../errors.js';
import { objectNameProblem } from './object-name.js';
import type { PieceIndex } from '../contracts/codec.js';
import type { KeyWrapRecord } from '../contracts/key-provider.js';
import { MAC_FIELD, manifestMac } from '../crypto/keys.js';
import { MAX_FRAME_BYTES, MIN_FRAME_BYTES } from '../crypto/frames.js';
import { isSegmentKind, type SegmentDescriptor } from '../contracts/segment.js';
import { decodeKey } from './aerospike-key.js';
import { keyFileStem } from './asmt-directory.js';

/**
 * A location may hold several backups, as an ASMT directory may (one per
 * instance and set of namespaces): each has its own manifest, named after
 * the instance and namespace ids it covers, e.g. `shmsnap-manifest-i0-n1-2.json`.
 * The pending marker (`shmsnap-pending-i0-n1-2.json`) is written first and
 * removed after the manifest: proof that a backup was started and not finished.
 * The consumed marker (`shmsnap-consumed-i0-n1-2.json`, location/consumed.ts)
 * is written after a restore of the manifest of the same name completed.
 * None of the three matches ASMT's `XXXXXXXX.dat[.gz]`, so ASMT ignores them.
 */
export type BackupObjectKind = 'manifest' | 'pending' | 'consumed' | 'rekey';

export interface BackupObjectName {
  readonly kind: BackupObjectKind;
  readonly instance: number;
  readonly nsids: readonly number[];
}

export function backupObjectName(kind: BackupObjectKind, instance: number, nsids: readonly number[]): string {
  const ids = [...new Set(nsids)].sort((a, b) => a - b);
  return `shmsnap-${kind}-i${instance}-n${ids.join('-')}.json`;
}

export const manifestName = (instance: number, nsids: readonly number[]): string => backupObjectName('manifest', instance, nsids);
export const pendingName = (instance: number, nsids: readonly number[]): string => backupObjectName('pending', instance, nsids);
export const consumedName = (instance: number, nsids: readonly number[]): string => backupObjectName('consumed', instance, nsids);
/** The manifest a `rekey` is putting in place (location/rekey.ts): there only while the manifest of the same name is replaced. */
export const rekeyName = (instance: number, nsids: readonly number[]): string => backupObjectName('rekey', instance, nsids);

const BACKUP_OBJECT = /^shmsnap-(manifest|pending|consumed|rekey)-i(\d{1,2})-n(\d{1,2}(?:-\d{1,2})*)\.json$/;

/** The manifest or pending marker `name` stands for, or undefined for any other object. */
export function parseBackupObjectName(name: string): BackupObjectName | undefined {
  const match = BACKUP_OBJECT.exec(name);
  if (!match) return undefined;
  const instance = Number(match[2]);
  const nsids = match[3]!.split('-').map(Number);
  if (instance > 15 || nsids.some((n) => n < 1 || n > 32)) return undefined;
  return { kind: match[1] as BackupObjectKind, instance, nsids };
}
/** Whether two backups cover a common namespace of the same instance. */
export function coversSameNamespace(a: { instance: number; nsids: readonly number[] }, b: { instance: number; nsids: readonly number[] }): boolean {
  return a.instance === b.instance && a.nsids.some((nsid) => b.nsids.includes(nsid));
}

/** What the pending marker says of the backup that wrote it: for people (`ls`), never for decisions. */
export interface PendingMarker {
  readonly startedAt: string | null;
  readonly hostname: string | null;
  readonly pid: number | null;
}

/** Far above any real marker; bounds what a hostile file can make us read. */
export const PENDING_MARKER_MAX_BYTES = 64 * 1024;

export function serializePendingMarker(marker: { startedAt: string; host: HostIdentity; tool: { name: string; version: string }; pid: number }): Buffer {
  return Buffer.from(`${JSON.stringify(marker)}\n`);
}

/**
 * Reads a pending marker leniently: its existence is what marks a backup as
 * interrupted, so an unreadable or foreign body still yields a marker (with
 * nulls), never an error.
 */
/**
 * A marker's body as an object, for readers that must not fail: missing,
 * unparsable or non-object bytes are `{}`. The markers (pending, consumed)
 * count by their existence, so their readers take what fields they find.
 */
export function lenientJsonObject(bytes: Uint8Array | undefined): Record<string, unknown> {
  let value: unknown;
  try {
    value = bytes === undefined ? undefined : JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    value = undefined;
  }
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** `root[key]` when it is an object, else `{}`. */
export function lenientField(root: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = root[key];
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

export function parsePendingMarker(bytes: Uint8Array | undefined): PendingMarker {
  const root = lenientJsonObject(bytes);
  const host = lenientField(root, 'host');
  return {
    startedAt: typeof root.startedAt === 'string' ? root.startedAt : null,
    hostname: typeof host.hostname === 'string' ? host.hostname : null,
    pid: typeof root.pid === 'number' && Number.isSafeInteger(root.pid) ? root.pid : null,
  };
}

export const MANIFEST_FORMAT = 'shmsnap-manifest';
export const MANIFEST_FORMAT_VERSION = 1;
/** Far above any real manifest (2,048 stages × a few hundred bytes); bounds what a hostile file can make us parse. */
export const MANIFEST_MAX_BYTES = 16 * 1024 * 1024;

export interface HostIdentity {
  readonly hostname: string;
  /** /etc/machine-id: stable across reboots, unique per installation. */
  readonly machineId: string | null;
  /** /proc/sys/kernel/random/boot_id: changes at every boot. */
  readonly bootId: string | null;
}

export interface ManifestSegment extends SegmentDescriptor {
  readonly object: string;
  readonly codec: string;
  readonly rawBytes: number;
  readonly rawCrc32: number;
  readonly storedBytes: number;
  readonly storedCrc32: number;
  /** Where the object's independently decodable pieces are, when its encoder cut them. */
  readonly pieces?: PieceIndex;
  /** [offset, length] runs of the segment that hold only zeros: a raw restore skips them. */
  readonly zeroRanges?: readonly (readonly [number, number])[];
  /** SHA-256 (hex) of the stored bytes, when the backup was asked for it (`hash: 'sha256'`). */
  readonly sha256?: string;
}

/** Name of the encrypted object format (crypto/frames.ts, docs/encryption.md). */
export const ENCRYPTION_ALGORITHM = 'aes-256-gcm-frames-v1';
/** Every object of an encrypted backup ends so; ASMT reads none of them (its names end in `.dat` or `.dat.gz`). */
export const ENCRYPTED_SUFFIX = '.enc';

/** How an encrypted backup's objects are sealed, and its data key as the key provider wrapped it. */
export interface ManifestEncryption {
  readonly algorithm: typeof ENCRYPTION_ALGORITHM;
  readonly frameBytes: number;
  readonly key: KeyWrapRecord;
}

export interface Manifest {
  readonly formatVersion: number;
  readonly tool: { readonly name: string; readonly version: string };
  readonly createdAt: string;
  readonly host: HostIdentity;
  readonly instance: number;
  readonly namespaces: readonly { readonly name: string; readonly nsid: number }[];
  readonly codec: { readonly name: string; readonly level: number | null };
  readonly segments: readonly ManifestSegment[];
  /** What pre-flight compares at the next start (location/preflight.ts); absent in manifests of older shmsnap versions. */
  readonly aerospike?: ManifestAerospike;
  /** Present when the backup is encrypted; its manifest then carries `mac`. */
  readonly encryption?: ManifestEncryption;
  /** HMAC-SHA256 over the canonical document without this field (crypto/keys.ts), under a key derived from the data key. */
  readonly mac?: string;
}

// ---- writing -----------------------------------------------------------------

const hex32 = (value: number): string => (value >>> 0).toString(16).padStart(8, '0');
const octal = (value: number): string => `0${value.toString(8).padStart(3, '0')}`;

export interface SerializeManifestOptions {
  /** The MAC key of an encrypted backup: the document gets `mac` over every other field. */
  readonly macKey?: Buffer;
}

export function serializeManifest(manifest: Manifest, options: SerializeManifestOptions = {}): Buffer {
  const document: Record<string, unknown> = {
    format: MANIFEST_FORMAT,
    formatVersion: manifest.formatVersion,
    tool: manifest.tool,
    createdAt: manifest.createdAt,
    host: manifest.host,
    instance: manifest.instance,
    namespaces: manifest.namespaces,
    codec: manifest.codec,
    segments: manifest.segments.map((s) => ({
      key: `0x${keyFileStem(s.key)}`,
      kind: s.kind,
      instance: s.instance,
      nsid: s.nsid,
      namespace: s.namespace,
      stage: s.stage,
      size: s.size,
      uid: s.uid,
      gid: s.gid,
      mode: octal(s.mode),
      object: s.object,
      codec: s.codec,
      rawBytes: s.rawBytes,
      rawCrc32: hex32(s.rawCrc32),
      storedBytes: s.storedBytes,
      storedCrc32: hex32(s.storedCrc32),
      ...(s.pieces ? { pieces: s.pieces } : {}),
      ...(s.zeroRanges && s.zeroRanges.length > 0 ? { zeroRanges: s.zeroRanges } : {}),
      ...(s.sha256 ? { sha256: s.sha256 } : {}),
    })),
    ...(manifest.aerospike ? { aerospike: manifest.aerospike } : {}),
  };
  if (manifest.encryption) {
    // Added here, the MAC last: it covers every field above, and any another feature adds to the document.
    document.encryption = manifest.encryption;
    if (!options.macKey) throw new TypeError('an encrypted manifest needs its MAC key');
  }
  if (options.macKey) document[MAC_FIELD] = manifestMac(options.macKey, document);
  return Buffer.from(`${JSON.stringify(document, null, 2)}\n`, 'utf8');
}

// ---- reading -----------------------------------------------------------------

type Json = Record<string, unknown>;

/**
 * Text from the file (a field name, V8's JSON error quoting the input) with
 * control characters escaped: the error stays one printable line whatever
 * the file holds (found by test/fuzz/parsers.test.ts: a file of "\n\0" made a
 * two-line MANIFEST_INVALID).
 */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

class Reader {
  constructor(readonly where: string) {}

  fail(path: string, reason: string): never {
    throw errManifestInvalid(this.where, printable(`${path}: ${reason}`));
  }

  /** An object with exactly the `required` fields and none but those and the `optional` ones. */
  object(value: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Json {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'expected an object');
    for (const field of Object.keys(value)) {
      if (!required.includes(field) && !optional.includes(field)) this.fail(`${path}.${field}`, 'unknown field');
    }
    for (const field of required) {
      if (!(field in value)) this.fail(`${path}.${field}`, 'missing');
    }
    return value as Json;
  }

  string(value: unknown, path: string, maxLength = 1024): string {
    if (typeof value !== 'string') this.fail(path, 'expected a string');
    if (value.length > maxLength) this.fail(path, `longer than ${maxLength} characters`);
    return value;
  }

  nullableString(value: unknown, path: string): string | null {
    return value === null ? null : this.string(value, path);
  }

  integer(value: unknown, path: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) this.fail(path, 'expected an integer');
    if (value < min || value > max) this.fail(path, `${value} is outside ${min}..${max}`);
    return value;
  }

  pattern(value: unknown, path: string, regex: RegExp, description: string): string {
    const text = this.string(value, path);
    if (!regex.test(text)) this.fail(path, `expected ${description}, got ${JSON.stringify(text).slice(0, 80)}`);
    return text;
  }
}

const UINT32_MAX = 0xffffffff;
const NAMESPACE_MAX = 31; // Aerospike keeps names in a 32-byte NUL-terminated field.

export interface ParseManifestOptions {
  /** Names the manifest in errors (its location). */
  readonly where: string;
}

export function parseManifest(bytes: Uint8Array, options: ParseManifestOptions): Manifest {
  const r: Reader = new Reader(options.where);
  if (bytes.length > MANIFEST_MAX_BYTES) r.fail('(file)', `larger than ${MANIFEST_MAX_BYTES} bytes`);
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch (error) {
    throw errManifestInvalid(options.where, `not JSON (${printable((error as Error).message)})`, error);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) r.fail('(root)', 'expected an object');
  const head = document as Json;
  if (head.format !== MANIFEST_FORMAT) r.fail('format', `expected '${MANIFEST_FORMAT}'`);
  if (typeof head.formatVersion === 'number' && head.formatVersion > MANIFEST_FORMAT_VERSION) {
    r.fail('formatVersion', `version ${head.formatVersion} was written by a newer shmsnap; this one reads version ${MANIFEST_FORMAT_VERSION}`);
  }
  const root = r.object(document, '(root)', [
    'format', 'formatVersion', 'tool', 'createdAt', 'host', 'instance', 'namespaces', 'codec', 'segments',
  ], ['aerospike', 'encryption', MAC_FIELD]);
  const encryption = root.encryption === undefined ? undefined : readEncryption(r, root.encryption);
  const mac = root.mac === undefined ? undefined : r.pattern(root.mac, MAC_FIELD, /^[0-9a-f]{64}$/, '64 hex digits');
  if (encryption && mac === undefined) r.fail(MAC_FIELD, 'missing: an encrypted backup\'s manifest is authenticated');
  if (!encryption && mac !== undefined) r.fail(MAC_FIELD, 'present without encryption');
  const formatVersion = r.integer(root.formatVersion, 'formatVersion', MANIFEST_FORMAT_VERSION, MANIFEST_FORMAT_VERSION);
  const toolJson = r.object(root.tool, 'tool', ['name', 'version']);
  const tool = { name: r.string(toolJson.name, 'tool.name', 64), version: r.string(toolJson.version, 'tool.version', 64) };
  const createdAt = r.string(root.createdAt, 'createdAt', 64);
  if (Number.isNaN(Date.parse(createdAt))) r.fail('createdAt', 'not a date');
  const hostJson = r.object(root.host, 'host', ['hostname', 'machineId', 'bootId']);
  const host: HostIdentity = {
    hostname: r.string(hostJson.hostname, 'host.hostname', 255),
    machineId: r.nullableString(hostJson.machineId, 'host.machineId'),
    bootId: r.nullableString(hostJson.bootId, 'host.bootId'),
  };
  const instance = r.integer(root.instance, 'instance', 0, 15);
  if (!Array.isArray(root.namespaces) || root.namespaces.length === 0) r.fail('namespaces', 'expected a non-empty array');
  const namespaces = root.namespaces.map((value, i) => {
    const ns = r.object(value, `namespaces[${i}]`, ['name', 'nsid']);
    return { name: r.string(ns.name, `namespaces[${i}].name`, NAMESPACE_MAX), nsid: r.integer(ns.nsid, `namespaces[${i}].nsid`, 1, 32) };
  });
  const codecJson = r.object(root.codec, 'codec', ['name', 'level']);
  const codec = {
    name: r.pattern(codecJson.name, 'codec.name', /^[a-z0-9-]{1,32}$/, 'a codec name'),
    level: codecJson.level === null ? null : r.integer(codecJson.level, 'codec.level', -1000, 1000),
  };
  if (!Array.isArray(root.segments) || root.segments.length === 0) r.fail('segments', 'expected a non-empty array');

  const keys = new Set<number>();
  const objects = new Set<string>();
  const segments = root.segments.map((value, i): ManifestSegment => {
    const path = `segments[${i}]`;
    const s = r.object(value, path, [
      'key', 'kind', 'instance', 'nsid', 'namespace', 'stage', 'size', 'uid', 'gid', 'mode',
      'object', 'codec', 'rawBytes', 'rawCrc32', 'storedBytes', 'storedCrc32',
    ], ['pieces', 'zeroRanges', 'sha256']);
    const key = Number.parseInt(r.pattern(s.key, `${path}.key`, /^0x[0-9a-f]{8}$/, 'a key like 0xae001100'), 16);
    if (keys.has(key)) r.fail(`${path}.key`, 'duplicate key');
    keys.add(key);
    if (!isSegmentKind(s.kind)) r.fail(`${path}.kind`, `unknown kind ${JSON.stringify(s.kind)}`);
    const segInstance = r.integer(s.instance, `${path}.instance`, 0, 15);
    const nsid = r.integer(s.nsid, `${path}.nsid`, 1, 32);
    const decoded = decodeKey(key);
    if (!decoded || segInstance !== decoded.instance || nsid !== decoded.nsid) r.fail(`${path}`, 'instance or nsid disagrees with the key');
    const stage = s.stage === null ? null : r.integer(s.stage, `${path}.stage`, 0, 0xfff);
    const size = r.integer(s.size, `${path}.size`, 0, Number.MAX_SAFE_INTEGER);
    const object = r.string(s.object, `${path}.object`, 255);
    const problem = objectNameProblem(object);
    if (problem !== undefined) r.fail(`${path}.object`, `${JSON.stringify(object)} ${problem}`);
    if (!object.startsWith(`${keyFileStem(key)}.dat`)) r.fail(`${path}.object`, `${JSON.stringify(object)} does not belong to key 0x${keyFileStem(key)}`);
    if (objects.has(object)) r.fail(`${path}.object`, 'duplicate object name');
    if (object.endsWith(ENCRYPTED_SUFFIX) !== (encryption !== undefined)) {
      r.fail(`${path}.object`, encryption ? `${JSON.stringify(object)} does not end in ${ENCRYPTED_SUFFIX} in an encrypted backup` : `${JSON.stringify(object)} ends in ${ENCRYPTED_SUFFIX} in a backup that is not encrypted`);
    }
    objects.add(object);
    const rawBytes = r.integer(s.rawBytes, `${path}.rawBytes`, 0, Number.MAX_SAFE_INTEGER);
    if (rawBytes !== size) r.fail(`${path}.rawBytes`, `${rawBytes} differs from size ${size}`);
    const mode = Number.parseInt(r.pattern(s.mode, `${path}.mode`, /^0[0-7]{3}$/, 'octal permission bits like 0640'), 8);
    const storedBytes = r.integer(s.storedBytes, `${path}.storedBytes`, 0, Number.MAX_SAFE_INTEGER);
    return {
      key,
      kind: s.kind,
      instance: segInstance,
      nsid,
      namespace: r.string(s.namespace, `${path}.namespace`, NAMESPACE_MAX),
      stage,
      size,
      uid: r.integer(s.uid, `${path}.uid`, 0, UINT32_MAX),
      gid: r.integer(s.gid, `${path}.gid`, 0, UINT32_MAX),
      mode,
      object,
      codec: r.pattern(s.codec, `${path}.codec`, /^[a-z0-9-]{1,32}$/, 'a codec name'),
      rawBytes,
      rawCrc32: Number.parseInt(r.pattern(s.rawCrc32, `${path}.rawCrc32`, /^[0-9a-f]{8}$/, '8 hex digits'), 16),
      storedBytes,
      storedCrc32: Number.parseInt(r.pattern(s.storedCrc32, `${path}.storedCrc32`, /^[0-9a-f]{8}$/, '8 hex digits'), 16),
      ...(s.pieces === undefined ? {} : { pieces: readPieces(r, s.pieces, `${path}.pieces`, size, storedBytes) }),
      ...(s.zeroRanges === undefined ? {} : { zeroRanges: readZeroRanges(r, s.zeroRanges, `${path}.zeroRanges`, size) }),
      ...(s.sha256 === undefined ? {} : { sha256: r.pattern(s.sha256, `${path}.sha256`, /^[0-9a-f]{64}$/, '64 hex digits') }),
    };
  });
  for (const [i, s] of segments.entries()) {
    if (s.instance !== instance) r.fail(`segments[${i}].instance`, `differs from the manifest's instance ${instance}`);
  }
  const aerospike = root.aerospike === undefined ? undefined : readAerospike(r, root.aerospike);
  return { formatVersion, tool, createdAt, host, instance, namespaces, codec, segments, ...(aerospike ? { aerospike } : {}), ...(encryption ? { encryption } : {}), ...(mac ? { mac } : {}) };
}

/**
 * The encryption member: the algorithm and frame size shmsnap reads, and the
 * wrapped key as a provider's record (its provider's own fields are checked
 * by the provider, bounded here).
 */
function readEncryption(r: Reader, value: unknown): ManifestEncryption {
  const e = r.object(value, 'encryption', ['algorithm', 'frameBytes', 'key']);
  if (e.algorithm !== ENCRYPTION_ALGORITHM) r.fail('encryption.algorithm', `expected '${ENCRYPTION_ALGORITHM}', got ${JSON.stringify(e.algorithm)?.slice(0, 80)}`);
  const frameBytes = r.integer(e.frameBytes, 'encryption.frameBytes', MIN_FRAME_BYTES, MAX_FRAME_BYTES);
  if (typeof e.key !== 'object' || e.key === null || Array.isArray(e.key)) r.fail('encryption.key', 'expected an object');
  const key = e.key as Record<string, unknown>;
  r.pattern(key.provider, 'encryption.key.provider', /^[a-z0-9-]{1,32}$/, 'a key provider name');
  if (JSON.stringify(key).length > 4096) r.fail('encryption.key', 'longer than 4096 characters');
  return { algorithm: ENCRYPTION_ALGORITHM, frameBytes, key: key as KeyWrapRecord };
}

/** The manifest's JSON document as written (for its MAC, which covers every field, known to this version or not). */
export function manifestDocument(bytes: Uint8Array): Record<string, unknown> {
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8')) as Record<string, unknown>;
}

/** A piece index must describe exactly the segment: count, sizes and offsets that fit in the object. */
function readPieces(r: Reader, value: unknown, path: string, size: number, storedBytes: number): PieceIndex {
  const p = r.object(value, path, ['offset', 'rawBytes', 'storedBytes']);
  const offset = r.integer(p.offset, `${path}.offset`, 0, storedBytes);
  const rawBytes = r.integer(p.rawBytes, `${path}.rawBytes`, 1, Number.MAX_SAFE_INTEGER);
  if (!Array.isArray(p.storedBytes)) r.fail(`${path}.storedBytes`, 'expected an array');
  const expected = size === 0 ? 1 : Math.ceil(size / rawBytes);
  if (p.storedBytes.length !== expected) r.fail(`${path}.storedBytes`, `${p.storedBytes.length} pieces for ${size} raw bytes in pieces of ${rawBytes} (expected ${expected})`);
  const sizes = p.storedBytes.map((v, i) => r.integer(v, `${path}.storedBytes[${i}]`, 1, storedBytes));
  if (offset + sizes.reduce((sum, v) => sum + v, 0) > storedBytes) r.fail(path, 'the pieces end past the object');
  return { offset, rawBytes, storedBytes: sizes };
}

/** Zero runs: sorted, not overlapping, inside the segment, a bounded number of them. */
function readZeroRanges(r: Reader, value: unknown, path: string, size: number): [number, number][] {
  if (!Array.isArray(value)) r.fail(path, 'expected an array');
  if (value.length > 65_536) r.fail(path, `${value.length} ranges, at most 65536`);
  let end = 0;
  return value.map((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2) r.fail(`${path}[${i}]`, 'expected [offset, length]');
    const offset = r.integer(pair[0], `${path}[${i}][0]`, end, size);
    const length = r.integer(pair[1], `${path}[${i}][1]`, 1, size - offset);
    end = offset + length;
    return [offset, length];
  });
}

/** Raw and stored byte totals, for summaries and `ls`. */
export function manifestTotals(manifest: Manifest): { segments: number; rawBytes: number; storedBytes: number } {
  let rawBytes = 0;
  let storedBytes = 0;
  for (const s of manifest.segments) {
    rawBytes += s.rawBytes;
    storedBytes += s.storedBytes;
  }
  return { segments: manifest.segments.length, rawBytes, storedBytes };
}

// ---- the aerospike record (pre-flight) -----------------------------------------

/**
 * What the host said about Aerospike when the backup was made, for
 * pre-flight to compare with the next start's (location/preflight.ts). The
 * conf values are kept as the file wrote them; null where the file does not
 * set one (asd's default) or could not be read.
 */
export interface ManifestAerospike {
  /** aerospike.conf as read at backup time: `error` says why it could not be (ENOENT...), null when it was read. */
  readonly conf: { readonly path: string; readonly error: string | null };
  /** The asd build (`asd --version`), null when it could not be found. */
  readonly build: string | null;
  /** One per namespace of the backup. */
  readonly namespaces: readonly ManifestAerospikeNamespace[];
}

export interface RecordedStorageEngine {
  readonly type: string;
  readonly dataSize: string | null;
  readonly filesize: string | null;
  readonly files: readonly string[];
  readonly devices: readonly string[];
}

export interface RecordedNamespaceConf {
  readonly partitionTreeSprigs: string | null;
  readonly indexType: string | null;
  readonly sindexType: string | null;
  readonly indexStageSize: string | null;
  readonly sindexStageSize: string | null;
  readonly memorySize: string | null;
  readonly indexCheckpointPath: string | null;
  readonly storageEngine: RecordedStorageEngine | null;
}

/** The base segment's header fields at backup time (format/segment-fields.ts). */
export interface RecordedBase {
  readonly version: number;
  readonly shutdownStatus: number;
  readonly primaryStageCount: number;
  readonly stageSize: number | null;
}

export interface ManifestAerospikeNamespace {
  readonly name: string;
  /** Its values in aerospike.conf; null when the file was not read or has no such namespace. */
  readonly conf: RecordedNamespaceConf | null;
  readonly base: RecordedBase | null;
}

const CONF_VALUES = ['partitionTreeSprigs', 'indexType', 'sindexType', 'indexStageSize', 'sindexStageSize', 'memorySize', 'indexCheckpointPath'] as const;

function readAerospike(r: Reader, value: unknown): ManifestAerospike {
  const root = r.object(value, 'aerospike', ['conf', 'build', 'namespaces']);
  const conf = r.object(root.conf, 'aerospike.conf', ['path', 'error']);
  if (!Array.isArray(root.namespaces)) r.fail('aerospike.namespaces', 'expected an array');
  if (root.namespaces.length > 32) r.fail('aerospike.namespaces', `${root.namespaces.length} namespaces, at most 32`);
  return {
    conf: { path: r.string(conf.path, 'aerospike.conf.path', 4096), error: r.nullableString(conf.error, 'aerospike.conf.error') },
    build: r.nullableString(root.build, 'aerospike.build'),
    namespaces: root.namespaces.map((entry, i): ManifestAerospikeNamespace => {
      const path = `aerospike.namespaces[${i}]`;
      const ns = r.object(entry, path, ['name', 'conf', 'base']);
      return {
        name: r.string(ns.name, `${path}.name`, NAMESPACE_MAX),
        conf: ns.conf === null ? null : readRecordedConf(r, ns.conf, `${path}.conf`),
        base: ns.base === null ? null : readRecordedBase(r, ns.base, `${path}.base`),
      };
    }),
  };
}

function readRecordedConf(r: Reader, value: unknown, path: string): RecordedNamespaceConf {
  const c = r.object(value, path, [...CONF_VALUES, 'storageEngine']);
  const values = Object.fromEntries(CONF_VALUES.map((k) => [k, r.nullableString(c[k], `${path}.${k}`)])) as Record<(typeof CONF_VALUES)[number], string | null>;
  let storageEngine: RecordedStorageEngine | null = null;
  if (c.storageEngine !== null) {
    const s = r.object(c.storageEngine, `${path}.storageEngine`, ['type', 'dataSize', 'filesize', 'files', 'devices']);
    const list = (v: unknown, at: string): string[] => {
      if (!Array.isArray(v) || v.length > 128) r.fail(at, 'expected an array of at most 128 paths');
      return v.map((item, j) => r.string(item, `${at}[${j}]`, 4096));
    };
    storageEngine = {
      type: r.string(s.type, `${path}.storageEngine.type`, 64),
      dataSize: r.nullableString(s.dataSize, `${path}.storageEngine.dataSize`),
      filesize: r.nullableString(s.filesize, `${path}.storageEngine.filesize`),
      files: list(s.files, `${path}.storageEngine.files`),
      devices: list(s.devices, `${path}.storageEngine.devices`),
    };
  }
  return { ...values, storageEngine };
}

function readRecordedBase(r: Reader, value: unknown, path: string): RecordedBase {
  const b = r.object(value, path, ['version', 'shutdownStatus', 'primaryStageCount', 'stageSize']);
  return {
    version: r.integer(b.version, `${path}.version`, 0, UINT32_MAX),
    shutdownStatus: r.integer(b.shutdownStatus, `${path}.shutdownStatus`, 0, UINT32_MAX),
    primaryStageCount: r.integer(b.primaryStageCount, `${path}.primaryStageCount`, 0, UINT32_MAX),
    stageSize: b.stageSize === null ? null : r.integer(b.stageSize, `${path}.stageSize`, 0, Number.MAX_SAFE_INTEGER),
  };
}
