// Locations and flags as people mistype them: an empty location (an unset
// shell variable), file:// URLs with a host or credentials, a placeholder
// that does not exist, a repeated --namespace, `ls` of a path that is not
// there or is a file. Each is a usage error or does what was meant; none
// writes a backup somewhere unintended.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { mkdir, readdir, readFile, writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { afterEach, describe, it } = await import('node:test');
const { manifestName } = await import('@shmsnap/core');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runAsmt, runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;

const scratch = useScratch('hygiene');
afterEach(clearSegments);

const three: FixtureOptions = {
  namespaces: [
    { name: 'a', nsid: 1, stages: 1, stageBytes: 65536 },
    { name: 'b', nsid: 2, stages: 1, stageBytes: 65536 },
    { name: 'c', nsid: 3, stages: 1, stageBytes: 65536 },
  ],
};

/** An empty directory to run in: nothing may appear in it. */
async function emptyCwd(): Promise<string> {
  const dir = scratch.fresh();
  await mkdir(dir);
  return dir;
}

describe('an empty location (an unset shell variable)', () => {
  for (const empty of ['', '  ']) {
    it(`${JSON.stringify(empty)} is a usage error for every command that takes a location, and nothing is written to the current directory`, async () => {
      await createFixture(three);
      const cwd = await emptyCwd();
      for (const args of [['backup', '--to', empty], ['restore', '--from', empty], ['verify', empty], ['ls', empty], ['backup', '--dry-run', '--to', empty]]) {
        const run = await runShmsnap(args, { cwd });
        assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, /the location is empty \(an unset shell variable\?\)/, args.join(' '));
      }
      assert.deepEqual(await readdir(cwd), [], 'nothing was written where the command ran');
    });
  }

  it("asmt -p '' keeps ASMT's answer (cannot write/read the directory '', exit 1) and writes nothing", async () => {
    await createFixture(three);
    const cwd = await emptyCwd();
    const backup = await runAsmt(['-b', '-p', '', '-n', 'a'], { cwd });
    assert.equal(backup.status, 1);
    assert.match(backup.stdout, /^Cannot write to directory '': /m);
    const restore = await runAsmt(['-r', '-p', '', '-n', 'a'], { cwd });
    assert.equal(restore.status, 1);
    assert.match(restore.stdout, /^Cannot read from directory '': /m);
    assert.deepEqual(await readdir(cwd), []);
  });
});

describe('file:// URLs that do not name a local path', () => {
  for (const [url, why] of [
    ['file://backuphost/var/backups/x', /names no host but this one \('backuphost' given\)/],
    ['file://admin:hunter2@/var/backups/x', /takes no credentials/],
    ['file://[::1/x', /not a valid URL/],
    ['file:///var/backups/x?version=2', /takes no query string or fragment/],
  ] as const) {
    it(`${url.replace('hunter2', '***')}: CONFIG_INVALID with the form that works, exit 2, for backup, restore, verify and ls`, async () => {
      await createFixture(three);
      for (const args of [['backup', '--to', url], ['restore', '--from', url], ['verify', url], ['ls', url]]) {
        const run = await runShmsnap(args);
        assert.equal(run.status, 2, `${args[0]}: ${run.stderr}`);
        assert.match(run.stderr, /^shmsnap: CONFIG_INVALID: location file:\/\/.*: /m);
        assert.match(run.stderr, why);
        assert.match(run.stderr, /file:\/\/\/absolute\/path/);
        assert.doesNotMatch(run.stderr, /hunter2/, 'a password is never printed');
        assert.doesNotMatch(run.stderr, /INTERNAL/);
      }
    });
  }

  it('file:/path and s3:/bucket (one slash) are refused, not taken for local directories named "file:" or "s3:"', async () => {
    const cwd = await emptyCwd();
    for (const location of ['file:/var/backups/x', 's3:/bucket/x']) {
      const run = await runShmsnap(['ls', location], { cwd });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /locations are written (file|s3):\/\/… \(two slashes after the colon\)/);
    }
    assert.deepEqual(await readdir(cwd), []);
  });

  it('file:///absolute/path and file://localhost/path still work', async () => {
    await createFixture(three);
    const dir = scratch.fresh();
    assert.equal((await runShmsnap(['backup', '--to', `file://${dir}`, '--namespace', 'a'])).status, 0);
    const ls = await runShmsnap(['ls', `file://localhost${dir}`, '--json']);
    assert.equal(ls.status, 0, ls.stderr);
    assert.deepEqual(JSON.parse(ls.stdout).backups.map((b: { status: string }) => b.status), ['complete']);
  });
});

describe('placeholders in --to', () => {
  it('an unknown one is refused, listing the known ones, before anything is created', async () => {
    await createFixture(three);
    const root = scratch.fresh();
    for (const to of [`${root}/{hostname}/{timestamp}`, `${root}/{date}`, `${root}/{}`]) {
      const run = await runShmsnap(['backup', '--to', to]);
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /^shmsnap: CONFIG_INVALID: --to: unknown placeholder \{(hostname|date|)\} in '.*' \(known: \{host\}, \{instance\}, \{timestamp\}\)$/m);
    }
    await assert.rejects(readdir(root), 'nothing was created');
  });

  it('the known ones are filled in', async () => {
    await createFixture(three);
    const root = scratch.fresh();
    const run = await runShmsnap(['backup', '--to', `${root}/{host}/i{instance}/{timestamp}`, '--namespace', 'a']);
    assert.equal(run.status, 0, run.stderr);
    const [host] = await readdir(root);
    const [instance] = await readdir(join(root, host!));
    assert.equal(instance, 'i0');
    const [stamp] = await readdir(join(root, host!, instance!));
    assert.match(stamp!, /^\d{8}T\d{6}Z$/);
  });
});

describe('a repeated --namespace', () => {
  it('accumulates (--namespace a --namespace b is --namespace a,b) for backup, restore and inspect', async () => {
    const fixture = await createFixture(three);
    const dir = scratch.fresh();
    const backup = await runShmsnap(['backup', '--to', dir, '--namespace', 'a', '--namespace', 'b', '--json']);
    assert.equal(backup.status, 0, backup.stderr);
    assert.deepEqual(JSON.parse(backup.stdout).namespaces, [{ name: 'a', nsid: 1 }, { name: 'b', nsid: 2 }]);
    assert.ok((await readdir(dir)).includes(manifestName(0, [1, 2])));

    const inspect = await runShmsnap(['inspect', '--namespace', 'c', '--namespace', 'a', '--json']);
    assert.equal(inspect.status, 0, inspect.stderr);
    assert.deepEqual(JSON.parse(inspect.stdout).instances[0].namespaces.map((n: { namespace: string }) => n.namespace).sort(), ['a', 'c']);

    await fixture.remove();
    const restore = await runShmsnap(['restore', '--from', dir, '--namespace', 'b', '--namespace', 'a', '--json']);
    assert.equal(restore.status, 0, restore.stderr);
    assert.deepEqual(JSON.parse(restore.stdout).namespaces.map((n: { name: string }) => n.name).sort(), ['a', 'b']);
    assert.deepEqual(aerospikeKeys(), ['ae001000', 'ae001001', 'ae001100', 'ae002000', 'ae002001', 'ae002100']);
  });

  it('an empty name in any of them is still refused', async () => {
    await createFixture(three);
    const run = await runShmsnap(['backup', '--to', scratch.fresh(), '--namespace', 'a', '--namespace', 'b,']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /empty namespace name in 'b,'/);
  });
});

describe('ls of something that is not a backup location', () => {
  it('a path that does not exist is an error naming it (OBJECT_NOT_FOUND, exit 3), not "no backups"', async () => {
    const missing = join(scratch.root(), 'no-such-dir');
    const run = await runShmsnap(['ls', missing]);
    assert.equal(run.status, 3, run.stdout);
    assert.match(run.stderr, /^shmsnap: OBJECT_NOT_FOUND: no-such-dir not found in /m);
    assert.doesNotMatch(run.stdout, /no backups/);
  });

  it('a regular file is an error naming it (CONFIG_INVALID, exit 2)', async () => {
    const file = join(scratch.root(), 'backup.tar');
    await writeFile(file, 'not a directory');
    const run = await runShmsnap(['ls', file]);
    assert.equal(run.status, 2, run.stdout);
    assert.match(run.stderr, /^shmsnap: CONFIG_INVALID: location: .*backup\.tar is a file, not a directory$/m);
    const below = await runShmsnap(['ls', join(file, 'x')]);
    assert.equal(below.status, 2);
    assert.match(below.stderr, /a component of the path is a file/);
    assert.equal(await readFile(file, 'utf8'), 'not a directory');
  });

  it('an existing, empty directory still says "no backups" and exits 0', async () => {
    const dir = await emptyCwd();
    const run = await runShmsnap(['ls', dir]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^ls: no backups at /m);
  });
});
