// Ctrl-C (SIGINT) and SIGKILL in the middle of a backup and of a restore.
// SIGINT: everything the run wrote is removed. SIGKILL: nothing can be
// cleaned up, so the state must be recognisable and refused. After the
// commit point an interrupt changes nothing: the result stands, exit 0.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { mkdir, readdir, rm, writeFile } = await import('node:fs/promises');
const { dirname, join } = await import('node:path');
const { after, afterEach, before, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { listShmSegments } = await import('@shmsnap/shm-native');
const { useScratch } = await import('./support/scratch.js');
const { holdAt, runShmsnap, startCli } = await import('./support/cli.js');
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

  it('SIGKILL leaves no index that looks usable, a new restore refuses to write over it, and the command it offers clears the leftovers', async () => {
    const { dir, fixture } = await backedUp();
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
    const offered = /^shmsnap: SEGMENT_EXISTS: .*interrupted restore, remove them with: (shmsnap clear --instance 0 --(?:namespace test|nsid 1))$/m.exec(again.stderr);
    assert.ok(offered, again.stderr);

    // The leftovers are what the restore killed mid-way created: not attached, and a base (if any) not cleanly shut down.
    const args = offered[1]!.split(' ').slice(1);
    const dry = await runShmsnap([...args, '--dry-run']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /^dry run: every check passed; no segment was removed$/m);
    const left = aerospikeKeys();
    assert.ok(left.length > 0, 'a dry run removes nothing');
    const cleared = await runShmsnap([...args, '--json']);
    assert.equal(cleared.status, 0, cleared.stderr);
    const result = JSON.parse(cleared.stdout);
    assert.deepEqual(result.removed.map((k: string) => k.slice(2)).sort(), left, 'it removed exactly the leftovers');
    assert.deepEqual(aerospikeKeys(), [], 'every leftover segment is gone');
    const retry = await runShmsnap(['restore', '--from', dir]);
    assert.equal(retry.status, 0, retry.stderr);
    assert.deepEqual(await fixture.compare(), []);
  });
});

describe('an interrupt after the commit', () => {
  it('during the tidying after the manifest: the backup stands, the note says so, exit 0', async () => {
    const fixture = await createFixture(forBackup);
    const dir = freshDir();
    const running = startCli(['backup', '--to', dir], { env: holdAt('pending-removal') });
    await running.waitFor(/^hold: removing the pending marker$/m);
    running.child.kill('SIGINT');
    await running.waitFor(/^SIGINT: /m);
    running.child.kill('SIGUSR2');
    const result = await running.done;
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^SIGINT: backup had already committed: finishing; it is complete and nothing is removed$/m);
    assert.doesNotMatch(result.stderr, /removing what it wrote|ABORTED/);
    assert.match(result.stdout, /^backup: committed shmsnap-manifest-i0-n1\.json$/m);
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('shmsnap-')), ['shmsnap-manifest-i0-n1.json']);
    const verify = await runShmsnap(['verify', dir]);
    assert.equal(verify.status, 0, verify.stderr);
    assert.deepEqual(await fixture.compare(), []);
  });

  /** Runs the CLI held as it exits, sends `signal` then, lets it go, and returns how it ended. */
  async function signalledAtExit(args: readonly string[], signal: NodeJS.Signals) {
    const release = join(freshDir(), 'release');
    const running = startCli(args, { env: holdAt('exit', release) });
    await running.waitFor(/^hold: exiting$/m);
    running.child.kill(signal);
    await mkdir(dirname(release), { recursive: true });
    await writeFile(release, '');
    return running.done;
  }

  it('as the process ends, with the result printed: a backup exits 0, not killed by the signal', async () => {
    const fixture = await createFixture(forBackup);
    const dir = freshDir();
    const result = await signalledAtExit(['backup', '--to', dir], 'SIGINT');
    assert.deepEqual([result.status, result.signal], [0, null], result.stderr);
    assert.match(result.stdout, /^backup: committed shmsnap-manifest-i0-n1\.json$/m);
    const verify = await runShmsnap(['verify', dir]);
    assert.equal(verify.status, 0, verify.stderr);
    const ls = await runShmsnap(['ls', dir, '--json']);
    assert.deepEqual(JSON.parse(ls.stdout).backups.map((b: { status: string }) => b.status), ['complete']);
    await fixture.remove();
    const restore = await runShmsnap(['restore', '--from', dir]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.deepEqual(await fixture.compare(), []);
  });

  it('as the process ends, after every segment is restored: SIGTERM leaves the restore in place, exit 0', async () => {
    const fixture = await createFixture(forBackup);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    await fixture.remove();
    const result = await signalledAtExit(['restore', '--from', dir], 'SIGTERM');
    assert.deepEqual([result.status, result.signal], [0, null], result.stderr);
    assert.match(result.stdout, /^restore: \d+ segments/m);
    assert.deepEqual(await fixture.compare(), [], 'every segment restored, the index complete');
  });

  it('a failure keeps its status when the signal comes as the process ends', async () => {
    const dir = freshDir();
    await mkdir(dir);
    const plain = await runShmsnap(['restore', '--from', dir]);
    assert.notEqual(plain.status, 0, 'nothing to restore in an empty directory');
    const result = await signalledAtExit(['restore', '--from', dir], 'SIGINT');
    assert.deepEqual([result.status, result.signal], [plain.status, null], result.stderr);
    assert.doesNotMatch(result.stderr, /committed/);
  });
});
