/**
 * Opens the encrypted backups of a location with the key given: each one's
 * data key unwrapped and its manifest's MAC checked, once, before restore or
 * verify planning reads a byte of its objects.
 */
import type { FrameCipher } from '../contracts/frame-cipher.js';
import type { KeyProvider } from '../contracts/key-provider.js';
import type { Sink } from '../contracts/sink.js';
import { openBackupEncryption, type ObjectCipher } from '../crypto/backup-cipher.js';
import { errInternal, isShmsnapError, toShmsnapError, type ShmsnapError } from '../errors.js';
import type { LocationBackup } from './catalog.js';
import type { BackupCiphers } from './restore-set.js';

/** A cipher per encrypted backup among `backups` (its frames opened by `frameCipher`), or the error that kept it closed; unencrypted ones are not in the map. */
export async function openBackups(
  sink: Sink,
  backups: readonly LocationBackup[],
  key: KeyProvider | undefined,
  signal?: AbortSignal,
  frameCipher?: FrameCipher,
): Promise<BackupCiphers> {
  const out = new Map<string, ObjectCipher | ShmsnapError>();
  for (const backup of backups) {
    if (!backup.manifest.encryption) continue;
    signal?.throwIfAborted();
    const where = `${sink.location}/${backup.name}`;
    try {
      if (!backup.bytes) throw errInternal(`${where}: the manifest's bytes were not kept`);
      out.set(backup.name, (await openBackupEncryption(backup.manifest, backup.bytes, key, where, frameCipher ? { frameCipher } : {})).cipher);
    } catch (error) {
      if (!isShmsnapError(error)) throw toShmsnapError(error, 'read', where);
      out.set(backup.name, error);
    }
  }
  return out;
}
