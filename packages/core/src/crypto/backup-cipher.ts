/**
 * What the pipelines need of a backup's encryption: a fresh data key wrapped
 * for a new backup, and for an existing one its key unwrapped and its
 * manifest's MAC checked, before anything of it is used.
 */
import type { FrameCipher } from '../contracts/frame-cipher.js';
import type { KeyProvider } from '../contracts/key-provider.js';
import { errAuthFailed, errKeyRequired } from '../errors.js';
import { ENCRYPTION_ALGORITHM, manifestDocument, type Manifest, type ManifestEncryption } from '../format/manifest.js';
import { DEFAULT_FRAME_BYTES, FrameDecryptor, FrameEncryptor } from './frames.js';
import { checkManifestMac, deriveBackupKeys, newDataKey, type BackupKeys } from './keys.js';

/** What seals or opens each object of one backup. */
export interface ObjectCipher {
  readonly frameKey: Buffer;
  readonly frameBytes: number;
  /** The AES-256-GCM implementation; node:crypto's when none was given. */
  readonly frameCipher?: FrameCipher;
}

export interface NewBackupEncryption {
  readonly record: ManifestEncryption;
  readonly keys: BackupKeys;
  readonly cipher: ObjectCipher;
}

/** A new backup's data key, wrapped by `provider`. */
export async function newBackupEncryption(
  provider: KeyProvider,
  { frameBytes = DEFAULT_FRAME_BYTES, frameCipher }: { readonly frameBytes?: number; readonly frameCipher?: FrameCipher | undefined } = {},
): Promise<NewBackupEncryption> {
  const dataKey = newDataKey();
  const keys = deriveBackupKeys(dataKey);
  const key = await provider.wrap(dataKey);
  dataKey.fill(0);
  return { record: { algorithm: ENCRYPTION_ALGORITHM, frameBytes, key }, keys, cipher: { frameKey: keys.frameKey, frameBytes, ...(frameCipher ? { frameCipher } : {}) } };
}

/**
 * Opens an encrypted backup: unwraps its data key (KEY_REQUIRED without a
 * provider, KEY_MISMATCH for another key) and checks the manifest's MAC over
 * the bytes as stored (AUTH_FAILED: altered). `where` names the manifest.
 */
export async function openBackupEncryption(
  manifest: Manifest,
  bytes: Uint8Array,
  provider: KeyProvider | undefined,
  where: string,
  options: { readonly keyOption?: string; readonly frameCipher?: FrameCipher } = {},
): Promise<{ keys: BackupKeys; cipher: ObjectCipher }> {
  const { keyOption = 'keySource', frameCipher } = options;
  const encryption = manifest.encryption!;
  if (!provider) throw errKeyRequired(where, keyOption);
  const dataKey = await provider.unwrap(encryption.key, where);
  const keys = deriveBackupKeys(dataKey);
  dataKey.fill(0);
  if (!checkManifestMac(keys.macKey, manifestDocument(bytes))) {
    throw errAuthFailed(where, 'the manifest MAC does not match (a field of the manifest was altered)');
  }
  return { keys, cipher: { frameKey: keys.frameKey, frameBytes: encryption.frameBytes, ...(frameCipher ? { frameCipher } : {}) } };
}

export function createObjectEncryptor(cipher: ObjectCipher, objectName: string): FrameEncryptor {
  return new FrameEncryptor({ key: cipher.frameKey, frameBytes: cipher.frameBytes, objectName, ...(cipher.frameCipher ? { cipher: cipher.frameCipher } : {}) });
}

export function createObjectDecryptor(cipher: ObjectCipher, objectName: string): FrameDecryptor {
  return new FrameDecryptor({ key: cipher.frameKey, frameBytes: cipher.frameBytes, objectName, ...(cipher.frameCipher ? { cipher: cipher.frameCipher } : {}) });
}
