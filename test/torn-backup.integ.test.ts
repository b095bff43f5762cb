// A segment attached and written by another process while a backup reads
// it must never be committed as a good backup (issue 11, item 4). Real
// shared memory in this file's own IPC namespace, a real directory, and a
// separate process (test/support/shm-writer.ts, on the project's addon)
// that attaches and writes at a moment the test fixes: a hook in the
// source's stream holds the backup at a chosen chunk of a chosen segment
// until the other process has attached (and, for `detach`, left again).
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { readdir } = await import('node:fs/promises');
const { Transform, pipeline } = await import('node:stream');
const { afterEach, describe, it } = await import('node:test');
const { codecNone, isShmsnapError, runBackup } = await import('@shmsnap/core');
const { createShmSource, listShmSegments } = await import('@shmsnap/shm-native');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { createLocalSink } = await import('@shmsnap/sink-local');
const { touchSegment } = await import('./support/other-process.js');
const { useScratch } = await import('./support/scratch.js');
const { clearSegments } = await import('./support/shm.js');

type SegmentSource = import('@shmsnap/core').SegmentSource;

const host = { hostname: 'test-host', machineId: 'm', bootId: 'b' };
const tool = { name: 'shmsnap', version: 'test' };
const scratch = useScratch('torn');
// base 0xae001000, treex 0xae001001, stages 0xae001100..102; read in that order but the base last.
const fixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 3, stageBytes: 1024 * 1024 }] };
const WINDOW = 16 * 1024;

afterEach(async () => {
  assert.ok(listShmSegments().every((s) => s.nattch === 0), 'nothing is left attached');
  await clearSegments();
});

/** The shm source, holding the read of segment `key` before its second chunk until `hook()` settles. */
function hooked(key: number, hook: () => Promise<unknown>): SegmentSource {
  const source = createShmSource({ windowBytes: WINDOW });
  return {
    ...source,
    async open(segment, options) {
      const reader = await source.open(segment, options);
      if (segment.key !== key) return reader;
      let chunks = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          if (++chunks !== 2) return callback(null, chunk);
          hook().then(() => callback(null, chunk), callback);
        },
      });
      return { stream: pipeline(reader.stream, tap, () => undefined), close: () => reader.close() };
    },
  };
}

async function backup(source: SegmentSource, dir: string) {
  return runBackup({ source, sink: createLocalSink(dir), codec: codecNone, concurrency: 1, host, tool });
}

function changed(key: string, reason: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(isShmsnapError(e, 'SEGMENT_CHANGED'), String(e));
    assert.equal(e.details.key, key);
    assert.match(e.message, new RegExp(`^segment ${key} changed during the backup: `));
    assert.match(e.message, reason);
    return true;
  };
}

/** Nothing of the failed backup is left in `dir` (whether or not the directory itself remains). */
async function leftIn(dir: string): Promise<string[]> {
  return readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
}

describe('a backup while another process attaches and writes a segment', () => {
  it('without any other process, the same hooked backup commits (our own attaches are not a change)', async () => {
    await createFixture(fixtureOptions);
    const dir = scratch.fresh();
    const result = await backup(hooked(0xae001101, async () => undefined), dir);
    assert.equal(result.manifest.segments.length, 5);
  });

  it('attached and written during the read, still attached when it ends: fails naming the segment, nothing is left', async () => {
    const fixture = await createFixture(fixtureOptions);
    const dir = scratch.fresh();
    let other: Awaited<ReturnType<typeof touchSegment>> | undefined;
    try {
      await assert.rejects(
        backup(hooked(0xae001101, async () => (other = await touchSegment(0xae001101, 5000, 0x5a, 'hold'))), dir),
        changed('0xae001101', /attached by 1 other process\(es\) \(shm_nattch 2, 1 of them ours; last attach or detach by pid \d+, shm_lpid\)/),
      );
    } finally {
      await other?.finish();
    }
    assert.deepEqual(await leftIn(dir), [], 'no object, marker or manifest remains');
    assert.deepEqual(await fixture.compare(), [{ key: '0xae001101', reason: 'content differs at byte 5000' }], 'the other process did write');
  });

  it('attached, written and detached again before the read ends: shm_lpid names the other process', async () => {
    await createFixture(fixtureOptions);
    const dir = scratch.fresh();
    let pid = 0;
    await assert.rejects(
      backup(hooked(0xae001101, async () => (pid = (await touchSegment(0xae001101, 5000, 0x5a, 'detach')).pid)), dir),
      (e: unknown) => changed('0xae001101', new RegExp(`attached or detached by another process \\(pid ${pid}, shm_lpid\\)`))(e),
    );
    assert.deepEqual(await leftIn(dir), []);
  });

  it('a segment already read, attached and written while a later one is read: the check after that one names it', async () => {
    await createFixture(fixtureOptions);
    const dir = scratch.fresh();
    let pid = 0;
    // 0xae001100 was read (and checked) before 0xae001102 is opened.
    await assert.rejects(
      backup(hooked(0xae001102, async () => (pid = (await touchSegment(0xae001100, 12, 0x01, 'detach')).pid)), dir),
      (e: unknown) => changed('0xae001100', new RegExp(`attached or detached by another process \\(pid ${pid}, shm_lpid\\)`))(e),
    );
    assert.deepEqual(await leftIn(dir), []);
  });

  it('the base, read last, made dirty during its read: refused before the manifest is written', async () => {
    await createFixture(fixtureOptions);
    const dir = scratch.fresh();
    // Shutdown status (offset 4) := 0, as a server starting on the index would.
    await assert.rejects(backup(hooked(0xae001000, () => touchSegment(0xae001000, 4, 0, 'detach')), dir), changed('0xae001000', /attached or detached by another process/));
    assert.deepEqual(await leftIn(dir), [], 'every stage object written before the base is removed');
  });
});

