// One rule across commands: if restore refuses a location, verify fails it and
// ls marks it invalid, for the same reason; a dry run finds what the real run
// would. Each case runs the built CLI and checks the exit status, the one-line
// error naming the file, and that nothing was created in shared memory.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { execFileSync } = await import('node:child_process');
const { chown, cp, mkdtemp, readFile, rm, symlink, truncate, writeFile } = await import('node:fs/promises');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const { afterEach, describe, it } = await import('node:test');
const { BASE_ELEMENT_SIZE_OFFSET, BASE_STAGE_CAPACITY_OFFSET, BASE_STAGE_SIZE_OFFSET, manifestName } = await import('@shmsnap/core');
const { attachShm, lookupShm } = await import('@shmsnap/shm-native');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runAsmt, runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;
type CliRun = import('./support/cli.js').CliRun;

const MiB = 1024 * 1024;
/** Three primary stages (so a majority exists), a data stripe; the base records its stage size (1 MiB). */
const layout: FixtureOptions = {
  namespaces: [{ name: 'test', nsid: 1, stages: 3, stageBytes: MiB, data: { stages: 1, stageBytes: 256 * 1024 } }],
};

const scratch = useScratch('agree');
afterEach(clearSegments);

/** A shmsnap backup of `layout` (its segments removed after: the reboot); without the manifest it is an ASMT directory. */
async function backupOf(codec = 'none', options: { asmt?: boolean } = {}): Promise<string> {
  const fixture = await createFixture(layout);
  const dir = scratch.fresh();
  const run = await runShmsnap(['backup', '--to', dir, '--codec', codec]);
  assert.equal(run.status, 0, run.stderr);
  await fixture.remove();
  if (options.asmt) await rm(join(dir, manifestName(0, [1])));
  return dir;
}

/** The run failed with `status` and exactly one error line `<program>: CODE: ...` matching `message`; nothing is in shared memory. */
function refused(run: CliRun, status: number, code: string, message: RegExp, program = 'shmsnap'): void {
  assert.equal(run.status, status, `${run.stdout}${run.stderr}`);
  const lines = run.stderr.split('\n').filter((line) => line.startsWith(`${program}:`));
  assert.equal(lines.length, 1, `one error line: ${run.stderr}`);
  assert.match(lines[0]!, new RegExp(`^${program}: ${code}: `));
  assert.match(lines[0]!, message);
  assert.deepEqual(aerospikeKeys(), [], 'nothing was created in shared memory');
}

/** restore, restore --dry-run, verify and ls all say no, for the same reason. */
async function everyCommandRefuses(dir: string, code: string, message: RegExp, status: { restore: number; verify: number }): Promise<void> {
  refused(await runShmsnap(['restore', '--from', dir, '--dry-run']), status.restore, code, message);
  refused(await runShmsnap(['restore', '--from', dir]), status.restore, code, message);
  const verify = await runShmsnap(['verify', dir]);
  assert.equal(verify.status, status.verify, `${verify.stdout}${verify.stderr}`);
  assert.match(verify.stderr, new RegExp(`^verify: BAD .*${code}: .*${message.source}`, 'm'));
  assert.doesNotMatch(verify.stdout, /intact/);
  const ls = await runShmsnap(['ls', dir, '--json']);
  assert.equal(ls.status, 0, ls.stderr);
  const rows = JSON.parse(ls.stdout).backups as { status: string; problem?: string }[];
  assert.deepEqual(rows.map((r) => r.status), ['invalid'], ls.stdout);
  assert.match(rows[0]!.problem!, new RegExp(`^${code}: `));
  assert.match(rows[0]!.problem!, message);
  const human = await runShmsnap(['ls', dir]);
  assert.match(human.stdout, new RegExp(`^${dir.replace(/[/.]/g, '\\$&')} +invalid `, 'm'));
  assert.match(human.stderr, message);
}

describe('a stage whose size differs from its siblings (ASMT copies the restore size from the file, §23.13)', () => {
  it('a truncated raw stage in an ASMT directory is refused by restore, asmt -r and verify, naming the file and both sizes', async () => {
    const dir = await backupOf('none', { asmt: true });
    await truncate(join(dir, 'ae001101.dat'), 500_000);
    const message = /ae001101\.dat: got 500000 bytes, expected 1048576 \(the primary stage size the base records/;
    await everyCommandRefuses(dir, 'SIZE_MISMATCH', message, { restore: 4, verify: 4 });
    refused(await runAsmt(['-r', '-p', dir, '-n', 'test']), 1, 'SIZE_MISMATCH', message, 'asmt');
    refused(await runAsmt(['-r', '-a', '-v', '-p', dir, '-n', 'test']), 1, 'SIZE_MISMATCH', message, 'asmt');
  });

  it('without a recorded stage size the majority decides', async () => {
    const dir = await backupOf('none', { asmt: true });
    const base = await readFile(join(dir, 'ae001000.dat'));
    base.fill(0, BASE_ELEMENT_SIZE_OFFSET, BASE_STAGE_SIZE_OFFSET + 8);
    await writeFile(join(dir, 'ae001000.dat'), base);
    await truncate(join(dir, 'ae001102.dat'), 4096);
    refused(await runShmsnap(['restore', '--from', dir]), 4, 'SIZE_MISMATCH', /ae001102\.dat: got 4096 bytes, expected 1048576 \(the size of the other primary stage segment files of instance 0, namespace 'test'/);
  });

  it('a compressed stage is judged by the size its ASMT header states', async () => {
    const dir = await backupOf('gzip', { asmt: true });
    const path = join(dir, 'ae001100.dat.gz');
    const file = await readFile(path);
    file.writeBigUInt64LE(BigInt(2 * MiB), 8);
    await writeFile(path, file);
    refused(await runShmsnap(['restore', '--from', dir, '--dry-run']), 4, 'SIZE_MISMATCH', /ae001100\.dat\.gz: got 2097152 bytes, expected 1048576/);
  });

  it('inspect shows the stage size a base records, and says when no stage has it', async () => {
    await createFixture(layout);
    const shown = await runShmsnap(['inspect']);
    assert.match(shown.stdout, /^instance 0, namespace 'test' \(nsid 1, version 12, shutdown status 1, stage size 1\.0 MiB\): backup allowed$/m);
    // The base now records 2 MiB stages (its three fields agreeing); the stages hold 1 MiB.
    const base = attachShm(lookupShm(0xae001000)!, 0xae001000, false);
    const view = Buffer.from(base.view(0, 4096).buffer, base.view(0, 4096).byteOffset, 4096);
    view.writeUInt32LE(64, BASE_ELEMENT_SIZE_OFFSET);
    view.writeUInt32LE((2 * MiB) / 64, BASE_STAGE_CAPACITY_OFFSET);
    view.writeBigUInt64LE(BigInt(2 * MiB), BASE_STAGE_SIZE_OFFSET);
    await base.detach();
    const noted = await runShmsnap(['inspect']);
    assert.equal(noted.status, 0, noted.stderr);
    assert.match(noted.stdout, /stage size 2\.0 MiB\): backup allowed\n {2}note: the base records a primary stage size of 2097152 bytes, which no primary stage segment has \(1048576 bytes\)/);
    const json = JSON.parse((await runShmsnap(['inspect', '--json'])).stdout);
    assert.equal(json.instances[0].namespaces[0].stageSize, 2 * MiB);
    assert.equal(json.instances[0].namespaces[0].warnings.length, 1);
  });
});

describe('verify and ls agree with restore', () => {
  it('an ASMT directory with a stage file deleted', async () => {
    const dir = await backupOf('none', { asmt: true });
    await rm(join(dir, 'ae001101.dat'));
    await everyCommandRefuses(dir, 'SEGMENT_SET_INVALID', /missing primary stage segment file 1 \(0x101\)/, { restore: 3, verify: 3 });
  });

  it('a segment file that is a symbolic link (to another stage)', async () => {
    const dir = await backupOf('none', { asmt: true });
    await rm(join(dir, 'ae001102.dat'));
    await symlink('ae001100.dat', join(dir, 'ae001102.dat'));
    await everyCommandRefuses(dir, 'CORRUPT_OBJECT', /ae001102\.dat: is a symbolic link, not a regular file/, { restore: 4, verify: 4 });
  });

  it('a manifest whose name disagrees with its content', async () => {
    const dir = await backupOf();
    execFileSync('mv', [join(dir, manifestName(0, [1])), join(dir, manifestName(0, [1, 2]))]);
    await everyCommandRefuses(dir, 'MANIFEST_INVALID', /shmsnap-manifest-i0-n1-2\.json: invalid manifest: its name says instance 0, namespace ids 1,2/, { restore: 4, verify: 4 });
  });

  it('a missing object of a shmsnap backup is an integrity failure: exit 4, not 3', async () => {
    const dir = await backupOf();
    await rm(join(dir, 'ae001101.dat'));
    await everyCommandRefuses(dir, 'OBJECT_MISSING', /ae001101\.dat is missing from .* \(shmsnap-manifest-i0-n1\.json records it\)/, { restore: 4, verify: 4 });
  });

  it('a truncated object of a shmsnap backup is found before anything is read', async () => {
    const dir = await backupOf('gzip');
    await truncate(join(dir, 'ae001101.dat.gz'), 1000);
    await everyCommandRefuses(dir, 'SIZE_MISMATCH', /ae001101\.dat\.gz: got 1000 stored bytes, expected \d+ \(as shmsnap-manifest-i0-n1\.json records\)/, { restore: 4, verify: 4 });
  });

  it('an intact backup still passes all of them', async () => {
    const dir = await backupOf('gzip');
    assert.equal((await runShmsnap(['restore', '--from', dir, '--dry-run'])).status, 0);
    const verify = await runShmsnap(['verify', dir]);
    assert.equal(verify.status, 0, verify.stderr);
    assert.match(verify.stdout, /all 6 objects are intact/);
    assert.deepEqual(JSON.parse((await runShmsnap(['ls', dir, '--json'])).stdout).backups.map((r: { status: string }) => r.status), ['complete']);
  });
});

describe('a manifest is the whole truth about its namespaces', () => {
  it('a file whose entry was removed from the manifest is a conflict, not an unchecked ASMT file', async () => {
    const dir = await backupOf();
    const path = join(dir, manifestName(0, [1]));
    const manifest = JSON.parse(await readFile(path, 'utf8'));
    manifest.segments = manifest.segments.filter((s: { object: string }) => s.object !== 'ae001101.dat');
    await writeFile(path, JSON.stringify(manifest));
    // Other bytes in its place: restored as they are if the file were taken as an ASMT file.
    await writeFile(join(dir, 'ae001101.dat'), Buffer.alloc(MiB, 0x5a));
    await everyCommandRefuses(dir, 'MANIFEST_INVALID', /the location also holds ae001101\.dat, a segment file of instance 0, namespace id 1 that this manifest covers but does not list/, { restore: 4, verify: 4 });
  });

  it('a stray segment file of the namespace beside a complete manifest is a conflict too', async () => {
    const dir = await backupOf();
    await cp(join(dir, 'ae001102.dat'), join(dir, 'ae001103.dat'));
    await everyCommandRefuses(dir, 'MANIFEST_INVALID', /the location also holds ae001103\.dat/, { restore: 4, verify: 4 });
  });
});

describe('a manifest name that cannot be read as a manifest refuses; it never downgrades to ASMT files', () => {
  it('a FIFO named like the manifest (no hang)', async () => {
    const dir = await backupOf('none', { asmt: true });
    execFileSync('mkfifo', [join(dir, manifestName(0, [1]))]);
    await everyCommandRefuses(dir, 'MANIFEST_INVALID', /shmsnap-manifest-i0-n1\.json: invalid manifest: it is a FIFO, not a regular file/, { restore: 4, verify: 4 });
  });

  it('a manifest that does not parse', async () => {
    const dir = await backupOf();
    await writeFile(join(dir, manifestName(0, [1])), '{"format": "shmsnap-manifest", ');
    await everyCommandRefuses(dir, 'MANIFEST_INVALID', /shmsnap-manifest-i0-n1\.json: invalid manifest: not JSON/, { restore: 4, verify: 4 });
  });

  it('other namespaces of the location still restore when named', async () => {
    const dir = await backupOf('none');
    await writeFile(join(dir, manifestName(0, [1])), 'garbage');
    // An ASMT backup of another namespace beside it.
    const other = await createFixture({ namespaces: [{ name: 'bar', nsid: 2, stages: 1, stageBytes: 65536 }] });
    const asmtDir = scratch.fresh();
    assert.equal((await runAsmt(['-b', '-p', asmtDir, '-n', 'bar'])).status, 0);
    await other.remove();
    await cp(asmtDir, dir, { recursive: true });
    refused(await runShmsnap(['restore', '--from', dir, '--namespace', 'test']), 4, 'MANIFEST_INVALID', /not JSON/);
    const bar = await runShmsnap(['restore', '--from', dir, '--namespace', 'bar']);
    assert.equal(bar.status, 0, bar.stderr);
    assert.deepEqual(aerospikeKeys(), ['ae002000', 'ae002001', 'ae002100']);
  });
});

describe('dry runs find what the real run would', () => {
  it('kernel.shmmax too small: refused before any segment is created, every segment named in the dry run', async () => {
    const dir = await backupOf();
    const saved = (await readFile('/proc/sys/kernel/shmmax', 'utf8')).trim();
    await writeFile('/proc/sys/kernel/shmmax', String(MiB - 1));
    try {
      const dry = await runShmsnap(['restore', '--from', dir, '--dry-run']);
      refused(dry, 1, 'SHM_LIMIT', /shared memory cannot hold 0xae001100 \(1048576 bytes\): kernel\.shmmax is 1048575 bytes/);
      assert.match(dry.stderr, /^ {2}and: shared memory cannot hold 0xae001101 /m);
      assert.match(dry.stderr, /^ {2}and: shared memory cannot hold 0xae001102 /m);
      const real = await runShmsnap(['restore', '--from', dir]);
      refused(real, 1, 'SHM_LIMIT', /0xae001100 .*\(and 2 more problems; --dry-run lists them all\)/);
    } finally {
      await writeFile('/proc/sys/kernel/shmmax', saved);
    }
  });

  it('kernel.shmall too small for all the segments together', async () => {
    const dir = await backupOf();
    const saved = (await readFile('/proc/sys/kernel/shmall', 'utf8')).trim();
    await writeFile('/proc/sys/kernel/shmall', '100');
    try {
      refused(await runShmsnap(['restore', '--from', dir, '--dry-run']), 1, 'SHM_LIMIT', /kernel\.shmall allows 100 pages and 0 are in use/);
      refused(await runAsmt(['-r', '-a', '-p', dir, '-n', 'test']), 1, 'SHM_LIMIT', /kernel\.shmall allows 100 pages/, 'asmt');
    } finally {
      await writeFile('/proc/sys/kernel/shmall', saved);
    }
  });

  it('a backup destination that is a file', async () => {
    await createFixture(layout);
    const file = join(scratch.root(), 'a-file');
    await writeFile(file, 'not a directory');
    for (const to of [file, join(file, 'below')]) {
      for (const args of [['--dry-run'], []]) {
        const run = await runShmsnap(['backup', '--to', to, ...args]);
        assert.equal(run.status, 2, run.stderr);
        // The location itself, or a directory on its path, is a file: either way named, a mistake in the location.
        assert.match(run.stderr, new RegExp(`^shmsnap: CONFIG_INVALID: location: ${file.replace(/[/.]/g, '\\$&')}(/below: a component of the path is a file| is a file), not a directory`, 'm'));
      }
    }
    assert.equal(await readFile(file, 'utf8'), 'not a directory');
  });

  it('a read-only destination', { skip: process.getuid?.() === 0 ? false : 'mounting a tmpfs needs root' }, async () => {
    await createFixture(layout);
    const mountPoint = await mkdtemp(join(tmpdir(), 'shmsnap-ro-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64m', 'tmpfs', mountPoint]);
    try {
      for (const args of [['--dry-run'], []]) {
        const run = await runShmsnap(['backup', '--to', join(mountPoint, 'node1'), ...args]);
        assert.equal(run.status, 1, run.stderr);
        assert.match(run.stderr, new RegExp(`^shmsnap: PERMISSION_DENIED: permission denied: creating directory ${join(mountPoint, 'node1')} \\(read-only file system\\)$`, 'm'));
      }
    } finally {
      execFileSync('umount', [mountPoint]);
      await rm(mountPoint, { recursive: true, force: true });
    }
  });

  it('a user who cannot give the files the segments\' owner', { skip: process.getuid?.() === 0 ? false : 'switching users needs root' }, async () => {
    await createFixture(layout); // root-owned segments, mode 0666: readable by anyone
    const home = await mkdtemp(join(tmpdir(), 'shmsnap-nobody-'));
    await chown(home, 65534, 65534);
    try {
      const to = join(home, 'backup');
      const nobody = { uid: 65534, gid: 65534 };
      const dry = await runShmsnap(['backup', '--to', to, '--dry-run'], { user: nobody });
      assert.equal(dry.status, 1, dry.stderr);
      assert.match(dry.stderr, /^shmsnap: PERMISSION_DENIED: permission denied: giving files owner 0:0, as the segments have \(this needs root or CAP_CHOWN\), in /m);
      const real = await runShmsnap(['backup', '--to', to], { user: nobody });
      assert.equal(real.status, 1, real.stderr);
      assert.match(real.stderr, /^shmsnap: PERMISSION_DENIED: .*giving files owner 0:0/m);
      await assert.rejects(readFile(join(to, 'ae001000.dat')), 'nothing was written');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('reports every problem, not just the first: an invalid level and a destination that is a file', async () => {
    await createFixture(layout);
    const file = join(scratch.root(), 'another-file');
    await writeFile(file, '');
    const run = await runShmsnap(['backup', '--to', file, '--codec', 'gzip', '--level', '12', '--dry-run']);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /^shmsnap: CONFIG_INVALID: --level: codec 'gzip' takes levels 1\.\.9, got 12$/m);
    assert.match(run.stderr, /^ {2}and: location: .*another-file is a file, not a directory$/m);
    const json = JSON.parse((await runShmsnap(['backup', '--to', file, '--codec', 'gzip', '--level', '12', '--dry-run', '--json'])).stdout);
    assert.equal(json.error.code, 'CONFIG_INVALID');
    assert.equal(json.error.details.more.length, 1);
  });
});
