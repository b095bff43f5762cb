import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isShmsnapError } from '../errors.js';
import { canonicalJson, checkManifestMac, deriveBackupKeys, manifestMac, unwrapKey, wrapKey } from './keys.js';
import { createKeyEnvProvider, createKeyFileProvider, createPassphraseProvider, createRawKeyProvider, parseKeyMaterial } from './key-providers.js';

// Small scrypt costs: the tests check the logic, not the hardness.
const CHEAP = { scrypt: { N: 1024, r: 8, p: 1 } };

describe('key wrapping', () => {
  it('unwraps with the key that wrapped, and not with another', () => {
    const kek = randomBytes(32);
    const dataKey = randomBytes(32);
    const record = wrapKey(kek, dataKey);
    assert.deepEqual(unwrapKey(kek, record), dataKey);
    assert.equal(unwrapKey(randomBytes(32), record), undefined);
    const bad = Buffer.from(record.wrapped, 'base64');
    bad[3]! ^= 1;
    assert.equal(unwrapKey(kek, { ...record, wrapped: bad.toString('base64') }), undefined);
  });

  it('derives two different keys from a data key, the same ones every time', () => {
    const dataKey = randomBytes(32);
    const a = deriveBackupKeys(dataKey);
    assert.deepEqual(deriveBackupKeys(dataKey), a);
    assert.notDeepEqual(a.frameKey, a.macKey);
    assert.notDeepEqual(a.frameKey, dataKey);
  });
});

describe('manifest MAC', () => {
  const key = randomBytes(32);
  it('is independent of key order and covers every field, known or not', () => {
    const doc = { b: 1, a: { y: [1, 2, { z: 'x' }], x: null }, aerospike: { build: '7.1' } };
    assert.equal(canonicalJson(doc), '{"a":{"x":null,"y":[1,2,{"z":"x"}]},"aerospike":{"build":"7.1"},"b":1}');
    const mac = manifestMac(key, doc);
    assert.ok(checkManifestMac(key, { aerospike: doc.aerospike, a: doc.a, b: 1, mac }));
    assert.ok(!checkManifestMac(key, { ...doc, aerospike: { build: '7.2' }, mac }));
    assert.ok(!checkManifestMac(key, { ...doc, extra: true, mac }));
    assert.ok(!checkManifestMac(randomBytes(32), { ...doc, mac }));
    assert.ok(!checkManifestMac(key, { ...doc }));
  });
});

describe('key providers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shmsnap-keys-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads raw, hex and base64 keys, and refuses other lengths', () => {
    const key = randomBytes(32);
    assert.deepEqual(parseKeyMaterial(key, 'x'), key);
    assert.deepEqual(parseKeyMaterial(Buffer.from(`${key.toString('hex')}\n`), 'x'), key);
    assert.deepEqual(parseKeyMaterial(Buffer.from(key.toString('base64')), 'x'), key);
    assert.throws(() => parseKeyMaterial(Buffer.from('abcd'), 'key file /k'), (e: unknown) => isShmsnapError(e, 'KEY_INVALID') && /key file \/k/.test((e as Error).message));
  });

  it('refuses a key file group or others can read, naming it and its mode; takes it at 0600', async () => {
    const path = join(dir, 'world.key');
    await writeFile(path, randomBytes(32).toString('hex'));
    await chmod(path, 0o644);
    await assert.rejects(createKeyFileProvider(path), (e: unknown) => isShmsnapError(e, 'KEY_INVALID') && (e as Error).message.includes(path) && /0644/.test((e as Error).message));
    await chmod(path, 0o640);
    await assert.rejects(createKeyFileProvider(path), (e: unknown) => isShmsnapError(e, 'KEY_INVALID') && /0640/.test((e as Error).message));
    await chmod(path, 0o600);
    const provider = await createKeyFileProvider(path);
    assert.equal(provider.describe, `key file ${path}`);
  });

  it('refuses a key path that is not a regular file, or is missing', async () => {
    const sub = join(dir, 'adir');
    await mkdir(sub);
    await assert.rejects(createKeyFileProvider(sub), (e: unknown) => isShmsnapError(e, 'KEY_INVALID') && /not a regular file/.test((e as Error).message));
    await assert.rejects(createKeyFileProvider(join(dir, 'nope')), (e: unknown) => isShmsnapError(e, 'KEY_INVALID') && /no such file/.test((e as Error).message));
    const target = join(dir, 'target.key');
    await writeFile(target, randomBytes(32), { mode: 0o600 });
    await symlink(target, join(dir, 'link.key'));
    // A link (Kubernetes mounts secrets so) is followed; the file it reaches is what is checked.
    await createKeyFileProvider(join(dir, 'link.key'));
  });

  it('wraps and unwraps through a provider; another key is KEY_MISMATCH naming the backup', async () => {
    const a = createRawKeyProvider(randomBytes(32), 'key A');
    const b = createKeyEnvProvider('K', { K: randomBytes(32).toString('hex') });
    const dataKey = randomBytes(32);
    const record = await a.wrap(dataKey);
    assert.deepEqual(await a.unwrap(record, 'loc/m.json'), dataKey);
    await assert.rejects(b.unwrap(record, 'loc/m.json'), (e: unknown) => isShmsnapError(e, 'KEY_MISMATCH') && /loc\/m\.json/.test((e as Error).message));
    assert.throws(() => createKeyEnvProvider('MISSING', {}), (e: unknown) => isShmsnapError(e, 'KEY_INVALID'));
  });

  it('stretches a passphrase with scrypt, recording its parameters and a fresh salt', async () => {
    const p = createPassphraseProvider(Buffer.from('correct horse'), 'passphrase', CHEAP);
    const dataKey = randomBytes(32);
    const one = await p.wrap(dataKey);
    const two = await p.wrap(dataKey);
    assert.deepEqual((one.kdf as { N: number }).N, 1024);
    assert.notEqual((one.kdf as { salt: string }).salt, (two.kdf as { salt: string }).salt);
    assert.deepEqual(await p.unwrap(one, 'b'), dataKey);
    const wrong = createPassphraseProvider(Buffer.from('battery staple'), 'other', CHEAP);
    await assert.rejects(wrong.unwrap(one, 'b'), (e: unknown) => isShmsnapError(e, 'KEY_MISMATCH'));
    // Parameters a hostile manifest could use to exhaust memory are refused, never run.
    await assert.rejects(p.unwrap({ ...one, kdf: { ...(one.kdf as object), N: 2 ** 24 } }, 'b'), (e: unknown) => isShmsnapError(e, 'KEY_MISMATCH'));
    // A key record is not a passphrase record.
    await assert.rejects(p.unwrap(await createRawKeyProvider(randomBytes(32), 'k').wrap(dataKey), 'b'), (e: unknown) => isShmsnapError(e, 'KEY_MISMATCH'));
  });
});
