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
