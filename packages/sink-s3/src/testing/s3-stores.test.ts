import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { readRgwState, selectedS3Kinds, startS3TestStores } from './s3-stores.js';

const saved = { ...process.env };
afterEach(() => {
  for (const name of ['SHMSNAP_TEST_S3', 'SHMSNAP_TEST_S3_ENDPOINT', 'SHMSNAP_TEST_S3_ACCESS_KEY', 'SHMSNAP_TEST_S3_SECRET', 'SHMSNAP_TEST_S3_BUCKET', 'SHMSNAP_TEST_RGW_STATE']) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

describe('the S3 stores a test run covers', () => {
  it('reads SHMSNAP_TEST_S3 (default both) and lets an endpoint replace them all', () => {
    delete process.env['SHMSNAP_TEST_S3_ENDPOINT'];
    delete process.env['SHMSNAP_TEST_S3'];
    assert.deepEqual(selectedS3Kinds(), ['s3rver', 'rgw']);
    process.env['SHMSNAP_TEST_S3'] = 'rgw';
    assert.deepEqual(selectedS3Kinds(), ['rgw']);
    process.env['SHMSNAP_TEST_S3'] = 'minio';
    assert.throws(() => selectedS3Kinds(), /SHMSNAP_TEST_S3 must be s3rver, rgw or both, not 'minio'/);
    process.env['SHMSNAP_TEST_S3_ENDPOINT'] = 'http://127.0.0.1:9000';
    assert.deepEqual(selectedS3Kinds(), ['endpoint']);
  });

  it('refuses an endpoint without its keys and bucket, naming the variables', async () => {
    process.env['SHMSNAP_TEST_S3_ENDPOINT'] = 'http://127.0.0.1:9000';
    delete process.env['SHMSNAP_TEST_S3_BUCKET'];
    await assert.rejects(startS3TestStores(), /SHMSNAP_TEST_S3_ACCESS_KEY, SHMSNAP_TEST_S3_SECRET and SHMSNAP_TEST_S3_BUCKET/);
  });

  it("skips RGW with the runner's reason when its RGW could not start", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shmsnap-rgw-state-test-'));
    try {
      const file = join(dir, 'rgw.json');
      await writeFile(file, JSON.stringify({ unavailable: 'apt-get install failed: no network' }));
      assert.deepEqual(await readRgwState(file), { unavailable: 'apt-get install failed: no network' });
      process.env['SHMSNAP_TEST_S3'] = 'rgw';
      process.env['SHMSNAP_TEST_RGW_STATE'] = file;
      const { stores, skipped } = await startS3TestStores();
      assert.deepEqual(stores, []);
      assert.deepEqual(skipped, [{ kind: 'rgw', reason: 'apt-get install failed: no network' }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
