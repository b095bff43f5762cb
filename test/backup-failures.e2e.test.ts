// A backup that cannot be made says why, with the status of its kind, and
// leaves nothing behind — not even the directories it created (issue 11,
// items 15 and 19): segments this user cannot read are a permission
// problem, not "nothing selected"; a destination that cannot be written
// (a directory without write permission, a read-only file system) is "not
// writable", not "not found"; a failed backup into a new nested directory
// removes the directories it made, and never one that existed. The built
// CLI, real shared memory (private IPC namespace), real directories and
// mounts, and the user `nobody` for the non-root cases.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { spawn, spawnSync } = await import('node:child_process');
const { chmod, mkdir, readdir } = await import('node:fs/promises');
const { join } = await import('node:path');
const { after, afterEach, before, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runShmsnap, SHMSNAP_BIN } = await import('./support/cli.js');
const { clearSegments } = await import('./support/shm.js');

type CliRun = import('./support/cli.js').CliRun;

const scratch = useScratch('failures');
afterEach(clearSegments);

const NOBODY_UID = 65534;
const asNobody = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];
const canSwitchUser = process.getuid?.() === 0 && spawnSync('setpriv', [...asNobody, 'true']).status === 0;
const nonRoot = { skip: canSwitchUser ? false : 'needs root and setpriv to run the CLI as nobody' } as const;
const canMount = { skip: process.getuid?.() === 0 ? false : 'mounting a tmpfs needs root' } as const;

/** The built CLI as user `nobody` (setpriv: real and effective ids, no supplementary groups). */
function runAsNobody(args: readonly string[]): Promise<CliRun> {
  const child = spawn('setpriv', [...asNobody, process.execPath, SHMSNAP_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** A directory `nobody` may enter (the scratch root is 0700), with the given mode. */
async function openDirectory(mode: number): Promise<string> {
  await chmod(scratch.root(), 0o755);
  const dir = scratch.fresh();
  await mkdir(dir);
  await chmod(dir, mode);
  return dir;
}

const oneNamespace = { namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 1024 * 1024 }] };

describe('a non-root backup of segments it cannot read', nonRoot, () => {
  it('is a permission problem that counts the unreadable segments and names who may read them (exit 1), not NOTHING_SELECTED', async () => {
    await createFixture({ ...oneNamespace, owner: { uid: 0, gid: 0, mode: 0o600 } });
    const dir = await openDirectory(0o777);
    for (const extra of [[], ['--namespace', 'test']]) {
      const run = await runAsNobody(['backup', '--to', join(dir, 'b'), ...extra]);
      assert.equal(run.status, 1, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(`^shmsnap: PERMISSION_DENIED: permission denied: reading shared memory: 4 segment\\(s\\) exist that uid ${NOBODY_UID} cannot read \\(it can read no Aerospike segment of instance 0\\); run as root, with CAP_IPC_OWNER, or as the segments' owner$`, 'm'),
      );
    }
    const json = JSON.parse((await runAsNobody(['backup', '--to', join(dir, 'b'), '--json'])).stdout);
    assert.deepEqual([json.error.code, json.error.details.unreadableSegments, json.error.details.uid], ['PERMISSION_DENIED', 4, NOBODY_UID]);
    assert.deepEqual(await readdir(dir), [], 'nothing was written');
  });

  it('a namespace it cannot read, beside one it can, is named', async () => {
    await createFixture({ ...oneNamespace, owner: { uid: 0, gid: 0, mode: 0o644 } });
    await createFixture({ namespaces: [{ name: 'secret', nsid: 2, stages: 1, stageBytes: 64 * 1024 }], owner: { uid: 0, gid: 0, mode: 0o600 } });
    const dir = await openDirectory(0o777);
    const run = await runAsNobody(['backup', '--to', join(dir, 'b'), '--namespace', 'secret']);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /^shmsnap: PERMISSION_DENIED: permission denied: reading shared memory: 3 segment\(s\) exist that uid 65534 cannot read \(it can read no namespace 'secret' of instance 0\); /m);
  });

  it('with no segment at all, it stays NOTHING_SELECTED (exit 3)', async () => {
    const dir = await openDirectory(0o777);
    const run = await runAsNobody(['backup', '--to', join(dir, 'b')]);
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stderr, /^shmsnap: NOTHING_SELECTED: shared memory: no Aerospike segments of instance 0$/m);
  });
});

describe('a destination that cannot be written', () => {
  it('a directory without write permission (0555, as nobody): PERMISSION_DENIED naming it, exit 1', nonRoot, async () => {
    await createFixture({ ...oneNamespace, owner: { uid: 0, gid: 0, mode: 0o644 } });
    const dir = await openDirectory(0o555);
    const into = await runAsNobody(['backup', '--to', dir]);
    assert.equal(into.status, 1, into.stderr);
    assert.match(into.stderr, new RegExp(`^shmsnap: PERMISSION_DENIED: permission denied: creating files in ${dir} \\(not writable by uid ${NOBODY_UID}\\)$`, 'm'));
    const below = await runAsNobody(['backup', '--to', join(dir, 'new', 'x')]);
    assert.equal(below.status, 1, below.stderr);
    assert.match(below.stderr, new RegExp(`^shmsnap: PERMISSION_DENIED: permission denied: creating directory ${join(dir, 'new')} \\(${dir} is not writable by uid ${NOBODY_UID}\\)$`, 'm'));
    assert.deepEqual(await readdir(dir), []);
  });

  describe('a read-only file system', canMount, () => {
    let mountPoint = '';
    before(async () => {
      mountPoint = scratch.fresh();
      await mkdir(mountPoint);
      spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint], { stdio: 'inherit' });
      await mkdir(join(mountPoint, 'existing'));
      assert.equal(spawnSync('mount', ['-o', 'remount,ro', mountPoint], { stdio: 'inherit' }).status, 0);
    });
    after(() => {
      spawnSync('umount', [mountPoint], { stdio: 'inherit' });
    });

    it('is "read-only file system", exit 1 — for a new nested directory (was OBJECT_NOT_FOUND, exit 3) and an existing one', async () => {
      await createFixture(oneNamespace);
      const nested = await runShmsnap(['backup', '--to', join(mountPoint, 'new', 'x')]);
      assert.equal(nested.status, 1, nested.stderr);
      assert.match(nested.stderr, new RegExp(`^shmsnap: PERMISSION_DENIED: permission denied: creating directory ${join(mountPoint, 'new')} \\(read-only file system\\)$`, 'm'));
      const existing = await runShmsnap(['backup', '--to', join(mountPoint, 'existing')]);
      assert.equal(existing.status, 1, existing.stderr);
      assert.match(existing.stderr, new RegExp(`^shmsnap: PERMISSION_DENIED: permission denied: creating files in ${join(mountPoint, 'existing')} \\(read-only file system\\)$`, 'm'));
    });
  });
});

describe('a failed backup into a directory it created', canMount, () => {
  let mountPoint = '';
  before(async () => {
    mountPoint = scratch.fresh();
    await mkdir(mountPoint);
    // Too small for the compressed stages (the free-space check counts only the uncompressed base): the run fails with ENOSPC mid-way.
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'inherit' }).status, 0);
  });
  after(() => {
    spawnSync('umount', [mountPoint], { stdio: 'inherit' });
  });

  it('removes every directory it made, and never one that existed', async () => {
    await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 4 * 1024 * 1024 }] });
    await mkdir(join(mountPoint, 'existing'));
    const nested = await runShmsnap(['backup', '--to', join(mountPoint, 'existing', 'new', 'a', 'b'), '--codec', 'gzip']);
    assert.equal(nested.status, 1, nested.stderr);
    assert.match(nested.stderr, /^shmsnap: NO_SPACE: /m);
    assert.deepEqual(await readdir(mountPoint), ['existing'], 'the directory that existed stays');
    assert.deepEqual(await readdir(join(mountPoint, 'existing')), [], 'new/a/b, which the run made, is gone');

    const into = await runShmsnap(['backup', '--to', join(mountPoint, 'existing'), '--codec', 'gzip']);
    assert.equal(into.status, 1, into.stderr);
    assert.deepEqual(await readdir(mountPoint), ['existing'], 'an existing location is never removed, even left empty');
    assert.deepEqual(await readdir(join(mountPoint, 'existing')), []);
  });
});
