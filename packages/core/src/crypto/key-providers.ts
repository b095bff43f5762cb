/**
 * The built-in key providers (contracts/key-provider.ts): a 256-bit key from
 * a file or an environment variable, or a passphrase stretched with scrypt.
 */
import { readFile, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { KeyProvider, KeyWrapRecord } from '../contracts/key-provider.js';
import { errKeyInvalid, errKeyMismatch, errPermissionDenied, isShmsnapError } from '../errors.js';
import { DATA_KEY_BYTES, DEFAULT_SCRYPT, deriveFromPassphrase, unwrapKey, wrapKey, type ScryptParameters } from './keys.js';

/** 32 raw bytes, 64 hex digits, or base64 of 32 bytes (white space around text ignored). */
export function parseKeyMaterial(bytes: Buffer, source: string): Buffer {
  if (bytes.length === DATA_KEY_BYTES) return Buffer.from(bytes);
  const text = bytes.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    if (key.length === DATA_KEY_BYTES) return key;
  }
  throw errKeyInvalid(source, `expected a 256-bit key: 32 bytes, 64 hex digits or 44 base64 characters (got ${bytes.length} bytes); make one with: openssl rand -hex 32`);
}

/** A secret file's bytes; KEY_INVALID unless it is a regular file that neither group nor others can read or write. */
export async function readSecretFile(path: string, what: string): Promise<Buffer> {
  const source = `${what} ${path}`;
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES') throw errPermissionDenied(`reading ${what}`, path, error);
    throw errKeyInvalid(source, code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? String(error)})`);
  }
  if (!info.isFile()) throw errKeyInvalid(source, 'not a regular file');
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw errKeyInvalid(source, `mode 0${mode.toString(8).padStart(3, '0')} lets group or others reach the key; chmod 600 ${path}`).withDetails({ mode: `0${mode.toString(8)}` });
  }
  try {
    return await readFile(path);
  } catch (error) {
    if (isShmsnapError(error)) throw error;
    throw errPermissionDenied(`reading ${what}`, path, error);
  }
}

function b64(value: unknown, bytes: number): value is string {
  return typeof value === 'string' && value.length <= 128 && Buffer.from(value, 'base64').length === bytes;
}

/** A provider whose key-encryption key is at hand (a key, or a passphrase's derivation per record). */
function kekProvider(kind: string, describe: string, kekFor: (record: KeyWrapRecord | undefined) => Promise<{ kek: Buffer; extra: Record<string, unknown> } | undefined>): KeyProvider {
  return {
    kind,
    describe,
    async wrap(dataKey) {
      const { kek, extra } = (await kekFor(undefined))!;
      return { provider: kind, algorithm: 'aes-256-gcm', ...extra, ...wrapKey(kek, dataKey) };
    },
    async unwrap(record, backup) {
      if (record.provider !== kind || record.algorithm !== 'aes-256-gcm' || !b64(record.nonce, 12) || !b64(record.wrapped, DATA_KEY_BYTES + 16)) {
        throw errKeyMismatch(backup, describe).withDetails({ recorded: record.provider });
      }
      const found = await kekFor(record);
      const key = found && unwrapKey(found.kek, { nonce: record.nonce as string, wrapped: record.wrapped as string });
      if (!key) throw errKeyMismatch(backup, describe);
      return key;
    },
  };
}

/** The key itself, from wherever (`describe` names the source). */
export function createRawKeyProvider(key: Buffer, describe: string): KeyProvider {
  const kek = parseKeyMaterial(key, describe);
  return kekProvider('key', describe, async () => ({ kek, extra: {} }));
}

/** `--key-file PATH`: read (and its mode checked) once, at creation. */
export async function createKeyFileProvider(path: string): Promise<KeyProvider> {
  return createRawKeyProvider(await readSecretFile(path, 'key file'), `key file ${path}`);
}

/** `--key-env NAME`: hex or base64 of 32 bytes in the variable. */
export function createKeyEnvProvider(name: string, env: NodeJS.ProcessEnv = process.env): KeyProvider {
  const value = env[name];
  const describe = `environment variable ${name}`;
  if (value === undefined || value === '') throw errKeyInvalid(describe, 'not set');
  return createRawKeyProvider(Buffer.from(value, 'latin1'), describe);
}

export interface PassphraseProviderOptions {
  /** scrypt's cost for new backups; what a manifest records is used to open it. @default DEFAULT_SCRYPT */
  readonly scrypt?: { readonly N: number; readonly r: number; readonly p: number };
}

/** Bounds on recorded scrypt parameters: a hostile manifest must not make us allocate gigabytes. */
function checkScrypt(value: unknown): ScryptParameters | undefined {
  const v = value as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null || v.name !== 'scrypt') return undefined;
  const { N, r, p, salt } = v;
  if (typeof N !== 'number' || !Number.isInteger(Math.log2(N)) || N < 2 ** 10 || N > 2 ** 20) return undefined;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > 32) return undefined;
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 16) return undefined;
  if (128 * N * r * p > 1024 * 1024 * 1024 || !b64(salt, 16)) return undefined;
  return { N, r, p, salt: salt as string };
}

/** A passphrase stretched with scrypt (a fresh salt per backup, its parameters recorded). */
export function createPassphraseProvider(passphrase: Buffer, describe: string, options: PassphraseProviderOptions = {}): KeyProvider {
  if (passphrase.length === 0) throw errKeyInvalid(describe, 'the passphrase is empty');
  const cost = options.scrypt ?? DEFAULT_SCRYPT;
  return kekProvider('passphrase', describe, async (record) => {
    if (record === undefined) {
      const kdf = { name: 'scrypt', ...cost, salt: randomBytes(16).toString('base64') };
      return { kek: await deriveFromPassphrase(passphrase, kdf), extra: { kdf } };
    }
    const kdf = checkScrypt(record.kdf);
    // Parameters out of bounds: a record this key cannot open (never a stand-in key: that would let a forged record in).
    if (!kdf) return undefined;
    return { kek: await deriveFromPassphrase(passphrase, kdf), extra: {} };
  });
}

/** The passphrase in a file (mode checked as a key file's), one trailing newline dropped. */
export async function createPassphraseFileProvider(path: string, options: PassphraseProviderOptions = {}): Promise<KeyProvider> {
  const bytes = await readSecretFile(path, 'passphrase file');
  const text = bytes.toString('utf8').replace(/\r?\n$/, '');
  return createPassphraseProvider(Buffer.from(text, 'utf8'), `passphrase file ${path}`, options);
}

export function createPassphraseEnvProvider(name: string, env: NodeJS.ProcessEnv = process.env, options: PassphraseProviderOptions = {}): KeyProvider {
  const value = env[name];
  const describe = `environment variable ${name}`;
  if (value === undefined || value === '') throw errKeyInvalid(describe, 'not set');
  return createPassphraseProvider(Buffer.from(value, 'utf8'), describe, options);
}
