// The shm source on the in-memory binding: every refusal shm.integ.test.ts
// proves on the kernel (one shared table), and the checks open() makes
// again. No root, no shared memory.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { isShmsnapError, type SegmentDescriptor } from '@shmsnap/core';
import { pipelineSettled } from '@shmsnap/core/plugin-kit';
import { createFixture, describeFixture, fixtureContent } from './fixture.js';
import { attachShm, listShmSegments, lookupShm, removeShm } from './shm.js';
import { createShmSource, discoverSegments, type ShmSource } from './shm-source.js';
import { createFakeShmBinding } from './testing/fake-binding.js';
import { assertSourceRefuses, ONE_NAMESPACE, SOURCE_REFUSALS } from './testing/source-refusals.js';

async function readSegment(source: ShmSource, descriptor: SegmentDescriptor): Promise<{ bytes: Buffer; chunks: number[] }> {
  const reader = await source.open(descriptor);
  const parts: Buffer[] = [];
  try {
    await pipelineSettled([
      reader.stream,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          parts.push(Buffer.from(chunk));
          callback();
        },
      }),
    ]);
  } finally {
    await reader.close();
  }
  return { bytes: Buffer.concat(parts), chunks: parts.map((p) => p.length) };
}

describe('refusals before a backup, on the fake binding', () => {
  for (const refusal of SOURCE_REFUSALS) {
    it(refusal.name, async () => {
      const fake = createFakeShmBinding();
      await assertSourceRefuses(refusal, fake);
      assert.deepEqual(listShmSegments(fake), [], 'the row removed what it made');
    });
  }

  it('a base that cannot be read (shmat refused) names the key', async () => {
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, binding: fake });
    fake.failNext('shmat', 'EACCES');
    await assert.rejects(createShmSource({ binding: fake }).list(), (e: unknown) => isShmsnapError(e, 'SHM_FAILED') && /shmat failed for segment 0xae001000/.test(e.message));
    await fixture.remove();
  });
});

describe('the shm source, on the fake binding', () => {
  it('lists a clean namespace without leaving an attachment of its own, and streams it in windows', async () => {
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, owner: { uid: 1234, gid: 2345, mode: 0o640 }, damage: { locked: [0xae001100] }, binding: fake });
    const source = createShmSource({ binding: fake, windowBytes: 100 * 1024 });
    const descriptors = await source.list();
    assert.deepEqual(descriptors, fixture.segments.map((s) => s.descriptor));
    assert.ok(descriptors.every((d) => d.mode === 0o640), 'SHM_LOCKED is state, never part of the mode');
    assert.ok(listShmSegments(fake).every((s) => s.nattch === 0), 'the header reads are detached before list() returns');
    const stage = fixture.segments[2]!;
    const { bytes, chunks } = await readSegment(source, stage.descriptor);
    const expected = Buffer.alloc(stage.descriptor.size);
    fixtureContent(stage, 0, expected);
    assert.ok(bytes.equals(expected));
    assert.deepEqual(chunks, [100 * 1024, 100 * 1024, 56 * 1024]);
    assert.equal(listShmSegments(fake).find((s) => s.key === stage.descriptor.key)?.nattch, 0, 'close() detaches');
    assert.equal((await source.selected())[0]?.namespace, 'test');
    await fixture.remove();
  });

  it('open() refuses a segment attached since list()', async () => {
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, binding: fake });
    const source = createShmSource({ binding: fake });
    const [base] = await source.list();
    const server = fake.attachElsewhere(lookupShm(base!.key, fake)!);
    await assert.rejects(source.open(base!), (e: unknown) => isShmsnapError(e, 'SEGMENT_ATTACHED') && /0xae001000 is attached by 1 process/.test(e.message));
    server.detach();
    await fixture.remove();
  });

  it('open() refuses a segment removed, or replaced, since list()', async () => {
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, binding: fake });
    const source = createShmSource({ binding: fake });
    const [base, treex] = await source.list();
    await removeShm(lookupShm(base!.key, fake)!, base!.key, fake);
    await assert.rejects(source.open(base!), (e: unknown) => isShmsnapError(e, 'SHM_FAILED') && /shmctl\(IPC_STAT\) failed for segment 0xae001000/.test(e.message));
    // Removed while someone holds it: the id still answers, under key 0.
    const shmid = lookupShm(treex!.key, fake)!;
    const holder = attachShm(shmid, treex!.key, true, fake);
    await removeShm(shmid, treex!.key, fake);
    await assert.rejects(source.open(treex!), (e: unknown) => isShmsnapError(e, 'SEGMENT_INVALID') && /changed since it was listed/.test(e.message));
    await holder.detach();
    const stranger = describeFixture({ namespaces: [{ name: 'bar', nsid: 2 }] })[0]!.descriptor;
    await assert.rejects(source.open(stranger), (e: unknown) => isShmsnapError(e, 'SEGMENT_INVALID') && /not among the listed segments/.test(e.message));
    await fixture.remove();
  });

  it('selects one instance and classifies data stage 0x001 after a primary stage correctly (ASMT bug §23.1)', async () => {
    const fake = createFakeShmBinding();
    const mine = await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 4096, data: { stages: 3, stageBytes: 4096, lows: [0x001, 0x000, 0x150] } }], binding: fake });
    const other = await createFixture({ instance: 3, namespaces: [{ name: 'test', nsid: 1, stages: 1, stageBytes: 4096 }], binding: fake });
    const descriptors = await createShmSource({ binding: fake }).list();
    assert.ok(descriptors.every((d) => d.instance === 0), 'instance 3 is left out');
    assert.deepEqual(
      descriptors.filter((d) => d.kind === 'data-stage').map((d) => [d.key.toString(16), d.stage]),
      [['ad001000', 0], ['ad001001', 1], ['ad001150', 0x150]],
    );
    assert.equal((await discoverSegments(undefined, { binding: fake })).length, mine.segments.length + other.segments.length);
    await mine.remove();
    await other.remove();
  });
});

describe('segments changed during a backup, on the fake binding (segment-watch.ts)', () => {
  /** Lists, then reads every segment as a backup does (one at a time, checking after each); `during` runs mid-read of segment `at`. */
  async function readAll(source: ShmSource, options: { at?: number; during?: () => void | Promise<void> } = {}): Promise<void> {
    const descriptors = await source.list();
    for (const [i, descriptor] of descriptors.entries()) {
      const reader = await source.open(descriptor);
      let chunks = 0;
      try {
        await pipelineSettled([
          reader.stream,
          new Writable({
            write(_chunk: Buffer, _encoding, callback) {
              chunks += 1;
              if (i === options.at && chunks === 1 && options.during) Promise.resolve(options.during()).then(() => callback(), callback);
              else callback();
            },
          }),
        ]);
      } finally {
        await reader.close();
      }
      await source.checkUnchanged!();
    }
    await source.checkUnchanged!();
  }

  const changed = (key: string, reason: RegExp) => (e: unknown) => {
    assert.ok(isShmsnapError(e, 'SEGMENT_CHANGED'), String(e));
    assert.equal(e.details.key, key);
    assert.match(e.message, reason);
    assert.match(e.message, new RegExp(`^segment ${key} changed during the backup: .*; the backup was not committed`));
    return true;
  };

  it('our own attachments, detaches and base re-reads are never a change (two segments in flight at once included)', async () => {
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, binding: fake });
    const source = createShmSource({ binding: fake, windowBytes: 64 * 1024 });
    await readAll(source);
    const [base, , stage] = await source.list();
    const readers = [await source.open(base!), await source.open(stage!)];
    await source.checkUnchanged!(); // re-reads the base while we hold it
    await Promise.all(readers.map((r) => r.close()));
    await source.checkUnchanged!();
    await fixture.remove();
  });

  it('another process attaching, writing and detaching while a segment is read: named by its pid', async () => {
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, binding: fake });
    const source = createShmSource({ binding: fake, windowBytes: 64 * 1024 });
    const during = (): void => fake.attachElsewhere(lookupShm(0xae001101, fake)!, 4321).detach();
    await assert.rejects(readAll(source, { at: 3, during }), changed('0xae001101', /attached or detached by another process \(pid 4321, shm_lpid\)/));
    await fixture.remove();
  });

  it('another process still attached at the end of the read', async () => {
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, binding: fake });
    const source = createShmSource({ binding: fake, windowBytes: 64 * 1024 });
    let server: { detach(): void } | undefined;
    await assert.rejects(readAll(source, { at: 2, during: () => void (server = fake.attachElsewhere(lookupShm(0xae001100, fake)!)) }), changed('0xae001100', /attached by 1 other process\(es\) \(shm_nattch 2, 1 of them ours/));
    server!.detach();
    await fixture.remove();
  });

  it('a segment touched after it was read: the check after the next segment names it', async () => {
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, binding: fake });
    const source = createShmSource({ binding: fake, windowBytes: 64 * 1024 });
    // Segment 3 (stage 0x101) is read while the already-read treex (1) is touched.
    await assert.rejects(readAll(source, { at: 3, during: () => fake.attachElsewhere(lookupShm(0xae001001, fake)!).detach() }), changed('0xae001001', /pid 4242/));
    await fixture.remove();
  });

  it('owner or mode set, or the segment removed, during the backup', async () => {
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, binding: fake });
    const source = createShmSource({ binding: fake, windowBytes: 64 * 1024 });
    const chmod = (): void => fake.setOwner(lookupShm(0xae001102, fake)!, 0, 0, 0o600);
    await assert.rejects(readAll(source, { at: 1, during: chmod }), changed('0xae001102', /its owner or mode was changed \(IPC_SET: .*mode 0666 → 0600\)/));
    const again = createShmSource({ binding: fake, windowBytes: 64 * 1024 });
    await assert.rejects(readAll(again, { at: 1, during: () => removeShm(lookupShm(0xae001102, fake)!, 0xae001102, fake) }), changed('0xae001102', /it was removed/));
    await fixture.remove();
  });

  it('a base whose shutdown status is no longer clean, written where no attach shows (same process, same second)', async (t) => {
    // Freeze the clock so the write's own attach and detach leave shm_atime and shm_dtime as they were:
    // only the re-read shutdown status can tell.
    const frozen = Date.now();
    t.mock.method(Date, 'now', () => frozen);
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, binding: fake });
    const source = createShmSource({ binding: fake, windowBytes: 64 * 1024 });
    const dirty = async (): Promise<void> => {
      const writer = attachShm(lookupShm(0xae001000, fake)!, 0xae001000, false, fake);
      writer.view(4, 4).writeUInt32LE(0);
      await writer.detach();
    };
    // Written after the base was read (at 0) and listed: lpid is ours, the times are the listing's.
    await assert.rejects(readAll(source, { at: 2, during: dirty }), changed('0xae001000', /its shutdown status is now 0 \(it was 1, clean, when listed\)/));
    await fixture.remove();
  });
});
