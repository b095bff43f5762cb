// Encrypted backups staged in S3 (issue 15): the CLI against real
// S3-protocol servers on 127.0.0.1 (s3rver and Ceph RGW, as s3.e2e.test.ts:
// testing/s3-stores.ts), from and into real shared memory.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { mkdir, writeFile } = await import('node:fs/promises');
const { randomBytes } = await import('node:crypto');
const { join } = await import('node:path');
const { after, afterEach, before, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { startS3TestStores } = await import('@shmsnap/sink-s3/testing');
const { runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');
const { useScratch } = await import('./support/scratch.js');
const { DEFAULT_FRAME_BYTES } = await import('@shmsnap/core');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;

const layout: FixtureOptions = {
  owner: { uid: 1234, gid: 2345, mode: 0o640 },
  namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 6 * 1024 * 1024 + 512, secondary: { stages: 1, stageBytes: 1024 * 1024 }, data: { stages: 1, stageBytes: 2 * 1024 * 1024 } }],
};

const scratch = useScratch('encryption-s3');
const { stores, skipped } = await startS3TestStores({ bucket: 'shmsnap-enc' });
after(async () => {
  for (const store of stores) await store.stop();
});
afterEach(clearSegments);
for (const skip of skipped) describe(`encrypted backups on ${skip.kind}`, { skip: skip.reason }, () => {});
const run = `enc-${process.pid}`;

let keyA: string;
let keyB: string;
before(async () => {
  const dir = scratch.fresh();
  await mkdir(dir, { recursive: true });
  keyA = join(dir, 'a.key');
  keyB = join(dir, 'b.key');
  await writeFile(keyA, randomBytes(32).toString('base64'), { mode: 0o600 });
  await writeFile(keyB, randomBytes(32).toString('hex'), { mode: 0o600 });
});

for (const store of stores) {
  const s3 = (...args: string[]) => runShmsnap([...args, '--s3-endpoint', store.endpoint], { env: store.env });
  const prefix = `${store.bucket}/${run}`;

  describe(`encrypted backups on ${store.kind}`, () => {
    for (const codec of ['none', 'zstd']) {
      it(`${codec}: backs up encrypted in several parts, lists it as encrypted, verifies and restores byte-identical`, async () => {
        const fixture = await createFixture(layout);
        const location = `s3://${prefix}/${codec}`;
        const backup = await s3('backup', '--to', location, '--codec', codec, '--key-file', keyA, '--s3-part-size-mib', '5');
        assert.equal(backup.status, 0, backup.stderr);
        const keys = (await store.rawList(`${run}/${codec}/`)).map((o) => o.key.slice(`${run}/${codec}/`.length));
        assert.ok(keys.filter((k) => !k.startsWith('shmsnap-')).every((k) => k.endsWith('.enc')), keys.join(' '));
        const ls = await s3('ls', location, '--json');
        assert.equal(ls.status, 0, ls.stderr);
        assert.deepEqual(JSON.parse(ls.stdout).backups.map((r: { status: string; encrypted: boolean }) => [r.status, r.encrypted]), [['complete', true]]);
        const verify = await s3('verify', location, '--key-file', keyA);
        assert.equal(verify.status, 0, verify.stderr);
        await fixture.remove();
        const wrong = await s3('restore', '--from', location, '--key-file', keyB);
        assert.equal(wrong.status, 3, wrong.stderr);
        assert.match(wrong.stderr, /KEY_MISMATCH/);
        assert.deepEqual(aerospikeKeys(), []);
        const restore = await s3('restore', '--from', location, '--key-file', keyA);
        assert.equal(restore.status, 0, restore.stderr);
        assert.deepEqual(await fixture.compare(), []);
      });
    }

    it('refuses an object whose frame was altered in the store, creating nothing; rekey then works on S3', async () => {
      const fixture = await createFixture(layout);
      const location = `s3://${prefix}/tamper`;
      assert.equal((await s3('backup', '--to', location, '--codec', 'none', '--key-file', keyA)).status, 0);
      await fixture.remove();

      const rekey = await s3('rekey', location, '--old-key-file', keyA, '--new-key-file', keyB);
      assert.equal(rekey.status, 0, rekey.stderr);
      assert.equal((await s3('verify', location, '--key-file', keyA)).status, 3, 'the old key opens nothing');
      const restore = await s3('restore', '--from', location, '--key-file', keyB);
      assert.equal(restore.status, 0, restore.stderr);
      assert.deepEqual(await fixture.compare(), []);
      await fixture.remove();

      // Another writer replaces a stage with a copy whose frame 1 (of four: 2 MiB frames) has one bit flipped (same size, so only the frames can tell).
      const stage = `${run}/tamper/ae001100.dat.enc`;
      const original = await store.rawGet(stage);
      const bad = Buffer.from(original);
      bad[24 + 1 * (DEFAULT_FRAME_BYTES + 16) + 10]! ^= 0x10;
      await store.rawPut(stage, bad);
      const refused = await s3('restore', '--from', location, '--key-file', keyB, '--allow-consumed');
      assert.equal(refused.status, 4, refused.stderr);
      assert.match(refused.stderr, /AUTH_FAILED: .*ae001100\.dat\.enc.*frame 1/);
      assert.deepEqual(aerospikeKeys(), []);
    });
  });
}
