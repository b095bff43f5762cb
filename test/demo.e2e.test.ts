// `shmsnap demo`, run as the README runs it, checked from the outside: the
// exit status, the JSON result, and the bytes it left on disk.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32, MANIFEST_NAME, parseManifest } from '@shmsnap/core';
import { demoSegments } from '../packages/cli/src/commands/demo.js';
import { runShmsnap } from './support/cli.js';

describe('shmsnap demo', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'shmsnap-demo-test-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('backs up, restores and verifies, leaving the exact segment bytes in the backup', async () => {
    const dir = join(root, 'kept');
    const run = await runShmsnap(['demo', '--dir', dir, '--size-mib', '16', '--stages', '4', '--json']);
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.ok, true);
    assert.equal(result.verified, 6);
    assert.equal(result.backup.segments, 6);
    assert.equal(result.restore.rawBytes, result.backup.rawBytes);

    const expected = demoSegments({ sizeMib: 16, stages: 4 });
    const manifest = parseManifest(await readFile(join(dir, MANIFEST_NAME)), { where: dir });
    assert.equal(manifest.segments.length, expected.length);
    for (const segment of expected) {
      const name = `${segment.descriptor.key.toString(16)}.dat`;
      const bytes = await readFile(join(dir, name));
      assert.ok(bytes.equals(segment.data), `${name} holds other bytes than the demo segment`);
      const recorded = manifest.segments.find((s) => s.object === name);
      assert.equal(recorded?.rawCrc32, crc32(segment.data));
      assert.equal((await stat(join(dir, name))).mode & 0o777, 0o666, 'file mode is the segment mode (as ASMT)');
    }
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.')), [], 'no temp file remains');
  });

  it('removes its temporary directory unless asked to keep it', async () => {
    const before = new Set(await readdir(tmpdir()));
    const run = await runShmsnap(['demo', '--size-mib', '8', '--stages', '2']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /verified: all 4 restored segments are byte-identical/);
    assert.match(run.stdout, /backup: 4 segments, .* MB\/s/);
    const leftovers = (await readdir(tmpdir())).filter((n) => n.startsWith('shmsnap-demo-') && !before.has(n));
    assert.deepEqual(leftovers, []);
  });

  it('refuses to overwrite a directory that already holds a backup, with a one-line coded error', async () => {
    const dir = join(root, 'twice');
    assert.equal((await runShmsnap(['demo', '--dir', dir, '--size-mib', '4', '--stages', '1'])).status, 0);
    const second = await runShmsnap(['demo', '--dir', dir, '--size-mib', '4', '--stages', '1']);
    assert.equal(second.status, 3);
    assert.match(second.stderr, /^shmsnap: BACKUP_EXISTS: .*twice.*already holds a shmsnap backup/m);
    assert.equal(second.stderr.trim().split('\n').length, 1);
  });

  it('rejects bad arguments with exit status 2', async () => {
    const run = await runShmsnap(['demo', '--size-mib', 'lots']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--size-mib must be a positive integer/);
  });
});
