// Segments of 4 GiB and more are copied, compressed and checksummed in full
// (ASMT bug §23.2: with -z it stores only size mod 4 GiB and says "success").
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { randomBytes } = await import('node:crypto');
const { readFile, rm, stat, statfs } = await import('node:fs/promises');
const { join } = await import('node:path');
const { after, afterEach, before, describe, it } = await import('node:test');
const { manifestName, parseManifest } = await import('@shmsnap/core');
const { crc32 } = await import('@shmsnap/core/plugin-kit');
const { attachShm, createShm, lookupShm, setShmOwner } = await import('@shmsnap/shm-native');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runShmsnap } = await import('./support/cli.js');
const { clearSegments } = await import('./support/shm.js');

const FOUR_GIB = 2 ** 32;
const STAGE_BYTES = FOUR_GIB + 64 * 1024;
const STAGE_KEY = 0xae001100;
const WINDOW = 256 * 1024 * 1024;
// Where random bytes go: the start, across the 4 GiB boundary, the end.
const marks = [
  { offset: 0, bytes: randomBytes(1024 * 1024) },
  { offset: FOUR_GIB - 512 * 1024, bytes: randomBytes(544 * 1024) },
  { offset: STAGE_BYTES - 4096, bytes: randomBytes(4096) },
];

async function createBigNamespace(): Promise<number> {
  // The base says one stage; the stage itself is made here, mostly zeros.
  await createFixture({ namespaces: [{ name: 'big', nsid: 1, stages: 1, stageBytes: 4096 }], damage: { omit: [STAGE_KEY] } });
  const shmid = createShm(STAGE_KEY, STAGE_BYTES, 0o600);
  const attachment = attachShm(shmid, STAGE_KEY, false);
  for (const mark of marks) mark.bytes.copy(attachment.view(mark.offset, mark.bytes.length));
  await attachment.detach();
  setShmOwner(shmid, STAGE_KEY, 0, 0, 0o666);
  return segmentCrc();
}

/** CRC-32 of the live stage, over every byte. */
async function segmentCrc(): Promise<number> {
  const shmid = lookupShm(STAGE_KEY);
  assert.ok(shmid !== undefined, 'the stage exists');
  const attachment = attachShm(shmid, STAGE_KEY, true);
  assert.equal(attachment.size, STAGE_BYTES);
  let crc = 0;
  for (let offset = 0; offset < STAGE_BYTES; offset += WINDOW) crc = crc32(attachment.view(offset, Math.min(WINDOW, STAGE_BYTES - offset)), crc);
  await attachment.detach();
  return crc;
}

const scratch = useScratch('large');
afterEach(clearSegments);

describe('a stage of 4 GiB + 64 KiB', () => {
  it('gzip: compressed, checksummed and restored in full', async () => {
    const crc = await createBigNamespace();
    const dir = join(scratch.root(), 'gzip');
    const backup = await runShmsnap(['backup', '--to', dir, '--codec', 'gzip']);
    assert.equal(backup.status, 0, backup.stderr);
    const header = await readFile(join(dir, 'ae001100.dat.gz')).then((b) => b.subarray(0, 24));
    assert.equal(Number(header.readBigUInt64LE(8)), STAGE_BYTES, 'the header holds the full 64-bit size');
    assert.equal(header.readUInt32LE(16), crc, 'the header CRC covers every byte');
    const recorded = parseManifest(await readFile(join(dir, manifestName(0, [1]))), { where: dir }).segments.find((s) => s.key === STAGE_KEY)!;
    assert.deepEqual([recorded.rawBytes, recorded.rawCrc32], [STAGE_BYTES, crc]);
    await clearSegments();
    const restore = await runShmsnap(['restore', '--from', dir]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.equal(await segmentCrc(), crc, 'every byte came back');
  });

  it('none: copied and checksummed in full', async (t) => {
    const free = await statfs(scratch.root()).then((s) => s.bavail * s.bsize);
    if (free < STAGE_BYTES + 2 * 1024 ** 3) {
      t.skip(`needs ${(STAGE_BYTES / 1024 ** 3).toFixed(1)} GiB + 2 GiB free in ${scratch.root()}, has ${(free / 1024 ** 3).toFixed(1)} GiB`);
      return;
    }
    const crc = await createBigNamespace();
    const dir = join(scratch.root(), 'none');
    const backup = await runShmsnap(['backup', '--to', dir]);
    assert.equal(backup.status, 0, backup.stderr);
    assert.equal((await stat(join(dir, 'ae001100.dat'))).size, STAGE_BYTES);
    await clearSegments();
    const restore = await runShmsnap(['restore', '--from', dir]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.equal(await segmentCrc(), crc);
  });
});
