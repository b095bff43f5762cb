/**
 * The key provider contract: where the user's key comes from, and how a
 * backup's data key is protected by it (envelope encryption).
 *
 * Every encrypted backup has its own random 256-bit data key; the frames and
 * the manifest's MAC use keys derived from it (crypto/keys.ts). The provider
 * never sees data: it only wraps a data key for a new backup and unwraps the
 * one a manifest records. So rotating the user's key rewraps manifests
 * (`rekey`) and re-encrypts nothing.
 *
 * Guarantees a provider MUST give:
 * - `wrap(dataKey)` returns a record (plain JSON data, no secret in clear)
 *   that only this provider's key can unwrap; it never returns the same
 *   record twice for one key (fresh nonces and salts), and it records what
 *   `unwrap` needs besides the key (the KDF's parameters and salt).
 * - `unwrap(record)` returns exactly the data key given to `wrap`, or fails
 *   with KEY_MISMATCH naming the backup when its key is not the one that
 *   wrapped it (or the record was altered): it never returns other bytes.
 *   A record of another provider kind is KEY_MISMATCH too.
 * - `describe` names where the key came from (a path, a variable), never
 *   the key: it appears in messages.
 * - Bad key material (a file readable by group or others, a value of the
 *   wrong length or encoding) is KEY_INVALID at creation or first use, one
 *   line naming the source.
 *
 * The built-in providers are `createKeyFileProvider`, `createKeyEnvProvider`
 * and `createPassphraseProvider` (crypto/key-providers.ts). A KMS provider
 * (AWS KMS, Vault transit) fits the same shape: `wrap` calls the service's
 * Encrypt (or GenerateDataKey), `unwrap` its Decrypt, the record holds the
 * key id and the service's ciphertext (docs/encryption.md).
 */

/** What a manifest records of the wrapped data key: provider-specific, JSON-safe, no secret in clear. */
export interface KeyWrapRecord {
  /** Which provider kind wrapped it: `key` (a raw 256-bit key), `passphrase` (scrypt), later `aws-kms`... */
  readonly provider: string;
  readonly [field: string]: unknown;
}

export interface KeyProvider {
  /** The kind recorded in `KeyWrapRecord.provider`. */
  readonly kind: string;
  /** Where the key comes from, for messages: `key file /etc/shmsnap/backup.key`. */
  readonly describe: string;
  wrap(dataKey: Buffer): Promise<KeyWrapRecord>;
  /** `backup` names the backup in errors. */
  unwrap(record: KeyWrapRecord, backup: string): Promise<Buffer>;
}
