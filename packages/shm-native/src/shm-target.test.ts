// The shm target on the in-memory binding: exclusive create, a rollback that
// removes exactly what it created, the base's shutdown status withheld until
// complete(), and a round trip through the shm source. No root, no shared
// memory.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { BASE_SHUTDOWN_OFFSET, isShmsnapError, SHUTDOWN_CLEAN, type SegmentDescriptor } from '@shmsnap/core';
import { pipelineSettled } from '@shmsnap/core/plugin-kit';
import type { ShmBinding } from './binding.js';
import { compareSegment, createFixture, describeFixture, type FixtureOptions } from './fixture.js';
import { attachShm, createShm, listShmSegments, lookupShm, statShm } from './shm.js';
import { createShmSource } from './shm-source.js';
import { createShmTarget, readShmLimits, shmLimitProblems } from './shm-target.js';
import { createFakeShmBinding } from './testing/fake-binding.js';
import { ONE_NAMESPACE } from './testing/source-refusals.js';

const descriptors = (): SegmentDescriptor[] => describeFixture(ONE_NAMESPACE).map((s) => s.descriptor);

function keysIn(binding: ShmBinding): string[] {
  return listShmSegments(binding).map((s) => `0x${s.key.toString(16)}`).sort();
}

async function write(bytes: Buffer, stream: Writable): Promise<void> {
  await pipelineSettled([Readable.from([bytes], { objectMode: false }), stream]);
}

async function shutdownStatus(binding: ShmBinding, key: number): Promise<number> {
  const attachment = attachShm(lookupShm(key, binding)!, key, true, binding);
  const status = attachment.view(BASE_SHUTDOWN_OFFSET, 4).readUInt32LE(0);
  await attachment.detach();
  return status;
}

describe('the shm target, on the fake binding', () => {
  it('round-trips a fixture through Source → Target byte-identical, owner and mode included', async () => {
    const options: FixtureOptions = {
      owner: { uid: 1234, gid: 2345, mode: 0o640 },
      namespaces: [
        { name: 'test', nsid: 1, stages: 3, stageBytes: 300 * 1024, secondary: { stages: 2, stageBytes: 64 * 1024 }, data: { stages: 2, stageBytes: 128 * 1024 } },
        { name: 'bar', nsid: 2, stages: 1, stageBytes: 64 * 1024 },
      ],
    };
    const from = createFakeShmBinding();
    const fixture = await createFixture({ ...options, binding: from });
    const source = createShmSource({ binding: from, windowBytes: 100 * 1024 });
    const listed = await source.list();
    const copies = new Map<number, Buffer>();
    for (const d of listed) {
      const reader = await source.open(d);
      const parts: Buffer[] = [];
      await pipelineSettled([reader.stream, new Writable({ write: (c: Buffer, _e, cb) => (parts.push(Buffer.from(c)), cb()) })]);
      await reader.close();
      copies.set(d.key, Buffer.concat(parts));
    }

    const to = createFakeShmBinding();
    const target = createShmTarget({ binding: to, windowBytes: 64 * 1024 });
    await target.check(listed);
    for (const d of listed) {
      const writer = await target.create(d);
      await write(copies.get(d.key)!, writer.stream);
      await writer.commit();
    }
    await target.complete();
    for (const segment of fixture.segments) assert.equal(await compareSegment(segment, { binding: to }), undefined, `0x${segment.descriptor.key.toString(16)}`);
    assert.deepEqual(target.created(), [], 'complete() hands the segments over');
    await fixture.remove();
  });

  it('offers no shared handle on the in-memory binding: its memory lives in one thread', async () => {
    const fake = createFakeShmBinding();
    const segment = describeFixture(ONE_NAMESPACE).map((s) => s.descriptor).find((d) => d.kind !== 'primary-base')!;
    const target = createShmTarget({ binding: fake });
    const writer = await target.create(segment);
    assert.ok(writer.direct, 'the segment is offered in place');
    assert.equal(writer.direct.shared, undefined, 'but not to other threads');
    await target.rollback();
  });

  it('check() refuses when segments of the namespace are present, and names the attached ones', async () => {
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, damage: { attached: [0xae001100] }, binding: fake });
    const target = createShmTarget({ binding: fake });
    await assert.rejects(target.check(descriptors()), (e: unknown) => {
      assert.ok(isShmsnapError(e, 'SEGMENT_EXISTS'));
      // A count, the first few keys, how many are attached; every key in details, and the set a frontend can offer to clear.
      assert.equal(e.message, "segment 0xae001000 already exists: shared memory already holds 5 segments of instance 0 nsid 1 ('test') (0xae001000, 0xae001001, 0xae001100 and 2 more), 1 of them attached; refusing to restore over them");
      assert.deepEqual(e.details.keys, ['0xae001000', '0xae001001', '0xae001100', '0xae001101', '0xae001102']);
      assert.deepEqual(e.details.attached, ['0xae001100']);
      assert.deepEqual(e.details.sets, [{ instance: 0, nsid: 1, namespace: 'test', base: true }]);
      return true;
    });
    assert.deepEqual(target.created(), []);
    await fixture.release();
    assert.deepEqual(await fixture.compare(), [], 'the existing segments are untouched');
    await fixture.remove();
  });

  it('creates exclusively: a key taken after check() is refused, left alone, and not rolled back', async () => {
    const fake = createFakeShmBinding();
    const segments = descriptors();
    const target = createShmTarget({ binding: fake });
    await target.check(segments);
    const first = await target.create(segments[0]!);
    await write(randomBytes(segments[0]!.size), first.stream);
    await first.commit();
    const racer = createShm(segments[1]!.key, 4096, 0o644, fake); // someone else, between check and create
    await assert.rejects(target.create(segments[1]!), (e: unknown) => isShmsnapError(e, 'SEGMENT_EXISTS') && /0xae001001/.test(e.message));
    assert.deepEqual(target.created(), [segments[0]!.key]);
    await target.rollback();
    assert.deepEqual(keysIn(fake), ['0xae001001'], 'only what the target created is removed');
    assert.equal(statShm(racer, segments[1]!.key, fake).size, 4096);
  });

  it('a rollback removes the segments it created and no other', async () => {
    const fake = createFakeShmBinding();
    createShm(0xae002000, 4096, 0o600, fake); // a bystander
    const segments = descriptors();
    const target = createShmTarget({ binding: fake });
    await target.check(segments);
    const writer = await target.create(segments[2]!);
    await write(randomBytes(segments[2]!.size), writer.stream);
    await writer.commit();
    await target.create(segments[3]!); // left half-done, still attached by the target
    assert.deepEqual(keysIn(fake), ['0xae001100', '0xae001101', '0xae002000']);
    await target.rollback();
    assert.deepEqual(keysIn(fake), ['0xae002000']);
    assert.deepEqual(target.created(), []);
  });

  it('a rollback removes every segment even when one removal fails, then reports that failure', async () => {
    const fake = createFakeShmBinding();
    const segments = descriptors();
    const target = createShmTarget({ binding: fake });
    for (const segment of segments.slice(0, 3)) await target.create(segment);
    fake.failNext('shmctl(IPC_RMID)', 'EPERM'); // the first removal (the last segment created)
    await assert.rejects(target.rollback(), (e: unknown) => isShmsnapError(e, 'SHM_FAILED') && /shmctl\(IPC_RMID\) failed for segment 0xae001100: .*Operation not permitted/.test(e.message));
    assert.deepEqual(keysIn(fake), ['0xae001100'], 'the others are gone');
  });

  it('a rollback while another process holds a created segment leaves nothing findable by key', async () => {
    const fake = createFakeShmBinding();
    const segments = descriptors();
    const target = createShmTarget({ binding: fake });
    await target.create(segments[0]!);
    const intruder = fake.attachElsewhere(lookupShm(segments[0]!.key, fake)!);
    await target.rollback();
    assert.equal(lookupShm(segments[0]!.key, fake), undefined, 'the key is free at once');
    assert.equal(listShmSegments(fake).length, 1, 'the segment itself goes with the last detach, as in the kernel');
    intruder.detach();
    assert.deepEqual(listShmSegments(fake), []);
  });

  it('keeps segments 0600 until commit, then applies the recorded owner and mode; refuses a short segment', async () => {
    const fake = createFakeShmBinding();
    const [base, treex] = describeFixture({ ...ONE_NAMESPACE, owner: { uid: 1234, gid: 2345, mode: 0o640 } }).map((s) => s.descriptor);
    const target = createShmTarget({ binding: fake });
    const writer = await target.create(treex!);
    const pending = statShm(lookupShm(treex!.key, fake)!, treex!.key, fake);
    assert.equal(pending.mode & 0o777, 0o600);
    await write(randomBytes(treex!.size), writer.stream);
    await writer.commit();
    const committed = statShm(lookupShm(treex!.key, fake)!, treex!.key, fake);
    assert.deepEqual([committed.uid, committed.gid, committed.mode & 0o777, committed.nattch], [1234, 2345, 0o640, 0]);
    const short = await target.create(base!);
    await write(randomBytes(base!.size - 1), short.stream);
    await assert.rejects(short.commit(), (e: unknown) => isShmsnapError(e, 'SIZE_MISMATCH'));
    await target.rollback();
    assert.deepEqual(listShmSegments(fake), []);
  });

  it('keeps a restored base "not cleanly shut down" until the restore completes', async () => {
    const from = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, binding: from });
    const source = createShmSource({ binding: from });
    const listed = await source.list();
    const to = createFakeShmBinding();
    const target = createShmTarget({ binding: to });
    for (const d of listed) {
      const reader = await source.open(d);
      const writer = await target.create(d);
      await pipelineSettled([reader.stream, writer.stream]);
      await reader.close();
      await writer.commit();
    }
    assert.equal(await shutdownStatus(to, 0xae001000), 0, 'before complete() the base must not look clean');
    await assert.rejects(createShmSource({ binding: to }).list(), (e: unknown) => isShmsnapError(e, 'SEGMENT_NOT_CLEAN'));
    await target.complete();
    assert.equal(await shutdownStatus(to, 0xae001000), SHUTDOWN_CLEAN);
    assert.equal((await createShmSource({ binding: to }).list()).length, listed.length, 'complete: it can be backed up again');
    await fixture.remove();
  });
});

describe('the shm target: kernel limits and memory, checked before anything is created', () => {
  const limits = { pageSize: 4096, shmmax: 2 ** 40, shmall: 2 ** 30, shmmni: 4096, availableBytes: 2 ** 40 };
  const MiB = 1024 * 1024;

  it('check() reports every limit the restore would hit, and creates nothing', async () => {
    const fake = createFakeShmBinding();
    createShm(0x12345678, 3 * 4096, 0o600, fake); // someone else's segment: counts against shmall and shmmni
    const target = createShmTarget({ binding: fake, limits: async () => ({ ...limits, shmmax: 100 * 1024, shmall: 100, shmmni: 5, availableBytes: MiB }) });
    const segments = descriptors();
    await assert.rejects(target.check(segments), (e: unknown) => {
      assert.ok(isShmsnapError(e, 'SHM_LIMIT'), String(e));
      const all = [e.message, ...(e.details.more as string[])];
      assert.match(all[0]!, /^shared memory cannot hold 0xae001001 \(262144 bytes\): kernel\.shmmax is 102400 bytes; raise it \(sysctl -w kernel\.shmmax=262144\)/);
      assert.ok(all.some((m) => /kernel\.shmmni allows 5 segments and 1 exist already/.test(m)), all.join('\n'));
      assert.ok(all.some((m) => /kernel\.shmall allows 100 pages and 3 are in use/.test(m)), all.join('\n'));
      assert.ok(all.some((m) => /the host has 1\.0 MiB of memory available \(MemAvailable/.test(m)), all.join('\n'));
      return true;
    });
    assert.deepEqual(keysIn(fake), ['0x12345678'], 'nothing was created');
  });

  it('an existing segment and a limit are reported together', async () => {
    const fake = createFakeShmBinding();
    const fixture = await createFixture({ ...ONE_NAMESPACE, binding: fake });
    const target = createShmTarget({ binding: fake, limits: async () => ({ ...limits, shmmax: 4096 }) });
    await assert.rejects(target.check(descriptors()), (e: unknown) => isShmsnapError(e, 'SEGMENT_EXISTS') && (e.details.more as string[]).some((m) => /kernel\.shmmax is 4096/.test(m)));
    await fixture.remove();
  });

  it('a zero-byte segment cannot be created', () => {
    const [first] = descriptors();
    assert.match(shmLimitProblems([{ ...first!, size: 0 }], [], limits)[0]!.message, /a segment of 0 bytes cannot be created/);
    assert.deepEqual(shmLimitProblems(descriptors(), [], limits), []);
  });

  it('reads this IPC namespace\'s limits, the page size and MemAvailable', async () => {
    const read = await readShmLimits();
    assert.ok(read.pageSize >= 4096 && (read.pageSize & (read.pageSize - 1)) === 0, `page size ${read.pageSize}`);
    assert.ok(read.shmmax !== undefined && read.shmmax > 0);
    assert.ok(read.shmall !== undefined && read.shmall > 0);
    assert.ok(read.availableBytes !== undefined && read.availableBytes > 0);
  });
});
