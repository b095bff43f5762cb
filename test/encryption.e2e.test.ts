// Encryption at rest (issue 15, docs/encryption.md) as an operator meets it:
// encrypted backups per codec restored byte-identical from real shared
// memory and real files; every kind of tampering (a bit in a frame, a tag,
// the wrapped key, the manifest; truncation; frames swapped, moved from
// another object, appended) refused with nothing left in shared memory; a
// wrong or missing key; an unsafe key file; rekey; --hash sha256.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { chmod, copyFile, mkdir, readdir, readFile, writeFile, truncate } = await import('node:fs/promises');
const { randomBytes } = await import('node:crypto');
const { join } = await import('node:path');
const { afterEach, before, describe, it } = await import('node:test');
const { DEFAULT_FRAME_BYTES, manifestName, parseManifest } = await import('@shmsnap/core');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runShmsnap, ASMT_BIN } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;

const MiB = 1024 * 1024;
/** The default frame size of a backup. */
const FRAME = DEFAULT_FRAME_BYTES;
const HEADER = 24;
const TAG = 16;
// Stages of 6 MiB + 4 KiB: four frames each when stored raw (2 MiB frames), the last one short.
const recipe: FixtureOptions = {
  owner: { uid: 1234, gid: 2345, mode: 0o640 },
  namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 3 * FRAME + 4096, secondary: { stages: 1, stageBytes: 256 * 1024 }, data: { stages: 1, stageBytes: 512 * 1024 } }],
};
const MANIFEST = manifestName(0, [1]);

const scratch = useScratch('encryption');
afterEach(clearSegments);

let keys: string;
let keyA: string;
let keyB: string;
before(async () => {
  keys = scratch.fresh();
  await mkdir(keys, { recursive: true });
  keyA = join(keys, 'a.key');
  keyB = join(keys, 'b.key');
  await writeFile(keyA, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  await writeFile(keyB, randomBytes(32), { mode: 0o400 });
});

/** A backup of `recipe` (encrypted with key A unless told), the fixture removed: shared memory is empty. */
async function encryptedBackup(args: readonly string[] = ['--codec', 'none', '--key-file', keyA]): Promise<{ dir: string; fixture: Awaited<ReturnType<typeof createFixture>> }> {
  const fixture = await createFixture(recipe);
  const dir = scratch.fresh();
  const backup = await runShmsnap(['backup', '--to', dir, ...args, '--json']);
  assert.equal(backup.status, 0, backup.stderr || backup.stdout);
  await fixture.remove();
  assert.deepEqual(aerospikeKeys(), []);
  return { dir, fixture };
}

/** A copy of `dir` to damage. */
async function copyOf(dir: string): Promise<string> {
  const copy = scratch.fresh();
  await mkdir(copy, { recursive: true });
  for (const name of await readdir(dir)) await copyFile(join(dir, name), join(copy, name));
  return copy;
}

/** Restore refuses with `code` (exit `status`) and leaves shared memory as it found it (empty); verify reports it too. */
async function assertRefused(dir: string, code: string, status: number, key = keyA): Promise<void> {
  const restore = await runShmsnap(['restore', '--from', dir, '--key-file', key]);
  assert.equal(restore.status, status, `${restore.stdout}\n${restore.stderr}`);
  assert.match(restore.stderr, new RegExp(code));
  assert.deepEqual(aerospikeKeys(), [], 'nothing is left in shared memory');
  const verify = await runShmsnap(['verify', dir, '--key-file', key]);
  assert.notEqual(verify.status, 0, verify.stdout);
  assert.match(verify.stderr, new RegExp(code));
}

describe('encrypted backups, per codec (real shared memory, local directory)', () => {
  for (const codec of ['none', 'gzip', 'zstd']) {
    it(`${codec}: every object ends in .enc, ls says encrypted, verify and restore with the key give every byte back`, async () => {
      const { dir, fixture } = await encryptedBackup(['--codec', codec, '--encrypt', '--key-file', keyA]);
      const objects = (await readdir(dir)).filter((n) => n !== MANIFEST).sort();
      assert.ok(objects.length === fixture.segments.length && objects.every((n) => n.endsWith('.enc')), objects.join(' '));
      const suffix = { none: '.dat', gzip: '.dat.gz', zstd: '.dat.zst' }[codec];
      assert.ok(objects.includes(`ae001100${suffix}.enc`) && objects.includes('ae001000.dat.enc'));
      const manifest = parseManifest(await readFile(join(dir, MANIFEST)), { where: dir });
      assert.equal(manifest.encryption?.algorithm, 'aes-256-gcm-frames-v1');
      assert.match(manifest.mac ?? '', /^[0-9a-f]{64}$/);
      // The raw bytes are nowhere in the stored ones.
      const stage = await readFile(join(dir, `ae001100${suffix}.enc`));
      assert.ok(!stage.subarray(24).includes(Buffer.from('test\0')));

      const ls = await runShmsnap(['ls', dir, '--json']);
      assert.equal(ls.status, 0, ls.stderr);
      const row = JSON.parse(ls.stdout).backups[0];
      assert.deepEqual([row.status, row.encrypted, row.problems], ['complete', true, []]);
      assert.match((await runShmsnap(['ls', dir])).stdout, /encrypted[\s\S]*\byes\b/);

      const verify = await runShmsnap(['verify', dir, '--key-file', keyA]);
      assert.equal(verify.status, 0, verify.stderr);
      const restore = await runShmsnap(['restore', '--from', dir, '--key-file', keyA]);
      assert.equal(restore.status, 0, restore.stderr);
      assert.deepEqual(await fixture.compare(), []);
    });
  }

  it('without a key: restore and verify refuse, naming the backup (KEY_REQUIRED), nothing created', async () => {
    const { dir } = await encryptedBackup();
    const restore = await runShmsnap(['restore', '--from', dir]);
    assert.equal(restore.status, 2, restore.stderr);
    assert.match(restore.stderr, new RegExp(`KEY_REQUIRED.*${MANIFEST}.*--key-file`));
    assert.deepEqual(aerospikeKeys(), []);
    const verify = await runShmsnap(['verify', dir]);
    assert.equal(verify.status, 2, verify.stderr);
    assert.match(verify.stderr, /KEY_REQUIRED/);
  });

  it('with the wrong key: one KEY_MISMATCH naming the backup, nothing created', async () => {
    const { dir } = await encryptedBackup();
    const restore = await runShmsnap(['restore', '--from', dir, '--key-file', keyB]);
    assert.equal(restore.status, 3, restore.stderr);
    assert.match(restore.stderr, new RegExp(`KEY_MISMATCH.*${MANIFEST}`));
    assert.equal(restore.stderr.split('\n').filter((l) => /KEY_MISMATCH/.test(l)).length, 1);
    assert.deepEqual(aerospikeKeys(), []);
  });

  it('an encrypted object left in a location blocks a backup of its namespace there (ASMT\'s rule)', async () => {
    const { dir } = await encryptedBackup();
    await (await import('node:fs/promises')).rm(join(dir, MANIFEST));
    await createFixture(recipe);
    const again = await runShmsnap(['backup', '--to', dir]);
    assert.equal(again.status, 3, again.stderr);
    assert.match(again.stderr, /BACKUP_EXISTS.*\.dat\.enc, a segment file of instance 0, namespace id 1/);
  });

  it('refuses a key file group or others can read, naming the file and its mode', async () => {
    const open = join(keys, 'open.key');
    await writeFile(open, randomBytes(32).toString('hex'));
    await chmod(open, 0o644);
    await createFixture(recipe);
    const dir = scratch.fresh();
    const backup = await runShmsnap(['backup', '--to', dir, '--key-file', open]);
    assert.equal(backup.status, 2, backup.stderr);
    assert.match(backup.stderr, new RegExp(`KEY_INVALID.*${open.replace(/[/.]/g, '\\$&')}.*0644`));
    assert.equal(backup.stderr.trim().split('\n').length, 1, backup.stderr);
    const encrypt = await runShmsnap(['backup', '--to', dir, '--encrypt']);
    assert.equal(encrypt.status, 2, encrypt.stderr);
    assert.match(encrypt.stderr, /--encrypt.*--key-file/);
  });
});

describe('tampering is detected before a byte reaches a segment', () => {
  let pristine: string;
  before(async () => {
    pristine = (await encryptedBackup()).dir;
    await clearSegments();
  });
  const stage = 'ae001100.dat.enc';
  const other = 'ae001101.dat.enc';
  const frame = (i: number): number => HEADER + i * (FRAME + TAG);

  async function damaged(edit: (dir: string) => Promise<void>): Promise<string> {
    const dir = await copyOf(pristine);
    await edit(dir);
    return dir;
  }
  async function editBytes(dir: string, name: string, edit: (bytes: Buffer) => Buffer): Promise<void> {
    await writeFile(join(dir, name), edit(await readFile(join(dir, name))));
  }
  async function editManifest(dir: string, edit: (doc: Record<string, any>) => void): Promise<void> {
    const doc = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8'));
    edit(doc);
    await writeFile(join(dir, MANIFEST), JSON.stringify(doc, null, 2));
  }
  const flip = (offset: number) => (bytes: Buffer): Buffer => {
    bytes[offset]! ^= 0x04;
    return bytes;
  };

  // The stored CRC-32 is checked at the end of an object; a frame's tag as soon as the frame is in: the tag decides.
  it('a flipped bit in a frame', async () => {
    await assertRefused(await damaged((d) => editBytes(d, stage, flip(frame(2) + 100))), 'AUTH_FAILED.*frame 2', 4);
  });

  it('a flipped bit in a tag', async () => {
    await assertRefused(await damaged((d) => editBytes(d, stage, flip(frame(1) - 3))), 'AUTH_FAILED.*frame 0', 4);
  });

  it('a flipped bit in the wrapped data key', async () => {
    const dir = await damaged((d) =>
      editManifest(d, (doc) => {
        const wrapped = Buffer.from(doc.encryption.key.wrapped, 'base64');
        wrapped[5]! ^= 1;
        doc.encryption.key.wrapped = wrapped.toString('base64');
      }),
    );
    await assertRefused(dir, 'KEY_MISMATCH', 3);
  });

  for (const [what, edit] of [
    ['an owner', (doc: Record<string, any>) => (doc.segments[1].uid = 0)],
    ['a stored CRC-32', (doc: Record<string, any>) => (doc.segments[1].storedCrc32 = '00000000')],
    ['a field another feature added', (doc: Record<string, any>) => (doc.tool.version = '9.9.9')],
    ['a new top-level member', (doc: Record<string, any>) => (doc.encryption.frameBytes = doc.encryption.frameBytes)],
  ] as const) {
    it(`an edited manifest: ${what}`, async () => {
      if (what === 'a new top-level member') {
        // Nothing changed: the pristine manifest still opens (the MAC is over the canonical document, not its layout).
        const same = await damaged((d) => editManifest(d, edit));
        assert.equal((await runShmsnap(['verify', same, '--key-file', keyA])).status, 0);
        return;
      }
      await assertRefused(await damaged((d) => editManifest(d, edit)), 'AUTH_FAILED', 4);
    });
  }

  it('a frame altered with the CRC-32 in the manifest edited to match (the MAC catches the manifest first)', async () => {
    const dir = await damaged(async (d) => {
      await editBytes(d, stage, flip(frame(2) + 100));
      const { crc32 } = await import('node:zlib');
      const crc = (crc32(await readFile(join(d, stage))) >>> 0).toString(16).padStart(8, '0');
      await editManifest(d, (doc) => (doc.segments.find((s: { object: string }) => s.object === stage).storedCrc32 = crc));
    });
    await assertRefused(dir, 'AUTH_FAILED', 4);
  });

  /** Object edits whose sizes and CRC-32s the manifest still vouches for can only come with an edited manifest: so the frames are what must catch them. */
  async function reframed(edit: (bytes: Buffer, others: Buffer) => Buffer): Promise<string> {
    return damaged(async (d) => {
      const mine = await readFile(join(d, stage));
      await writeFile(join(d, stage), edit(mine, await readFile(join(d, other))));
    });
  }

  it('truncated at a frame boundary and inside a frame (a size the manifest does not record)', async () => {
    await assertRefused(await reframed((b) => b.subarray(0, frame(3))), 'SIZE_MISMATCH', 4);
    await assertRefused(await reframed((b) => b.subarray(0, frame(2) + 77)), 'SIZE_MISMATCH', 4);
  });

  it('two frames swapped, and frames moved in from another object of the same size', async () => {
    const swapped = await reframed((b) => Buffer.concat([b.subarray(0, frame(0)), b.subarray(frame(1), frame(2)), b.subarray(frame(0), frame(1)), b.subarray(frame(2))]));
    await assertRefused(swapped, 'AUTH_FAILED.*frame 0', 4);
    const moved = await reframed((b, o) => Buffer.concat([b.subarray(0, frame(1)), o.subarray(frame(1), frame(2)), b.subarray(frame(2))]));
    await assertRefused(moved, 'AUTH_FAILED.*frame 1', 4);
  });

  it('data appended after the last frame', async () => {
    await assertRefused(await reframed((b) => Buffer.concat([b, Buffer.from('x')])), 'SIZE_MISMATCH', 4);
  });
});

describe('rekey', () => {
  it('rewraps the data key: the new key restores, the old key is refused, no object was rewritten', async () => {
    const { dir, fixture } = await encryptedBackup(['--codec', 'zstd', '--key-file', keyA]);
    const before = new Map(await Promise.all((await readdir(dir)).filter((n) => n.endsWith('.enc')).map(async (n) => [n, await readFile(join(dir, n))] as const)));
    const rekey = await runShmsnap(['rekey', dir, '--old-key-file', keyA, '--new-key-file', keyB, '--json']);
    assert.equal(rekey.status, 0, rekey.stderr);
    assert.deepEqual(JSON.parse(rekey.stdout).rekeyed, [MANIFEST]);
    assert.deepEqual((await readdir(dir)).sort(), [...before.keys(), MANIFEST].sort(), 'no rekey object is left');
    for (const [name, bytes] of before) assert.deepEqual(await readFile(join(dir, name)), bytes, `${name} is unchanged`);

    const old = await runShmsnap(['restore', '--from', dir, '--key-file', keyA]);
    assert.equal(old.status, 3, old.stderr);
    assert.match(old.stderr, /KEY_MISMATCH/);
    assert.deepEqual(aerospikeKeys(), []);
    assert.equal((await runShmsnap(['rekey', dir, '--old-key-file', keyA, '--new-key-file', keyB])).status, 3, 'the old key opens nothing any more');
    const restore = await runShmsnap(['restore', '--from', dir, '--key-file', keyB]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.deepEqual(await fixture.compare(), []);
  });

  it('to a passphrase (scrypt), and finishes a rekey stopped after the old manifest was removed', async () => {
    const { dir, fixture } = await encryptedBackup(['--codec', 'gzip', '--key-file', keyA]);
    const pass = join(keys, 'pass');
    await writeFile(pass, 'correct horse battery staple\n', { mode: 0o600 });
    const rekey = await runShmsnap(['rekey', dir, '--old-key-file', keyA, '--new-passphrase-file', pass]);
    assert.equal(rekey.status, 0, rekey.stderr);
    const manifest = parseManifest(await readFile(join(dir, MANIFEST)), { where: dir });
    assert.deepEqual([manifest.encryption?.key.provider, (manifest.encryption?.key.kdf as { N: number }).N], ['passphrase', 2 ** 17]);

    // A rekey stopped between its second and third step: only the rekey object holds the manifest.
    const rekeyObject = MANIFEST.replace('manifest', 'rekey');
    await copyFile(join(dir, MANIFEST), join(dir, rekeyObject));
    await writeFile(join(dir, MANIFEST), '');
    await (await import('node:fs/promises')).rm(join(dir, MANIFEST));
    const refused = await runShmsnap(['restore', '--from', dir, '--passphrase-file', pass]);
    assert.equal(refused.status, 3, refused.stderr);
    assert.match(refused.stderr, /BACKUP_INCOMPLETE.*rekey/);
    const finish = await runShmsnap(['rekey', dir, '--old-passphrase-file', pass, '--new-passphrase-file', pass]);
    assert.equal(finish.status, 0, finish.stderr);
    assert.ok(!(await readdir(dir)).includes(rekeyObject));
    const restore = await runShmsnap(['restore', '--from', dir, '--passphrase-file', pass]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.deepEqual(await fixture.compare(), []);
  });
});

describe('--hash sha256 (unencrypted)', () => {
  it('records a SHA-256 per object, checked by verify and restore', async () => {
    const { dir, fixture } = await encryptedBackup(['--codec', 'zstd', '--hash', 'sha256']);
    const manifest = parseManifest(await readFile(join(dir, MANIFEST)), { where: dir });
    assert.ok(manifest.segments.every((s) => /^[0-9a-f]{64}$/.test(s.sha256 ?? '')));
    assert.equal(manifest.encryption, undefined);
    assert.equal((await runShmsnap(['verify', dir])).status, 0);

    const bad = await copyOf(dir);
    const doc = JSON.parse(await readFile(join(bad, MANIFEST), 'utf8'));
    const victim = doc.segments.find((s: { object: string }) => s.object.endsWith('.zst'));
    victim.sha256 = victim.sha256.replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
    await writeFile(join(bad, MANIFEST), JSON.stringify(doc));
    const verify = await runShmsnap(['verify', bad]);
    assert.equal(verify.status, 4, verify.stderr);
    assert.match(verify.stderr, new RegExp(`CHECKSUM_MISMATCH.*${victim.object}.*SHA-256`));
    const restore = await runShmsnap(['restore', '--from', bad]);
    assert.equal(restore.status, 4, restore.stderr);
    assert.deepEqual(aerospikeKeys(), []);

    const good = await runShmsnap(['restore', '--from', dir]);
    assert.equal(good.status, 0, good.stderr);
    assert.deepEqual(await fixture.compare(), []);
  });
});

describe('ASMT', () => {
  it('asmt cannot restore an encrypted backup, and says to use shmsnap with the key', async () => {
    const { dir } = await encryptedBackup();
    const asmt = await runShmsnap(['-r', '-p', dir, '-n', 'test'], { bin: ASMT_BIN });
    assert.notEqual(asmt.status, 0, asmt.stdout);
    assert.match(asmt.stderr, /encrypted/);
    assert.deepEqual(aerospikeKeys(), []);
  });
});
void truncate;
