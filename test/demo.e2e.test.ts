// `shmsnap demo`, run as the README runs it, checked from the outside: exit
// status, JSON result, the bytes of the backup files and of the restored
// segments in shared memory.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace, PRIVATE_IPC_ENV } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { mkdtemp, readFile, readdir, rm, stat } = await import('node:fs/promises');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const { after, before, describe, it } = await import('node:test');
const { manifestName, parseManifest } = await import('@shmsnap/core');
const { crc32 } = await import('@shmsnap/core/plugin-kit');
const { listShmSegments, removeShm } = await import('@shmsnap/shm-native');
const { compareSegment, describeFixture, fixtureContent } = await import('@shmsnap/shm-native/fixture');
const { demoFixtureOptions } = await import('../packages/cli/src/commands/demo.js');
const { runShmsnap } = await import('./support/cli.js');

describe('shmsnap demo', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'shmsnap-demo-test-'));
  });
  after(async () => {
    for (const s of listShmSegments()) await removeShm(s.shmid, s.key);
    await rm(root, { recursive: true, force: true });
  });

  it('backs up, restores and verifies; the backup files and the restored segments hold the exact bytes', async () => {
    const dir = join(root, 'kept');
    const size = { sizeMib: 24, stages: 3 };
    const run = await runShmsnap(['demo', '--dir', dir, '--size-mib', '24', '--stages', '3', '--keep', '--json']);
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    const recipe = describeFixture(demoFixtureOptions(size));
    assert.equal(result.ok, true);
    assert.equal(result.verified, recipe.length);
    assert.equal(result.backup.segments, recipe.length);
    assert.equal(result.restore.rawBytes, recipe.reduce((sum, s) => sum + s.descriptor.size, 0));

    // The restored segments, compared byte by byte with the recipe, by this process.
    for (const segment of recipe) assert.equal(await compareSegment(segment), undefined, `restored 0x${segment.descriptor.key.toString(16)}`);

    const manifest = parseManifest(await readFile(join(dir, manifestName(0, [1]))), { where: dir });
    assert.equal(manifest.segments.length, recipe.length);
    for (const segment of recipe) {
      const name = `${segment.descriptor.key.toString(16)}.dat`;
      const expected = Buffer.alloc(segment.descriptor.size);
      fixtureContent(segment, 0, expected);
      const bytes = await readFile(join(dir, name));
      assert.ok(bytes.equals(expected), `${name} holds other bytes than the segment`);
      assert.equal(manifest.segments.find((s) => s.object === name)?.rawCrc32, crc32(expected));
      assert.equal((await stat(join(dir, name))).mode & 0o777, 0o666, 'file mode is the segment mode (as ASMT)');
    }
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.')), [], 'no temp file remains');
  });

  it('runs in its own IPC namespace when started from outside one, leaving nothing behind', async () => {
    for (const s of listShmSegments()) await removeShm(s.shmid, s.key);
    const tmpBefore = new Set(await readdir(tmpdir()));
    const run = await runShmsnap(['demo', '--size-mib', '8', '--stages', '2'], { env: { [PRIVATE_IPC_ENV]: '' } });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /verified: all 8 restored segments are byte-identical/);
    assert.match(run.stdout, /backup: 8 segments, .* MB\/s/);
    assert.deepEqual(listShmSegments(), [], 'no segment appeared in the calling namespace');
    const leftovers = (await readdir(tmpdir())).filter((n) => n.startsWith('shmsnap-demo-') && !tmpBefore.has(n));
    assert.deepEqual(leftovers, []);
  });

  it('refuses to overwrite a directory that already holds a backup, with a one-line coded error', async () => {
    const dir = join(root, 'twice');
    assert.equal((await runShmsnap(['demo', '--dir', dir, '--size-mib', '4', '--stages', '1'])).status, 0);
    const second = await runShmsnap(['demo', '--dir', dir, '--size-mib', '4', '--stages', '1']);
    assert.equal(second.status, 3);
    assert.match(second.stderr, /^shmsnap: BACKUP_EXISTS: .*twice.*already holds a shmsnap backup/m);
    assert.equal(second.stderr.trim().split('\n').length, 1);
    assert.deepEqual(listShmSegments(), [], 'the refused demo removed its segments');
  });

  it('rejects bad arguments with exit status 2', async () => {
    const run = await runShmsnap(['demo', '--size-mib', 'lots']);
    assert.equal(run.status, 2);
    assert.equal(run.stderr, "shmsnap: USAGE_INVALID: --size-mib 'lots': must be a positive integer; see 'shmsnap demo --help'\n");
  });
});
