/**
 * Data keys, the keys derived from them, key wrapping, and the manifest MAC
 * (docs/encryption.md). Node's crypto only (OpenSSL: AES-NI, SHA extensions).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export const DATA_KEY_BYTES = 32;

export function newDataKey(): Buffer {
  return randomBytes(DATA_KEY_BYTES);
}

/** The two keys a backup uses, each derived from its data key with HKDF-SHA256 and its own label. */
export interface BackupKeys {
  /** AES-256-GCM key of every object's frames. */
  readonly frameKey: Buffer;
  /** HMAC-SHA256 key of the manifest. */
  readonly macKey: Buffer;
}

export function deriveBackupKeys(dataKey: Buffer): BackupKeys {
  const derive = (label: string): Buffer => Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), `shmsnap v1 ${label}`, 32));
  return { frameKey: derive('frames'), macKey: derive('manifest mac') };
}

const WRAP_AAD = Buffer.from('shmsnap v1 data key', 'utf8');

/** AES-256-GCM of the data key under `kek`: base64 nonce (12 bytes) and base64 ciphertext ‖ tag (48 bytes). */
export function wrapKey(kek: Buffer, dataKey: Buffer): { nonce: string; wrapped: string } {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, nonce);
  cipher.setAAD(WRAP_AAD);
  const body = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return { nonce: nonce.toString('base64'), wrapped: body.toString('base64') };
}

/** The data key, or undefined when `kek` is not the key that wrapped it (or the record was altered). */
export function unwrapKey(kek: Buffer, record: { nonce: string; wrapped: string }): Buffer | undefined {
  const nonce = Buffer.from(record.nonce, 'base64');
  const body = Buffer.from(record.wrapped, 'base64');
  if (nonce.length !== 12 || body.length !== DATA_KEY_BYTES + 16) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', kek, nonce);
  decipher.setAAD(WRAP_AAD);
  decipher.setAuthTag(body.subarray(DATA_KEY_BYTES));
  const key = decipher.update(body.subarray(0, DATA_KEY_BYTES));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return key;
}

/** scrypt parameters, as the manifest records them. */
export interface ScryptParameters {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  /** base64, 16 bytes. */
  readonly salt: string;
}

/**
 * N = 2^17, r = 8, p = 1: 128 MiB and about half a second per derivation on
 * this class of machine, memory-hard (RFC 7914's interactive-use advice is
 * N = 2^14 for 2009 hardware; OWASP names 2^17 today).
 */
export const DEFAULT_SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;

/** Memory scrypt needs, 128·N·r·p plus slack: Node refuses above `maxmem` (32 MiB by default). */
export function scryptMaxmem(parameters: Pick<ScryptParameters, 'N' | 'r' | 'p'>): number {
  return 128 * parameters.N * parameters.r * (parameters.p + 1) + 16 * 1024 * 1024;
}

export function deriveFromPassphrase(passphrase: Buffer, parameters: ScryptParameters): Promise<Buffer> {
  const { N, r, p } = parameters;
  return new Promise((resolve, reject) => {
    scrypt(passphrase, Buffer.from(parameters.salt, 'base64'), 32, { N, r, p, maxmem: scryptMaxmem(parameters) }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

// ---- the manifest MAC ---------------------------------------------------------

/**
 * A JSON value as one canonical string: object keys sorted, no white space.
 * The MAC covers the document through this, so it covers every field,
 * whatever fields a later version (or another feature) adds.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export const MAC_FIELD = 'mac';

/** HMAC-SHA256 (hex) of the document without its `mac` field. */
export function manifestMac(macKey: Buffer, document: Record<string, unknown>): string {
  const { [MAC_FIELD]: _mac, ...rest } = document;
  return createHmac('sha256', macKey).update(canonicalJson(rest), 'utf8').digest('hex');
}

/** Whether the document's `mac` is the MAC of the rest under `macKey` (compared in constant time). */
export function checkManifestMac(macKey: Buffer, document: Record<string, unknown>): boolean {
  const recorded = document[MAC_FIELD];
  if (typeof recorded !== 'string' || !/^[0-9a-f]{64}$/.test(recorded)) return false;
  return timingSafeEqual(Buffer.from(recorded, 'hex'), Buffer.from(manifestMac(macKey, document), 'hex'));
}
