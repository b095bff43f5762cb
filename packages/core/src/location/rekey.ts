/**
 * `rekey`: the data key of every encrypted backup at a location rewrapped
 * under a new user key, and its manifest rewritten (a new wrapped key, a new
 * MAC); no object is re-encrypted, so it takes as long as the manifests do.
 * Afterwards the old key opens nothing there.
 *
 * Sinks never overwrite, so each manifest is replaced in four steps, each
 * atomic: write the new manifest as `shmsnap-rekey-…json` → remove the old
 * manifest → write the new one under the manifest's name → remove the rekey
 * object. Stopped after the first step, the old manifest stands (a later
 * rekey removes the leftover); stopped after the second, readers refuse the
 * backup (BACKUP_INCOMPLETE, saying to run rekey again) and a second rekey
 * with the same keys finishes from the rekey object: the new manifest is never
 * lost, and the backup never reads as something it is not.
 */
import type { KeyProvider } from '../contracts/key-provider.js';
import type { Sink } from '../contracts/sink.js';
import { checkManifestMac, deriveBackupKeys, MAC_FIELD, manifestMac } from '../crypto/keys.js';
import { errAuthFailed, errBackupNotFound, errKeyMismatch, isShmsnapError, toShmsnapError, type ShmsnapError } from '../errors.js';
import { MANIFEST_MAX_BYTES, manifestDocument, manifestName, parseBackupObjectName, parseManifest, rekeyName } from '../format/manifest.js';
import { readObject, writeObject } from '../pipeline/sink-io.js';
import { withSinkContext } from '../plugins/with-plugin-context.js';
import { checkLocationExists } from './catalog.js';

export interface RekeyOptions {
  readonly sink: Sink;
  /** The key the backups are encrypted with now. */
  readonly oldKey: KeyProvider;
  /** The key they will be encrypted with. */
  readonly newKey: KeyProvider;
  /** Report what would be rewrapped, change nothing. @default false */
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
}

export interface RekeyResult {
  readonly location: string;
  /** Manifests rewrapped (or, in a dry run, that would be). */
  readonly rekeyed: readonly string[];
  /** Manifests of unencrypted backups, left as they are. */
  readonly skipped: readonly string[];
}

/** The new manifest's bytes: the document as stored, with the new wrapped key and a new MAC (generic: every other field kept). */
async function rewrapped(bytes: Buffer, where: string, oldKey: KeyProvider, newKey: KeyProvider): Promise<Buffer | undefined> {
  const manifest = parseManifest(bytes, { where });
  if (!manifest.encryption) return undefined;
  const dataKey = await oldKey.unwrap(manifest.encryption.key, where);
  const keys = deriveBackupKeys(dataKey);
  const document = manifestDocument(bytes);
  if (!checkManifestMac(keys.macKey, document)) throw errAuthFailed(where, 'the manifest MAC does not match (a field of the manifest was altered); it is left as it is');
  const encryption = document.encryption as Record<string, unknown>;
  document.encryption = { ...encryption, key: await newKey.wrap(dataKey) };
  dataKey.fill(0);
  delete document[MAC_FIELD];
  document[MAC_FIELD] = manifestMac(keys.macKey, document);
  return Buffer.from(`${JSON.stringify(document, null, 2)}\n`, 'utf8');
}

/** Whether `bytes` is a manifest `key` opens (unwrap and MAC). */
async function opensWith(bytes: Buffer, where: string, key: KeyProvider): Promise<boolean> {
  try {
    const manifest = parseManifest(bytes, { where });
    if (!manifest.encryption) return false;
    return checkManifestMac(deriveBackupKeys(await key.unwrap(manifest.encryption.key, where)).macKey, manifestDocument(bytes));
  } catch (error) {
    if (isShmsnapError(error, 'KEY_MISMATCH') || isShmsnapError(error, 'MANIFEST_INVALID')) return false;
    throw error;
  }
}

export async function rekeyLocation(options: RekeyOptions): Promise<RekeyResult> {
  const { oldKey, newKey, signal } = options;
  const sink = withSinkContext(options.sink);
  const objects = await sink.list('', signal ? { signal } : {});
  await checkLocationExists(sink, objects, signal);
  const names = new Set(objects.map((o) => o.name));
  const rekeyed: string[] = [];
  const skipped: string[] = [];
  const problems: ShmsnapError[] = [];
  // Manifests, and rekey objects whose manifest is gone (a rekey stopped half-way).
  for (const object of objects) {
    const parsed = parseBackupObjectName(object.name);
    if (!parsed || (parsed.kind !== 'manifest' && parsed.kind !== 'rekey')) continue;
    const manifest = manifestName(parsed.instance, parsed.nsids);
    const staging = rekeyName(parsed.instance, parsed.nsids);
    if (parsed.kind === 'rekey' && names.has(manifest)) continue; // handled with its manifest
    const where = `${sink.location}/${manifest}`;
    try {
      signal?.throwIfAborted();
      if (parsed.kind === 'rekey') {
        // Finish a rekey stopped after the old manifest went: the rekey object must open with the new key.
        const bytes = (await readObject(sink, staging, MANIFEST_MAX_BYTES, signal))!;
        if (!(await opensWith(bytes, `${sink.location}/${staging}`, newKey))) throw errKeyMismatch(`${sink.location}/${staging}`, `${newKey.describe} (an interrupted rekey is finished with the new key it was started with)`);
        if (!options.dryRun) {
          await writeObject(sink, manifest, bytes, signal);
          await sink.remove(staging);
        }
        rekeyed.push(manifest);
        continue;
      }
      const bytes = await readObject(sink, manifest, MANIFEST_MAX_BYTES, signal);
      if (!bytes) continue;
      const next = await rewrapped(bytes, where, oldKey, newKey);
      if (!next) {
        skipped.push(manifest);
        continue;
      }
      if (!options.dryRun) {
        // A leftover from a rekey that stopped before it replaced anything: the manifest beside it is the truth.
        if (names.has(staging)) await sink.remove(staging);
        await writeObject(sink, staging, next, signal);
        await sink.remove(manifest);
        await writeObject(sink, manifest, next);
        await sink.remove(staging);
      }
      rekeyed.push(manifest);
    } catch (error) {
      if (signal?.aborted || isShmsnapError(error, 'ABORTED')) throw error;
      problems.push(toShmsnapError(error, 'rekey', where));
    }
  }
  if (problems.length > 0) {
    const [first, ...more] = problems;
    throw more.length > 0 ? first!.withDetails({ more: more.map((p) => p.toJSON()), rekeyed }) : first!.withDetails({ rekeyed });
  }
  if (rekeyed.length === 0) throw errBackupNotFound(sink.location, skipped.length > 0 ? 'no encrypted backup (only unencrypted ones, which rekey leaves as they are)' : 'no shmsnap manifest');
  return { location: sink.location, rekeyed, skipped };
}
