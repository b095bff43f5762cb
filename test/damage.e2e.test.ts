// Damaged backups and hostile input: each is refused with a clear coded
// error naming the file, and a restore that fails leaves no segment behind.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { execFileSync } = await import('node:child_process');
const { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } = await import('node:fs/promises');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const zlib = await import('node:zlib');
const { after, afterEach, before, describe, it } = await import('node:test');
const { manifestName } = await import('@shmsnap/core');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;

const small: FixtureOptions = {
  namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 1024 * 1024, data: { stages: 2, stageBytes: 256 * 1024, lows: [0, 1] } }],
};

const scratch = useScratch('damage');
afterEach(clearSegments);
const freshDir = scratch.fresh;

/** A backup of `small` with `codec`, its segments removed (the reboot). */
async function backupOf(codec: string): Promise<string> {
  const fixture = await createFixture(small);
  const dir = freshDir();
  const run = await runShmsnap(['backup', '--to', dir, '--codec', codec]);
  assert.equal(run.status, 0, run.stderr);
  await fixture.remove();
  return dir;
}

async function restoreFails(dir: string, status: number, code: string, message: RegExp): Promise<void> {
  const run = await runShmsnap(['restore', '--from', dir]);
  assert.equal(run.status, status, `${run.stdout}${run.stderr}`);
  assert.match(run.stderr, new RegExp(`^shmsnap: ${code}: `, 'm'));
  assert.match(run.stderr, message);
  assert.equal(run.stderr.split('\n').filter((line) => line.startsWith('shmsnap:')).length, 1, `one error line: ${run.stderr}`);
  assert.deepEqual(aerospikeKeys(), [], 'nothing is left restored');
}

async function mutate(path: string, change: (bytes: Buffer) => Buffer): Promise<void> {
  await writeFile(path, change(await readFile(path)));
}

describe('damaged objects', () => {
  for (const codec of ['none', 'gzip']) {
    const ext = codec === 'gzip' ? '.dat.gz' : '.dat';
    it(`${codec}: a flipped bit fails with a checksum error naming the file`, async () => {
      const dir = await backupOf(codec);
      await mutate(join(dir, `ae001101${ext}`), (b) => {
        b[b.length - 1000]! ^= 0x20;
        return b;
      });
      await restoreFails(dir, 4, codec === 'gzip' ? '(CHECKSUM_MISMATCH|CORRUPT_OBJECT)' : 'CHECKSUM_MISMATCH', new RegExp(`ae001101${ext.replace(/\./g, '\\.')}`));
    });

    it(`${codec}: a truncated file fails naming the file`, async () => {
      const dir = await backupOf(codec);
      await truncate(join(dir, `ad001001${ext}`), 5000);
      await restoreFails(dir, 4, '(SIZE_MISMATCH|CORRUPT_OBJECT)', new RegExp(`ad001001${ext.replace(/\./g, '\\.')}`));
    });
  }

  it('a file with the wrong magic (plain gzip, no ASMT header) is refused', async () => {
    const dir = await backupOf('gzip');
    await writeFile(join(dir, 'ae001100.dat.gz'), zlib.gzipSync(Buffer.alloc(1024 * 1024)));
    await restoreFails(dir, 4, '(CORRUPT_OBJECT|SIZE_MISMATCH)', /ae001100\.dat\.gz/);
  });

  it('a second gzip member or trailing bytes is refused, not ignored (ASMT bug §23.4)', async () => {
    for (const tail of [zlib.gzipSync(Buffer.from('second member')), Buffer.from('trailing garbage')]) {
      const dir = await backupOf('gzip');
      await mutate(join(dir, 'ae001100.dat.gz'), (b) => Buffer.concat([b, tail]));
      // The manifest's stored size no longer matches either; remove that net to reach the decoder's own check.
      await rm(join(dir, manifestName(0, [1])));
      await restoreFails(dir, 4, 'CORRUPT_OBJECT', /ae001100\.dat\.gz: .*(second gzip member|trailing|after the end)/i);
    }
  });

  it("a header CRC that disagrees with the data is refused (ASMT never checks it, §23.4)", async () => {
    const dir = await backupOf('gzip');
    await mutate(join(dir, 'ae001101.dat.gz'), (b) => {
      b.writeUInt32LE((b.readUInt32LE(16) ^ 1) >>> 0, 16);
      return b;
    });
    await rm(join(dir, manifestName(0, [1])));
    await restoreFails(dir, 4, '(CHECKSUM_MISMATCH|CORRUPT_OBJECT)', /ae001101\.dat\.gz/);
  });

  it('a body that inflates to more than the recorded size is refused and corrupts nothing (ASMT bug §23.3)', async () => {
    const dir = await backupOf('gzip');
    await mutate(join(dir, 'ae001100.dat.gz'), (b) => {
      const body = zlib.gzipSync(Buffer.alloc(2 * 1024 * 1024, 7), { level: 1 });
      return Buffer.concat([b.subarray(0, 24), body]);
    });
    await rm(join(dir, manifestName(0, [1])));
    await restoreFails(dir, 4, '(CORRUPT_OBJECT|SIZE_MISMATCH|CHECKSUM_MISMATCH)', /ae001100\.dat\.gz/);
  });

  it('a foreign file named like a segment is refused; files that are not segments are ignored', async () => {
    const dir = await backupOf('gzip');
    await writeFile(join(dir, 'README'), 'not a segment');
    await writeFile(join(dir, 'notes.dat'), 'not a segment');
    await rm(join(dir, manifestName(0, [1])));
    await writeFile(join(dir, 'ae001101.dat.gz'), Buffer.from('\x89PNG\r\n\x1a\n this is an image, not an index'));
    await restoreFails(dir, 4, 'CORRUPT_OBJECT', /ae001101\.dat\.gz: .*(magic|ASMT)/i);
  });
});

describe('hostile manifests', () => {
  for (const [what, object] of [
    ['a path that leaves the location', '../ae001100.dat'],
    ['an absolute path', '/etc/passwd'],
    ['a sub-directory', 'sub/ae001100.dat'],
  ] as const) {
    it(`${what} is refused before anything is read`, async () => {
      const dir = await backupOf('none');
      await writeFile(join(scratch.root(), 'ae001100.dat'), 'bait');
      const path = join(dir, manifestName(0, [1]));
      const manifest = JSON.parse(await readFile(path, 'utf8'));
      manifest.segments[2].object = object;
      await writeFile(path, JSON.stringify(manifest));
      await restoreFails(dir, 4, 'MANIFEST_INVALID', /segments\[2\]\.object/);
      const verify = await runShmsnap(['verify', dir]);
      assert.equal(verify.status, 4);
      assert.match(verify.stderr, /MANIFEST_INVALID/);
    });
  }
});

describe('a full disk (ENOSPC)', { skip: process.getuid?.() === 0 ? false : 'mounting a tmpfs needs root' }, () => {
  let mountPoint = '';
  before(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), 'shmsnap-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint]);
  });
  after(async () => {
    execFileSync('umount', [mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });
  const big: FixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 3, stageBytes: 4 * 1024 * 1024, data: { stages: 2, stageBytes: 2 * 1024 * 1024 } }] };

  it('an uncompressed backup that cannot fit is refused before writing anything', async () => {
    await createFixture(big);
    const dir = join(mountPoint, 'none');
    const run = await runShmsnap(['backup', '--to', dir]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /^shmsnap: NO_SPACE: no space left on device while writing .*needs 16\.\d MiB, .* is free/m);
    assert.deepEqual(await readdir(mountPoint), []);
  });

  it('a compressed backup that runs out of space fails at once, removes every file it wrote (data stages included) and a retry is not blocked', async () => {
    await createFixture(big);
    const dir = join(mountPoint, 'gzip');
    const run = await runShmsnap(['backup', '--to', dir, '--codec', 'gzip']);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /^shmsnap: NO_SPACE: no space left on device while writing .*\/gzip\/a[de]00\d+\.dat/m);
    assert.deepEqual(await readdir(mountPoint), [], 'every file was removed, and the directory the run made');
    const elsewhere = join(scratch.root(), 'roomy');
    await mkdir(elsewhere);
    const retry = await runShmsnap(['backup', '--to', elsewhere, '--codec', 'gzip']);
    assert.equal(retry.status, 0, retry.stderr);
  });
});
