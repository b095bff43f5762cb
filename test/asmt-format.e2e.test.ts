// ASMT compatibility, both ways, and the `asmt` command line.
// - A directory written by this test to ASMT's documented format
//   (docs/asmt-format.md §8–§11, no manifest) restores with shmsnap.
// - shmsnap's none/gzip backups are exactly ASMT's format: checked byte by
//   byte here and read back by an independent reader written from the
//   document (what ASMT's restore does), not by shmsnap's own decoder.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { execFileSync } = await import('node:child_process');
const { chmod, chown, mkdir, readdir, readFile, rm, stat, utimes, writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const zlib = await import('node:zlib');
const { after, afterEach, before, describe, it } = await import('node:test');
const { crc32 } = await import('@shmsnap/core/plugin-kit');
const { createFixture, describeFixture, fixtureContent } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runAsmt, runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments, differencesFrom } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;
type FixtureSegment = import('@shmsnap/shm-native/fixture').FixtureSegment;

const layout: FixtureOptions = {
  owner: { uid: 1234, gid: 2345, mode: 0o640 },
  namespaces: [
    {
      name: 'test', nsid: 1, stages: 3, stageBytes: 512 * 1024,
      secondary: { stages: 1, stageBytes: 128 * 1024 },
      // Data stage 0x001 after a secondary stage: ASMT skips it (§2.2, §23.1).
      data: { stages: 2, stageBytes: 128 * 1024, lows: [0x000, 0x001] },
    },
  ],
};

const scratch = useScratch('asmt');
afterEach(clearSegments);
const freshDir = scratch.fresh;

function bytesOf(segment: FixtureSegment): Buffer {
  const data = Buffer.alloc(segment.descriptor.size);
  fixtureContent(segment, 0, data);
  return data;
}

/** ASMT's 24-byte header (§11), written from the document. */
function asmtHeader(size: number, crc: number, swapped = false): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(swapped ? 0x41534d54 : 0x544d5341, 0);
  header.writeUInt32LE(1, 4);
  header.writeBigUInt64LE(BigInt(size), 8);
  header.writeBigUInt64LE(BigInt(crc), 16);
  return header;
}

/** What ASMT's restore reads (§10, §11, §18), written from the document: raw .dat, or header + one gzip member. */
function readLikeAsmt(file: Buffer, compressed: boolean): { size: number; data: Buffer; headerCrc?: number } {
  if (!compressed) return { size: file.length, data: file };
  assert.equal(file.toString('latin1', 0, 4), 'ASMT', 'magic bytes "ASMT"');
  assert.equal(file.readUInt32LE(4), 1, 'version 1');
  const size = Number(file.readBigUInt64LE(8));
  assert.equal(file.readUInt32LE(20), 0, 'upper half of the CRC field is 0');
  // One member: gunzip of the body alone, with nothing after it.
  const body = file.subarray(24);
  assert.deepEqual([...body.subarray(0, 3)], [0x1f, 0x8b, 0x08], 'a gzip member');
  const data = zlib.gunzipSync(body);
  return { size, data, headerCrc: file.readUInt32LE(16) };
}

describe('an ASMT backup directory (no manifest) restores with shmsnap', () => {
  async function writeAsmtDirectory(dir: string, options: { swappedMagic?: boolean; upperCase?: boolean } = {}): Promise<FixtureSegment[]> {
    const recipe = describeFixture(layout);
    await mkdir(dir, { mode: 0o700 });
    for (const segment of recipe) {
      const { key, kind, uid, gid, mode } = segment.descriptor;
      const data = bytesOf(segment);
      const compressed = kind !== 'primary-base' && kind !== 'secondary-meta';
      let stem = key.toString(16).padStart(8, '0');
      if (options.upperCase && key === 0xae001102) stem = stem.toUpperCase();
      const name = `${stem}${compressed ? '.dat.gz' : '.dat'}`;
      const content = compressed
        ? Buffer.concat([asmtHeader(data.length, crc32(data), options.swappedMagic), zlib.gzipSync(data, { level: 1, memLevel: 9 })])
        : data;
      await writeFile(join(dir, name), content, { mode: 0o600 });
      await chown(join(dir, name), uid, gid);
      await chmod(join(dir, name), mode);
    }
    await writeFile(join(dir, 'README'), 'files ASMT ignores');
    await writeFile(join(dir, 'ae00110g.dat'), 'invalid characters: ignored');
    return recipe;
  }

  it('infers the set from names and headers, checks every CRC, restores owner and mode from the files', async () => {
    const dir = freshDir();
    const recipe = await writeAsmtDirectory(dir, { upperCase: true });
    const verify = await runShmsnap(['verify', dir]);
    assert.equal(verify.status, 0, verify.stderr);
    const run = await runShmsnap(['restore', '--from', dir, '--json']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).segments, recipe.length, 'data stage 0x001 included');
    assert.deepEqual(await differencesFrom(recipe), []);
  });

  it('is aged by its newest file: shmsnap refuses one older than a day unless --allow-older; asmt -r, as ASMT, has no guard', async () => {
    const dir = freshDir();
    const recipe = await writeAsmtDirectory(dir);
    const days = new Date(Date.now() - 3 * 86_400_000);
    for (const name of await readdir(dir)) await utimes(join(dir, name), days, days);
    const refused = await runShmsnap(['restore', '--from', dir]);
    assert.equal(refused.status, 3, refused.stderr);
    assert.match(refused.stdout, /from ASMT files \(no manifest\), made 3 days ago/);
    assert.match(refused.stderr, /^shmsnap: BACKUP_STALE: .*'test': the backup is 3 days old, older than the default limit of 24 hours \(--allow-older restores it anyway, --max-age sets another limit\)$/m);
    assert.deepEqual(aerospikeKeys(), []);
    const allowed = await runShmsnap(['restore', '--from', dir, '--allow-older']);
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.deepEqual(await differencesFrom(recipe), []);
    await clearSegments();
    const asmt = await runAsmt(['-r', '-p', dir, '-n', 'test']);
    assert.equal(asmt.status, 0, `${asmt.stdout}${asmt.stderr}`);
    assert.deepEqual(await differencesFrom(recipe), []);
    await clearSegments();
    // Dated a day ahead (files copied from a host with a wrong clock): refused by shmsnap, not by asmt.
    const ahead = new Date(Date.now() + 86_400_000);
    for (const name of await readdir(dir)) await utimes(join(dir, name), ahead, ahead);
    const future = await runShmsnap(['restore', '--from', dir]);
    assert.equal(future.status, 3);
    assert.match(future.stderr, /in the future .*\(--allow-future restores it anyway\)$/m);
    const asmtAhead = await runAsmt(['-r', '-p', dir, '-n', 'test']);
    assert.equal(asmtAhead.status, 0, `${asmtAhead.stdout}${asmtAhead.stderr}`);
    assert.deepEqual(await differencesFrom(recipe), []);
  });

  it('accepts the byte-swapped magic, as ASMT does, and restores through the asmt command too', async () => {
    const dir = freshDir();
    const recipe = await writeAsmtDirectory(dir, { swappedMagic: true });
    const run = await runAsmt(['-r', '-p', dir, '-n', 'test']);
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    assert.deepEqual(await differencesFrom(recipe), []);
  });
});

describe("shmsnap's backups are ASMT's format", () => {
  for (const codec of ['none', 'gzip']) {
    it(`${codec}: names, headers, one gzip member, owner and mode, readable as ASMT reads them`, async () => {
      const fixture = await createFixture(layout);
      const dir = freshDir();
      const run = await runShmsnap(['backup', '--to', dir, '--codec', codec]);
      assert.equal(run.status, 0, run.stderr);
      const names = (await readdir(dir)).filter((n) => !n.startsWith('shmsnap-'));
      assert.equal(names.length, fixture.segments.length);
      for (const segment of fixture.segments) {
        const { key, kind, size, uid, gid, mode } = segment.descriptor;
        const compressed = codec === 'gzip' && kind !== 'primary-base' && kind !== 'secondary-meta';
        const name = `${key.toString(16).padStart(8, '0')}${compressed ? '.dat.gz' : '.dat'}`;
        assert.ok(names.includes(name), `${name} is there`);
        const file = await readFile(join(dir, name));
        const expected = bytesOf(segment);
        const read = readLikeAsmt(file, compressed);
        assert.equal(read.size, size, `${name}: size`);
        assert.ok(read.data.equals(expected), `${name}: bytes`);
        if (compressed) {
          assert.equal(read.headerCrc, crc32(expected), `${name}: header CRC`);
          // The system gzip agrees: exactly one valid member after the header.
          const body = join(scratch.root(), 'body.gz');
          await writeFile(body, file.subarray(24));
          execFileSync('gzip', ['-t', body]);
          assert.ok(execFileSync('gzip', ['-dc', body], { maxBuffer: 64 * 1024 * 1024 }).equals(expected), `${name}: gzip -d`);
        }
        const s = await stat(join(dir, name));
        assert.deepEqual([s.uid, s.gid, s.mode & 0o7777], [uid, gid, mode], `${name}: owner and mode from the segment (§17)`);
      }
      await fixture.remove();
    });
  }
});

describe('the asmt command', () => {
  const cases: [string[], number, RegExp, 'stdout' | 'stderr'][] = [
    [['-h', '-x'], 0, /Possible primary option combinations/, 'stdout'],
    [['-x', '-h'], 1, /^asmt: invalid option -- 'x'$/m, 'stderr'],
    [['-b', 'extra', '-p', '/tmp', '-n', 'test'], 1, /Possible primary option combinations/, 'stdout'],
    [['-a', '-p', '/tmp', '-n', 'test'], 1, /^Must specify exactly one of backup \('-b'\) or restore \('-r'\)\.\n\nUsage:/, 'stdout'],
    [['-b', '-r', '-p', '/tmp'], 1, /^Must specify exactly one of backup/, 'stdout'],
    [['-b', '-n', 'test'], 1, /^Must specify pathname of file directory \(use '-p'\)\./, 'stdout'],
    [['-b', '-p', '/tmp', '-i', '16', '-n', 'test'], 1, /^Instance must be from 0\.\.15 \(use '-i'\)\./, 'stdout'],
    [['-b', '-p', '/tmp', '-i', '-1', '-n', 'test'], 1, /^Instance must be from 0\.\.15/, 'stdout'],
    [['-b', '-p', '/tmp', '-t', '0', '-n', 'test'], 1, /^Max threads must be in the range 1\.\.1024 \(use '-t'\)\./, 'stdout'],
    [['-b', '-p', '/tmp'], 1, /^Failed to extract namespace names from list\./, 'stdout'],
    [['-b', '-p', '/tmp', '-n', 'test,'], 1, /Invalid namespace name\(s\) provided\./, 'stdout'],
    [['-ba', '-p', '/nonexistent/dir', '-n', 'test'], 1, /Cannot write to directory '\/nonexistent\/dir': either it does not exist, we don't have write permission, or we're running with '-a'\./, 'stdout'],
    [['-r', '-p', '/nonexistent/dir', '-n', 'test'], 1, /Cannot read from directory '\/nonexistent\/dir'/, 'stdout'],
  ];
  for (const [args, status, pattern, stream] of cases) {
    it(`asmt ${args.join(' ')} → ${status}`, async () => {
      const run = await runAsmt(args);
      assert.equal(run.status, status, `${run.stdout}${run.stderr}`);
      assert.match(run[stream], pattern);
    });
  }

  it('backs up in ASMT layout (-bz), analyzes a restore (-ra -v) and restores (-r)', async () => {
    const fixture = await createFixture(layout);
    const dir = freshDir();
    const backup = await runAsmt(['-bzc', '-v', '-p', dir, '-n', 'test']);
    assert.equal(backup.status, 0, `${backup.stdout}${backup.stderr}`);
    assert.match(backup.stdout, /^Performing backup operation with compression and crc32 checking\.$/m);
    assert.match(backup.stdout, /^0xad001001 +\d+ +1234 +2345 +0640 +0 +131072 +0 +1 +test +data-stage +0x001 *$/m);
    assert.match(backup.stdout, /Successfully backed up 9 Aerospike database segments\./);
    assert.ok((await readdir(dir)).includes('ae001100.dat.gz'));
    await fixture.remove();

    const analyze = await runAsmt(['-ra', '-v', '-p', dir, '-n', 'test']);
    assert.equal(analyze.status, 0, `${analyze.stdout}${analyze.stderr}`);
    assert.match(analyze.stdout, new RegExp(`^asmt -r -i 0 -p ${dir} -n test$`, 'm'));
    assert.deepEqual(aerospikeKeys(), [], 'analyze creates nothing');
    const quiet = await runAsmt(['-r', '-p', dir, '-n', 'test']);
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.equal(quiet.stdout, '', 'without -v, ASMT prints nothing on success');
    assert.deepEqual(await fixture.compare(), []);
  });

  it('fails (exit 1) where ASMT exits 0: an attached base, a namespace that is not there', async () => {
    await createFixture({ ...layout, damage: { attached: [0xae001000] } });
    const attached = await runAsmt(['-b', '-p', freshDir(), '-n', 'test']);
    assert.equal(attached.status, 1);
    assert.match(attached.stderr, /^asmt: SEGMENT_ATTACHED: segment 0xae001000/m);
    const missing = await runAsmt(['-b', '-p', freshDir(), '-n', 'nosuch']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /NAMESPACE_NOT_FOUND/);
  });

  it('-i 65535 backs up the namespace of every instance, each with its existing-file check', async () => {
    await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 1, stageBytes: 65536 }] });
    await createFixture({ instance: 2, namespaces: [{ name: 'test', nsid: 1, stages: 1, stageBytes: 65536 }] });
    const dir = freshDir();
    const run = await runAsmt(['-b', '-i', '65535', '-p', dir, '-n', 'test']);
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    const names = (await readdir(dir)).sort();
    assert.ok(names.includes('ae001000.dat') && names.includes('ae201000.dat'), names.join(' '));
    assert.ok(names.includes('shmsnap-manifest-i0-n1.json') && names.includes('shmsnap-manifest-i2-n1.json'));
    const again = await runAsmt(['-b', '-i', '65535', '-p', dir, '-n', 'test']);
    assert.equal(again.status, 1, 'the existing-file check is not skipped (ASMT bug §23.9)');
  });
});
