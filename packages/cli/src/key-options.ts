/**
 * The key flags (docs/encryption.md): one of `--key-file`, `--key-env`,
 * `--passphrase-file`, `--passphrase-env`, turned into a core key provider.
 * `rekey` takes them twice, as `--old-…` and `--new-…`.
 */
import { Option, type Command } from 'commander';
import {
  createKeyEnvProvider,
  createKeyFileProvider,
  createPassphraseEnvProvider,
  createPassphraseFileProvider,
  errConfigInvalid,
  isShmsnapError,
  type FrameCipher,
  type KeyProvider,
} from '@shmsnap/core';
import { addonFrameCipher } from '@shmsnap/shm-native';

export interface KeyFlags {
  readonly keyFile?: string;
  readonly keyEnv?: string;
  readonly passphraseFile?: string;
  readonly passphraseEnv?: string;
}

const SOURCES = [
  { flag: 'key-file', attribute: 'keyFile', argument: '<path>', help: 'a file holding a 256-bit key (32 bytes, 64 hex digits or base64; e.g. openssl rand -hex 32 > FILE); refused unless only its owner can read it (mode 0600 or 0400)' },
  { flag: 'key-env', attribute: 'keyEnv', argument: '<name>', help: 'the environment variable holding a 256-bit key (64 hex digits or base64)' },
  { flag: 'passphrase-file', attribute: 'passphraseFile', argument: '<path>', help: 'a file holding a passphrase (owner-only, as a key file), stretched with scrypt (N=2^17, r=8, p=1; recorded in the manifest)' },
  { flag: 'passphrase-env', attribute: 'passphraseEnv', argument: '<name>', help: 'the environment variable holding a passphrase, stretched with scrypt' },
] as const;

/** Adds the four key flags, `prefix` (`old-`, `new-`) before each; `what` says what the key is for in help. */
export function addKeyOptions(command: Command, what: string, prefix = ''): Command {
  for (const source of SOURCES) command.addOption(new Option(`--${prefix}${source.flag} ${source.argument}`, `${what}: ${source.help}`));
  return command;
}

const camel = (prefix: string, attribute: string): string => (prefix === '' ? attribute : `${prefix.replace(/-$/, '')}${attribute[0]!.toUpperCase()}${attribute.slice(1)}`);

/** The key provider the flags name, or undefined when none is given; two at once is CONFIG_INVALID. */
export async function keyFrom(values: object, prefix = '', env: NodeJS.ProcessEnv = process.env): Promise<KeyProvider | undefined> {
  const flags = values as Readonly<Record<string, unknown>>;
  const given = SOURCES.filter((s) => typeof flags[camel(prefix, s.attribute)] === 'string');
  if (given.length > 1) throw errConfigInvalid(`--${prefix}${given[0]!.flag}`, `one key source at a time, not also --${prefix}${given[1]!.flag}`);
  const [source] = given;
  if (!source) return undefined;
  const value = flags[camel(prefix, source.attribute)] as string;
  switch (source.attribute) {
    case 'keyFile':
      return createKeyFileProvider(value);
    case 'keyEnv':
      return createKeyEnvProvider(value, env);
    case 'passphraseFile':
      return createPassphraseFileProvider(value);
    case 'passphraseEnv':
      return createPassphraseEnvProvider(value, env);
  }
}

/** How messages name "the key" for this frontend. */
export const KEY_FLAGS = '--key-file, --key-env, --passphrase-file or --passphrase-env';

/**
 * The AES-256-GCM that seals and opens frames when a key was given: the
 * addon's, which writes into core's buffers instead of allocating per call
 * (shm-native frame-cipher.ts; docs/encryption.md has the A/B). Where the addon does not load (a verify on a
 * host without it), undefined: core keeps node:crypto's, the same bytes.
 */
export function frameCipherFor(key: KeyProvider | undefined): { readonly frameCipher?: FrameCipher } {
  if (!key) return {};
  let frameCipher: FrameCipher | undefined;
  try {
    frameCipher = addonFrameCipher();
  } catch (error) {
    // Only an addon that does not load falls back; anything else is a bug to see.
    if (!isShmsnapError(error, 'ADDON_MISSING')) throw error;
  }
  return frameCipher ? { frameCipher } : {};
}
