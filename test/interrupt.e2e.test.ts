// Ctrl-C (SIGINT) and SIGKILL in the middle of a backup and of a restore.
// SIGINT: everything the run wrote is removed. SIGKILL: nothing can be
// cleaned up, so the state must be recognisable and refused.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { readdir, rm } = await import('node:fs/promises');
const { join } = await import('node:path');
const { after, afterEach, before, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { listShmSegments } = await import('@shmsnap/shm-native');
const { useScratch } = await import('./support/scratch.js');
const { runShmsnap, startCli } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;

// Slow enough to be caught mid-way: gzip level 9 on one thread for backups,
// half a GiB on one thread for restores.
const forBackup: FixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 4, stageBytes: 16 * 1024 * 1024 }] };
const forRestore: FixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 8, stageBytes: 64 * 1024 * 1024 }] };
const slowBackup = ['--codec', 'gzip', '--level', '9', '--threads', '1'];

const scratch = useScratch('interrupt');
afterEach(clearSegments);
const freshDir = scratch.fresh;

describe('interrupting a backup', () => {
  it('Ctrl-C removes every object it wrote, detaches, exits 130, and a retry works', async () => {
    const fixture = await createFixture(forBackup);
    const dir = freshDir();
    const running = startCli(['backup', '--to', dir, ...slowBackup]);
    await running.waitFor(/backup: [1-9]0%/);
    running.child.kill('SIGINT');
    const result = await running.done;
    assert.equal(result.status, 130, result.stderr);
    assert.match(result.stderr, /^shmsnap: ABORTED: backup was interrupted; everything it had written was removed$/m);
    assert.equal(await readdir(dir).then((left) => left.join(', '), (e: NodeJS.ErrnoException) => e.code), 'ENOENT', 'no object, temp file or marker is left, nor the directory the run made');
    assert.ok(listShmSegments().every((s) => s.nattch === 0), 'every segment was detached');
    assert.deepEqual(await fixture.compare(), [], 'the segments are untouched');
    const retry = await runShmsnap(['backup', '--to', dir]);
    assert.equal(retry.status, 0, retry.stderr);
  });

  it('Ctrl-C into a new nested directory removes the directories it made too; the parent that existed stays', async () => {
    await createFixture(forBackup);
    const top = freshDir();
    const running = startCli(['backup', '--to', join(top, 'a', 'b'), ...slowBackup]);
    await running.waitFor(/backup: [1-9]0%/);
    running.child.kill('SIGINT');
    const result = await running.done;
    assert.equal(result.status, 130, result.stderr);
    assert.match(result.stderr, /^shmsnap: ABORTED: backup was interrupted; everything it had written was removed$/m);
    assert.equal(await readdir(top).then(() => 'exists', (e: NodeJS.ErrnoException) => e.code), 'ENOENT', `${top} (made by the run) is gone`);
    assert.ok(await readdir(scratch.root()), 'the scratch directory, which existed, stays');
  });

  it('SIGKILL leaves no manifest: ls shows it interrupted, restore and a new backup refuse it', async () => {
    const fixture = await createFixture(forBackup);
    const dir = freshDir();
    const running = startCli(['backup', '--to', dir, ...slowBackup]);
    await running.waitFor(/backup: [1-9]0%/);
    running.child.kill('SIGKILL');
    const result = await running.done;
    assert.equal(result.signal, 'SIGKILL');
    const left = await readdir(dir);
    assert.ok(left.includes('shmsnap-pending-i0-n1.json'), `the pending marker remains: ${left.join(', ')}`);
    assert.ok(!left.some((n) => n.startsWith('shmsnap-manifest')), 'no manifest');

    const ls = await runShmsnap(['ls', dir, '--json']);
    assert.deepEqual(JSON.parse(ls.stdout).backups.map((b: { status: string }) => b.status), ['interrupted']);
    await fixture.remove();
    const restore = await runShmsnap(['restore', '--from', dir]);
    assert.equal(restore.status, 3);
    assert.match(restore.stderr, /^shmsnap: BACKUP_INCOMPLETE: .*interrupted/m);
    assert.deepEqual(aerospikeKeys(), []);
    await createFixture(forBackup);
    const again = await runShmsnap(['backup', '--to', dir]);
    assert.equal(again.status, 3);
    assert.match(again.stderr, /BACKUP_EXISTS: .*interrupted shmsnap backup/);
  });
});

describe('interrupting a restore', () => {
  async function backedUp(): Promise<{ dir: string; fixture: Awaited<ReturnType<typeof createFixture>> }> {
    const fixture = await createFixture(forRestore);
    const dir = freshDir();
    const backup = await runShmsnap(['backup', '--to', dir]);
    assert.equal(backup.status, 0, backup.stderr);
    await fixture.remove();
    return { dir, fixture };
  }

  it('Ctrl-C removes every segment it created and exits 130; a retry restores everything', async () => {
    const { dir, fixture } = await backedUp();
    const running = startCli(['restore', '--from', dir, '--threads', '1']);
    await running.waitFor(/restore: [1-9]0%/);
    running.child.kill('SIGINT');
    const result = await running.done;
    assert.equal(result.status, 130, result.stderr);
    assert.match(result.stderr, /ABORTED: restore was interrupted/);
    assert.deepEqual(aerospikeKeys(), [], 'no stray segment');
    const retry = await runShmsnap(['restore', '--from', dir]);
    assert.equal(retry.status, 0, retry.stderr);
    assert.deepEqual(await fixture.compare(), []);
  });

  it('SIGKILL leaves no index that looks usable, and a new restore refuses to write over it', async () => {
    const { dir } = await backedUp();
    const running = startCli(['restore', '--from', dir, '--threads', '1']);
    await running.waitFor(/restore: [1-9]0%/);
    running.child.kill('SIGKILL');
    assert.equal((await running.done).signal, 'SIGKILL');
    assert.ok(aerospikeKeys().length > 0, 'some segments were created');

    const inspect = await runShmsnap(['inspect', '--json']);
    const instance = JSON.parse(inspect.stdout).instances[0];
    const groups = [...instance.namespaces, ...instance.orphans];
    assert.ok(groups.length > 0 && groups.every((g: { backupAllowed: boolean }) => !g.backupAllowed), 'nothing left reads as a complete, cleanly shut down index');
    const again = await runShmsnap(['restore', '--from', dir]);
    assert.equal(again.status, 3);
    assert.match(again.stderr, /SEGMENT_EXISTS: .*interrupted restore, remove them with ipcrm/);
  });
});
