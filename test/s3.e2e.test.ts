// Staging index images in S3: the CLI against real S3-protocol servers on
// 127.0.0.1 (s3rver, started and stopped by this test, and Ceph RGW, the
// run's or this file's own: SHMSNAP_TEST_S3, testing/s3-stores.ts), through
// a fault injecting proxy where the test needs one.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { after, afterEach, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { startFaultProxy, startS3TestStores } = await import('@shmsnap/sink-s3/testing');
const { runShmsnap, startCli } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;

const layout: FixtureOptions = {
  owner: { uid: 1234, gid: 2345, mode: 0o640 },
  namespaces: [{ name: 'test', nsid: 1, stages: 3, stageBytes: 12 * 1024 * 1024, secondary: { stages: 1, stageBytes: 1024 * 1024 }, data: { stages: 2, stageBytes: 2 * 1024 * 1024, lows: [0, 1] } }],
};

const { stores, skipped } = await startS3TestStores({ bucket: 'shmsnap-e2e' });
after(async () => {
  for (const store of stores) await store.stop();
});
afterEach(clearSegments);
for (const skip of skipped) describe(`S3 staging on ${skip.kind}`, { skip: skip.reason }, () => {});
// Below a prefix of this process: a shared store (the run's RGW, a given endpoint) holds other files' objects too.
const run = `e2e-${process.pid}`;

for (const store of stores) {
  const BUCKET = `${store.bucket}/${run}`;
  const credentials = store.env;
  const s3 = (endpoint: string, ...args: string[]) => runShmsnap([...args, '--s3-endpoint', endpoint], { env: credentials });
  const server = { endpoint: store.endpoint };

  describe(`S3 staging on ${store.kind}`, () => {
    it('backs up into <prefix>/<host>/<instance>/<timestamp> in many parts, lists, verifies and restores byte-identical', async () => {
      const fixture = await createFixture(layout);
      const backup = await s3(server.endpoint, 'backup', '--to', `s3://${BUCKET}/nodes/{host}/{instance}/{timestamp}`, '--codec', 'zstd', '--s3-part-size-mib', '5', '--s3-upload-concurrency', '2', '--json');
      assert.equal(backup.status, 0, backup.stderr);
      const location = JSON.parse(backup.stdout).location as string;
      assert.match(location, new RegExp(`^s3://${BUCKET}/nodes/[^/]+/0/\\d{8}T\\d{6}Z$`));

      const ls = await s3(server.endpoint, 'ls', `s3://${BUCKET}/nodes`, '--json');
      assert.equal(ls.status, 0, ls.stderr);
      const rows = JSON.parse(ls.stdout).backups;
      assert.deepEqual(rows.map((r: { status: string; namespaces: { name: string }[]; codecs: { name: string; level: number }[] }) => [r.status, r.namespaces.map((n) => n.name), r.codecs]), [['complete', ['test'], [{ name: 'zstd', level: 1 }]]]);
      assert.equal(rows[0].location, location);

      const verify = await s3(server.endpoint, 'verify', location);
      assert.equal(verify.status, 0, verify.stderr);
      assert.match(verify.stdout, /all 9 objects are intact/);

      await fixture.remove();
      const restore = await s3(server.endpoint, 'restore', '--from', location, '--json');
      assert.equal(restore.status, 0, restore.stderr);
      assert.deepEqual(await fixture.compare(), [], 'bytes, owner and mode come back from S3 (the manifest carries owner and mode)');
    });

    it('restores raw objects with ranged reads straight into the segments', async () => {
      const fixture = await createFixture(layout);
      const location = `s3://${BUCKET}/raw`;
      const backup = await s3(server.endpoint, 'backup', '--to', location, '--codec', 'none', '--s3-part-size-mib', '5');
      assert.equal(backup.status, 0, backup.stderr);
      await fixture.remove();
      const restore = await s3(server.endpoint, 'restore', '--from', location, '--threads', '3');
      assert.equal(restore.status, 0, restore.stderr);
      assert.deepEqual(await fixture.compare(), []);
    });

    it('rides through 500s, 503s and dropped connections on uploads and downloads', async () => {
      const proxy = await startFaultProxy(server.endpoint, [
        { fault: 'slow-down', method: 'PUT', query: ['partNumber'], every: 3 },
        { fault: 'internal-error', method: 'PUT', withoutQuery: ['partNumber'], times: 2 },
        { fault: 'drop-mid-body', method: 'GET', header: 'range', times: 2 },
        { fault: 'drop-before', method: 'GET', every: 7 },
      ]);
      try {
        const fixture = await createFixture(layout);
        const location = `s3://${BUCKET}/faults`;
        const backup = await s3(proxy.endpoint, 'backup', '--to', location, '--codec', 'gzip', '--s3-part-size-mib', '5');
        assert.equal(backup.status, 0, backup.stderr);
        await fixture.remove();
        const restore = await s3(proxy.endpoint, 'restore', '--from', location);
        assert.equal(restore.status, 0, restore.stderr);
        assert.deepEqual(await fixture.compare(), []);
        assert.ok(proxy.counts.faults >= 4, `faults injected: ${JSON.stringify(proxy.counts)}`);
      } finally {
        await proxy.stop();
      }
    });

    it('fails cleanly when the store goes away mid-upload: no manifest, nothing restorable', { skip: store.s3rver ? false : 'stops and restarts its server: only s3rver runs in this process' }, async () => {
      const server = store.s3rver!;
      const fixture = await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 4, stageBytes: 16 * 1024 * 1024 }] });
      const location = `s3://${BUCKET}/stopped`;
      const running = startCli(['backup', '--to', location, '--codec', 'gzip', '--level', '9', '--threads', '1', '--s3-part-size-mib', '5', '--s3-endpoint', server.endpoint], { env: credentials });
      running.child.stdin.end();
      await running.waitFor(/backup: [1-9]0%/);
      await server.stop({ keepData: true });
      const result = await running.done;
      await server.restart();
      assert.equal(result.status, 1, result.stderr);
      assert.match(result.stderr, /^shmsnap: (REMOTE_FAILED|PLUGIN_FAILED): /m);
      const ls = await s3(server.endpoint, 'ls', location, '--json');
      const statuses = JSON.parse(ls.stdout).backups.map((b: { status: string }) => b.status);
      assert.ok(!statuses.includes('complete'), `no complete backup: ${statuses.join(',')}`);
      await fixture.remove();
      const restore = await s3(server.endpoint, 'restore', '--from', location);
      assert.equal(restore.status, 3, restore.stderr);
      assert.match(restore.stderr, /BACKUP_INCOMPLETE|BACKUP_NOT_FOUND/);
      assert.deepEqual(aerospikeKeys(), []);
    });

    it('refuses wrong credentials and a missing bucket at once, with a clear error', async () => {
      await createFixture(layout);
      const proxy = await startFaultProxy(server.endpoint, [{ fault: 'invalid-access-key' }]);
      try {
        const denied = await s3(proxy.endpoint, 'backup', '--to', `s3://${BUCKET}/denied`);
        assert.equal(denied.status, 1, denied.stderr);
        assert.match(denied.stderr, /^shmsnap: PERMISSION_DENIED: /m);
        assert.ok(!denied.stderr.includes(credentials.AWS_SECRET_ACCESS_KEY.toLowerCase() + 'x'));
        assert.ok(proxy.counts.requests <= 2, `no retries on a permanent error (${proxy.counts.requests} requests)`);
      } finally {
        await proxy.stop();
      }
      const missing = await s3(server.endpoint, 'backup', '--to', 's3://no-such-bucket/x');
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /no-such-bucket/);
      assert.match(missing.stderr, /does not exist/);
    });

    it('refuses a location that holds a backup before uploading, and a segment overwritten behind its back fails verify and restore', async () => {
      // One stage just over a part: a multipart segment object, and little else to move.
      const fixture = await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 1, stageBytes: 6 * 1024 * 1024 }] });
      const location = `s3://${BUCKET}/guarded`;
      const keys = () => store.rawList(`${run}/guarded/`);
      const backup = await s3(server.endpoint, 'backup', '--to', location, '--codec', 'none', '--s3-part-size-mib', '5');
      assert.equal(backup.status, 0, backup.stderr);
      const stored = await keys();

      // Core refuses before any upload: nothing is written, nothing overwritten (the store may not refuse an
      // overwrite itself: Ceph RGW's CompleteMultipartUpload ignores If-None-Match).
      const again = await s3(server.endpoint, 'backup', '--to', location, '--codec', 'none', '--json');
      assert.equal(again.status, 3, again.stderr);
      assert.equal(JSON.parse(again.stdout).error.code, 'BACKUP_EXISTS');
      assert.deepEqual(await keys(), stored, 'the backup is untouched');

      // A writer that raced past that check and overwrote a segment object (same size, other bytes) cannot make
      // the backup a good one: the manifest, written last and conditionally, holds the CRCs of our bytes.
      const victim = stored.find((o) => /\.dat$/i.test(o.key) && o.size > 5 * 1024 * 1024);
      assert.ok(victim, `a multipart segment object among ${stored.map((o) => o.key).join(', ')}`);
      await store.rawPut(victim.key, Buffer.alloc(victim.size, 0x5a));
      const verify = await s3(server.endpoint, 'verify', location);
      assert.equal(verify.status, 4, verify.stdout + verify.stderr);
      assert.match(verify.stdout + verify.stderr, /CHECKSUM_MISMATCH/);
      await fixture.remove();
      const restore = await s3(server.endpoint, 'restore', '--from', location);
      assert.equal(restore.status, 4, restore.stderr);
      assert.match(restore.stderr, /CHECKSUM_MISMATCH/);
      assert.deepEqual(aerospikeKeys(), [], 'nothing partial is left in shared memory');
    });
  });
}
