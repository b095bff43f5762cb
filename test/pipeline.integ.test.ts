// The core pipeline end to end on a real file system: memory segments →
// local sink → memory target. Checks the commit protocol (no partial backup),
// all-or-nothing restore, and that every kind of damage is caught.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  codecNone,
  createRegistry,
  isShmsnapError,
  manifestName,
  pendingName,
  planFromManifest,
  readLocation,
  runBackup,
  runRestore,
  runVerify,
  type Manifest,
  type SegmentDescriptor,
  type SegmentSource,
  type Sink,
} from '@shmsnap/core';
import { createMemorySource, createMemoryTarget, fillIndexContent, type MemorySegment } from '@shmsnap/core/testkit';
import { createLocalSink } from '@shmsnap/sink-local';

const host = { hostname: 'test-host', machineId: 'm', bootId: 'b' };
const tool = { name: 'shmsnap', version: 'test' };

function segments(): MemorySegment[] {
  const common = { instance: 0, nsid: 1, namespace: 'test', uid: 0, gid: 0, mode: 0o666 } as const;
  const list: SegmentDescriptor[] = [
    { ...common, key: 0xae001000, kind: 'primary-base', stage: null, size: 4096 },
    { ...common, key: 0xae001001, kind: 'primary-treex', stage: null, size: 65_536 },
    { ...common, key: 0xae001100, kind: 'primary-stage', stage: 0, size: 1 << 20 },
    { ...common, key: 0xae001101, kind: 'primary-stage', stage: 1, size: (1 << 20) + 64 },
    { ...common, key: 0xae001102, kind: 'primary-stage', stage: 2, size: 3 << 20 },
  ];
  return list.map((descriptor, i) => {
    const data = Buffer.alloc(descriptor.size);
    fillIndexContent(data, 42 + i);
    return { descriptor, data };
  });
}

function codecs(name: string) {
  const registry = createRegistry();
  registry.registerCodec(codecNone);
  return registry.codec(name);
}

describe('pipeline on a local directory', () => {
  let root = '';
  let dir = '';
  let sink: Sink;
  const original = segments();

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'shmsnap-pipeline-'));
    dir = join(root, 'backup');
    sink = createLocalSink(dir);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const backup = (source: SegmentSource = createMemorySource(original, { chunkBytes: 256 * 1024 }), signal?: AbortSignal) =>
    runBackup({ source, sink, codec: codecNone, concurrency: 2, host, tool, ...(signal ? { signal } : {}) });

  async function manifestOf(): Promise<Manifest> {
    const state = await readLocation(sink);
    assert.equal(state.backups.length, 1);
    assert.deepEqual(state.interrupted, []);
    return state.backups[0]!.manifest;
  }

  it('backs up in ASMT layout with a manifest and restores byte-identical', async () => {
    const result = await backup();
    assert.deepEqual((await readdir(dir)).sort(), [
      'ae001000.dat', 'ae001001.dat', 'ae001100.dat', 'ae001101.dat', 'ae001102.dat', 'shmsnap-manifest-i0-n1.json',
    ]);
    for (const s of original) {
      assert.ok((await readFile(join(dir, `${s.descriptor.key.toString(16)}.dat`))).equals(s.data), 'file is the raw segment');
    }
    const manifest = await manifestOf();
    assert.deepEqual(manifest, result.manifest);
    assert.deepEqual(manifest.namespaces, [{ name: 'test', nsid: 1 }]);

    const target = createMemoryTarget();
    await runRestore({ sink, target, entries: planFromManifest(manifest, codecs, dir), concurrency: 3 });
    assert.equal(target.segments.size, original.length);
    for (const s of original) {
      const restored = target.segments.get(s.descriptor.key);
      assert.ok(restored?.data.equals(s.data), `segment ${s.descriptor.key.toString(16)} differs`);
      assert.deepEqual(restored?.descriptor, s.descriptor);
    }
  });

  it('refuses a location that holds a backup, or a file of one of its segments', async () => {
    await backup();
    await assert.rejects(backup(), (e: unknown) => isShmsnapError(e, 'BACKUP_EXISTS') && /already holds a shmsnap backup of instance 0, namespace ids 1/.test(e.message));

    const otherDir = join(root, 'asmt');
    await mkdir(otherDir);
    await writeFile(join(otherDir, 'AE001102.dat.gz'), 'x');
    const other = createLocalSink(otherDir);
    await assert.rejects(
      runBackup({ source: createMemorySource(original), sink: other, codec: codecNone, host, tool }),
      (e: unknown) => isShmsnapError(e, 'BACKUP_EXISTS') && /AE001102\.dat\.gz/.test(e.message),
    );
    assert.deepEqual(await readdir(otherDir), ['AE001102.dat.gz'], 'the refused location is left as it was');
  });

  it('removes everything it wrote when the source fails mid-backup', async () => {
    const healthy = createMemorySource(original, { chunkBytes: 256 * 1024 });
    const failing: SegmentSource = {
      name: 'failing',
      list: () => healthy.list(),
      async open(segment, options) {
        if (segment.key !== 0xae001102) return healthy.open(segment, options);
        let sent = 0;
        const stream = new Readable({
          read() {
            if (sent >= 1 << 20) this.destroy(new Error('segment read failed'));
            else this.push(original[4]!.data.subarray(sent, (sent += 256 * 1024)));
          },
        });
        return { stream, close: async () => undefined };
      },
    };
    await assert.rejects(backup(failing), /segment read failed/);
    assert.deepEqual(await readdir(root), [], 'no object, no temp file, no marker may remain, nor the directory the sink made');
  });

  it('removes everything it wrote when aborted mid-backup', async () => {
    const controller = new AbortController();
    const healthy = createMemorySource(original, { chunkBytes: 64 * 1024 });
    const slow: SegmentSource = {
      name: 'slow',
      list: () => healthy.list(),
      async open(segment, options) {
        const reader = await healthy.open(segment, options);
        if (segment.key === 0xae001102) setTimeout(() => controller.abort(), 5);
        return reader;
      },
    };
    await assert.rejects(backup(slow, controller.signal), (e: unknown) => isShmsnapError(e, 'ABORTED'));
    assert.deepEqual(await readdir(root), []);
  });

  it('stands once its manifest is written: an abort from then on removes nothing', async () => {
    const controller = new AbortController();
    const events: string[] = [];
    const result = await runBackup({
      source: createMemorySource(original),
      sink,
      codec: codecNone,
      host,
      tool,
      signal: controller.signal,
      onCommitted: () => {
        events.push('committed');
        controller.abort();
      },
    });
    assert.deepEqual(events, ['committed']);
    assert.equal(result.manifestObject, manifestName(0, [1]));
    assert.deepEqual(await manifestOf(), result.manifest);
    assert.ok(!(await readdir(dir)).includes(pendingName(0, [1])), 'the marker is tidied away as after any commit');
    const verified = await runVerify({ sink, entries: planFromManifest(result.manifest, codecs, dir) });
    assert.deepEqual(verified.failures, []);
  });

  it('a restore whose every segment is written and checked completes, even if aborted then; an abort before rolls back', async () => {
    const { manifest } = await backup();
    const entries = planFromManifest(manifest, codecs, dir);
    const controller = new AbortController();
    const target = createMemoryTarget();
    let committedAt: number | undefined;
    const result = await runRestore({
      sink,
      target,
      entries,
      concurrency: 2,
      signal: controller.signal,
      // The last segment has just been written and checked (its writer committed): now Ctrl-C.
      onProgress: (event) => {
        if (!event.done && event.segmentsDone === event.segmentsTotal) controller.abort();
      },
      onCommitted: () => {
        committedAt = target.segments.size;
      },
    });
    assert.ok(controller.signal.aborted, 'the abort did come');
    assert.equal(committedAt, original.length, 'onCommitted came with every segment in place');
    assert.equal(result.segments, original.length);
    for (const s of original) assert.ok(target.segments.get(s.descriptor.key)?.data.equals(s.data));
    await target.rollback();
    assert.equal(target.segments.size, original.length, 'completed: a rollback now removes nothing');

    // One segment short of the end, the same abort still rolls everything back.
    const early = new AbortController();
    const other = createMemoryTarget();
    let called = false;
    await assert.rejects(
      runRestore({
        sink,
        target: other,
        entries,
        concurrency: 1,
        signal: early.signal,
        onProgress: (event) => {
          if (event.segmentsDone === event.segmentsTotal - 1) early.abort();
        },
        onCommitted: () => {
          called = true;
        },
      }),
      (e: unknown) => isShmsnapError(e, 'ABORTED'),
    );
    assert.equal(other.segments.size, 0);
    assert.equal(called, false);
  });

  it('leaves a recognisably interrupted location when the process dies before the manifest', async () => {
    await backup();
    await rm(join(dir, manifestName(0, [1])));
    await writeFile(join(dir, pendingName(0, [1])), '{}');
    const state = await readLocation(sink);
    assert.deepEqual([state.backups.length, state.interrupted.map((i) => i.name)], [0, ['shmsnap-pending-i0-n1.json']]);
    await assert.rejects(backup(), (e: unknown) => isShmsnapError(e, 'BACKUP_EXISTS') && /interrupted/.test(e.message));
  });

  describe('damage', () => {
    async function restoreFails(code: string, object: RegExp): Promise<void> {
      const target = createMemoryTarget();
      await assert.rejects(runRestore({ sink, target, entries: planFromManifest(await manifestOf(), codecs, dir), concurrency: 2 }), (e: unknown) => {
        assert.ok(isShmsnapError(e), `expected a coded error, got ${String(e)}`);
        assert.equal(e.code, code);
        assert.match(e.message, object);
        return true;
      });
      assert.equal(target.segments.size, 0, 'a failed restore leaves no segment behind');
    }

    it('a flipped bit fails the restore with CHECKSUM_MISMATCH and rolls back', async () => {
      await backup();
      const path = join(dir, 'ae001101.dat');
      const bytes = await readFile(path);
      bytes[1000]! ^= 0x01;
      await writeFile(path, bytes);
      await restoreFails('CHECKSUM_MISMATCH', /ae001101\.dat/);
    });

    it('a truncated object fails the restore with SIZE_MISMATCH and rolls back', async () => {
      await backup();
      await truncate(join(dir, 'ae001102.dat'), 1000);
      await restoreFails('SIZE_MISMATCH', /ae001102\.dat/);
    });

    it('a missing object fails the restore and rolls back', async () => {
      await backup();
      await rm(join(dir, 'ae001000.dat'));
      await restoreFails('OBJECT_NOT_FOUND', /ae001000\.dat/);
    });

    it('verify names every bad object, not only the first', async () => {
      await backup();
      for (const name of ['ae001100.dat', 'ae001001.dat']) {
        const bytes = await readFile(join(dir, name));
        bytes[7]! ^= 0x80;
        await writeFile(join(dir, name), bytes);
      }
      const result = await runVerify({ sink, entries: planFromManifest(await manifestOf(), codecs, dir) });
      assert.deepEqual(result.failures.map((f) => [f.object, f.error.code]), [
        ['ae001001.dat', 'CHECKSUM_MISMATCH'],
        ['ae001100.dat', 'CHECKSUM_MISMATCH'],
      ]);
    });
  });

  it('refuses to restore onto existing segments and leaves them alone', async () => {
    await backup();
    const existing = { descriptor: original[2]!.descriptor, data: Buffer.from('keep me') };
    const target = createMemoryTarget([existing]);
    await assert.rejects(
      runRestore({ sink, target, entries: planFromManifest(await manifestOf(), codecs, dir) }),
      (e: unknown) => isShmsnapError(e, 'SEGMENT_EXISTS') && /0xae001100/.test(e.message),
    );
    assert.equal(target.segments.size, 1);
    assert.equal(target.segments.get(0xae001100)?.data.toString(), 'keep me');
  });
});
