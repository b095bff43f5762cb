// shmsnap backup / restore / verify / ls as an operator runs them, against
// real shared memory (private IPC namespace) and real files.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { chmod, chown, cp, readdir, readFile, rm, stat, writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { crc32 } = await import('node:zlib');
const { after, afterEach, before, describe, it } = await import('node:test');
const { manifestName, parseManifest } = await import('@shmsnap/core');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { listShmSegments } = await import('@shmsnap/shm-native');
const { useScratch } = await import('./support/scratch.js');
const { runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;

const twoNamespaces: FixtureOptions = {
  owner: { uid: 1234, gid: 2345, mode: 0o640 },
  namespaces: [
    { name: 'test', nsid: 1, stages: 3, stageBytes: 3 * 1024 * 1024 + 4096, secondary: { stages: 2, stageBytes: 256 * 1024 }, data: { stages: 2, stageBytes: 512 * 1024, lows: [0, 1] } },
    { name: 'bar', nsid: 2, stages: 1, stageBytes: 1024 * 1024 },
  ],
};

const scratch = useScratch('e2e');

/** Rewrites the manifest of instance 0, namespaces 1 and 2 (as if copied from elsewhere, or edited). */
async function editManifest(dir: string, edit: (manifest: { host: { hostname: string }; createdAt: string }) => void): Promise<void> {
  const path = join(dir, manifestName(0, [1, 2]));
  const manifest = JSON.parse(await readFile(path, 'utf8'));
  edit(manifest);
  await writeFile(path, JSON.stringify(manifest));
}
afterEach(clearSegments);

const freshDir = scratch.fresh;

describe('backup → reboot → restore, per codec', () => {
  for (const codec of ['none', 'gzip', 'zstd']) {
    it(`${codec}: restores every segment byte-identical with owner and mode`, async () => {
      const fixture = await createFixture(twoNamespaces);
      const dir = freshDir();
      const backup = await runShmsnap(['backup', '--to', dir, '--codec', codec, '--json']);
      assert.equal(backup.status, 0, backup.stderr);
      const result = JSON.parse(backup.stdout);
      assert.equal(result.manifest, 'shmsnap-manifest-i0-n1-2.json');
      assert.deepEqual(result.namespaces, [{ name: 'test', nsid: 1 }, { name: 'bar', nsid: 2 }]);
      const files = (await readdir(dir)).sort();
      const suffix = { none: '.dat', gzip: '.dat.gz', zstd: '.dat.zst' }[codec];
      assert.ok(files.includes('ae001000.dat') && files.includes('a2001000.dat'), 'base and meta are never compressed');
      assert.ok(files.includes(`ae001100${suffix}`) && files.includes(`ad001001${suffix}`), `stages are ${suffix}`);
      const manifest = parseManifest(await readFile(join(dir, result.manifest)), { where: dir });
      const indexed = manifest.segments.filter((seg) => seg.pieces !== undefined).map((seg) => seg.object);
      // gzip cuts independent pieces and indexes them, so the restore below decodes them in parallel.
      assert.deepEqual(indexed, codec === 'gzip' ? manifest.segments.filter((seg) => seg.object.endsWith('.gz')).map((seg) => seg.object) : []);

      await fixture.remove();
      assert.deepEqual(aerospikeKeys(), []);
      const restore = await runShmsnap(['restore', '--from', dir, '--json']);
      assert.equal(restore.status, 0, restore.stderr);
      assert.equal(JSON.parse(restore.stdout).segments, fixture.segments.length);
      assert.deepEqual(await fixture.compare(), []);
    });
  }
});

describe('zstd decodes straight into the segments: a bad object still fails whole', () => {
  // The worker writes the segment itself and reports the CRC-32 of what it wrote (codec contract,
  // createDirectDecoder): a damaged frame and a frame that decodes cleanly to other bytes than recorded
  // must each fail the restore with a coded error naming the object, and leave no segment behind.
  it('refuses a damaged frame and a raw CRC-32 that does not match, creating nothing', async () => {
    const fixture = await createFixture(twoNamespaces);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir, '--codec', 'zstd'])).status, 0);
    await fixture.remove();
    const object = join(dir, 'ae001101.dat.zst');
    const original = await readFile(object);

    const path = join(dir, manifestName(0, [1, 2]));
    const pristine = await readFile(path, 'utf8');
    /** The manifest with the object's entry edited. */
    const editEntry = async (edit: (entry: { rawCrc32: string; storedCrc32: string }) => void): Promise<void> => {
      const manifest = JSON.parse(pristine);
      edit(manifest.segments.find((seg: { object: string }) => seg.object === 'ae001101.dat.zst'));
      await writeFile(path, JSON.stringify(manifest));
    };
    const hex = (value: number): string => (value >>> 0).toString(16).padStart(8, '0');

    // A flipped byte, with the stored CRC-32 recorded for the damaged file: only the decoder can catch it.
    const damaged = Buffer.from(original);
    const middle = Math.floor(damaged.length / 2);
    damaged.writeUInt8(damaged.readUInt8(middle) ^ 0x10, middle);
    await writeFile(object, damaged);
    await editEntry((entry) => (entry.storedCrc32 = hex(crc32(damaged))));
    const corrupt = await runShmsnap(['restore', '--from', dir]);
    assert.equal(corrupt.status, 4, corrupt.stderr);
    assert.match(corrupt.stderr, /CORRUPT_OBJECT: ae001101\.dat\.zst/);
    assert.deepEqual(aerospikeKeys(), [], 'a failed restore leaves no segment');

    // The frame intact, the raw CRC-32 recorded different: the check of what the worker wrote catches it.
    await writeFile(object, original);
    await editEntry((entry) => (entry.rawCrc32 = hex(Number.parseInt(entry.rawCrc32, 16) ^ 1)));
    const mismatch = await runShmsnap(['restore', '--from', dir]);
    assert.equal(mismatch.status, 4, mismatch.stderr);
    assert.match(mismatch.stderr, /CHECKSUM_MISMATCH: ae001101\.dat\.zst: CRC-32 of the raw bytes/);
    assert.deepEqual(aerospikeKeys(), [], 'a failed restore leaves no segment');
  });
});

describe('selection', () => {
  it('backs up one instance, and only the namespaces asked for', async () => {
    await createFixture(twoNamespaces);
    await createFixture({ instance: 3, namespaces: [{ name: 'other', nsid: 1, stages: 1, stageBytes: 65536 }] });
    const dir3 = freshDir();
    const instance3 = await runShmsnap(['backup', '--to', dir3, '--instance', '3', '--json']);
    assert.equal(instance3.status, 0, instance3.stderr);
    assert.deepEqual((await readdir(dir3)).sort(), ['ae301000.dat', 'ae301001.dat', 'ae301100.dat', 'shmsnap-manifest-i3-n1.json']);

    const dirBar = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dirBar, '--namespace', 'bar'])).status, 0);
    assert.deepEqual((await readdir(dirBar)).sort(), ['ae002000.dat', 'ae002001.dat', 'ae002100.dat', 'shmsnap-manifest-i0-n2.json']);
  });

  it('restores only the namespace asked for, and defaults to every namespace of the instance', async () => {
    const fixture = await createFixture(twoNamespaces);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    await fixture.remove();
    const onlyBar = await runShmsnap(['restore', '--from', dir, '--namespace', 'bar']);
    assert.equal(onlyBar.status, 0, onlyBar.stderr);
    assert.deepEqual(aerospikeKeys(), ['ae002000', 'ae002001', 'ae002100']);
    // Restoring a part consumes the whole backup (its one manifest): the rest needs --allow-consumed.
    const refused = await runShmsnap(['restore', '--from', dir, '--namespace', 'test']);
    assert.equal(refused.status, 3, refused.stderr);
    assert.match(refused.stderr, /BACKUP_CONSUMED/);
    const rest = await runShmsnap(['restore', '--from', dir, '--namespace', 'test', '--allow-consumed']);
    assert.equal(rest.status, 0, rest.stderr);
    assert.deepEqual(await fixture.compare(), []);
  });

  it('keeps data stripes whose keys carry another nsid with their namespace, selected by name or not (Aerospike 7+)', async () => {
    // Data has a key base of its own since 7.0: stripes ad005000.. belong to 'test' (nsid 1) by the name they hold.
    const recipe: FixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 1, stageBytes: 65536, data: { stages: 2, stageBytes: 65536, nsid: 5 } }] };
    for (const selection of [[], ['--namespace', 'test']]) {
      const fixture = await createFixture(recipe);
      const dir = freshDir();
      const backup = await runShmsnap(['backup', '--to', dir, ...selection, '--json']);
      assert.equal(backup.status, 0, backup.stderr);
      const result = JSON.parse(backup.stdout);
      assert.equal(result.manifest, 'shmsnap-manifest-i0-n1.json');
      assert.deepEqual(result.namespaces, [{ name: 'test', nsid: 1 }]);
      assert.ok((await readdir(dir)).includes('ad005001.dat'), 'the stripes are in the backup');
      await fixture.remove();
      const restore = await runShmsnap(['restore', '--from', dir, ...selection]);
      assert.equal(restore.status, 0, restore.stderr);
      assert.deepEqual(await fixture.compare(), []);
      await fixture.remove();
    }
  });

  it('keeps two backups of different namespaces in one directory, as ASMT allows', async () => {
    const fixture = await createFixture(twoNamespaces);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir, '--namespace', 'test'])).status, 0);
    assert.equal((await runShmsnap(['backup', '--to', dir, '--namespace', 'bar', '--codec', 'gzip'])).status, 0);
    const ls = await runShmsnap(['ls', dir, '--json']);
    assert.equal(ls.status, 0, ls.stderr);
    type Row = { namespaces: { name: string; nsid: number }[]; status: string; codecs: { name: string; level: number | null }[] };
    assert.deepEqual(JSON.parse(ls.stdout).backups.map((b: Row) => [b.namespaces, b.status, b.codecs]), [
      [[{ name: 'test', nsid: 1 }], 'complete', [{ name: 'none', level: null }]],
      [[{ name: 'bar', nsid: 2 }], 'complete', [{ name: 'gzip', level: 1 }]],
    ]);
    await fixture.remove();
    const restore = await runShmsnap(['restore', '--from', dir]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.deepEqual(await fixture.compare(), []);
  });

  it('refuses a namespace that is not there and an empty name in the list', async () => {
    await createFixture(twoNamespaces);
    const missing = await runShmsnap(['backup', '--to', freshDir(), '--namespace', 'nosuch']);
    assert.equal(missing.status, 3);
    assert.match(missing.stderr, /^shmsnap: NAMESPACE_NOT_FOUND: namespace 'nosuch' of instance 0 not found/m);
    const empty = await runShmsnap(['backup', '--to', freshDir(), '--namespace', 'test,']);
    assert.equal(empty.status, 2);
    assert.match(empty.stderr, /empty namespace name/);
  });
});

describe('refusals', () => {
  const cases: [string, FixtureOptions['damage'], string, RegExp][] = [
    ['an attached stage (server running)', { attached: [0xae001101] }, 'SEGMENT_ATTACHED', /segment 0xae001101 is attached by 1 process/],
    ['an attached base (ASMT: silent no-op, exit 0)', { attached: [0xae001000] }, 'SEGMENT_ATTACHED', /segment 0xae001000 is attached/],
    ['a dirty shutdown', { shutdownStatus: 0 }, 'SEGMENT_NOT_CLEAN', /base segment 0xae001000 was not cleanly shut down/],
    ['an unsupported version', { version: 9 }, 'SEGMENT_VERSION', /version 9; supported versions are 10 to 12/],
    ['a missing stage', { omit: [0xae001101] }, 'SEGMENT_SET_INVALID', /missing primary stage segment 1/],
  ];
  for (const [what, damage, code, message] of cases) {
    it(`backup refuses ${what} with exit 3, writing nothing`, async () => {
      await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 3, stageBytes: 65536 }], damage });
      const dir = freshDir();
      const run = await runShmsnap(['backup', '--to', dir]);
      assert.equal(run.status, 3, run.stderr);
      assert.match(run.stderr, new RegExp(`^shmsnap: ${code}: `, 'm'));
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split('\n').length, 1, 'one line');
      assert.equal(await stat(dir).then(() => true, () => false), false, 'nothing was created');
    });
  }

  it('backup refuses a location that already holds a backup of the namespace', async () => {
    await createFixture(twoNamespaces);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    const before = await readdir(dir);
    const again = await runShmsnap(['backup', '--to', dir, '--namespace', 'bar', '--json']);
    assert.equal(again.status, 3);
    assert.equal(JSON.parse(again.stdout).error.code, 'BACKUP_EXISTS');
    assert.deepEqual(await readdir(dir), before);
  });

  it('restore refuses to write over existing segments and leaves them alone', async () => {
    const fixture = await createFixture(twoNamespaces);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    const run = await runShmsnap(['restore', '--from', dir]);
    assert.equal(run.status, 3);
    // Summarized: a count and a few keys, and the command that clears a leftover set, one per namespace.
    assert.match(run.stderr, /^shmsnap: SEGMENT_EXISTS: .*already holds 13 segments of instance 0 nsid 1 \('test'\), instance 0 nsid 2 \('bar'\) \(0x[0-9a-f]{8}, 0x[0-9a-f]{8}, 0x[0-9a-f]{8} and 10 more\); refusing to restore over them; .*remove them with: shmsnap clear --instance 0 --namespace test; shmsnap clear --instance 0 --namespace bar$/m);
    assert.equal(run.stderr.split('\n').filter(Boolean).length, run.stderr.split('\n').filter((l) => l.startsWith('restore: ')).length + 1, 'one line for the error');
    assert.deepEqual(await fixture.compare(), []);
  });
});

describe('dry run', () => {
  it('backup --dry-run checks and prints the plan, writing nothing', async () => {
    await createFixture(twoNamespaces);
    const dir = freshDir();
    const run = await runShmsnap(['backup', '--to', dir, '--codec', 'gzip', '--dry-run', '--json']);
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.dryRun, true);
    assert.deepEqual(result.plan.map((p: { object: string }) => p.object).slice(0, 3), ['ae001000.dat', 'ae001001.dat.gz', 'ae001100.dat.gz']);
    assert.equal(await stat(dir).then(() => true, () => false), false);
    const refused = await runShmsnap(['backup', '--to', dir, '--dry-run', '--namespace', 'nosuch']);
    assert.equal(refused.status, 3, 'the dry run runs the checks');
  });

  it('restore --dry-run checks and prints the plan, creating no segment', async () => {
    const fixture = await createFixture(twoNamespaces);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    await fixture.remove();
    const run = await runShmsnap(['restore', '--from', dir, '--dry-run']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /0xae001100 +primary-stage +test +0x000 +3\.0 MiB +1234:2345 +0640 +ae001100\.dat/);
    assert.match(run.stdout, /total: 13 segments/);
    assert.deepEqual(aerospikeKeys(), []);
  });
});

describe('staleness guard', () => {
  it('shows age and host, refuses a backup older than --max-age or from another host unless its own override', async () => {
    const fixture = await createFixture(twoNamespaces);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    await fixture.remove();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const old = await runShmsnap(['restore', '--from', dir, '--max-age', '1s']);
    assert.equal(old.status, 3);
    assert.match(old.stderr, /BACKUP_STALE: .*older than --max-age/);
    // At least the 1.1 s slept; a loaded machine (2 cores, the suite beside it) adds seconds of
    // CLI start-up before the clock is read: 3 s measured once, so only the lower bound is exact.
    const age = /made (\d+) seconds? ago .* on host '.+', in this boot/.exec(old.stdout);
    assert.ok(age, old.stdout);
    assert.ok(Number(age[1]) >= 1 && Number(age[1]) < 60, old.stdout);
    assert.deepEqual(aerospikeKeys(), []);

    // Another host: rewrite the manifest's host name (as if copied from elsewhere).
    await editManifest(dir, (manifest) => {
      manifest.host.hostname = 'elsewhere';
    });
    const foreign = await runShmsnap(['restore', '--from', dir]);
    assert.equal(foreign.status, 3);
    assert.match(foreign.stderr, /^shmsnap: BACKUP_STALE: .*backup was made on host 'elsewhere', this is '.+' \(--allow-other-host restores it anyway\)$/m);
    const allowed = await runShmsnap(['restore', '--from', dir, '--allow-other-host']);
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.match(allowed.stderr, /^restore: --allow-other-host: restoring anyway: .*elsewhere/m);
    assert.deepEqual(await fixture.compare(), []);
  });

  it('--force --max-age 12h refuses a 38-hour-old backup from another host: a limit the user gave always applies', async () => {
    const fixture = await createFixture(twoNamespaces);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    await fixture.remove();
    await editManifest(dir, (manifest) => {
      manifest.host.hostname = 'elsewhere';
      manifest.createdAt = new Date(Date.now() - 38 * 3_600_000).toISOString();
    });

    const forced = await runShmsnap(['restore', '--from', dir, '--force', '--max-age', '12h']);
    assert.equal(forced.status, 3, forced.stderr);
    assert.match(forced.stderr, /^shmsnap: BACKUP_STALE: .*the backup is 38 hours old, older than --max-age \(12 hours\) \(no override: a limit given with --max-age always applies\)$/m);
    assert.doesNotMatch(forced.stderr, /elsewhere/, 'the host finding was overridden; only what still refuses is listed');
    assert.deepEqual(aerospikeKeys(), []);

    // By default: both findings, each with the flag that lifts it, in one line.
    const plain = await runShmsnap(['restore', '--from', dir]);
    assert.equal(plain.status, 3);
    const lines = plain.stderr.trim().split('\n');
    assert.equal(lines.length, 1, plain.stderr);
    assert.match(lines[0]!, /host 'elsewhere'.*\(--allow-other-host restores it anyway\); .*38 hours old, older than the default limit of 24 hours \(--allow-older restores it anyway, --max-age sets another limit\)$/);

    // One override lifts one finding.
    const hostOnly = await runShmsnap(['restore', '--from', dir, '--allow-other-host']);
    assert.equal(hostOnly.status, 3);
    assert.match(hostOnly.stderr, /BACKUP_STALE: .*default limit of 24 hours \(--allow-older/);
    assert.doesNotMatch(hostOnly.stderr, /BACKUP_STALE: .*elsewhere/);
    assert.deepEqual(aerospikeKeys(), []);

    // --allow-older means nothing next to a limit of the user's own: a usage error, one line.
    const contrary = await runShmsnap(['restore', '--from', dir, '--allow-older', '--max-age', '48h']);
    assert.equal(contrary.status, 2);
    assert.equal(contrary.stdout, '');
    assert.match(contrary.stderr, /^shmsnap: CONFIG_INVALID: --allow-older: cannot be given with --max-age: it lifts only the default age limit, and a limit given explicitly always applies\n$/);

    // A larger limit of the user's own replaces the default.
    const larger = await runShmsnap(['restore', '--from', dir, '--allow-other-host', '--max-age', '48h', '--dry-run']);
    assert.equal(larger.status, 0, larger.stderr);
    const both = await runShmsnap(['restore', '--from', dir, '--allow-other-host', '--allow-older']);
    assert.equal(both.status, 0, both.stderr);
    assert.match(both.stderr, /^restore: --allow-older: restoring anyway: .*38 hours old/m);
    assert.deepEqual(await fixture.compare(), []);
  });

  it('refuses a backup dated beyond the clock-skew allowance, saying how far ahead and why, unless --allow-future or --force', async () => {
    const fixture = await createFixture(twoNamespaces);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    await fixture.remove();
    const ahead = new Date(Date.now() + 3 * 3_600_000 + 60_000).toISOString();
    await editManifest(dir, (manifest) => {
      manifest.createdAt = ahead;
    });
    for (const args of [[], ['--max-age', '7d'], ['--max-age', '7d', '--force', '--allow-future']]) {
      const run = await runShmsnap(['restore', '--from', dir, ...args]);
      assert.equal(run.status, 3, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stdout, new RegExp(`dated 3 hours in the future \\(${ahead.replace(/\./g, '\\.')}\\)`));
      assert.match(
        run.stderr,
        args.length === 0
          ? /BACKUP_STALE: .*dated 3 hours in the future .*more than the 5 minutes of clock skew allowed: the clock was wrong when it was made, or its time was edited.*\(--allow-future restores it anyway\)$/m
          : /BACKUP_STALE: .*unknown \(dated 3 hours in the future: a wrong clock or an edited time\) and --max-age was given \(no override/m,
      );
    }
    assert.deepEqual(aerospikeKeys(), []);
    const allowed = await runShmsnap(['restore', '--from', dir, '--allow-future']);
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.deepEqual(await fixture.compare(), []);
    await fixture.remove();
    // Restored once already: --force lifts the date, and --allow-consumed (which --force does not include) the marker.
    const forced = await runShmsnap(['restore', '--from', dir, '--force', '--allow-consumed']);
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(forced.stderr, /^restore: --force: restoring anyway: .*in the future/m);
  });

  it('restore --help states every guard, its default and its override', async () => {
    const help = await runShmsnap(['restore', '--help']);
    assert.equal(help.status, 0);
    const text = help.stdout.replace(/\s+/g, ' ');
    for (const pattern of [
      /another host \(--allow-other-host restores it\)/,
      /older than 24 hours \(--allow-older restores it; --max-age sets another limit, which then always applies/,
      /more than 5 minutes in the future \(--allow-future restores it\)/,
      /--force the same as --allow-other-host --allow-older --allow-future, and nothing more \(--max-age still applies; not --allow-consumed, not --allow-running-asd\)/,
      /--allow-consumed restore a backup that was restored before/,
    ]) {
      assert.match(text, pattern);
    }
  });
});

describe('owner and mode', () => {
  it('come from the manifest, so a copy without ownership restores them right', async () => {
    const fixture = await createFixture(twoNamespaces);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    assert.deepEqual(parseManifest(await readFile(join(dir, manifestName(0, [1, 2]))), { where: dir }).segments.map((s) => `${s.uid}:${s.gid}:${s.mode.toString(8)}`)[0], '1234:2345:640');
    const copy = freshDir();
    await cp(dir, copy, { recursive: true });
    for (const name of await readdir(copy)) {
      await chown(join(copy, name), 0, 0);
      await chmod(join(copy, name), 0o600);
    }
    await fixture.remove();
    const run = await runShmsnap(['restore', '--from', copy]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(await fixture.compare(), [], 'owner 1234:2345 and mode 0640 restored from the manifest');
  });

  it('the SHM_LOCKED bit never becomes a setgid bit on a file (ASMT bug §23.15)', async () => {
    const fixture = await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 1, stageBytes: 65536 }], damage: { locked: [0xae001100] } });
    assert.equal(listShmSegments().find((s) => s.key === 0xae001100)!.mode & 0o2000, 0o2000, 'the fixture is locked');
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    assert.equal((await stat(join(dir, 'ae001100.dat'))).mode & 0o7777, 0o666);
    const recorded = parseManifest(await readFile(join(dir, manifestName(0, [1]))), { where: dir }).segments.find((s) => s.key === 0xae001100);
    assert.equal(recorded?.mode, 0o666);
    await fixture.remove();
  });
});

describe('verify and ls', () => {
  it('verify reads every object and names each bad one', async () => {
    await createFixture(twoNamespaces);
    const dir = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', dir, '--codec', 'gzip'])).status, 0);
    const good = await runShmsnap(['verify', dir]);
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /verify: all 13 objects are intact/);
    for (const name of ['ae001101.dat.gz', 'ae002000.dat']) {
      const path = join(dir, name);
      const bytes = await readFile(path);
      bytes[bytes.length - 100]! ^= 0x04;
      await (await import('node:fs/promises')).writeFile(path, bytes);
    }
    const bad = await runShmsnap(['verify', dir, '--json']);
    assert.equal(bad.status, 4);
    const result = JSON.parse(bad.stdout);
    assert.equal(result.ok, false);
    assert.deepEqual(result.failures.map((f: { object: string }) => f.object), ['ae001101.dat.gz', 'ae002000.dat']);
    assert.deepEqual(aerospikeKeys().length, 13, 'verify touches no shared memory');
  });

  it('ls lists complete, interrupted and ASMT backups at and one level under a location', async () => {
    await createFixture(twoNamespaces);
    const top = freshDir();
    assert.equal((await runShmsnap(['backup', '--to', join(top, 'node1'), '--namespace', 'test'])).status, 0);
    assert.equal((await runShmsnap(['backup', '--to', join(top, 'node2'), '--namespace', 'bar'])).status, 0);
    await rm(join(top, 'node2', manifestName(0, [2])));
    await (await import('node:fs/promises')).writeFile(join(top, 'node2', 'shmsnap-pending-i0-n2.json'), '{"startedAt":"2026-11-21T00:00:00.000Z"}');
    const run = await runShmsnap(['ls', top, '--json']);
    assert.equal(run.status, 0, run.stderr);
    const rows = JSON.parse(run.stdout).backups.map((b: { location: string; status: string; namespaces: unknown[] }) => [b.location.slice(top.length), b.status, b.namespaces]);
    assert.deepEqual(rows, [
      ['/node1', 'complete', [{ name: 'test', nsid: 1 }]],
      ['/node2', 'interrupted', [{ name: null, nsid: 2 }]],
    ]);
    assert.equal(JSON.parse(run.stdout).backups[1].segments, 3, 'the files it left belong to the interrupted backup');
    const text = await runShmsnap(['ls', top]);
    assert.match(text.stdout, /node1 +complete +\S+ +\S+ +0 +test +10 +/);
  });
});
