// ASMT 2.2 and earlier do not restore a data stage whose key has low bits
// 0x001 (they take the file for a treex, or skip it, and report success;
// fixed in 2.3.0, TOOLS-4136; docs/asmt-format.md §23.1, §25.3). A backup
// holding one says so on stderr, one line naming the file and key, from
// `shmsnap backup` and from `asmt -b`; shmsnap itself restores it. The built
// CLIs, real shared memory (private IPC namespace), real files.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { readdir } = await import('node:fs/promises');
const { afterEach, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runAsmt, runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

const scratch = useScratch('data001');
afterEach(clearSegments);

// Data stages 0xad001000 and 0xad001001 (the second is the one older ASMT loses).
const withData = { namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 256 * 1024, data: { stages: 2, stageBytes: 128 * 1024, lows: [0, 1] } }] };

const warningFor = (program: string, object: string) =>
  new RegExp(`^${program}: warning: ${object.replace(/\./g, '\\.')} \\(data stage 0xad001001, key low bits 0x001\\): ASMT before 2\\.3\\.0 will not restore it \\(it takes the file for a treex or skips it, and reports success\\); shmsnap and ASMT 2\\.3\\.0 or later restore it$`, 'm');

function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((line) => / warning: /.test(line));
}

describe('a data stage with key low bits 0x001', () => {
  for (const [codec, object] of [['none', 'ad001001.dat'], ['gzip', 'ad001001.dat.gz']] as const) {
    it(`shmsnap backup (${codec}) warns once, naming ${object}; shmsnap restores it`, async () => {
      const fixture = await createFixture(withData);
      const dir = scratch.fresh();
      const dry = await runShmsnap(['backup', '--to', dir, '--codec', codec, '--dry-run']);
      assert.equal(dry.status, 0, dry.stderr);
      assert.match(dry.stderr, warningFor('backup', object), 'the dry run says it too');
      const backup = await runShmsnap(['backup', '--to', dir, '--codec', codec]);
      assert.equal(backup.status, 0, backup.stderr);
      assert.match(backup.stderr, warningFor('backup', object));
      assert.equal(warnings(backup.stderr).length, 1, backup.stderr);
      assert.ok((await readdir(dir)).includes(object));
      const json = JSON.parse((await runShmsnap(['backup', '--to', scratch.fresh(), '--codec', codec, '--json'])).stdout);
      assert.equal(json.warnings.length, 1);

      await fixture.remove();
      const restore = await runShmsnap(['restore', '--from', dir]);
      assert.equal(restore.status, 0, restore.stderr);
      assert.ok(aerospikeKeys().includes('ad001001'));
      assert.deepEqual(await fixture.compare(), [], 'every segment, 0xad001001 included, is back byte for byte');
    });
  }

  it('asmt -b warns on stderr (stdout and exit status stay ASMT\'s); shmsnap restores the ASMT directory with it', async () => {
    const fixture = await createFixture(withData);
    const dir = scratch.fresh();
    const backup = await runAsmt(['-b', '-z', '-p', dir, '-n', 'test']);
    assert.equal(backup.status, 0, backup.stderr);
    assert.match(backup.stderr, warningFor('asmt', 'ad001001.dat.gz'));
    assert.equal(warnings(backup.stderr).length, 1, backup.stderr);
    assert.doesNotMatch(backup.stdout, /warning/, 'nothing is added to ASMT\'s stdout');

    await fixture.remove();
    const restore = await runShmsnap(['restore', '--from', dir]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.deepEqual(await fixture.compare(), []);
    await fixture.remove();
    const asmtRestore = await runAsmt(['-r', '-p', dir, '-n', 'test']);
    assert.equal(asmtRestore.status, 0, asmtRestore.stderr);
    assert.deepEqual(await fixture.compare(), [], 'shmsnap\'s asmt restores it too');
  });

  it('no warning without such a stage, nor for zstd (ASMT reads none of it)', async () => {
    await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 256 * 1024, data: { stages: 2, stageBytes: 128 * 1024, lows: [0, 2] } }] });
    const plain = await runShmsnap(['backup', '--to', scratch.fresh()]);
    assert.equal(plain.status, 0, plain.stderr);
    assert.deepEqual(warnings(plain.stderr), []);
    await clearSegments();
    await createFixture(withData);
    const zstd = await runShmsnap(['backup', '--to', scratch.fresh(), '--codec', 'zstd']);
    assert.equal(zstd.status, 0, zstd.stderr);
    assert.deepEqual(warnings(zstd.stderr), []);
  });
});
