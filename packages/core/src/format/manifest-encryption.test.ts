import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isShmsnapError } from '../errors.js';
import { createRawKeyProvider } from '../crypto/key-providers.js';
import { newBackupEncryption, openBackupEncryption } from '../crypto/backup-cipher.js';
import { ENCRYPTION_ALGORITHM, parseManifest, serializeManifest, type Manifest } from './manifest.js';

const where = '/b/shmsnap-manifest-i3-n2.json';

function plain(suffix = ''): Manifest {
  return {
    formatVersion: 1,
    tool: { name: 'shmsnap', version: '0.1.0' },
    createdAt: '2026-12-02T00:00:00.000Z',
    host: { hostname: 'node1', machineId: null, bootId: null },
    instance: 3,
    namespaces: [{ name: 'test', nsid: 2 }],
    codec: { name: 'zstd', level: 1 },
    segments: [
      { key: 0xae302000, kind: 'primary-base', instance: 3, nsid: 2, namespace: 'test', stage: null, size: 4096, uid: 0, gid: 0, mode: 0o600, object: `ae302000.dat${suffix}`, codec: 'none', rawBytes: 4096, rawCrc32: 1, storedBytes: 4136, storedCrc32: 2, sha256: 'a'.repeat(64) },
    ],
  };
}

describe('manifest encryption fields', () => {
  it('round-trips encryption, mac and sha256; the MAC opens with the key and covers unknown fields too', async () => {
    const key = createRawKeyProvider(randomBytes(32), 'key A');
    const enc = await newBackupEncryption(key);
    const manifest: Manifest = { ...plain('.enc'), encryption: enc.record };
    const bytes = serializeManifest(manifest, { macKey: enc.keys.macKey });
    const parsed = parseManifest(bytes, { where });
    assert.equal(parsed.encryption?.algorithm, ENCRYPTION_ALGORITHM);
    assert.equal(parsed.segments[0]!.sha256, 'a'.repeat(64));
    const opened = await openBackupEncryption(parsed, bytes, key, where);
    assert.deepEqual(opened.cipher.frameKey, enc.cipher.frameKey);

    // A field this version does not serialize (another feature's, e.g. `aerospike`) is covered: the MAC is over the document.
    const doc = JSON.parse(bytes.toString('utf8'));
    const edited = Buffer.from(JSON.stringify({ ...doc, segments: [{ ...doc.segments[0], uid: 1 }] }));
    await assert.rejects(openBackupEncryption(parseManifest(edited, { where }), edited, key, where), (e: unknown) => isShmsnapError(e, 'AUTH_FAILED') && (e as Error).message.includes(where));
    await assert.rejects(openBackupEncryption(parsed, bytes, undefined, where), (e: unknown) => isShmsnapError(e, 'KEY_REQUIRED'));
    await assert.rejects(openBackupEncryption(parsed, bytes, createRawKeyProvider(randomBytes(32), 'key B'), where), (e: unknown) => isShmsnapError(e, 'KEY_MISMATCH'));
  });

  it('refuses an encrypted manifest without its MAC, a MAC without encryption, and object names that disagree with it', async () => {
    const enc = await newBackupEncryption(createRawKeyProvider(randomBytes(32), 'k'));
    const doc = JSON.parse(serializeManifest({ ...plain('.enc'), encryption: enc.record }, { macKey: enc.keys.macKey }).toString('utf8'));
    const invalid = (value: unknown, pattern: RegExp): void =>
      assert.throws(() => parseManifest(Buffer.from(JSON.stringify(value)), { where }), (e: unknown) => isShmsnapError(e, 'MANIFEST_INVALID') && pattern.test((e as Error).message));
    const { mac: _mac, ...withoutMac } = doc;
    invalid(withoutMac, /mac: missing/);
    const { encryption: _enc, ...withoutEncryption } = doc;
    invalid(withoutEncryption, /mac: present without encryption/);
    invalid({ ...doc, segments: [{ ...doc.segments[0], object: 'ae302000.dat' }] }, /does not end in \.enc/);
    invalid({ ...doc, encryption: { ...doc.encryption, algorithm: 'rot13' } }, /encryption\.algorithm/);
    invalid({ ...doc, encryption: { ...doc.encryption, frameBytes: 1 } }, /encryption\.frameBytes/);
    invalid({ ...doc, encryption: { ...doc.encryption, key: { provider: 'x', pad: 'y'.repeat(5000) } } }, /longer than 4096/);
    const plainDoc = JSON.parse(serializeManifest(plain('.enc')).toString('utf8'));
    invalid(plainDoc, /ends in \.enc in a backup that is not encrypted/);
    invalid({ ...JSON.parse(serializeManifest(plain()).toString('utf8')), segments: [{ ...plainDoc.segments[0], object: 'ae302000.dat', sha256: 'xyz' }] }, /sha256/);
  });

  it('will not write an encrypted manifest without its MAC key', () => {
    assert.throws(() => serializeManifest({ ...plain('.enc'), encryption: { algorithm: ENCRYPTION_ALGORITHM, frameBytes: 1 << 20, key: { provider: 'key' } } }), TypeError);
  });
});
